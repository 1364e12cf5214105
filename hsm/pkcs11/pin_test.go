//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/miekg/pkcs11"
)

// setSoftHSMFlags rewrites the token flags SoftHSM keeps in its token file.
//
// It stands for a token whose PIN state changed outside this process — PIN
// locked or on its final try after wrong PINs entered elsewhere. SoftHSM
// never locks a user PIN by itself (it only sets CKF_USER_PIN_COUNT_LOW
// after a wrong one), but it does report whatever flags its token file
// holds through C_GetTokenInfo, so this shows Conclave reading the real
// module's flags. The file (SoftHSM 2.6 file object store) starts with an
// 8-byte generation counter, then attributes as type (8 bytes), kind
// (8 bytes), value; CKA_OS_TOKENFLAGS is 0x8000534B with an 8-byte value.
// Bumping the generation makes the running module read the file again.
func setSoftHSMFlags(t *testing.T, serial string, set uint64) {
	t.Helper()
	dirs, err := os.ReadDir(softhsm.tokenDir)
	if err != nil {
		t.Fatal(err)
	}
	flagsAttr := []byte{0, 0, 0, 0, 0x80, 0, 0x53, 0x4b, 0, 0, 0, 0, 0, 0, 0, 2}
	for _, d := range dirs {
		p := filepath.Join(softhsm.tokenDir, d.Name(), "token.object")
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(serial)) {
			continue
		}
		i := bytes.Index(b, flagsAttr)
		if i < 0 || len(b) < i+len(flagsAttr)+8 {
			t.Fatalf("%s: token flags not found", p)
		}
		v := b[i+len(flagsAttr):]
		binary.BigEndian.PutUint64(v, binary.BigEndian.Uint64(v)|set)
		binary.BigEndian.PutUint64(b, binary.BigEndian.Uint64(b)+1)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no SoftHSM token file with serial %s", serial)
}

// keyOnNewToken makes a token with one P-256 key and returns its label and key.
func keyOnNewToken(t *testing.T) (string, hsm.KeyInfo) {
	t.Helper()
	label := newSoftToken(t)
	tok, err := Open(context.Background(), tokenURI(label), softhsm.policy, typedPIN(testUserPIN, &promptLog{}))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	return label, generate(t, tok, hsm.ECDSAP256, "holder-key")
}

// TestWrongPIN: a wrong PIN is a *hsm.PINError with what the token says;
// the next prompt is told the count is low; the right PIN then works.
func TestWrongPIN(t *testing.T) {
	label, k := keyOnNewToken(t)
	tok := openSoft(t, label, typedPIN("not-the-pin", &promptLog{}))
	_, err := tok.Signer(context.Background(), k)
	var pe *hsm.PINError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want *hsm.PINError", err)
	}
	want := hsm.PINError{Token: tok.Describe(), RetriesLeft: -1, CountLow: true}
	if *pe != want {
		t.Fatalf("PINError = %+v, want %+v", *pe, want)
	}
	wantMsg(t, err, "wrong PIN for "+tok.Describe()+": the token says few tries are left")
	if errors.Is(err, hsm.ErrPINLocked) {
		t.Fatal("a wrong PIN with tries left must not be ErrPINLocked")
	}

	log := &promptLog{}
	tok2 := openSoft(t, label, typedPIN(testUserPIN, log))
	if _, err := tok2.Signer(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	wantReq := hsm.PINRequest{Token: tok2.Describe(), RetriesLeft: -1, CountLow: true}
	if len(log.pins) != 1 || log.pins[0] != wantReq {
		t.Fatalf("PIN requests = %+v, want [%+v]", log.pins, wantReq)
	}
}

// TestLockedPIN: a token whose PIN is locked (see setSoftHSMFlags) is
// reported as locked, and the PIN is not even asked.
func TestLockedPIN(t *testing.T) {
	label, k := keyOnNewToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	setSoftHSMFlags(t, tok.Status().Serial, pkcs11.CKF_USER_PIN_LOCKED)
	log := &promptLog{}
	tok = openSoft(t, label, typedPIN(testUserPIN, log))
	if got := tok.Status().PINState(); got != "PIN LOCKED" {
		t.Errorf("PINState = %q", got)
	}
	_, err := tok.Signer(context.Background(), k)
	wantIs(t, err, hsm.ErrPINLocked)
	wantMsg(t, err, fmt.Sprintf(`preparing key "holder-key" (id %x) for signing on %s: the PIN is locked (CKR_PIN_LOCKED); the security officer must unblock it`, k.ID, tok.Describe()))
	if log.pinCount() != 0 {
		t.Fatal("the PIN was asked for a locked token")
	}
}

