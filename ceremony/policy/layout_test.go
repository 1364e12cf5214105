package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Keys of the layout policy: each holder's root key on one YubiKey, and
// a key for targets and claimed on another.
const (
	aliceOther  = "0a3f4f666b0b84abec70820797ca0a7613d800284806c190752a0d6c91fa7e3f"
	bogdanOther = "1b3f4f666b0b84abec70820797ca0a7613d800284806c190752a0d6c91fa7e3f"
)

const layout = `format: conclave-policy/1
repository: pypi.example.org
intake_keys:
  - keytype: ed25519
    scheme: ed25519
    keyval:
      public: d943401082d79304938763c96058aca8268d73886fcb8e34ba01169fc7113b3b
roles:
  root:
    threshold: 1
  targets:
    threshold: 1
  claimed:
    threshold: 1
holders:
  - name: Alice Martin
    keys:
      - {keyid: ` + aliceKey + `, token: yubikey, serial: 18243311, slot: 9c, roles: [root]}
      - {keyid: ` + aliceOther + `, token: yubikey, serial: 18243312, slot: 9c, roles: [targets, claimed]}
  - name: Bogdan Ionescu
    keys:
      - {keyid: ` + bogdanKey + `, token: yubikey, serial: 20911784, slot: 9c, roles: [root]}
      - {keyid: ` + bogdanOther + `, token: yubikey, serial: 20911785, slot: 9c, roles: [targets, claimed]}
`

func TestLayout(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(layout))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Placed() {
		t.Fatal("Placed is false")
	}
	if got := p.RoleKeyIDs("root"); !slices.Equal(got, []string{aliceKey, bogdanKey}) {
		t.Errorf("root keys %v", got)
	}
	if got := p.RoleKeyIDs("claimed"); !slices.Equal(got, []string{aliceOther, bogdanOther}) {
		t.Errorf("claimed keys %v", got)
	}
	if got := p.Expiry("root"); got.Threshold != 1 || got.Expiry != DefaultTopExpiry || got.Warning != DefaultTopWarning {
		t.Errorf("root's role policy %+v", got)
	}
	if p.LostTokenDeadline != DefaultLostTokenDeadline {
		t.Errorf("lost token deadline %v", p.LostTokenDeadline)
	}
}

