package vault_test

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

var now = vaulttest.Now

func adopted(t *testing.T, fx *vaulttest.Fixture) vault.MemReader {
	return vault.NewMemReader(fx.Adopted(t))
}

func TestAdoptedVaultOpens(t *testing.T) {
	fx := vaulttest.New(t)
	v, err := vault.Open(adopted(t, fx))
	if err != nil {
		t.Fatal(err)
	}
	if v.Generation != "gen-000001" || v.Manifest.Generation != 1 || v.Manifest.Previous != "" {
		t.Errorf("generation %s (%d, previous %q)", v.Generation, v.Manifest.Generation, v.Manifest.Previous)
	}
	if len(v.Roots) != 2 || v.Root.Version() != 2 || v.Targets.Version() != 1 || v.Delegators["claimed"].Version() != 1 {
		t.Errorf("roots %d, root v%d, targets v%d", len(v.Roots), v.Root.Version(), v.Targets.Version())
	}
	if h, ok := v.Register.Lookup("claimed", 1); !ok || h != vault.SHA256Hex(fx.Claimed.SignedBytes()) {
		t.Errorf("register claimed 1 = %q, %v", h, ok)
	}
	if want := []string{fx.Holders[0].Key.ID(), fx.Holders[2].Key.ID()}; len(v.BindingSigners) != 2 || !(v.BindingSigners[0] == want[0] && v.BindingSigners[1] == want[1] || v.BindingSigners[0] == want[1] && v.BindingSigners[1] == want[0]) {
		t.Errorf("binding signers %v, want %v", v.BindingSigners, want)
	}
	if !v.LastCeremony.IsZero() {
		t.Errorf("last ceremony %v", v.LastCeremony)
	}
	if v.Hash != vault.SHA256Hex(adopted(t, fx)[vault.ManifestFile]) {
		t.Errorf("hash %s is not the manifest's", v.Hash)
	}
	if files := v.Files(); !reflect.DeepEqual(files, fx.Adopted(t)) {
		t.Errorf("Files() is not the generation as adopted")
	}
}

// openErr opens m and returns the *vault.OpenError, failing the test for a
// vault that opens or another error.
func openErr(t *testing.T, m vault.MemReader) *vault.OpenError {
	t.Helper()
	_, err := vault.Open(m)
	var oe *vault.OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("vault.Open = %v, want an *vault.OpenError", err)
	}
	return oe
}

