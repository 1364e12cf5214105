//go:build cgo

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm/yubikey/pcscdtest"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

// hostileReader is a reader name as a malicious reader driver could give:
// an escape sequence that hides the text after it, and a right-to-left
// override that reverses it.
const hostileReader = "evil\x1b[8m\u202eredaer"

// pcscdShared is the private pcscd of this test binary: libpcsclite reads
// PCSCLITE_CSOCK_NAME once per process, so only the first private pcscd
// can be reached, and every test that needs one shares it. Each test
// leaves its readers empty; the daemon is stopped once all have run.
var (
	pcscdShared  *pcscdtest.Daemon
	pcscdStarted bool
)

// privatePCSCD starts (once) a pcscd of the tests' own with four vpcd
// readers, the first two named hostileReader, and points this process's
// PC/SC calls at it.
func privatePCSCD(t *testing.T) *pcscdtest.Daemon {
	t.Helper()
	if pcscdShared != nil {
		return pcscdShared
	}
	if pcscdStarted {
		t.Skip("the private pcscd could not be started earlier in this process")
	}
	pcscdStarted = true
	d, err := pcscdtest.StartNamed(4, func(entry int) string {
		if entry == 0 {
			return hostileReader
		}
		return fmt.Sprintf("Conclave vpcd %d", entry)
	})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot start a private pcscd (CI must install pcscd and vsmartcard-vpcd): %v", err)
		}
		t.Skipf("cannot start a private pcscd with vsmartcard-vpcd: %v", err)
	}
	atEnd = append(atEnd, func() { d.Stop() })
	os.Setenv("PCSCLITE_CSOCK_NAME", d.Socket)
	if err := d.WaitReaders(4, pivgo.Cards, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	pcscdShared = d
	return d
}

// TestYubikeysUnreadableCardExits1 lists a card with a key, and a card held
// by another program that cannot be read: the first is listed in full, the
// second with the reason, and the command exits 1 naming it. Both readers
// have hostile names, shown as visible escapes in text and exact in JSON.
func TestYubikeysUnreadableCardExits1(t *testing.T) {
	d := privatePCSCD(t)
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	insert := func(i int, serial uint32) {
		c, err := vcard.New(vcard.Config{Serial: serial, CA: ca})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Insert(d.Addr(i)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Remove() })
		if err := d.WaitCard(i, true, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := run(t, "yubikeys")
	if code != 0 || out != "no YubiKey found\n" || errOut != "" {
		t.Fatalf("no card: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}

	insert(0, 11111111)
	yk, err := pivgo.Open(d.Reader(0))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := yk.GenerateKey(pivgo.DefaultManagementKey, pivgo.SlotSignature,
		pivgo.Key{Algorithm: pivgo.AlgorithmEC256, PINPolicy: pivgo.PINPolicyOnce, TouchPolicy: pivgo.TouchPolicyNever})
	yk.Close()
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tuf.KeyFromPublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	insert(1, 22222222)
	busy, err := pivgo.Open(d.Reader(1)) // exclusive, as gpg's scdaemon holds a card
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	const busyReason = "the YubiKey is in use by another program: close it (gpg's scdaemon, ykman, a browser) and try again (the card is in use by another program)"
	code, out, errOut = run(t, "yubikeys")
	wantOut := `virtual YubiKey SIMULATOR (not a real token) 11111111  firmware 5.7.1  USB-A Keychain
  in reader "evil\x1b[8m\u202eredaer 00 00"
  PIN tries left: 3  PUK tries left: 3
  FACTORY PIN still set: change it before enrolling
  FACTORY PUK still set: change it before enrolling
  FACTORY management key still set: change it before enrolling
  yubikey:serial=11111111;slot=9c  keyid ` + tk.ID() + `
    PIV slot 9c (Digital Signature), PIN once, touch never, NOT attested

card in reader "evil\x1b[8m\u202eredaer 00 01": NOT READ: ` + busyReason + "\n"
	wantErr := `error: could not read 1 of 2 cards, in readers "evil\x1b[8m\u202eredaer 00 01"` + "\n"
	if code != 3 || out != wantOut || errOut != wantErr {
		t.Errorf("exit %d, want 1\nstdout:\n%s\nwant:\n%s\nstderr %q\nwant   %q", code, out, wantOut, errOut, wantErr)
	}

	code, out, errOut = run(t, "yubikeys", "--json")
	var got, want any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	wantJSON := fmt.Sprintf(`{"format": "conclave-yubikeys/1", "cards": [
		{"reader": %s, "serial": 11111111, "firmware": "5.7.1", "form_factor": "USB-A Keychain", "simulator": true,
		 "pin_tries_left": 3, "puk_tries_left": 3, "factory_credentials": ["PIN", "PUK", "management key"],
		 "keys": [{"slot": "9c", "uri": "yubikey:serial=11111111;slot=9c",
		           "label": "PIV slot 9c (Digital Signature), PIN once, touch never, NOT attested", "attested": false,
		           "keyid": %s, "keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256"}]},
		{"reader": %s, "factory_credentials": [], "keys": [], "error": %s}]}`,
		jsonString(hostileReader+" 00 00"), jsonString(tk.ID()), jsonString(hostileReader+" 00 01"), jsonString(busyReason))
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if code != 3 || errOut != "" || !reflect.DeepEqual(got, want) {
		t.Errorf("--json: exit %d, want 1; stderr %q\n%s", code, errOut, out)
	}
	checkSchema(t, "yubikeys.schema.json", []byte(out))
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestWriteYubikeysEscapesEveryDeviceString: every string a card or a
// reader reports is shown as visible escapes in the text output.
func TestWriteYubikeysEscapesEveryDeviceString(t *testing.T) {
	h := hostileReader
	r := &yubikeysReport{Format: yubikeysFormat, Cards: []yubikeysCard{
		{Reader: h, Serial: 1, Firmware: h, FormFactor: h, Keys: []yubikeysKey{{Slot: "9c", URI: h, Label: h, KeyID: h}}},
		{Reader: h, Serial: 2, Error: h},
		{Reader: h, Error: h},
	}}
	var b strings.Builder
	writeYubikeys(&b, r)
	if strings.ContainsAny(b.String(), "\x1b\u202e") {
		t.Errorf("raw escape or bidi override in the output:\n%s", b.String())
	}
	if n := strings.Count(b.String(), `evil\x1b[8m\u202eredaer`); n != 10 {
		t.Errorf("the hostile string is shown escaped %d times, want 10:\n%s", n, b.String())
	}
}