func TestLayoutRefusals(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"root key in another role", "9c, roles: [root]}\n      - {keyid: " + aliceOther, "9c, roles: [root, claimed]}\n      - {keyid: " + aliceOther,
			"policy.yaml:18: holders[0].keys[0].roles: a root key is in no other role: root keys and the keys of other roles are kept on different tokens"},
		{"other key on the root token", "serial: 18243312, slot: 9c", "serial: 18243311, slot: 9d",
			"policy.yaml:19: holders[0].keys[1]: a key of targets, claimed on the token that holds holders[0].keys[0], a root key: root keys and the keys of other roles are kept on different tokens"},
		{"unknown role", "roles: [targets, claimed]}\n  - name: Bogdan", "roles: [snapshot]}\n  - name: Bogdan",
			`policy.yaml:19: holders[0].keys[1].roles[0]: "snapshot" is not root, targets or a role this policy signs (claimed)`},
		{"role twice", "roles: [targets, claimed]}\n  - name: Bogdan", "roles: [claimed, claimed]}\n  - name: Bogdan",
			"policy.yaml:19: holders[0].keys[1].roles[1]: role claimed is named twice"},
		{"no threshold", "  root:\n    threshold: 1\n", "  root:\n    expiry: 365d\n",
			"policy.yaml:8: roles: role root has no threshold: a policy that places keys gives every role's (roles.root.threshold)"},
		{"threshold above the keys", "  claimed:\n    threshold: 1\n", "  claimed:\n    threshold: 3\n",
			"policy.yaml:14: roles.claimed.threshold: 3 is more than the 2 keys the holders place in role claimed: it could never be met"},
		{"lost token deadline zero", "holders:\n", "lost_token_deadline: 0d\nholders:\n",
			"policy.yaml:15: lost_token_deadline: must be longer than zero"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(layout, tc.old) != 1 {
				t.Fatalf("%q occurs %d times", tc.old, strings.Count(layout, tc.old))
			}
			_, err := Parse("policy.yaml", []byte(strings.Replace(layout, tc.old, tc.new, 1)))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestTokenOf: keys on one PKCS#11 token share its name, whatever the
// object; YubiKeys are told apart by serial; software keys by name.
func TestTokenOf(t *testing.T) {
	a := HolderKey{Token: TokenPKCS11, URI: "pkcs11:token=ceremony;object=alice"}
	b := HolderKey{Token: TokenPKCS11, URI: "pkcs11:object=alice-root;token=ceremony?module-path=/x.so"}
	if TokenOf(a) != TokenOf(b) || TokenOf(a) != "pkcs11:token=ceremony" {
		t.Errorf("TokenOf %q and %q", TokenOf(a), TokenOf(b))
	}
	// Percent-encoding (RFC 7512) does not make one token two.
	if enc := (HolderKey{Token: TokenPKCS11, URI: "pkcs11:token=%63eremony;object=carol"}); TokenOf(enc) != TokenOf(a) {
		t.Errorf("TokenOf %q and %q: one token written two ways", TokenOf(enc), TokenOf(a))
	}
	if TokenOf(HolderKey{Token: TokenYubiKey, Serial: 1, Slot: "9c"}) != TokenOf(HolderKey{Token: TokenYubiKey, Serial: 1, Slot: "9d"}) {
		t.Error("two slots of one YubiKey are two tokens")
	}
	if TokenOf(HolderKey{Token: TokenSoftkey, URI: "softkey:name=a"}) == TokenOf(HolderKey{Token: TokenSoftkey, URI: "softkey:name=b"}) {
		t.Error("two software keys are one token")
	}
}

// TestCheckLayout: metadata that places keys otherwise than the policy,
// or with another threshold, is refused.
func TestCheckLayout(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(layout))
	if err != nil {
		t.Fatal(err)
	}
	root := &tuf.Root{Roles: map[string]*tuf.RoleKeys{
		"root":    {KeyIDs: []string{bogdanKey, aliceKey}, Threshold: 1},
		"targets": {KeyIDs: []string{aliceOther, bogdanOther}, Threshold: 1},
	}}
	targets := &tuf.Targets{Delegations: &tuf.Delegations{Roles: []*tuf.DelegatedRole{{Name: "claimed", KeyIDs: []string{aliceOther, bogdanOther}, Threshold: 1}}}}
	if err := p.CheckLayout(root, targets); err != nil {
		t.Fatalf("as placed: %v", err)
	}
	root.Roles["targets"].KeyIDs = []string{aliceOther}
	err = p.CheckLayout(root, targets)
	if !errors.Is(err, ErrLayout) || err.Error() != "policy policy.yaml: the metadata does not place keys as the policy does: role targets lists keys "+aliceOther+", the policy places "+aliceOther+", "+bogdanOther {
		t.Errorf("a key missing: %v", err)
	}
	root.Roles["targets"].KeyIDs = []string{aliceOther, bogdanOther}
	targets.Delegations.Roles[0].Threshold = 2
	if err := p.CheckLayout(root, targets); !errors.Is(err, ErrLayout) || !strings.HasSuffix(err.Error(), "role claimed has threshold 2, the policy gives 1") {
		t.Errorf("another threshold: %v", err)
	}
}

// TestCeremonyKey: a holder signs the log's head with a key that is not
// a root key.
func TestCeremonyKey(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(layout))
	if err != nil {
		t.Fatal(err)
	}
	if k := p.CeremonyKey(p.Holders[0]); k.KeyID != aliceOther {
		t.Errorf("alice's ceremony key %s, want %s", k.KeyID, aliceOther)
	}
	q, err := Parse("policy.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if k := q.CeremonyKey(q.Holders[0]); k.KeyID != aliceKey {
		t.Errorf("without a layout: %s, want the first key", k.KeyID)
	}
}
