//go:build cgo

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
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

// TestProgramTokenErrors: the terminal program in a real terminal, with
// Holder 1's key on a SoftHSM token and software keys for Holders 2 and
// 3; a second SoftHSM token and a virtual YubiKey (private pcscd), both
// with keys nobody enrolled, are in the roster beside it. Holder 2's store first holds another holder's key: the wrong-token
// card shows, no PIN asked; with the right key back, the retry signs.
// Holder 1 types a wrong PIN: the wrong-PIN card shows, and the retry with
// the right one signs. The ceremony ends exported and verified, and no PIN
// is on any screen, in the log or in any file.
func TestProgramTokenErrors(t *testing.T) {
	needTmux(t)
	d := privatePCSCD(t)
	privateSoftHSM(t)
	// A YubiKey nobody enrolled, in the room all along.
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	stray, err := vcard.New(vcard.Config{Serial: 31415926, CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	if err := stray.Insert(d.Addr(2)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stray.Remove() })
	if err := d.WaitCard(2, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	_, k, _ := softHSMWithKey(t, "holder1")
	softHSMWithKey(t, "spare")
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
	// Holder 2's store holds Holder 3's key: the wrong token.
	swap := func(from string) {
		for _, ext := range []string{".key.pem", ".pub.pem"} {
			data, err := os.ReadFile(filepath.Join(fx.keys, from+ext))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(fx.keys, "holder2"+ext), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	saved := filepath.Join(t.TempDir(), "holder2")
	for _, ext := range []string{".key.pem", ".pub.pem"} {
		data, err := os.ReadFile(filepath.Join(fx.keys, "holder2"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(saved+ext, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	swap("holder3")

	bin := buildConclave(t)
	out := filepath.Join(fx.dir, "out")
	tt := startTmux(t, 100, 30, []string{"NO_COLOR=1", "SOFTHSM2_CONF=" + shellQuote(os.Getenv("SOFTHSM2_CONF")), "PCSCLITE_CSOCK_NAME=" + shellQuote(d.Socket)},
		bin, "ceremony", "--vault", fx.vault, "--in", fx.bundle, "--out", out, "--softkey-dir", fx.keys)
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
	roster := tt.waitFor("Tokens in the room")
	for _, want := range []string{`HSM "holder1"`, `HSM "spare"`, "YubiKey 31415926 · not enrolled"} {
		if !strings.Contains(roster, want) {
			t.Errorf("the roster lacks %q:\n%s", want, roster)
		}
	}

	// Holder 2, the wrong key: a card, no PIN asked.
	tt.keys("j", "Enter")
	card := tt.waitFor("Wrong token")
	if strings.Contains(card, "PIN for Holder 2") {
		t.Errorf("a PIN was asked of the wrong token:\n%s", card)
	}
	for _, want := range []string{fx.holders[1].Key.ID()[:8], fx.holders[2].Key.ID()[:8]} {
		if !strings.Contains(card, want) {
			t.Errorf("the wrong-token card does not show key %s…:\n%s", want, card)
		}
	}
	swap("holder2")
	for _, ext := range []string{".key.pem", ".pub.pem"} {
		data, err := os.ReadFile(saved + ext)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fx.keys, "holder2"+ext), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tt.keys("Enter")
	tt.waitFor("PIN for Holder 2")
	tt.typeByHand(ceremonyPass)
	tt.keys("Enter")
	tt.waitFor("claimed: 1 of 3")

	// Holder 1, a wrong PIN, then the right one.
	tt.keys("k", "Enter")
	tt.waitFor("PIN for Holder 1")
	tt.typeByHand("user-pin-9")
	tt.keys("Enter")
	tt.waitFor("Wrong PIN")
	tt.keys("Enter")
	tt.waitFor("PIN for Holder 1")
	tt.typeByHand("user-pin-1")
	tt.keys("Enter")
	tt.waitFor("read back, and verified")
	tt.keys("Enter")
	tt.waitFor("Write on the paper log the log's head")
	tt.keys("q")
	tt.waitFor("EXIT 0")
	fx.checkExport(t, out, 8)
	noPIN(t, fx.dir, tt.log...)
	for _, s := range tt.log {
		if strings.Contains(s, "user-pin-9") {
			t.Fatalf("the wrong PIN is on the screen:\n%s", s)
		}
	}
}
