package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxTerm is the program running in a real terminal: a tmux server of
// its own (its own socket), one window of a fixed size.
type tmuxTerm struct {
	t      testing.TB
	socket string
	// log keeps every capture, for the failure message and the PIN check.
	log []string
}

// needTmux skips a test that needs tmux, with the exact reason.
func needTmux(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (Debian package tmux; scripts/lib.sh setup installs it): the terminal program's end-to-end tests drive it through tmux")
	}
}

// buildConclave builds the binary the terminal tests run.
func buildConclave(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "conclave")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startTmux runs argv in a new tmux window of w×h cells, with env added
// to the program's environment. When the program exits, the window shows
// "EXIT <status>" and stays.
func startTmux(t testing.TB, w, h int, env []string, argv ...string) *tmuxTerm {
	t.Helper()
	tt := &tmuxTerm{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = shellQuote(a)
	}
	script := strings.Join(env, " ") + " " + strings.Join(quoted, " ") + `; echo "EXIT $?"; sleep 3600`
	tt.run("-f", "/dev/null", "new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "-s", "c", "env TERM=xterm-256color sh -c "+shellQuote(script))
	t.Cleanup(func() { exec.Command("tmux", "-S", tt.socket, "kill-server").Run() })
	return tt
}

func (tt *tmuxTerm) run(args ...string) string {
	tt.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tt.socket}, args...)...).CombinedOutput()
	if err != nil {
		tt.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// capture is the screen as text.
func (tt *tmuxTerm) capture() string {
	tt.t.Helper()
	s := tt.run("capture-pane", "-p", "-t", "c")
	tt.log = append(tt.log, s)
	return s
}

// keys types: each argument is a tmux key name ("Enter", "Escape", "C-u")
// or, with literal, text typed as it is.
func (tt *tmuxTerm) keys(names ...string) {
	tt.t.Helper()
	tt.run(append([]string{"send-keys", "-t", "c"}, names...)...)
}

// text types s as it is.
func (tt *tmuxTerm) text(s string) {
	tt.t.Helper()
	tt.run("send-keys", "-t", "c", "-l", s)
}

// typeByHand types s one key at a time, as a person does: a burst of
// keys faster than a hand is what a YubiKey's OTP touch types, and the PIN
// field throws such a burst away.
func (tt *tmuxTerm) typeByHand(s string) {
	tt.t.Helper()
	for _, r := range s {
		tt.text(string(r))
		time.Sleep(40 * time.Millisecond)
	}
}

// waitFor waits until the screen shows want, and returns the screen. It
// gives up after a minute (a failure, never a measure of speed).
func (tt *tmuxTerm) waitFor(want string) string {
	tt.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s := tt.capture()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			tt.t.Fatalf("the screen never showed %q; it shows:\n%s", want, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProgramSoftkeys: a whole rehearsal ceremony in the terminal program,
// in a real terminal, with software keys: who operates, preflight, the
// clock, import, review (one approval, a bulk approval with its count),
// what is signed, two holders' signatures, export read back and verified,
// close, the log's head signed by a third holder (the others pass); then
// the vault's new generation with the head's envelope, which verifies, and
// no PIN on any screen, in the log or in any file.
func TestProgramSoftkeys(t *testing.T) {
	needTmux(t)
	fx := newCeremonyFixture(t)
	bin := buildConclave(t)
	out := filepath.Join(fx.dir, "out")
	tt := startTmux(t, 100, 30, []string{"NO_COLOR=1"}, bin, "ceremony", "--vault", fx.vault, "--in", fx.bundle, "--out", out, "--softkey-dir", fx.keys)
	defer func() {
		if t.Failed() {
			t.Logf("last screen:\n%s", tt.log[len(tt.log)-1])
		}
	}()
	tt.waitFor("Who is operating this machine?")
	tt.text("Olga")
	tt.keys("Enter")
	tt.waitFor("Preflight: is this machine fit")
	tt.waitFor("checks:")
	tt.keys("Enter")
	tt.waitFor("This machine's clock")
	tt.keys("c")
	tt.waitFor("Import: the bundle")
	tt.keys("Enter")
	tt.waitFor("Review")
	tt.keys("Enter")
	tt.waitFor("Request r-add")
	tt.keys("a")
	tt.waitFor("approved fresh")
	tt.keys("Escape")
	tt.waitFor("1 / 3 decided")
	tt.keys("B")
	tt.waitFor("Type the number")
	tt.text("2")
	tt.keys("Enter")
	tt.waitFor("3 / 3 decided")
	tt.keys("F")
	tt.waitFor("What is signed")
	tt.keys("a")
	tt.waitFor("Who acknowledges?")
	tt.text("Holder 2")
	tt.keys("Enter")
	tt.waitFor("acknowledged by Holder 2")
	tt.keys("s")
	tt.waitFor("Holders")
	tt.keys("Enter")
	tt.waitFor("PIN for Holder 1")
	tt.typeByHand(ceremonyPass)
	tt.keys("Enter")
	tt.waitFor("claimed: 1 of 3")
	tt.keys("j", "Enter")
	tt.waitFor("PIN for Holder 2")
	tt.typeByHand(ceremonyPass)
	tt.keys("Enter")
	tt.waitFor("read back, and verified")
	tt.keys("Enter")
	tt.waitFor("The log's head: signed by the holders who wish to")
	tt.keys("j", "j", "Enter")
	tt.waitFor("PIN for Holder 3")
	tt.typeByHand(ceremonyPass)
	tt.keys("Enter")
	tt.waitFor("Holder 3 signed the log's head.")
	tt.keys("d")
	tt.waitFor("End head signing? Type yes")
	tt.typeByHand("yes")
	tt.keys("Enter")
	final := tt.waitFor("Write on the paper log the log's head")
	tt.keys("q")
	tt.waitFor("EXIT 0")

	fx.checkExport(t, out, 8)
	v := fx.openVault(t)
	if v.Generation != "gen-000002" || v.Delegators["claimed"].Version() != 8 {
		t.Errorf("vault after the ceremony: %s, claimed version %d", v.Generation, v.Delegators["claimed"].Version())
	}
	fx.checkHead(t, v)
	for _, want := range []string{"Ceremony " + v.LastCeremonyID + " closed", "claimed: 2 of 3 holders signed, threshold 2 met", "the log's head signed by Holder 3", "the vault's generation gen-000002"} {
		if !strings.Contains(final, want) {
			t.Errorf("the last screen lacks %q:\n%s", want, final)
		}
	}
	noPIN(t, fx.dir, tt.log...)
}
