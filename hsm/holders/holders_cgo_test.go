//go:build cgo

package holders

import (
	"context"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

const testSoftHSM = "/usr/lib/softhsm/libsofthsm2.so"

// softHSMKey points SoftHSM at a token directory of the test's own (never
// the machine's), makes a token labelled label holding an ed25519 key
// labelled label (user PIN "user-pin-1"), and returns a rehearsal policy
// allowing SoftHSM, the key's URI and its TUF key.
func softHSMKey(t *testing.T, label string) (*policy.Policy, string, *tuf.Key) {
	t.Helper()
	if _, err := os.Stat(testSoftHSM); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SoftHSMv2 is missing (%v); CI must install the Debian package softhsm2", err)
		}
		t.Skipf("SoftHSMv2 module %s is missing (%v): install the Debian package softhsm2", testSoftHSM, err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	pol := &policy.Policy{Rehearsal: true, PKCS11Modules: []policy.Module{{Path: testSoftHSM, SHA256: sum}}}
	ctx := context.Background()
	m, err := pkcs11.Load(testSoftHSM, pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: testSoftHSM, SHA256: sum}}, Rehearsal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.InitRehearsalToken(label, []byte("so-pin-1"), []byte("user-pin-1")); err != nil {
		t.Fatal(err)
	}
	sel := uri.New()
	sel.Set(uri.Token, label)
	tok, err := m.OpenToken(ctx, sel, hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte("user-pin-1"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	k, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.Ed25519, Label: label})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := pkcs11.TUFKey(k)
	if err != nil {
		t.Fatal(err)
	}
	sel.Set(uri.Object, label)
	sel.Set(uri.ModulePath, testSoftHSM)
	return pol, sel.String(), tk
}

// TestSoftHSM: a holder's PKCS#11 key is opened by its URI, the PIN is
// asked of the holder, and the signature verifies against the enrolled
// key.
func TestSoftHSM(t *testing.T) {
	pol, loc, k := softHSMKey(t, "alice")
	pins := &pinLog{pin: "user-pin-1"}
	c := New(Options{Policy: pol, Keys: map[string]*tuf.Key{k.ID(): k}, Prompts: pins.prompts})
	defer c.Close()
	s, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenPKCS11, URI: loc})
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("the payload")
	sig, err := s.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Verify(msg, sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if len(pins.asked) != 1 || !strings.HasPrefix(pins.asked[0], "Alice: PKCS#11 token \"alice\" (SoftHSM") {
		t.Errorf("asked: %q", pins.asked)
	}
	if got := s.PINTriesLeft(); got != -1 {
		t.Errorf("PINTriesLeft = %d, want -1 (PKCS#11 only has flags)", got)
	}
	if !strings.HasPrefix(s.Describe(), "PKCS#11 token \"alice\" (SoftHSM") {
		t.Errorf("Describe = %q", s.Describe())
	}
}

// TestWrongPKCS11KeyBeforePIN: the key a holder's URI finds is not the
// enrolled one (another token with the same label was put in): refused
// with hsm.ErrWrongToken before the token is logged in to, so no PIN is
// asked and no try is spent.
func TestWrongPKCS11KeyBeforePIN(t *testing.T) {
	pol, loc, k := softHSMKey(t, "alice")
	enrolled := softkeyFor(t)
	pins := &pinLog{pin: "user-pin-1"}
	c := New(Options{Policy: pol, Keys: map[string]*tuf.Key{k.ID(): k, enrolled.ID(): enrolled}, Prompts: pins.prompts})
	defer c.Close()
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: enrolled.ID(), Token: policy.TokenPKCS11, URI: loc})
	if !errors.Is(err, hsm.ErrWrongToken) {
		t.Fatalf("err = %v, want hsm.ErrWrongToken", err)
	}
	if !strings.HasPrefix(err.Error(), "holder Alice: this is not the expected token: PKCS#11 token \"alice\" (SoftHSM") ||
		!strings.HasSuffix(err.Error(), "holds key "+k.ID()+", not the enrolled key "+enrolled.ID()+" (no PIN was asked)") {
		t.Errorf("err = %q", err)
	}
	if len(pins.asked) != 0 {
		t.Errorf("asked: %q", pins.asked)
	}
}

// TestSoftHSMOutsideRehearsal: SoftHSM keeps its keys in files, so a
// production policy's module list refuses it, before any PIN.
func TestSoftHSMOutsideRehearsal(t *testing.T) {
	pol, loc, k := softHSMKey(t, "alice")
	pol.Rehearsal = false
	pins := &pinLog{pin: "user-pin-1"}
	c := New(Options{Policy: pol, Keys: map[string]*tuf.Key{k.ID(): k}, Prompts: pins.prompts})
	defer c.Close()
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenPKCS11, URI: loc})
	if !errors.Is(err, pkcs11.ErrModuleNotAllowed) || !strings.Contains(err.Error(), "SoftHSM keeps its keys in files on disk and is allowed only in a rehearsal") {
		t.Fatalf("err = %v, want pkcs11.ErrModuleNotAllowed for SoftHSM", err)
	}
	if len(pins.asked) != 0 {
		t.Errorf("asked: %q", pins.asked)
	}
}

// TestYubiKeyNeedsSerial: a YubiKey is found by its enrolled serial.
func TestYubiKeyNeedsSerial(t *testing.T) {
	k := softkeyFor(t)
	c := New(Options{Policy: &policy.Policy{}, Keys: map[string]*tuf.Key{k.ID(): k}})
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenYubiKey, Slot: "9c"})
	want := "holder Alice: key " + k.ID() + ": a YubiKey key needs its serial"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}