func TestOpenRefusesTampering(t *testing.T) {
	fx := vaulttest.New(t)
	for _, tc := range []struct {
		name   string
		tamper func(m vault.MemReader) vault.MemReader
		file   string
		is     error
		msg    string
	}{{
		name: "policy edited after binding",
		tamper: func(m vault.MemReader) vault.MemReader {
			m[vault.PolicyFile] = append(append([]byte(nil), m[vault.PolicyFile]...), "# edited\n"...)
			return vault.Reseal(m)
		},
		file: vault.PolicyFile,
		is:   vault.ErrBindingMismatch,
	}, {
		name: "binding signed by too few root keys",
		tamper: func(m vault.MemReader) vault.MemReader {
			m[vault.BindingFile] = fx.Binding(t, fx.Policy, fx.Holders[1])
			return vault.Reseal(m)
		},
		file: vault.BindingFile,
		is:   tuf.ErrThreshold,
		msg:  "vault file binding.json: not enough valid signatures for the binding: 1 of 2 distinct root keys of root version 2 signed",
	}, {
		name: "binding signed by a key outside the root role",
		tamper: func(m vault.MemReader) vault.MemReader {
			m[vault.BindingFile] = fx.Binding(t, fx.Policy, fx.Holders[0], vaulttest.Key(t, 9))
			return vault.Reseal(m)
		},
		file: vault.BindingFile,
		is:   envelope.ErrUnlistedKey,
	}, {
		name: "root chain with a gap",
		tamper: func(m vault.MemReader) vault.MemReader {
			m[vault.RootFile(3)] = m[vault.RootFile(2)]
			delete(m, vault.RootFile(2))
			return vault.Reseal(m)
		},
		file: vault.RootFile(3),
		is:   vault.ErrRootChain,
		msg:  "vault file root/3.root.json: the root history is not a chain from version 1: version 2 is missing before it",
	}, {
		name: "root version 2 not signed by version 1's keys",
		tamper: func(m vault.MemReader) vault.MemReader {
			r2 := vaulttest.Root(t, 2, fx.Holders)
			vaulttest.Sign(t, r2, r2.Root.Keys, fx.Holders[2])
			m[vault.RootFile(2)] = r2.Bytes()
			return vault.Reseal(m)
		},
		file: vault.RootFile(2),
		is:   tuf.ErrThreshold,
	}, {
		name: "targets signed by the wrong key",
		tamper: func(m vault.MemReader) vault.MemReader {
			tg := vaulttest.Targets(t, 1, fx.Holders)
			other := vaulttest.Key(t, 8)
			keys := vaulttest.Keys(append([]vaulttest.Holder{other}, fx.Holders...))
			vaulttest.Sign(t, tg, keys, fx.Holders[0], other)
			m[vault.TargetsFile] = tg.Bytes()
			return vault.Reseal(m)
		},
		file: vault.TargetsFile,
		is:   tuf.ErrThreshold,
		msg:  "vault file metadata/targets.json: not enough valid signatures for role targets: 1 of 2 distinct keys signed",
	}, {
		name: "claimed signed by one key",
		tamper: func(m vault.MemReader) vault.MemReader {
			c := vaulttest.Claimed(t, 1)
			vaulttest.Sign(t, c, fx.Targets.Targets.Delegations.Keys, fx.Holders[0])
			m[vault.RoleFile("claimed")] = c.Bytes()
			return vault.Reseal(m)
		},
		file: vault.RoleFile("claimed"),
		is:   tuf.ErrThreshold,
	}, {
		name: "unlisted file",
		tamper: func(m vault.MemReader) vault.MemReader {
			m["ceremonies/x/log.jsonl"] = []byte("{}\n")
			return m
		},
		file: "ceremonies/",
		is:   vault.ErrUnlisted,
		msg:  "vault file ceremonies/: the manifest does not list it",
	}, {
		name: "unlisted file in a listed directory",
		tamper: func(m vault.MemReader) vault.MemReader {
			m["root/3.root.json"] = m[vault.RootFile(2)]
			return m
		},
		file: "root/3.root.json",
		is:   vault.ErrUnlisted,
	}, {
		name: "hash mismatch",
		tamper: func(m vault.MemReader) vault.MemReader {
			b := append([]byte(nil), m[vault.HistoryFile]...)
			b[len(b)-2] = ' '
			m[vault.HistoryFile] = b
			return m
		},
		file: vault.HistoryFile,
		is:   vault.ErrHashMismatch,
	}, {
		name: "listed file the vault does not know",
		tamper: func(m vault.MemReader) vault.MemReader {
			m["notes.txt"] = []byte("hello\n")
			return vault.Reseal(m)
		},
		file: "notes.txt",
		is:   vault.ErrUnknownFile,
		msg:  "vault file notes.txt: not a file of a vault: a generation holds no file of this name",
	}, {
		name: "listed file missing",
		tamper: func(m vault.MemReader) vault.MemReader {
			delete(m, vault.HistoryFile)
			return m
		},
		file: vault.HistoryFile,
		is:   vault.ErrMissing,
	}, {
		name: "register entry changed",
		tamper: func(m vault.MemReader) vault.MemReader {
			r := vault.Register{"claimed": {1: vault.SHA256Hex([]byte("another payload"))}}
			m[vault.RegisterFile] = r.Marshal()
			return vault.Reseal(m)
		},
		file: vault.RegisterFile,
		is:   vault.ErrRegisterMissing,
		msg:  "vault file register.json: the register does not hold the current metadata's payload: claimed version 1 is registered with payload sha256 " + vault.SHA256Hex([]byte("another payload")) + ", but metadata/claimed.json has payload sha256 " + vault.SHA256Hex(fx.Claimed.SignedBytes()),
	}, {
		name: "metadata of a role the policy does not sign",
		tamper: func(m vault.MemReader) vault.MemReader {
			m["metadata/other.json"] = m[vault.RoleFile("claimed")]
			return vault.Reseal(m)
		},
		file: "metadata/other.json",
		is:   vault.ErrRoleFiles,
	}, {
		name: "manifest not in Conclave's form",
		tamper: func(m vault.MemReader) vault.MemReader {
			m[vault.ManifestFile] = append([]byte(" "), m[vault.ManifestFile]...)
			return m
		},
		file: vault.ManifestFile,
		is:   vault.ErrNotCanonical,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			oe := openErr(t, tc.tamper(adopted(t, fx)))
			if oe.File != tc.file {
				t.Errorf("refused file %q, want %q (%v)", oe.File, tc.file, oe)
			}
			if !errors.Is(oe, tc.is) {
				t.Errorf("error %v is not %v", oe, tc.is)
			}
			if tc.msg != "" && oe.Error() != tc.msg {
				t.Errorf("error\n%s\nwant\n%s", oe, tc.msg)
			}
		})
	}
}

