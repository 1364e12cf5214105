//go:build cgo

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/rehearsal"
)

// TestProgramRehearsal: `conclave rehearse --tui` in a real terminal, on
// the rehearsal's own virtual YubiKeys (pcscd, vpcd) and SoftHSM token:
// the roster lists all three tokens at once, the operator decides every
// request, two holders sign on their tokens, and the export is written,
// read back and verified; the rehearsal then stops its tokens and says
// where everything went.
func TestProgramRehearsal(t *testing.T) {
	needTmux(t)
	if err := rehearsal.CheckTokenSoftware(); err != nil {
		t.Skipf("the rehearsal's tokens cannot start: %v", err)
	}
	if testing.Short() {
		t.Skip("builds conclave and starts the rehearsal's tokens; run without -short")
	}
	bin := buildConclave(t)
	dir := filepath.Join(t.TempDir(), "rehearsal")
	tt := startTmux(t, 100, 30, []string{"NO_COLOR=1"}, bin, "rehearse", "--tui", "--out", dir, "--requests", "20")
	defer func() {
		if t.Failed() {
			t.Logf("last screen:\n%s", tt.log[len(tt.log)-1])
		}
	}()
	tt.waitFor("Who is operating this machine?")
	tt.text("Olga")
	tt.keys("Enter")
	tt.waitFor("checks:")
	tt.keys("Enter")
	tt.waitFor("This machine's clock")
	tt.keys("c")
	tt.waitFor("Import: the bundle")
	tt.keys("Enter")
	tt.waitFor("Review · 0 / 12 decided · 3 need judgement")
	// The three that need judgement come first: open each, approve it;
	// the cursor then stands on the next undecided one.
	for i := 1; i <= 3; i++ {
		tt.keys("Enter")
		tt.waitFor("Change against the trusted delegation")
		tt.keys("a")
		tt.waitFor("approved ")
		tt.keys("Escape")
		tt.waitFor("Review · " + string(rune('0'+i)) + " / 12 decided")
	}
	tt.keys("B")
	tt.waitFor("Type the number")
	tt.text("9")
	tt.keys("Enter")
	tt.waitFor("12 / 12 decided")
	tt.keys("F")
	tt.waitFor("What is signed")
	tt.keys("a")
	tt.waitFor("Who acknowledges?")
	tt.text("Alice")
	tt.keys("Enter")
	tt.waitFor("acknowledged by Alice")
	tt.keys("s")
	roster := tt.waitFor("Tokens in the room")
	for _, want := range []string{"YubiKey 91000001 · Alice", "YubiKey 91000002 · Bob", `HSM "rehearsal-Carol"`} {
		if !strings.Contains(roster, want) {
			t.Errorf("the roster lacks %q:\n%s", want, roster)
		}
	}
	tt.keys("Enter")
	tt.waitFor("claimed: 1 of 3")
	// Carol signs on the SoftHSM token.
	tt.keys("j", "j", "Enter")
	tt.waitFor("read back, and verified")
	tt.keys("Enter")
	final := tt.waitFor("Write on the paper log the log's head")
	if !strings.Contains(final, "claimed: 2 of 3 holders signed, threshold 2 met") || !strings.Contains(final, "the vault's generation gen-000002") {
		t.Errorf("the summary:\n%s", final)
	}
	tt.keys("q")
	end := tt.waitFor("EXIT ")
	if !strings.Contains(end, "EXIT 0") || !strings.Contains(end, "Check the export yourself:") {
		t.Fatalf("the rehearsal did not end well:\n%s", end)
	}
	for _, f := range []string{"export/2.claimed.json", "export/decisions.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
