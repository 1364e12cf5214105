package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/rogpeppe/go-internal/testscript"
)

// scriptT lets vaulttest fail a script.
type scriptT struct{ ts *testscript.TestScript }

func (scriptT) Helper()             {}
func (s scriptT) Fatal(args ...any) { s.ts.Fatalf("%s", fmt.Sprint(args...)) }

// cmdVaultFixture: vaultfixture DIR writes a vault in DIR (which must not
// exist) holding the first generation of ceremony/vault/vaulttest's
// fixture: three holders, root versions 1 and 2, targets and claimed
// version 1, a rehearsal policy for repository "example".
func cmdVaultFixture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: vaultfixture DIR")
	}
	t := scriptT{ts}
	d, err := vaultdir.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	defer d.Close()
	_, err = d.WriteGeneration(vaulttest.New(t).Adopted(t))
	ts.Check(err)
}

// runWithPINs runs the command with --pin-fd reading pins, one line each.
func runWithPINs(t *testing.T, pins string, args ...string) (int, string, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(pins); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// The command closes the descriptor it reads: it gets a descriptor of
	// its own, which r (closed here, or by its finaliser) does not hold.
	fd, err := syscall.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	args = append(args, "--pin-fd", fmt.Sprint(fd))
	code, out, errOut := run(t, args...)
	return code, out, errOut
}

// TestVaultAdoptSoftkeys: a rehearsal's root holders sign the binding
// with software keys named softkey:path=DIR/NAME.key.pem, passphrases from
// --pin-fd. The fixture's keys sign deterministically (ed25519), so the
// vault adopted is exactly vaulttest's, generation hash and all.
func TestVaultAdoptSoftkeys(t *testing.T) {
	fx := vaulttest.New(t)
	keys := t.TempDir()
	store, err := softkey.Open(keys, hsm.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range fx.Holders {
		if _, err := store.WriteKey(fmt.Sprintf("holder%d", i+1), h.Signer, []byte("pass phrase")); err != nil {
			t.Fatal(err)
		}
	}
	meta := t.TempDir()
	for name, data := range map[string][]byte{
		"1.root.json": fx.Roots[0].Bytes(), "2.root.json": fx.Roots[1].Bytes(),
		"targets.json": fx.Targets.Bytes(), "claimed.json": fx.Claimed.Bytes(), "policy.yaml": fx.Policy,
	} {
		if err := os.WriteFile(filepath.Join(meta, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "vault")
	code, stdout, stderr := runWithPINs(t, "pass phrase\npass phrase\n", "vault", "adopt", "--metadata", meta, "--policy", filepath.Join(meta, "policy.yaml"),
		"--out", out, "--sign", "softkey:path="+filepath.Join(keys, "holder1.key.pem"), "--sign", "softkey:path="+filepath.Join(keys, "holder3.key.pem"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	want := vault.ManifestFile
	for _, f := range fx.Adopted(t) {
		if f.Name == vault.ManifestFile {
			want = vault.SHA256Hex(f.Data)
		}
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
	if v.Hash != want {
		t.Errorf("generation hash %s, want vaulttest's %s", v.Hash, want)
	}
	if strings.Contains(stdout+stderr, "pass phrase") {
		t.Errorf("a passphrase in the output:\n%s%s", stdout, stderr)
	}
}

// TestAdoptSignersRefusesAKeyOutsideRootsRootRole: a holder key the
// policy enrols but the root's root role does not list cannot sign the
// binding, and is refused before any token is opened.
func TestAdoptSignersRefusesAKeyOutsideRootsRootRole(t *testing.T) {
	fx := vaulttest.New(t)
	pol, err := policy.Parse("policy.yaml", fx.Policy)
	if err != nil {
		t.Fatal(err)
	}
	root := vaulttest.Root(t, 3, fx.Holders[1:])
	_, _, err = adoptSigners(pol, root, []string{"softkey:path=/keys/holder2.key.pem", "softkey:path=/keys/holder1.key.pem"})
	want := "--sign softkey:path=/keys/holder1.key.pem: it is Holder 1's key " + fx.Holders[0].Key.ID() +
		", which is not a root key of root version 3: only root keys sign the binding"
	if err == nil || err.Error() != want {
		t.Errorf("adoptSigners = %v\nwant %s", err, want)
	}
}
