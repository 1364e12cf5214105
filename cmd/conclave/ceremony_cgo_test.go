//go:build cgo

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

// TestCeremonySoftHSM: a whole rehearsal ceremony in which Holder 1's key
// is on a SoftHSM token (found by its URI through the policy's module
// list, checked against the enrolled keyid before its PIN) and Holder 2's
// is a software key; no PIN or passphrase anywhere afterwards.
func TestCeremonySoftHSM(t *testing.T) {
	privateSoftHSM(t)
	_, k, _ := softHSMWithKey(t, "holder1")
	key, err := tuf.KeyFromPublic(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	sel := uri.New()
	sel.Set(uri.Token, "holder1")
	sel.Set(uri.Object, "holder1")
	sel.Set(uri.ModulePath, testSoftHSM)
	fx := newCeremonyFixtureWith(t, &tokenHolder{
		key:     key,
		policy:  fmt.Sprintf("        token: pkcs11\n        uri: %q\n", sel.String()),
		modules: fmt.Sprintf("pkcs11_modules:\n  - path: %s\n    sha256: %s\n", testSoftHSM, sum),
	})
	// Holder 1's token PIN, then the passphrases of Holder 2 (signing) and
	// Holder 3 (the log's head): in the order asked.
	p := filepath.Join(t.TempDir(), "pins")
	if err := os.WriteFile(p, []byte("user-pin-1\n"+ceremonyPass+"\n"+ceremonyPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pins, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer pins.Close()
	out := filepath.Join(fx.dir, "export")
	code, stdout, stderr := run(t, fx.args(out, pins.Fd())...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "PIN of Holder 1 for PKCS#11 token \"holder1\" (SoftHSM") || !strings.Contains(stdout, "  Holder 1 signed claimed\n  Holder 2 signed claimed\n") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	fx.checkExport(t, out, 8)
	noPIN(t, fx.dir, stdout, stderr)
}