func TestNext(t *testing.T) {
	fx := vaulttest.New(t)
	v, err := vault.Open(adopted(t, fx))
	if err != nil {
		t.Fatal(err)
	}
	c2 := vaulttest.Claimed(t, 2)
	vaulttest.Sign(t, c2, fx.Targets.Targets.Delegations.Keys, fx.Holders[1], fx.Holders[2])
	burned := vault.SHA256Hex([]byte("payload of version 3, never exported"))
	at := now.Add(time.Hour)
	files, err := v.Next(vault.Update{
		CeremonyID: "2026-12-01-a",
		Confirmed:  at,
		Roles:      map[string]*tuf.File{"claimed": c2},
		Register:   vault.Register{"claimed": {3: burned}},
		Logs:       []vault.File{{Name: "log.jsonl", Data: []byte("{}\n")}, {Name: "blobs/ab", Data: []byte("x")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if files[len(files)-1].Name != vault.ManifestFile {
		t.Errorf("last file %s, want the manifest", files[len(files)-1].Name)
	}
	v2, err := vault.Open(vault.NewMemReader(files))
	if err != nil {
		t.Fatal(err)
	}
	if v2.Manifest.Generation != 2 || v2.Manifest.Previous != v.Hash || v2.Generation != "gen-000002" {
		t.Errorf("generation %d previous %s", v2.Manifest.Generation, v2.Manifest.Previous)
	}
	if !v2.LastCeremony.Equal(at) || v2.LastCeremonyID != "2026-12-01-a" {
		t.Errorf("last ceremony %s at %v", v2.LastCeremonyID, v2.LastCeremony)
	}
	if v2.Delegators["claimed"].Version() != 2 {
		t.Errorf("claimed version %d", v2.Delegators["claimed"].Version())
	}
	for ver, want := range map[int64]string{1: vault.SHA256Hex(fx.Claimed.SignedBytes()), 2: vault.SHA256Hex(c2.SignedBytes()), 3: burned} {
		if h, _ := v2.Register.Lookup("claimed", ver); h != want {
			t.Errorf("register claimed %d = %q, want %q", ver, h, want)
		}
	}
	if string(vault.NewMemReader(files)["ceremonies/2026-12-01-a/blobs/ab"]) != "x" {
		t.Error("ceremony log missing")
	}

	// The same ceremony again, an earlier clock, a conflicting register entry.
	if _, err := v2.Next(vault.Update{CeremonyID: "2026-12-01-a", Confirmed: at.Add(time.Hour), Logs: []vault.File{{Name: "log.jsonl"}}}); err == nil || err.Error() != "next generation: ceremony 2026-12-01-a already has logs in the vault" {
		t.Errorf("repeated ceremony: %v", err)
	}
	if _, err := v2.Next(vault.Update{CeremonyID: "b", Confirmed: at}); err == nil || err.Error() != "next generation: the confirmed time 2026-12-01T11:00:00Z is not after the last ceremony's, 2026-12-01T11:00:00Z" {
		t.Errorf("clock: %v", err)
	}
	_, err = v2.Next(vault.Update{CeremonyID: "b", Confirmed: at.Add(time.Hour), Register: vault.Register{"claimed": {3: vault.SHA256Hex([]byte("another"))}}})
	if !errors.Is(err, vault.ErrRegisterConflict) {
		t.Errorf("register conflict: %v", err)
	}
	c3 := vaulttest.Claimed(t, 3)
	vaulttest.Sign(t, c3, fx.Targets.Targets.Delegations.Keys, fx.Holders[1], fx.Holders[2])
	_, err = v2.Next(vault.Update{CeremonyID: "b", Confirmed: at.Add(time.Hour), Roles: map[string]*tuf.File{"claimed": c3}})
	if !errors.Is(err, vault.ErrRegisterConflict) {
		t.Errorf("a second payload for the burned version 3: %v", err)
	}
}

func TestAdoptRefusesWhatOpenRefuses(t *testing.T) {
	fx := vaulttest.New(t)
	in := fx.Input(t)
	in.Binding = fx.Binding(t, fx.Policy, fx.Holders[0])
	_, err := vault.Adopt(in)
	var oe *vault.OpenError
	if !errors.As(err, &oe) || oe.File != vault.BindingFile || !errors.Is(err, tuf.ErrThreshold) {
		t.Fatalf("vault.Adopt = %v", err)
	}
}

func TestOpenRefusesAHolderWhoSignsAlone(t *testing.T) {
	fx := vaulttest.New(t)
	// Holder 1 enrols keys 1 and 2: enough for every threshold of 2.
	p := []byte(strings.Replace(string(fx.Policy), "        uri: softkey:name=holder1\n",
		"        uri: softkey:name=holder1\n      - keyid: "+fx.Holders[1].Key.ID()+"\n        token: softkey\n        uri: softkey:name=holder1b\n", 1))
	p = []byte(strings.Replace(string(p), "  - name: Holder 2\n    keys:\n      - keyid: "+fx.Holders[1].Key.ID()+"\n        token: softkey\n        uri: softkey:name=holder2\n", "", 1))
	m := adopted(t, fx)
	m[vault.PolicyFile] = p
	m[vault.BindingFile] = fx.Binding(t, p, fx.Holders[0], fx.Holders[2])
	oe := openErr(t, vault.Reseal(m))
	if oe.File != vault.PolicyFile || !errors.Is(oe, policy.ErrInvalid) || !strings.Contains(oe.Error(), "holder Holder 1 alone holds 2 of role ") {
		t.Errorf("refused %s: %v", oe.File, oe)
	}
}

// TestOpenRefusesAMisplacedProject: a shard that delegates a project
// whose name the policy gives to another shard is refused, naming both;
// the same projects in their own shards open.
func TestOpenRefusesAMisplacedProject(t *testing.T) {
	intakeKey := it.Key("intake").Key
	project := func(name string) delegation.Project {
		return delegation.Project{Name: name, Threshold: 1, Keys: []*tuf.Key{it.Key("k-" + name).Key}}
	}
	for _, tc := range []struct {
		name       string
		restHolds  string
		wantErrMsg string
	}{
		{"in place", "omega", ""},
		{"misplaced", "ant", `vault file metadata/claimed-rest.json: a project is delegated by the wrong shard: project "ant" is delegated by claimed-rest, but the policy gives its name to claimed-a`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := vaulttest.NewSharded(t, intakeKey, []vaulttest.Shard{
				{Role: "claimed-a", Prefixes: []string{"a"}, Version: 1, Projects: []delegation.Project{project("alpha")}},
				{Role: "claimed-rest", Prefixes: []string{""}, Version: 1, Projects: []delegation.Project{project("zeta"), project(tc.restHolds)}},
			})
			_, err := vault.Adopt(fx.Input(t))
			if tc.wantErrMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, vault.ErrMisplaced) || err.Error() != tc.wantErrMsg {
				t.Fatalf("got  %v\nwant %s", err, tc.wantErrMsg)
			}
		})
	}
}

// TestOpenRefusesAFallThrough: a claimed that delegates a project without
// terminating, or a targets that delegates another role (an online one)
// before claimed, is refused: a client missing a file in the project's
// metadata would ask the next role. The online role after claimed, and
// terminating projects, open.
func TestOpenRefusesAFallThrough(t *testing.T) {
	online := it.Key("online").Key
	for _, tc := range []struct {
		name           string
		onlineFirst    bool
		notTerminating bool
		wantErrMsg     string
	}{
		{"online role last", false, false, ""},
		{"online role first", true, false, `vault file metadata/targets.json: a file missing from a project's metadata could fall through to another role: targets delegates "unclaimed" before claimed, which the policy signs: the signed roles come first`},
		{"project not terminating", false, true, `vault file metadata/claimed.json: a file missing from a project's metadata could fall through to another role: claimed delegates project "alpha" without terminating: a file missing from its metadata would be looked for after it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := vaulttest.New(t)
			top := *fx.Targets.Targets
			d := *top.Delegations
			d.Keys = maps.Clone(d.Keys)
			d.Keys[online.ID()] = online
			u := &tuf.DelegatedRole{Name: "unclaimed", KeyIDs: []string{online.ID()}, Threshold: 1, Paths: []string{"*/*"}}
			if tc.onlineFirst {
				d.Roles = []*tuf.DelegatedRole{u, d.Roles[0]}
			} else {
				d.Roles = []*tuf.DelegatedRole{d.Roles[0], u}
			}
			top.Delegations = &d
			tf, err := tuf.NewTargetsFile(&top)
			if err != nil {
				t.Fatal(err)
			}
			vaulttest.Sign(t, tf, fx.Roots[1].Root.Keys, fx.Holders[0], fx.Holders[2])
			fx.Targets = tf
			c, err := delegation.Build([]delegation.Project{{Name: "alpha", Threshold: 1, Keys: []*tuf.Key{it.Key("k-alpha").Key}}}, "{name}/*", []string{"claimed"}, 1, vaulttest.Now.AddDate(0, 3, 0))
			if err != nil {
				t.Fatal(err)
			}
			c.Delegations.Roles[0].Terminating = !tc.notTerminating
			cf, err := tuf.NewTargetsFile(c)
			if err != nil {
				t.Fatal(err)
			}
			vaulttest.Sign(t, cf, d.Keys, fx.Holders[0], fx.Holders[1])
			fx.Claimed = cf
			_, err = vault.Adopt(fx.Input(t))
			if tc.wantErrMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, vault.ErrFallThrough) || err.Error() != tc.wantErrMsg {
				t.Fatalf("got  %v\nwant %s", err, tc.wantErrMsg)
			}
		})
	}
}
