//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/miekg/pkcs11"
)

// The fakes below wrap the real SoftHSM module behind the narrow api
// interface and change one behaviour SoftHSM cannot show. Everything else
// still goes to SoftHSM.

// fakePINPadModule pretends the token has a PIN pad
// (CKF_PROTECTED_AUTHENTICATION_PATH): C_Login with no PIN is answered as if
// the holder typed padPIN on the device.
type fakePINPadModule struct {
	api
	padPIN     string
	emptyLogin int
}

func (f *fakePINPadModule) GetTokenInfo(slot uint) (pkcs11.TokenInfo, error) {
	ti, err := f.api.GetTokenInfo(slot)
	ti.Flags |= pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH
	return ti, err
}

func (f *fakePINPadModule) Login(sh pkcs11.SessionHandle, userType uint, pin string) error {
	if pin != "" {
		return pkcs11.Error(pkcs11.CKR_ARGUMENTS_BAD)
	}
	f.emptyLogin++
	return f.api.Login(sh, userType, f.padPIN)
}

func TestPINPadFake(t *testing.T) {
	label, k := keyOnNewToken(t)
	var reqs []hsm.PINRequest
	var mu sync.Mutex
	touched := make(chan struct{}, 1)
	p := hsm.Prompts{
		PIN: func(_ context.Context, r hsm.PINRequest) ([]byte, error) { reqs = append(reqs, r); return nil, nil },
		Touch: func(token string, done <-chan struct{}) {
			<-done
			mu.Lock()
			defer mu.Unlock()
			touched <- struct{}{}
		},
	}
	tok := openSoft(t, label, p)
	fake := &fakePINPadModule{padPIN: testUserPIN}
	withAPI(tok, func(a api) api { fake.api = a; return fake })
	s, err := tok.Signer(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || !reqs[0].PINPad || fake.emptyLogin != 1 {
		t.Fatalf("PIN requests %+v, logins with an empty PIN %d", reqs, fake.emptyLogin)
	}
	select {
	case <-touched:
	case <-time.After(10 * time.Second):
		t.Fatal("the holder was not told to use the PIN pad")
	}
	d := sha256.Sum256(nil)
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}

	// A prompt that returns a PIN for a PIN-pad token is refused.
	tok2 := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	withAPI(tok2, func(a api) api { return &fakePINPadModule{api: a, padPIN: testUserPIN} })
	_, err = tok2.Signer(context.Background(), k)
	wantMsg(t, err, fmt.Sprintf(`preparing key "holder-key" (id %x) for signing on %s: the token has a PIN pad: the PIN is typed on the device, not given to Conclave`, k.ID, tok2.Describe()))
}

// fakeMissedTouchModule is a token that wants a touch for every signature
// and answers CKR_USER_NOT_LOGGED_IN when the touch does not come, as some
// tokens do. Sign waits until Conclave has told the holder it is waiting.
type fakeMissedTouchModule struct {
	api
	noticed chan struct{}
}

func (f *fakeMissedTouchModule) Sign(sh pkcs11.SessionHandle, msg []byte) ([]byte, error) {
	select {
	case <-f.noticed:
	case <-time.After(10 * time.Second):
	}
	return nil, pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)
}

func TestMissedTouchFake(t *testing.T) {
	label, k := keyOnNewToken(t)
	noticed := make(chan struct{})
	var once sync.Once
	p := typedPIN(testUserPIN, &promptLog{})
	p.Touch = func(token string, done <-chan struct{}) { once.Do(func() { close(noticed) }) }
	tok := openSoft(t, label, p)
	s, err := tok.Signer(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	withAPI(tok, func(a api) api { return &fakeMissedTouchModule{api: a, noticed: noticed} })
	d := sha256.Sum256(nil)
	_, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
	wantIs(t, err, hsm.ErrNotLoggedIn)
	wantMsg(t, err, fmt.Sprintf(`signing with key "holder-key" (id %x) on %s: the token says nobody is logged in (on some tokens this means the touch was missed) (CKR_USER_NOT_LOGGED_IN)`, k.ID, tok.Describe()))
	select {
	case <-noticed:
	default:
		t.Fatal("the holder was not told the token was waiting")
	}
}

// fakeLockingModule is a token with a real retry counter (SoftHSM has
// none): after two wrong PINs it reports CKF_USER_PIN_FINAL_TRY, after the
// third CKF_USER_PIN_LOCKED, and then answers CKR_PIN_LOCKED.
type fakeLockingModule struct {
	api
	wrong int
}

func (f *fakeLockingModule) GetTokenInfo(slot uint) (pkcs11.TokenInfo, error) {
	ti, err := f.api.GetTokenInfo(slot)
	ti.Flags &^= pkcs11.CKF_USER_PIN_COUNT_LOW | pkcs11.CKF_USER_PIN_FINAL_TRY | pkcs11.CKF_USER_PIN_LOCKED
	switch {
	case f.wrong >= 3:
		ti.Flags |= pkcs11.CKF_USER_PIN_LOCKED
	case f.wrong == 2:
		ti.Flags |= pkcs11.CKF_USER_PIN_FINAL_TRY | pkcs11.CKF_USER_PIN_COUNT_LOW
	case f.wrong == 1:
		ti.Flags |= pkcs11.CKF_USER_PIN_COUNT_LOW
	}
	return ti, err
}

func (f *fakeLockingModule) Login(sh pkcs11.SessionHandle, userType uint, pin string) error {
	if f.wrong >= 3 {
		return pkcs11.Error(pkcs11.CKR_PIN_LOCKED)
	}
	if pin != testUserPIN {
		f.wrong++
		return pkcs11.Error(pkcs11.CKR_PIN_INCORRECT)
	}
	f.wrong = 0
	return f.api.Login(sh, userType, pin)
}

func TestLockingFake(t *testing.T) {
	label, k := keyOnNewToken(t)
	log := &promptLog{}
	tok := openSoft(t, label, typedPIN("1111", log))
	fake := &fakeLockingModule{}
	withAPI(tok, func(a api) api { fake.api = a; return fake })
	ctx := context.Background()
	want := []string{
		"wrong PIN for " + tok.Describe() + ": the token says few tries are left",
		"wrong PIN for " + tok.Describe() + ": one try left before it locks",
		"wrong PIN for " + tok.Describe() + ": no tries left, the PIN is now locked",
	}
	for i, w := range want {
		_, err := tok.Signer(ctx, k)
		wantMsg(t, err, w)
		if locked := errors.Is(err, hsm.ErrPINLocked); locked != (i == 2) {
			t.Fatalf("try %d: errors.Is(ErrPINLocked) = %v", i+1, locked)
		}
	}
	if len(log.confirms) != 1 || !log.pins[2].FinalTry {
		t.Fatalf("the final try was not confirmed: confirms %q, requests %+v", log.confirms, log.pins)
	}
	_, err := tok.Signer(ctx, k)
	wantIs(t, err, hsm.ErrPINLocked)
	if log.pinCount() != 3 {
		t.Fatalf("PIN asked %d times, want 3 (never for a locked token)", log.pinCount())
	}
}

// fakeDeviceRemovedModule stands for a token pulled out in the middle of a
// signature: C_Sign answers CKR_DEVICE_REMOVED and from then on the slot is
// empty (CKR_TOKEN_NOT_PRESENT).
type fakeDeviceRemovedModule struct {
	api
	removed bool
}

func (f *fakeDeviceRemovedModule) Sign(sh pkcs11.SessionHandle, msg []byte) ([]byte, error) {
	f.removed = true
	return nil, pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED)
}

