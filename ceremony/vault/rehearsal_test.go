package vault_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
)

// productionPolicy is the fixture's policy made a production one: no
// rehearsal field, the holders' keys on YubiKeys.
func productionPolicy(t *testing.T, fx *vaulttest.Fixture) []byte {
	t.Helper()
	p := strings.Replace(string(fx.Policy), "rehearsal: true\n", "", 1)
	for i := range fx.Holders {
		from := "token: softkey\n        uri: softkey:name=holder" + string(rune('1'+i)) + "\n"
		if !strings.Contains(p, from) {
			t.Fatalf("the fixture's policy has no %q", from)
		}
		p = strings.Replace(p, from, "token: yubikey\n        serial: 1000"+string(rune('1'+i))+"\n        slot: 9c\n", 1)
	}
	return []byte(p)
}

// unmark replaces the fixture's root of index i by the same root without
// the rehearsal mark, signed as vaulttest.New signs it.
func unmark(t *testing.T, fx *vaulttest.Fixture, i int) {
	t.Helper()
	mark := `,"` + tuf.RehearsalMark + `":"` + tuf.RehearsalNotice + `"`
	data := string(fx.Roots[i].Bytes())
	if !strings.Contains(data, mark) {
		t.Fatalf("root %d lacks %s", i+1, mark)
	}
	// The signatures no longer match; the root is signed anew below.
	f, err := tuf.Parse("root.json", []byte(strings.Replace(data, mark, "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := tuf.NewRootFile(f.Root)
	if err != nil {
		t.Fatal(err)
	}
	signers := [][]vaulttest.Holder{{fx.Holders[0], fx.Holders[1]}, {fx.Holders[1], fx.Holders[2]}}[i]
	vaulttest.Sign(t, g, g.Root.Keys, signers...)
	fx.Roots[i] = g
}

// TestRehearsalMarkMatchesPolicy: a vault opens only when every root's
// rehearsal mark says what the policy says: a production policy over a
// rehearsal's roots, or a rehearsal policy over a root without the mark,
// is refused naming the first root that disagrees.
func TestRehearsalMarkMatchesPolicy(t *testing.T) {
	for _, tc := range []struct {
		name       string
		production bool
		unmark     []int
		file       string // "" when the vault opens
	}{
		{name: "rehearsal policy, marked roots"},
		{name: "production policy, unmarked roots", production: true, unmark: []int{0, 1}},
		{name: "production policy, marked roots", production: true, file: "root/1.root.json"},
		{name: "production policy, root 2 marked", production: true, unmark: []int{0}, file: "root/2.root.json"},
		{name: "rehearsal policy, unmarked roots", unmark: []int{0, 1}, file: "root/1.root.json"},
		{name: "rehearsal policy, root 2 unmarked", unmark: []int{1}, file: "root/2.root.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := vaulttest.New(t)
			for _, i := range tc.unmark {
				unmark(t, fx, i)
			}
			if tc.production {
				fx.Policy = productionPolicy(t, fx)
			}
			_, err := vault.Adopt(fx.Input(t))
			if tc.file == "" {
				if err != nil {
					t.Fatalf("vault.Adopt = %v", err)
				}
				return
			}
			var oe *vault.OpenError
			if !errors.As(err, &oe) || oe.File != tc.file || !errors.Is(err, vault.ErrRehearsalMark) {
				t.Fatalf("vault.Adopt = %v, want %s refused with ErrRehearsalMark", err, tc.file)
			}
			want := "vault file " + tc.file + ": the root history and the policy disagree on whether this is a rehearsal: "
			if tc.production {
				want += "it is marked x-conclave-rehearsal (made by a rehearsal with throwaway keys), and the policy is not a rehearsal's (rehearsal: true)"
			} else {
				want += "the policy is a rehearsal's (rehearsal: true), and this root is not marked x-conclave-rehearsal: a rehearsal's metadata would pass as production metadata"
			}
			if err.Error() != want {
				t.Errorf("got  %s\nwant %s", err, want)
			}
		})
	}
}
