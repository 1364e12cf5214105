//go:build cgo

package yubikey

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The PC/SC messages Conclave maps must be exactly those piv-go generates
// (its pcsc_errors.go, from pcsc-lite's table); a piv-go upgrade that
// changes one fails here instead of silently losing the mapping.
func TestPCSCMessagesMatchPivGo(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/go-piv/piv-go/v2").Output()
	if err != nil {
		t.Fatalf("locating piv-go: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "piv", "pcsc_errors.go"))
	if err != nil {
		t.Fatal(err)
	}
	for msg := range pcscMessages {
		if !strings.Contains(string(src), strconv.Quote(msg)) {
			t.Errorf("piv-go has no PC/SC message %q", msg)
		}
	}
}