func (f *fakeDeviceRemovedModule) GetTokenInfo(slot uint) (pkcs11.TokenInfo, error) {
	if f.removed {
		return pkcs11.TokenInfo{}, pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT)
	}
	return f.api.GetTokenInfo(slot)
}

func TestDeviceRemovedFake(t *testing.T) {
	label, k := keyOnNewToken(t)
	ctx := context.Background()
	tok, err := Open(ctx, tokenURI(label), softhsm.policy, typedPIN(testUserPIN, &promptLog{}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	withAPI(tok, func(a api) api { return &fakeDeviceRemovedModule{api: a} })
	d := sha256.Sum256([]byte("delegation"))
	_, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
	wantIs(t, err, hsm.ErrTokenRemoved)
	wantMsg(t, err, fmt.Sprintf(`signing with key "holder-key" (id %x) on %s: the token was removed (CKR_DEVICE_REMOVED); put it back and open it again, then retry`, k.ID, tok.Describe()))
	_, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
	wantIs(t, err, hsm.ErrTokenRemoved)
	if err := tok.Close(); err != nil {
		t.Fatalf("Close after removal: %v", err)
	}
	// Plugged back in: open again and retry.
	tok = openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	s, err = tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

// fakeNoEdDSAModule is a token without CKM_EDDSA (many HSMs before
// PKCS#11 3.0).
type fakeNoEdDSAModule struct{ api }

func (f fakeNoEdDSAModule) GetMechanismInfo(slot uint, m []*pkcs11.Mechanism) (pkcs11.MechanismInfo, error) {
	if m[0].Mechanism == ckmEdDSA {
		return pkcs11.MechanismInfo{}, pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID)
	}
	return f.api.GetMechanismInfo(slot, m)
}

func TestMechanismMissingFake(t *testing.T) {
	label := newSoftToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	k := generate(t, tok, hsm.Ed25519, "ed")
	log := &promptLog{}
	tok = openSoft(t, label, typedPIN(testUserPIN, log))
	withAPI(tok, func(a api) api { return fakeNoEdDSAModule{a} })
	_, err := tok.Signer(context.Background(), k)
	wantIs(t, err, hsm.ErrMechanism)
	wantMsg(t, err, fmt.Sprintf(`preparing key "ed" (id %x) for signing on %s: the token does not support this signature mechanism (CKM_EDDSA)`, k.ID, tok.Describe()))
	if log.pinCount() != 0 {
		t.Fatal("the PIN was asked before the mechanism was checked")
	}
}

// fakeForgetfulModule is a token that does not set CKA_NEVER_EXTRACTABLE
// on the keys it generates (a token that cannot promise the key never left).
type fakeForgetfulModule struct{ api }

func (f fakeForgetfulModule) GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error) {
	out, err := f.api.GetAttributeValue(sh, o, a)
	for _, x := range out {
		if x.Type == pkcs11.CKA_NEVER_EXTRACTABLE {
			x.Value = []byte{0}
		}
	}
	return out, err
}

func TestGenerateRefusesForgetfulTokenFake(t *testing.T) {
	label := newSoftToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	withAPI(tok, func(a api) api { return fakeForgetfulModule{a} })
	_, err := tok.GenerateKey(context.Background(), hsm.GenerateOptions{Algorithm: hsm.ECDSAP256, Label: "new-holder"})
	wantIs(t, err, ErrKeyExportable)
	wantMsg(t, err, `generating ecdsa-p256 key "new-holder" on `+tok.Describe()+`: the private key can be, or once could be, exported from the token (CKA_NEVER_EXTRACTABLE is false); the new key was destroyed`)
	keys, err := tok.Keys(context.Background())
	if err != nil || len(keys) != 0 {
		t.Fatalf("keys left on the token: %+v, %v", keys, err)
	}
}
