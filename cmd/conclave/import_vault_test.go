package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// importVault writes a rehearsal vault in which the top-level targets
// delegate claimed to owner alone (threshold 1), claimed being the bytes
// given, and the policy accepts bundles from repository signed by
// intakeKey, with policyExtra appended (YAML); history may be nil. It
// returns the vault's directory.
func importVault(t testing.TB, claimed []byte, owner, intakeKey *tuf.Key, repository, policyExtra string, history []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "vault")
	writeImportVault(t, dir, claimed, owner, intakeKey, repository, policyExtra, history)
	return dir
}

// writeImportVault writes importVault's vault into dir.
func writeImportVault(t vaulttest.T, dir string, claimed []byte, owner, intakeKey *tuf.Key, repository, policyExtra string, history []byte) {
	t.Helper()
	hs := []vaulttest.Holder{vaulttest.Key(t, 1), vaulttest.Key(t, 2), vaulttest.Key(t, 3)}
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 1, tuf.NewExpiry(intaketest.Now.AddDate(1, 0, 0))
	top.Delegations = &tuf.Delegations{Keys: map[string]*tuf.Key{owner.ID(): owner}, Roles: []*tuf.DelegatedRole{{
		Name: "claimed", KeyIDs: []string{owner.ID()}, Threshold: 1, Paths: []string{"*/*"},
	}}}
	targets, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	// JSON strings are YAML double-quoted scalars: a PEM key's newlines
	// stay escaped.
	fmt.Fprintf(&b, "format: conclave-policy/1\nrehearsal: true\nrepository: %s\nintake_keys:\n  - keytype: %s\n    scheme: %s\n    keyval:\n      public: %s\ndelegating_role: claimed\n%sholders:\n",
		repository, intakeKey.Type, intakeKey.Scheme, strconv.Quote(intakeKey.Public), policyExtra)
	for i, h := range hs {
		fmt.Fprintf(&b, "  - name: Holder %d\n    keys:\n      - keyid: %s\n        token: softkey\n        uri: softkey:name=holder%d\n", i+1, h.Key.ID(), i+1)
	}
	writeTestVault(t, dir, testVaultSpec{holders: hs, signers: hs, targets: targets, claimed: claimed, policy: []byte(b.String()), history: history})
}

// exampleVault is the vault the worked example of docs/formats is judged
// against: 7.claimed.json, the example's intake key and history.
func exampleVault(t testing.TB) string {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(examples, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	intakeKey, err := loadPublicKey(filepath.Join(examples, "intake-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	return importVault(t, read("7.claimed.json"), intaketest.Key("claimed-owner").Key, intakeKey, "example.org", "", read("history.json"))
}
