//go:build cgo

package yubikey_test

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey"
)

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		uri    string
		serial uint32
		slot   string
		err    string
	}{
		{uri: "yubikey:serial=12345678;slot=9c", serial: 12345678, slot: "9c"},
		{uri: "yubikey:serial=12345678", serial: 12345678, slot: "9c"},
		{uri: "yubikey:serial=7;slot-id=82", serial: 7, slot: "82"},
		{uri: "yubikey:serial=7;slot=95", serial: 7, slot: "95"},
		{uri: "yubikey:slot=9c", err: `key uri "yubikey:slot=9c": no serial`},
		{uri: "yubikey:serial=7;slot=96", err: `key uri "yubikey:serial=7;slot=96": slot "96": want 9a, 9c, 9d, 9e or 82 to 95`},
		{uri: "yubikey:serial=7;pin-value=123456", err: `key uri "yubikey:serial=7;pin-value=123456": unknown attribute "pin-value"`},
		{uri: "yubikey:serial=7;serial=8", err: `key uri "yubikey:serial=7;serial=8": malformed attribute "serial=8"`},
		{uri: "pkcs11:token=x", err: `key uri "pkcs11:token=x": not a yubikey uri`},
		{uri: "yubikey:serial=x", err: `key uri "yubikey:serial=x": serial "x" is not a number`},
	} {
		serial, slot, err := yubikey.ParseURI(tc.uri)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseURI(%q) = %v, want %s", tc.uri, err, tc.err)
			}
			continue
		}
		if err != nil || serial != tc.serial || slot.String() != tc.slot {
			t.Errorf("ParseURI(%q) = %d %v %v", tc.uri, serial, slot, err)
		}
		if got, want := yubikey.URI(serial, slot), "yubikey:serial="+strconv.FormatUint(uint64(tc.serial), 10)+";slot="+tc.slot; got != want {
			t.Errorf("URI = %q, want %q", got, want)
		}
	}
}

// The embedded Yubico roots are pinned by fingerprint (docs/hsm-yubikey.md
// lists the same values, from piv-go v2.6.0's copies of
// https://developers.yubico.com/PKI/).
func TestYubicoRootsPinned(t *testing.T) {
	want := map[string]string{
		"Yubico PIV Root CA Serial 263751":    "63ece914e54dd87915f34033c85af4c0696ba1512f8add66ced738331207b546",
		"Yubico U2F Root CA Serial 457200631": "0fa1386f80eb8713263ae5c1d84deb455bdf08aea50ab05503cefee82b092d42",
		"Yubico Attestation Root 1":           "62760c6a6ef91679f454c8902b80fd009825b3f25da90f1fbace2ec6586cd5a8",
	}
	r := yubikey.YubicoRoots()
	if !r.Vendor() {
		t.Fatal("Yubico roots not marked vendor")
	}
	got := map[string]string{}
	for _, c := range r.Certificates() {
		got[c.Subject.CommonName] = yubikey.Fingerprint(c)
	}
	if len(got) != len(want) {
		t.Fatalf("roots %v", got)
	}
	for cn, fp := range want {
		if got[cn] != fp {
			t.Errorf("%s: fingerprint %s, want %s", cn, got[cn], fp)
		}
	}
	if yubikey.NewRoots("x").Vendor() {
		t.Fatal("NewRoots marked vendor")
	}
}

// Without pcscd, every entry point says so. libpcsclite reads
// PCSCLITE_CSOCK_NAME once per process, so this runs in a child process
// pointed at a socket that does not exist.
func TestNoPCSCD(t *testing.T) {
	if os.Getenv("CONCLAVE_TEST_NO_PCSCD_CHILD") == "1" {
		_, err := yubikey.Open(ctx, yubikey.Options{Serial: 1})
		if !errors.Is(err, yubikey.ErrNoPCSCD) {
			t.Fatalf("Open without pcscd: %v", err)
		}
		if _, err := yubikey.List(ctx); !errors.Is(err, yubikey.ErrNoPCSCD) {
			t.Fatalf("List without pcscd: %v", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoPCSCD$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CONCLAVE_TEST_NO_PCSCD_CHILD=1", "PCSCLITE_CSOCK_NAME="+t.TempDir()+"/absent.comm")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestWrongCardMessage(t *testing.T) {
	for _, tc := range []struct {
		e    *yubikey.WrongCardError
		want string
	}{
		{&yubikey.WrongCardError{Want: 12345678, Holder: "Alice"}, "insert YubiKey 12345678 (Alice): no YubiKey is present"},
		{&yubikey.WrongCardError{Want: 12345678, Holder: "Alice", Found: []uint32{1, 2}}, "insert YubiKey 12345678 (Alice): found 1, 2 instead"},
		{&yubikey.WrongCardError{Want: 12345678, Found: []uint32{1}}, "insert YubiKey 12345678: found 1 instead"},
	} {
		if got := tc.e.Error(); got != tc.want || !errors.Is(tc.e, hsm.ErrWrongToken) {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
