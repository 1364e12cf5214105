//go:build cgo

package main

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

// softHSMHolder is a root holder whose key is on a SoftHSM token.
type softHSMHolder struct {
	name, uri string
	key       *tuf.Key
	signer    crypto.Signer
}

// softHSMHolders makes three SoftHSM tokens, each with one ed25519 key,
// and opens a signer on each (user PIN "user-pin-1").
func softHSMHolders(t *testing.T) []softHSMHolder {
	t.Helper()
	privateSoftHSM(t)
	return softHSMTokens(t, "alice", "bob", "carol")
}

// softHSMTokens makes a SoftHSM token for each label, each with one
// ed25519 key of the same label, and opens a signer on each (user PIN
// "user-pin-1"). privateSoftHSM must have run.
func softHSMTokens(t *testing.T, labels ...string) []softHSMHolder {
	t.Helper()
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	mp := pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: testSoftHSM, SHA256: sum}}, Rehearsal: true}
	var out []softHSMHolder
	for _, name := range labels {
		softHSMWithKey(t, name)
		sel := uri.New()
		sel.Set(uri.Token, name)
		sel.Set(uri.Object, name)
		sel.Set(uri.ModulePath, testSoftHSM)
		tok, k, err := pkcs11.OpenKey(context.Background(), sel.String(), mp, hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) {
			return []byte("user-pin-1"), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tok.Close() })
		s, err := tok.Signer(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := pkcs11.TUFKey(k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, softHSMHolder{name, sel.String(), tk, s})
	}
	return out
}

// writeSoftHSMRepository writes 1.root.json, targets.json and
// claimed.json signed by the first two holders, and a rehearsal policy
// enrolling the three keys by their URIs, and returns the policy's path.
func writeSoftHSMRepository(t *testing.T, dir string, hs []softHSMHolder) string {
	t.Helper()
	keys := map[string]*tuf.Key{}
	var ids []string
	for _, h := range hs {
		keys[h.key.ID()] = h.key
		ids = append(ids, h.key.ID())
	}
	now := time.Now()
	root := &tuf.Root{Keys: keys, Roles: map[string]*tuf.RoleKeys{}}
	root.Version, root.Expires = 1, tuf.NewExpiry(now.AddDate(1, 0, 0))
	consistent := true
	root.ConsistentSnapshot = &consistent
	for _, r := range []string{tuf.TypeRoot, tuf.TypeTargets, tuf.TypeSnapshot, tuf.TypeTimestamp} {
		root.Roles[r] = &tuf.RoleKeys{KeyIDs: ids, Threshold: 2}
	}
	root.MarkRehearsal(tuf.RehearsalNotice) // the policy is a rehearsal's
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 1, tuf.NewExpiry(now.AddDate(0, 6, 0))
	top.Delegations = &tuf.Delegations{Keys: keys, Roles: []*tuf.DelegatedRole{{Name: "claimed", KeyIDs: ids, Threshold: 2, Paths: []string{"*/*"}}}}
	claimed := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	claimed.Version, claimed.Expires = 1, tuf.NewExpiry(now.AddDate(0, 3, 0))
	rf, err := tuf.NewRootFile(root)
	if err != nil {
		t.Fatal(err)
	}
	tf, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := tuf.NewTargetsFile(claimed)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs[:2] {
		for _, f := range []*tuf.File{rf, tf, cf} {
			if err := f.Sign(keys, h.key.ID(), h.signer); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, f := range map[string]*tuf.File{"1.root.json": rf, "targets.json": tf, "claimed.json": cf} {
		if err := os.WriteFile(filepath.Join(dir, name), f.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var p strings.Builder
	p.WriteString(softHSMPolicyHead(t))
	p.WriteString("holders:\n")
	for _, h := range hs {
		fmt.Fprintf(&p, "  - name: %s\n    keys:\n      - keyid: %s\n        token: pkcs11\n        uri: %q\n", h.name, h.key.ID(), h.uri)
	}
	pf := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pf, []byte(p.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return pf
}

// softHSMPolicyHead is the start of a rehearsal policy allowing SoftHSM,
// up to the holders.
func softHSMPolicyHead(t *testing.T) string {
	t.Helper()
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`format: conclave-policy/1
rehearsal: true
repository: example
intake_keys:
  - keytype: ed25519
    scheme: ed25519
    keyval:
      public: d943401082d79304938763c96058aca8268d73886fcb8e34ba01169fc7113b3b
pkcs11_modules:
  - path: %s
    sha256: %s
`, testSoftHSM, sum)
}

// TestVaultAdoptSoftHSM: root holders on SoftHSM tokens sign the binding
// through their PKCS#11 URIs, with their PINs from --pin-fd; the vault
// opens, and show names the signers; no PIN appears anywhere.
func TestVaultAdoptSoftHSM(t *testing.T) {
	hs := softHSMHolders(t)
	dir := t.TempDir()
	pf := writeSoftHSMRepository(t, dir, hs)
	out := filepath.Join(t.TempDir(), "vault")
	code, stdout, stderr := runWithPINs(t, "user-pin-1\nuser-pin-1\n", "vault", "adopt", "--metadata", dir, "--policy", pf, "--out", out,
		"--sign", hs[0].uri, "--sign", hs[2].uri)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "vault "+out+": gen-000001 written and made current\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
	d, err := vaultdir.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	v, err := d.OpenCurrent()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.BindingSigners) != 2 {
		t.Errorf("binding signers %v", v.BindingSigners)
	}
	code, show, showErr := run(t, "vault", "show", out)
	if code != 0 || !strings.Contains(show, "binding: signed by 2 root keys of root version 1 (threshold 2): alice, carol\n") {
		t.Errorf("show: exit %d\n%s%s", code, show, showErr)
	}
	code, js, jsErr := run(t, "vault", "show", "--json", out)
	if code != 0 {
		t.Fatalf("show --json: exit %d\n%s", code, jsErr)
	}
	checkSchema(t, "vault-show.schema.json", []byte(js))
	for _, s := range []string{stdout, stderr, show, showErr} {
		if strings.Contains(s, "user-pin-1") {
			t.Errorf("a PIN in the output:\n%s", s)
		}
	}
	err = filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if bytes.Contains(b, []byte("user-pin-1")) {
			t.Errorf("a PIN in %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVaultAdoptRefusesTooFewSigners: one root key of a threshold of two
// is refused before anything is written.
func TestVaultAdoptRefusesTooFewSigners(t *testing.T) {
	hs := softHSMHolders(t)
	dir := t.TempDir()
	pf := writeSoftHSMRepository(t, dir, hs)
	out := filepath.Join(t.TempDir(), "vault")
	code, stdout, stderr := runWithPINs(t, "user-pin-1\n", "vault", "adopt", "--metadata", dir, "--policy", pf, "--out", out, "--sign", hs[1].uri)
	if code != 1 || !strings.Contains(stderr, "error: vault file binding.json: not enough valid signatures for the binding: 1 of 2 distinct root keys of root version 1 signed\n") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the vault directory was made: %v", err)
	}
}
