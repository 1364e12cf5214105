//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCeremonySoftHSM: a whole rehearsal ceremony in which Holder 1's key
// is on a SoftHSM token (found by its URI through the policy's module
// list, checked against the enrolled keyid before its PIN) and Holder 2's
// is a software key; no PIN or passphrase anywhere afterwards.
func TestCeremonySoftHSM(t *testing.T) {
	fx := newSoftHSMCeremonyFixture(t)
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
