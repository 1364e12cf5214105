package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// aliceSpare is a key on Alice's spare YubiKey.
const aliceSpare = "5c1d0e8a2f4b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f"

// spareForAlice is base with a spare key for Alice, written as the
// policy file writes it; extra goes after the key's slot.
func spareForAlice(extra string) (old, new string) {
	return "        slot: 9c\n  - name: Bogdan",
		"        slot: 9c\n      - keyid: " + aliceSpare + "\n        token: yubikey\n        serial: 18243399\n        slot: 9c\n        spare: true\n" + extra + "  - name: Bogdan"
}

func TestCustody(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if p.VaultCopies != 2 {
		t.Errorf("VaultCopies = %d by default, want 2", p.VaultCopies)
	}
	old, new := spareForAlice("")
	p, err = Parse("policy.yaml", edit(t, old, new, "custody:\n  vault_copies: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.VaultCopies != 3 {
		t.Errorf("VaultCopies = %d, want 3", p.VaultCopies)
	}
	alice := p.Holders[0]
	if len(alice.Keys) != 2 || alice.Keys[0].Spare || !alice.Keys[1].Spare {
		t.Errorf("Alice's keys %+v: want the second a spare", alice.Keys)
	}
	// The key a holder brings to a delegation ceremony is not the spare,
	// listed first or not.
	alice.Keys[0], alice.Keys[1] = alice.Keys[1], alice.Keys[0]
	if k := p.CeremonyKey(alice); k.KeyID != aliceKey {
		t.Errorf("CeremonyKey = %s, want Alice's own key %s", k.KeyID, aliceKey)
	}
}

func TestCustodyRefusals(t *testing.T) {
	onlySpare := "        slot: 9c\n  - name: Bogdan"
	for _, tc := range []struct {
		name            string
		old, new, extra string
		want            string
	}{
		{"one vault copy", "", "", "custody:\n  vault_copies: 1\n",
			`policy.yaml:22: custody.vault_copies: 1 is too few: at least 2, since one copy is lost to one fire or one theft`},
		{"no vault copy", "", "", "custody:\n  vault_copies: 0\n",
			`policy.yaml:22: custody.vault_copies: 0 is too few: at least 2, since one copy is lost to one fire or one theft`},
		{"vault copies negative", "", "", "custody:\n  vault_copies: -2\n",
			`policy.yaml:22: custody.vault_copies: -2 is out of range (0 to 16)`},
		{"vault copies as text", "", "", "custody:\n  vault_copies: two\n",
			`policy.yaml:22: custody.vault_copies: want a whole number, found the text "two"`},
		{"custody field unknown", "", "", "custody:\n  spare_tokens: required\n",
			`policy.yaml:22: custody.spare_tokens: unknown field (the fields here are vault_copies)`},
		{"spare not a boolean", onlySpare, "        slot: 9c\n        spare: yes please\n  - name: Bogdan", "",
			`policy.yaml:15: holders[0].keys[0].spare: want true or false, found the text "yes please"`},
		{"only a spare", onlySpare, "        slot: 9c\n        spare: true\n  - name: Bogdan", "",
			`policy.yaml:10: holders[0].keys: every key of "Alice Martin" is a spare: a spare stands in for the holder's own token, so one key must not be a spare`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("policy.yaml", edit(t, tc.old, tc.new, tc.extra))
			if err == nil {
				t.Fatalf("Parse accepted it; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse:\n got %s\nwant %s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %T does not wrap ErrInvalid", err)
			}
		})
	}
}

// spareLayout is the layout policy with a spare of Alice's placed in
// claimed, root's and targets' thresholds 2 and claimed's threshold.
func spareLayout(threshold string) []byte {
	s := strings.ReplaceAll(layout, "threshold: 1\n", "threshold: 2\n")
	s = strings.Replace(s, "  claimed:\n    threshold: 2\n", "  claimed:\n    threshold: "+threshold+"\n", 1)
	return []byte(strings.Replace(s, "  - name: Bogdan Ionescu\n",
		"      - {keyid: "+aliceSpare+", token: yubikey, serial: 18243313, slot: 9c, roles: [claimed], spare: true}\n  - name: Bogdan Ionescu\n", 1))
}

// TestSpareInRole: TUF clients count a threshold in keys, so a spare the
// layout places beside its holder's own key in a role is a second
// signature the holder alone could give: refused when the two meet the
// threshold, at the holder's line.
func TestSpareInRole(t *testing.T) {
	_, err := Parse("policy.yaml", spareLayout("2"))
	want := "policy.yaml:16: holders[0]: holder Alice Martin alone holds 2 of role claimed's keys, enough for its threshold of 2: no one person may sign a role alone (a spare that names no roles is kept out of the metadata)"
	if err == nil || err.Error() != want {
		t.Fatalf("Parse: %v\nwant %s", err, want)
	}
	if _, err := Parse("policy.yaml", spareLayout("3")); err != nil {
		t.Fatalf("a threshold above Alice's two keys: %v", err)
	}
}

// TestSpareCountsOnce: the holders a role's metadata lists are counted
// as people: a holder with their own key and a spare, both in claimed, is
// one of claimed's holders, and their two keys alone meet no threshold
// above two; a spare in reserve (no roles) is in no metadata.
func TestSpareCountsOnce(t *testing.T) {
	p, err := Parse("policy.yaml", spareLayout("3"))
	if err != nil {
		t.Fatal(err)
	}
	root, targets := layoutMetadata(p)
	if err := p.CheckRoles(root, targets); err != nil {
		t.Errorf("CheckRoles with Alice's spare in claimed (threshold 3): %v", err)
	}
	old, new := spareForAlice("")
	reserve, err := Parse("policy.yaml", edit(t, old, new, ""))
	if err != nil {
		t.Fatal(err)
	}
	root, targets = metadata(2, []string{aliceKey, bogdanKey}, 2)
	if err := reserve.CheckRoles(root, targets); err != nil {
		t.Errorf("CheckRoles with Alice's spare in reserve: %v", err)
	}
	// The same key, not marked spare, is a key the metadata must list.
	notSpare, err := Parse("policy.yaml", edit(t, old, strings.Replace(new, "        spare: true\n", "", 1), ""))
	if err != nil {
		t.Fatal(err)
	}
	want := "policy.yaml:15: holders[0].keys[1].keyid: holder Alice Martin's key " + aliceSpare + " is not a key of root or of any role the policy signs"
	if err := notSpare.CheckRoles(root, targets); err == nil || err.Error() != want {
		t.Errorf("CheckRoles: %v\nwant %s", err, want)
	}
}

// layoutMetadata is root and targets placing keys as p's layout does.
func layoutMetadata(p *Policy) (*tuf.Root, *tuf.Targets) {
	root := &tuf.Root{Keys: map[string]*tuf.Key{}, Roles: map[string]*tuf.RoleKeys{}}
	targets := &tuf.Targets{Delegations: &tuf.Delegations{}}
	for _, role := range p.LayoutRoles() {
		ids := p.RoleKeyIDs(role)
		for _, id := range ids {
			root.Keys[id] = nil
		}
		t := p.Expiry(role).Threshold
		if role == tuf.TypeRoot || role == tuf.TypeTargets {
			root.Roles[role] = &tuf.RoleKeys{KeyIDs: ids, Threshold: t}
			continue
		}
		targets.Delegations.Roles = append(targets.Delegations.Roles, &tuf.DelegatedRole{Name: role, KeyIDs: ids, Threshold: t, Paths: []string{"*"}})
	}
	return root, targets
}
