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

// cmdVaultFixture: vaultfixture DIR writes a vault in DIR (which must not
// exist) holding the first generation of ceremony/vault/vaulttest's
// fixture: three holders, root versions 1 and 2, targets and claimed
// version 1, a rehearsal policy for repository "example".
func cmdVaultFixture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: vaultfixture DIR")
	}
	t := scriptTB{ts: ts}
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

// TestEnrolledAt: --sign names a key as the policy enrols it.
func TestEnrolledAt(t *testing.T) {
	data, err := os.ReadFile("../../docs/policy-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse("policy-example.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref, holder, err string
	}{
		{ref: "yubikey:serial=18243311;slot=9c", holder: "Alice Martin"},
		{ref: "yubikey:slot=9c;serial=20911784", holder: "Bogdan Ionescu"},
		{ref: "pkcs11:token=ceremony;object=chiara", holder: "Chiara Rossi"},
		{ref: "yubikey:serial=18243311;slot=9a", err: "--sign yubikey:serial=18243311;slot=9a: the policy enrols no holder key there: name a root holder's key as the policy does"},
		{ref: "pkcs11:object=chiara;token=ceremony", err: "--sign pkcs11:object=chiara;token=ceremony: the policy enrols no holder key there: name a root holder's key as the policy does"},
		{ref: "yubikey:serial=x;slot=9c", err: "--sign yubikey:serial=x;slot=9c: a YubiKey is named yubikey:serial=N;slot=S"},
		{ref: "softkey:path=/keys/alice.pem", err: "--sign softkey:path=/keys/alice.pem: a software key is named softkey:path=DIR/NAME.key.pem"},
		{ref: "alice", err: "--sign alice: a key is named softkey:path=FILE, yubikey:serial=N;slot=S or pkcs11:…"},
	} {
		k, err := enrolledAt(pol, tc.ref)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: error %v, want %s", tc.ref, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.ref, err)
		case tc.err == "" && k.holder.Name != tc.holder:
			t.Errorf("%s: holder %s, want %s", tc.ref, k.holder.Name, tc.holder)
		}
	}
}
