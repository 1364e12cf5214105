//go:build cgo

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/hsm/yubikey/pcscdtest"
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
	// The first reading of the roster opens every card: on a busy
	// machine the screen says it is looking for a while.
	roster := tt.waitFor("YubiKey 91000001 · Alice")
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
	tt.waitFor("The log's head: signed by the holders who wish to")
	tt.keys("d") // nobody signs the head: the others pass
	tt.waitFor("End head signing? Type yes")
	tt.typeByHand("yes")
	tt.keys("Enter")
	final := tt.waitFor("Write on the paper log the log's head")
	if !strings.Contains(final, "nobody signed the log's head") {
		t.Errorf("the summary:\n%s", final)
	}
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

// enrolledYubiKey inserts a virtual YubiKey in reader i of the private
// pcscd and enrols it as a holder's would be: PIN, PUK and management key
// changed from the factory's, an ECDSA P-256 key generated in slot 9c
// (PIN once, no touch). It returns the card and the key.
func enrolledYubiKey(t *testing.T, d *pcscdtest.Daemon, i int, serial uint32, pin string) (*vcard.Card, *tuf.Key) {
	t.Helper()
	c, err := vcard.New(vcard.Config{Serial: serial})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(d.Addr(i)); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitCard(i, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.Inserted() {
			c.Remove()
		}
		d.WaitCard(i, false, 10*time.Second) // the reader empty, for the next test
	})
	ctx := context.Background()
	prompts := hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte(pin), nil }}
	tok, err := yubikey.Open(ctx, yubikey.Options{Serial: serial, Prompts: prompts, Roots: yubikey.NewRoots("test CA", c.CA().Cert)})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.ChangePIN(ctx, []byte(pivgo.DefaultPIN), []byte(pin)); err != nil {
		t.Fatal(err)
	}
	if err := tok.ChangePUK(ctx, []byte(pivgo.DefaultPUK), []byte("13572468")); err != nil {
		t.Fatal(err)
	}
	if err := tok.RotateManagementKey(ctx, pivgo.DefaultManagementKey, yubikey.StoreOnCard); err != nil {
		t.Fatal(err)
	}
	k, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.ECDSAP256, Slot: "9c", PINPolicy: "once", TouchPolicy: "never"})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tuf.KeyFromPublic(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	return c, tk
}

// yubiPIN is the test YubiKey's PIN, which no screen, log or file may
// hold afterwards.
const yubiPIN = "246810"

// TestProgramTokenErrors: the terminal program in a real terminal, with
// Holder 1's key on a virtual YubiKey (a private pcscd) and software keys
// for Holders 2 and 3; a SoftHSM token and a second virtual YubiKey, with
// keys nobody enrolled, are in the roster beside it. Holder 2's store
// first holds another holder's key: the wrong-token card shows, no PIN
// asked; with the right key back, the retry signs. Holder 1 types a wrong
// PIN: the wrong-PIN card; then the card is pulled out while it signs:
// the pulled card; put back, the retry asks the PIN again (the card lost
// power) and signs. The ceremony ends exported and verified, and no PIN
// is on any screen, in the log or in any file.
func TestProgramTokenErrors(t *testing.T) {
	needTmux(t)
	d := privatePCSCD(t)
	privateSoftHSM(t)
	softHSMWithKey(t, "spare")
	card, key := enrolledYubiKey(t, d, 2, 41000001, yubiPIN)
	stray, err := vcard.New(vcard.Config{Serial: 31415926})
	if err != nil {
		t.Fatal(err)
	}
	if err := stray.Insert(d.Addr(3)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stray.Remove()
		d.WaitCard(3, false, 10*time.Second)
	})
	if err := d.WaitCard(3, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	fx := newCeremonyFixtureWith(t, &tokenHolder{
		key:     key,
		policy:  "        token: yubikey\n        serial: 41000001\n        slot: 9c\n",
		modules: fmt.Sprintf("pkcs11_modules:\n  - path: %s\n    sha256: %s\n", testSoftHSM, sum),
	})
	// Holder 2's store holds Holder 3's key: the wrong token.
	keyFiles := func(name string) map[string][]byte {
		out := map[string][]byte{}
		for _, ext := range []string{".key.pem", ".pub.pem"} {
			data, err := os.ReadFile(filepath.Join(fx.keys, name+ext))
			if err != nil {
				t.Fatal(err)
			}
			out[ext] = data
		}
		return out
	}
	putHolder2 := func(files map[string][]byte) {
		for ext, data := range files {
			if err := os.WriteFile(filepath.Join(fx.keys, "holder2"+ext), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	right := keyFiles("holder2")
	putHolder2(keyFiles("holder3"))

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
	roster := tt.waitFor("YubiKey 41000001 · Holder 1")
	for _, want := range []string{`HSM "spare"`, "YubiKey 31415926 · not enrolled"} {
		if !strings.Contains(roster, want) {
			t.Errorf("the roster lacks %q:\n%s", want, roster)
		}
	}

	// Holder 2, the wrong key: a card, no PIN asked.
	tt.keys("j", "Enter")
	wrong := tt.waitFor("Wrong token")
	if strings.Contains(wrong, "PIN for Holder 2") {
		t.Errorf("a PIN was asked of the wrong token:\n%s", wrong)
	}
	for _, want := range []string{fx.holders[1].Key.ID()[:8], fx.holders[2].Key.ID()[:8]} {
		if !strings.Contains(wrong, want) {
			t.Errorf("the wrong-token card does not show key %s…:\n%s", want, wrong)
		}
	}
	putHolder2(right)
	tt.keys("Enter")
	tt.waitFor("PIN for Holder 2")
	tt.typeByHand(ceremonyPass)
	tt.keys("Enter")
	tt.waitFor("claimed: 1 of 3")

	// Holder 1: a wrong PIN, then the card pulled out mid-signature.
	tt.keys("k", "Enter")
	tt.waitFor("PIN for Holder 1")
	tt.typeByHand("135790")
	tt.keys("Enter")
	tt.waitFor("Wrong PIN")
	if card.PINRetries() != 2 {
		t.Errorf("%d PIN tries left after one wrong PIN, want 2", card.PINRetries())
	}
	card.RemoveOn(func(apdu []byte) bool { return apdu[1] == 0x87 && apdu[3] == 0x9c })
	tt.keys("Enter")
	tt.waitFor("PIN for Holder 1")
	tt.typeByHand(yubiPIN)
	tt.keys("Enter")
	tt.waitFor("Token pulled out")
	if err := d.WaitCard(2, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := card.Insert(d.Addr(2)); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitCard(2, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	tt.keys("Enter")
	tt.waitFor("PIN for Holder 1")
	tt.typeByHand(yubiPIN)
	tt.keys("Enter")
	tt.waitFor("read back, and verified")
	tt.keys("Enter")
	tt.waitFor("The log's head: signed by the holders who wish to")
	tt.keys("d")
	tt.waitFor("End head signing? Type yes")
	tt.typeByHand("yes")
	tt.keys("Enter")
	tt.waitFor("Write on the paper log the log's head")
	tt.keys("q")
	tt.waitFor("EXIT 0")
	fx.checkExport(t, out, 8)
	noPIN(t, fx.dir, tt.log...)
	for _, s := range tt.log {
		for _, pin := range []string{yubiPIN, "135790"} {
			if strings.Contains(s, pin) {
				t.Fatalf("PIN %s is on the screen:\n%s", pin, s)
			}
		}
	}
}