// TestFinalTry: on CKF_USER_PIN_FINAL_TRY the holder must confirm before
// the PIN is asked; declining, or having no way to confirm, cancels.
func TestFinalTry(t *testing.T) {
	label, k := keyOnNewToken(t)
	tok := openSoft(t, label, hsm.Prompts{})
	setSoftHSMFlags(t, tok.Status().Serial, pkcs11.CKF_USER_PIN_FINAL_TRY)
	ctx := context.Background()

	log := &promptLog{}
	p := typedPIN(testUserPIN, log)
	p.Confirm = nil
	tok = openSoft(t, label, p)
	_, err := tok.Signer(ctx, k)
	wantIs(t, err, hsm.ErrCancelled)
	p.Confirm = func(context.Context, string) (bool, error) { return false, nil }
	tok = openSoft(t, label, p)
	_, err = tok.Signer(ctx, k)
	wantIs(t, err, hsm.ErrCancelled)
	wantMsg(t, err, fmt.Sprintf(`preparing key "holder-key" (id %x) for signing on %s: cancelled by the key holder (final PIN try declined)`, k.ID, tok.Describe()))
	if log.pinCount() != 0 {
		t.Fatal("the PIN was asked without confirmation")
	}

	log = &promptLog{}
	tok = openSoft(t, label, typedPIN(testUserPIN, log))
	if _, err := tok.Signer(ctx, k); err != nil {
		t.Fatal(err)
	}
	if len(log.confirms) != 1 || len(log.pins) != 1 || !log.pins[0].FinalTry {
		t.Fatalf("confirms %q, PIN requests %+v", log.confirms, log.pins)
	}
	wantQ := tok.Describe() + " is on its FINAL PIN try: one more wrong PIN locks it. Enter the PIN anyway?"
	if log.confirms[0] != wantQ {
		t.Fatalf("question = %q", log.confirms[0])
	}
}

// TestNoPINGuessing: without a PIN callback nothing is tried; an empty PIN
// is not tried either (SoftHSM would have set CKF_USER_PIN_COUNT_LOW had a
// wrong PIN reached it).
func TestNoPINGuessing(t *testing.T) {
	label, k := keyOnNewToken(t)
	ctx := context.Background()
	tok := openSoft(t, label, hsm.Prompts{})
	_, err := tok.Signer(ctx, k)
	wantIs(t, err, hsm.ErrPINRequired)

	tok = openSoft(t, label, typedPIN("", &promptLog{}))
	_, err = tok.Signer(ctx, k)
	wantMsg(t, err, fmt.Sprintf(`preparing key "holder-key" (id %x) for signing on %s: the PIN is empty; Conclave never tries a PIN nobody typed`, k.ID, tok.Describe()))

	cancel := hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return nil, hsm.ErrCancelled }}
	tok = openSoft(t, label, cancel)
	_, err = tok.Signer(ctx, k)
	wantIs(t, err, hsm.ErrCancelled)

	st, err := tok.present("test")
	if err != nil {
		t.Fatal(err)
	}
	if st.CountLow() {
		t.Fatal("a PIN was tried: the token counted a wrong PIN")
	}
}

// TestPINBytesZeroed: the PIN slice the prompt returns is cleared after use.
func TestPINBytesZeroed(t *testing.T) {
	label, k := keyOnNewToken(t)
	var given []byte
	p := hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) {
		given = []byte(testUserPIN)
		return given, nil
	}}
	tok := openSoft(t, label, p)
	s, err := tok.Signer(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(given, make([]byte, len(testUserPIN))) {
		t.Fatal("PIN bytes not zeroed")
	}
	d := sha256.Sum256(nil)
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}
