//go:build cgo

package yubikey_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey"
)

// Real YubiKey tests. They talk to the machine's own pcscd (not the private
// one of the other tests), so they run in a child process without
// PCSCLITE_CSOCK_NAME.
//
//	CONCLAVE_TEST_YUBIKEY=<serial>              read-only: list, keys, attestation
//	CONCLAVE_TEST_YUBIKEY_DESTRUCTIVE=<serial>  also RESET the PIV applet and
//	                                             enrol and sign (wipes its keys)

const realChildEnv = "CONCLAVE_TEST_REAL_CHILD"

func realSerial(t *testing.T) uint32 {
	s := os.Getenv("CONCLAVE_TEST_YUBIKEY")
	if s == "" {
		t.Skip("no real YubiKey: set CONCLAVE_TEST_YUBIKEY=<serial> to run this test against one (read-only)")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatalf("CONCLAVE_TEST_YUBIKEY=%q is not a serial number", s)
	}
	return uint32(n)
}

func runRealChild(t *testing.T, name string) {
	t.Helper()
	if os.Getenv(realChildEnv) == "1" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PCSCLITE_CSOCK_NAME=") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, realChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("real YubiKey test: %v", err)
	}
	t.SkipNow() // the child did the work
}

func TestRealYubiKeyReadOnly(t *testing.T) {
	serial := realSerial(t)
	runRealChild(t, "TestRealYubiKeyReadOnly")
	tok, err := yubikey.Open(ctx, yubikey.Options{Serial: serial})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	info := tok.Info()
	t.Logf("%s: %+v", tok.Describe(), info)
	if info.Simulator {
		t.Fatal("a real YubiKey was taken for the simulator")
	}
	keys, err := tok.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		t.Logf("%s  %s", k.URI, k.Label)
		if k.Attested {
			v, err := tok.AttestVerified(ctx, k.Slot)
			if err != nil || !v.Vendor {
				t.Fatalf("attestation of %s: %+v %v", k.Slot, v, err)
			}
		}
	}
}

func TestRealYubiKeyDestructive(t *testing.T) {
	serial := realSerial(t)
	if os.Getenv("CONCLAVE_TEST_YUBIKEY_DESTRUCTIVE") != strconv.FormatUint(uint64(serial), 10) {
		t.Skip("destructive: set CONCLAVE_TEST_YUBIKEY_DESTRUCTIVE to the same serial to allow resetting the PIV applet of YubiKey " + strconv.FormatUint(uint64(serial), 10))
	}
	runRealChild(t, "TestRealYubiKeyDestructive")
	p := &prompts{pins: []string{testPIN}, confirm: false}
	tok, err := yubikey.Open(ctx, yubikey.Options{Serial: serial, Prompts: p.hsm()})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.Reset(ctx, yubikey.ResetConfirmation{ReallyReset: true, Typed: strconv.FormatUint(uint64(serial), 10)}); err != nil {
		t.Fatal(err)
	}
	if err := tok.ChangePIN(ctx, []byte(pivgo.DefaultPIN), []byte(testPIN)); err != nil {
		t.Fatal(err)
	}
	if err := tok.ChangePUK(ctx, []byte(pivgo.DefaultPUK), []byte(testPUK)); err != nil {
		t.Fatal(err)
	}
	if err := tok.RotateManagementKey(ctx, pivgo.DefaultManagementKey, yubikey.StoreOnCard); err != nil {
		t.Fatal(err)
	}
	k, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.ECDSAP256, Slot: "9c", PINPolicy: "once", TouchPolicy: "never"})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Attested {
		t.Fatalf("a fresh key on a real YubiKey is not attested by Yubico: %+v", k)
	}
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signOnce(t, s, []byte("real")); err != nil {
		t.Fatal(err)
	}
}
