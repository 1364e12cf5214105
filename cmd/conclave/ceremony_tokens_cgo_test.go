//go:build cgo

package main

import (
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

// softHSMPolicy is a rehearsal policy allowing SoftHSM.
func softHSMPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	return &policy.Policy{Rehearsal: true, PKCS11Modules: []policy.Module{{Path: testSoftHSM, SHA256: sum}}}
}

// softHSMKeyURI selects the key softHSMWithKey made.
func softHSMKeyURI(label string) string {
	u := uri.New()
	u.Set(uri.Token, label)
	u.Set(uri.Object, label)
	u.Set(uri.ModulePath, testSoftHSM)
	return u.String()
}

// TestCeremonyTokensSoftHSM: a holder's PKCS#11 key is opened by its URI,
// the PIN is read from --pin-fd after the request is announced, and the
// signature verifies against the enrolled key.
func TestCeremonyTokensSoftHSM(t *testing.T) {
	privateSoftHSM(t)
	_, k, keyid := softHSMWithKey(t, "alice")
	tk, err := tuf.KeyFromPublic(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	pins, notice := pinText(t, "user-pin-1\n")
	c := &ceremonyTokens{pol: softHSMPolicy(t), keys: map[string]*tuf.Key{keyid: tk}, pins: pins, notice: notice}
	defer c.Close()
	alice := policy.Holder{Name: "Alice"}
	s, err := c.Signer(context.Background(), alice, policy.HolderKey{KeyID: keyid, Token: policy.TokenPKCS11, URI: softHSMKeyURI("alice")})
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("the payload")
	sig, err := s.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Verify(msg, sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if !strings.Contains(notice.String(), "PIN of Alice for PKCS#11 token \"alice\" (SoftHSM") || !strings.Contains(notice.String(), "reading it from --pin-fd") {
		t.Errorf("the PIN request was not announced:\n%s", notice.String())
	}
	if strings.Contains(notice.String(), "user-pin-1") {
		t.Errorf("the PIN was written:\n%s", notice.String())
	}
	if got := s.PINTriesLeft(); got != -1 {
		t.Errorf("PINTriesLeft = %d, want -1 (PKCS#11 only has flags)", got)
	}
}

// TestCeremonyTokensWrongPKCS11KeyBeforePIN: the key a holder's URI finds
// is not the enrolled one (another token with the same label was put in):
// refused with hsm.ErrWrongToken before the token is logged in to, so no
// PIN is read and no try is spent.
func TestCeremonyTokensWrongPKCS11KeyBeforePIN(t *testing.T) {
	privateSoftHSM(t)
	_, k, _ := softHSMWithKey(t, "alice")
	other := softkeyFor(t)
	tk, err := tuf.KeyFromPublic(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	pins, notice := pinText(t, "user-pin-1\n")
	c := &ceremonyTokens{pol: softHSMPolicy(t), keys: map[string]*tuf.Key{other.ID(): other, tk.ID(): tk}, pins: pins, notice: notice}
	defer c.Close()
	_, err = c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: other.ID(), Token: policy.TokenPKCS11, URI: softHSMKeyURI("alice")})
	if !errors.Is(err, hsm.ErrWrongToken) {
		t.Fatalf("err = %v, want hsm.ErrWrongToken", err)
	}
	want := "holder Alice: this is not the expected token: PKCS#11 token \"alice\" (SoftHSM"
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "holds key "+tk.ID()+", not the enrolled key "+other.ID()+" (no PIN was asked)") {
		t.Errorf("err = %q", err)
	}
	if notice.Len() != 0 {
		t.Errorf("something was asked:\n%s", notice.String())
	}
	// The PIN is still unread.
	line, err := readPINLine(pins.fd, "test")
	if err != nil || string(line) != "user-pin-1" {
		t.Errorf("the PIN was read: %q, %v", line, err)
	}
}

// TestCeremonyTokensSoftHSMOutsideRehearsal: SoftHSM keeps its keys in
// files, so a production policy's module list refuses it, before any PIN.
func TestCeremonyTokensSoftHSMOutsideRehearsal(t *testing.T) {
	privateSoftHSM(t)
	_, k, keyid := softHSMWithKey(t, "alice")
	tk, _ := tuf.KeyFromPublic(k.Public)
	pol := softHSMPolicy(t)
	pol.Rehearsal = false
	pins, notice := pinText(t, "user-pin-1\n")
	c := &ceremonyTokens{pol: pol, keys: map[string]*tuf.Key{keyid: tk}, pins: pins, notice: notice}
	defer c.Close()
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: keyid, Token: policy.TokenPKCS11, URI: softHSMKeyURI("alice")})
	if !errors.Is(err, pkcs11.ErrModuleNotAllowed) {
		t.Fatalf("err = %v, want pkcs11.ErrModuleNotAllowed", err)
	}
	if !strings.Contains(err.Error(), "SoftHSM keeps its keys in files on disk and is allowed only in a rehearsal") {
		t.Errorf("err = %q", err)
	}
}
