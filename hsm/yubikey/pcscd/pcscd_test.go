//go:build cgo

package pcscd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSocketPathTooLong: a directory too deep for pcscd's socket is
// refused with the reason and what to do, not with bind's "invalid
// argument", and nothing is left in it.
func TestSocketPathTooLong(t *testing.T) {
	for _, p := range []string{PcscdPath, VpcdPath} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is missing (install the Debian packages pcscd and vsmartcard-vpcd): %v", p, err)
		}
	}
	parent := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := StartIn(parent, 2, nil)
	if err == nil {
		d.Stop()
		t.Fatal("started, want a refusal")
	}
	if !strings.HasPrefix(err.Error(), "pcscd's socket "+parent+"/conclave-pcscd-") ||
		!strings.HasSuffix(err.Error(), "and a Unix socket path has at most 107: use a shorter temporary directory (TMPDIR)") {
		t.Errorf("got %v", err)
	}
	if entries, err := os.ReadDir(parent); err != nil || len(entries) != 0 {
		t.Errorf("left in %s: %v (%v)", parent, entries, err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		t.Errorf("%v is bind's error, not the refusal", err)
	}
}
