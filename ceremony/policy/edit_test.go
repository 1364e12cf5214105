package policy

import (
	"slices"
	"strings"
	"testing"
)

// TestEdit: a holder removed, a key added to a new holder and one to an
// existing holder, a threshold changed; the result parses, keeps the
// comments, and says what was asked.
func TestEdit(t *testing.T) {
	data := []byte(strings.Replace(layout, "roles:\n", "# the thresholds\nroles:\n", 1))
	const (
		chiaraRoot  = "2c3f4f666b0b84abec70820797ca0a7613d800284806c190752a0d6c91fa7e3f"
		chiaraOther = "3d3f4f666b0b84abec70820797ca0a7613d800284806c190752a0d6c91fa7e3f"
		aliceNew    = "4e3f4f666b0b84abec70820797ca0a7613d800284806c190752a0d6c91fa7e3f"
	)
	out, err := Edit{
		Remove:     []string{"Bogdan Ionescu"},
		RemoveKeys: []string{aliceOther},
		Add: []AddedKey{
			{Holder: "Chiara Rossi", Contact: "chiara@example.org", Key: HolderKey{KeyID: chiaraRoot, Token: TokenYubiKey, Serial: 30000001, Slot: "9c"}, Roles: []string{"root"}},
			{Holder: "Chiara Rossi", Key: HolderKey{KeyID: chiaraOther, Token: TokenYubiKey, Serial: 30000002, Slot: "9c"}, Roles: []string{"targets", "claimed"}},
			{Holder: "Alice Martin", Key: HolderKey{KeyID: aliceNew, Token: TokenYubiKey, Serial: 18243313, Slot: "82"}, Roles: []string{"targets", "claimed"}},
		},
		Thresholds: map[string]int64{"root": 2},
	}.Apply("policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("policy.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range p.Holders {
		names = append(names, h.Name)
	}
	if !slices.Equal(names, []string{"Alice Martin", "Chiara Rossi"}) || p.Holders[1].Contact != "chiara@example.org" {
		t.Errorf("holders %v", p.Holders)
	}
	if got := p.RoleKeyIDs("root"); !slices.Equal(got, []string{aliceKey, chiaraRoot}) || p.Expiry("root").Threshold != 2 {
		t.Errorf("root keys %v threshold %d", got, p.Expiry("root").Threshold)
	}
	if len(p.Holders[0].Keys) != 2 || p.Holders[0].Keys[1].KeyID != aliceNew {
		t.Fatalf("alice's keys %+v, want her root key and the new one", p.Holders[0].Keys)
	}
	if k := p.Holders[0].Keys[1]; k.Slot != "82" || k.Serial != 18243313 || !slices.Equal(p.KeyRoles[aliceNew], []string{"targets", "claimed"}) {
		t.Errorf("alice's new key %+v", k)
	}
	if !strings.Contains(string(out), "# the thresholds\n") {
		t.Errorf("the comment is gone:\n%s", out)
	}
}

// TestEditRefusals: a holder not in the policy; an edit that breaks a
// rule (a threshold above the keys) is refused with the rule.
func TestEditRefusals(t *testing.T) {
	if _, err := (Edit{RemoveKeys: []string{bogdanOther + "0"}}).Apply("policy.yaml", []byte(layout)); err == nil || err.Error() != "policy policy.yaml: no key "+bogdanOther+"0 to remove" {
		t.Errorf("remove no key: %v", err)
	}
	if _, err := (Edit{Remove: []string{"Nobody"}}).Apply("policy.yaml", []byte(layout)); err == nil || err.Error() != "policy policy.yaml: no holder Nobody to remove" {
		t.Errorf("remove nobody: %v", err)
	}
	_, err := Edit{Thresholds: map[string]int64{"claimed": 3}}.Apply("policy.yaml", []byte(layout))
	if err == nil || !strings.HasPrefix(err.Error(), "the edited policy: policy.yaml:") || !strings.HasSuffix(err.Error(), "roles.claimed.threshold: 3 is more than the 2 keys the holders place in role claimed: it could never be met") {
		t.Errorf("threshold 3: %v", err)
	}
}
