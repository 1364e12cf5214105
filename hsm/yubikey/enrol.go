//go:build cgo

package yubikey

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/hsm"
)

// Enrolment operations, used by onboarding. Each either completes on the
// card or returns an error; none records anything itself, so the caller
// writes its enrolment record only after the whole sequence succeeded (a
// half-done enrolment is never recorded as done).

// ChangePIN sets a new PIN. oldPIN is what the holder typed (for a new
// YubiKey, the factory PIN they read from the packaging). The new PIN must
// have 6 to 8 characters and must not be the factory PIN.
func (t *Token) ChangePIN(ctx context.Context, oldPIN, newPIN []byte) error {
	return t.changeRef(ctx, "PIN", oldPIN, newPIN, piv.DefaultPIN, func(o, n string) error { return t.yk.SetPIN(o, n) })
}

// ChangePUK sets a new PUK (same rules as ChangePIN, factory PUK 12345678).
func (t *Token) ChangePUK(ctx context.Context, oldPUK, newPUK []byte) error {
	return t.changeRef(ctx, "PUK", oldPUK, newPUK, piv.DefaultPUK, func(o, n string) error { return t.yk.SetPUK(o, n) })
}

func (t *Token) changeRef(ctx context.Context, what string, old, new []byte, factory string, set func(o, n string) error) error {
	if err := checkPINFormat(old); err != nil {
		return fmt.Errorf("current %s: %w", what, err)
	}
	if err := checkPINFormat(new); err != nil {
		return fmt.Errorf("new %s: %w", what, err)
	}
	if string(new) == factory {
		return fmt.Errorf("new %s: it is the factory %s; choose another", what, what)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ensure(ctx); err != nil {
		return err
	}
	if err := set(string(old), string(new)); err != nil {
		return fmt.Errorf("changing the %s of %s: %w", what, t.describe(), t.fail(err))
	}
	if what == "PIN" {
		t.info.DefaultPIN = false
	} else {
		t.info.DefaultPUK = false
	}
	return nil
}

// ManagementKeyMode says what happens to a fresh management key.
type ManagementKeyMode int

const (
	// StoreOnCard keeps the key on the YubiKey in the PIN-protected data
	// object (5FC109), as ykman's "--protect" does, so later enrolment
	// steps need only the PIN.
	StoreOnCard ManagementKeyMode = iota + 1
	// Discard forgets the key: the slots can never be changed again
	// without a reset.
	Discard
)

// RotateManagementKey replaces the management key with a fresh random one:
// AES-192 when the firmware has AES management keys (5.4+, Yubico "YubiKey
// 5.4 firmware specifics"), 3DES before. current is the key now set (nil
// means the one stored PIN-protected on the card, read with the PIN). The
// factory key is accepted here, and only here, because replacing it is the
// point.
//
// AES-192 rather than AES-256: piv-go v2.6.0 writes the PIN-protected
// object with a fixed 24-byte key field.
func (t *Token) RotateManagementKey(ctx context.Context, current []byte, mode ManagementKeyMode) error {
	if mode != StoreOnCard && mode != Discard {
		return errors.New("management key mode must be StoreOnCard or Discard")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ensure(ctx); err != nil {
		return err
	}
	var pin string
	if current == nil || mode == StoreOnCard {
		p, err := t.askPIN(ctx, t.describe())
		if err != nil {
			return err
		}
		pin = p
		if err := t.yk.VerifyPIN(pin); err != nil {
			return fmt.Errorf("verifying the PIN of %s: %w", t.describe(), t.fail(err))
		}
	}
	if current == nil {
		md, err := t.yk.Metadata(pin)
		if err != nil {
			return fmt.Errorf("reading the stored management key of %s: %w", t.describe(), t.fail(err))
		}
		if md.ManagementKey == nil {
			return fmt.Errorf("%s has no management key stored on it: give the current one", t.describe())
		}
		current = *md.ManagementKey
	}
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	defer clear(key)
	if err := t.yk.SetManagementKey(current, key); err != nil {
		return fmt.Errorf("setting the management key of %s: %w", t.describe(), t.fail(err))
	}
	t.info.DefaultManagementKey = false
	// Store the new key, or with Discard overwrite any stored old one, so
	// that no stale key is left in the PIN-protected object.
	m := &piv.Metadata{}
	if mode == StoreOnCard {
		m.ManagementKey = &key
	}
	if err := t.yk.SetMetadata(key, m); err != nil {
		// The new key is set but the object could not be written: the
		// card's slots are now frozen until a reset. Say so plainly.
		return fmt.Errorf("the new management key of %s is set but writing its PIN-protected object failed (the slots cannot be changed until a reset): %w", t.describe(), t.fail(err))
	}
	return nil
}

// storedManagementKey reads the PIN-protected management key. Callers hold t.mu.
func (t *Token) storedManagementKey(ctx context.Context) ([]byte, error) {
	pin, err := t.askPIN(ctx, t.describe())
	if err != nil {
		return nil, err
	}
	md, err := t.yk.Metadata(pin)
	if err != nil {
		return nil, fmt.Errorf("reading the stored management key of %s: %w", t.describe(), t.fail(err))
	}
	if md.ManagementKey == nil {
		return nil, fmt.Errorf("%s has no management key stored on it (run the set-up with the key stored on the card)", t.describe())
	}
	return *md.ManagementKey, nil
}

var algorithms = map[hsm.Algorithm]piv.Algorithm{
	hsm.ECDSAP256: piv.AlgorithmEC256,
	hsm.ECDSAP384: piv.AlgorithmEC384,
	hsm.Ed25519:   piv.AlgorithmEd25519,
	hsm.RSA2048:   piv.AlgorithmRSA2048,
	hsm.RSA3072:   piv.AlgorithmRSA3072,
	hsm.RSA4096:   piv.AlgorithmRSA4096,
}

// GenerateKey makes a key on the card in an empty slot, with the PIN and
// touch policies asked for, using the management key stored PIN-protected
// on the card. It refuses a card with factory credentials and an occupied
// slot (use Reset or another slot: a key is never overwritten).
func (t *Token) GenerateKey(ctx context.Context, opts hsm.GenerateOptions) (hsm.KeyInfo, error) {
	alg, ok := algorithms[opts.Algorithm]
	if !ok {
		return hsm.KeyInfo{}, fmt.Errorf("algorithm %q: %w", opts.Algorithm, hsm.ErrMechanism)
	}
	if opts.Slot == "" {
		opts.Slot = DefaultSlot
	}
	slot, err := ParseSlot(opts.Slot)
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	pp, err := parsePINPolicy(opts.PINPolicy)
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	tp, err := parseTouchPolicy(opts.TouchPolicy)
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ensure(ctx); err != nil {
		return hsm.KeyInfo{}, err
	}
	if err := t.factoryCheck(); err != nil {
		return hsm.KeyInfo{}, err
	}
	fw := t.yk.Version()
	if (alg == piv.AlgorithmEd25519 || alg == piv.AlgorithmRSA3072 || alg == piv.AlgorithmRSA4096) && (fw.Major < 5 || fw.Major == 5 && fw.Minor < 7) {
		return hsm.KeyInfo{}, fmt.Errorf("%s: %s needs firmware 5.7 or later: %w", t.describe(), opts.Algorithm, hsm.ErrMechanism)
	}
	if _, _, err := t.slotKey(slot); err == nil {
		return hsm.KeyInfo{}, fmt.Errorf("%s: slot %s already holds a key; Conclave never overwrites one", t.describe(), slot)
	} else if !errors.Is(err, hsm.ErrKeyNotFound) {
		return hsm.KeyInfo{}, err
	}
	mk, err := t.storedManagementKey(ctx)
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	defer clear(mk)
	pub, err := t.yk.GenerateKey(mk, slot, piv.Key{Algorithm: alg, PINPolicy: pp, TouchPolicy: tp})
	if err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("generating a key in slot %s of %s: %w", slot, t.describe(), t.fail(err))
	}
	info := hsm.KeyInfo{
		Label:  fmt.Sprintf("%s, PIN %s, touch %s", slotLabel(slot), opts.PINPolicy, opts.TouchPolicy),
		Slot:   slot.String(),
		URI:    URI(t.info.Serial, slot),
		Public: pub,
	}
	if v, err := t.attest(slot); err == nil && samePublic(pub, v.public) {
		info.Attested = true
		info.Label += ", attested by " + v.Root
	}
	return info, nil
}

// ResetConfirmation guards Reset: ReallyReset is the --really-reset flag
// and Typed is what the person typed when asked for the card's serial.
type ResetConfirmation struct {
	ReallyReset bool
	Typed       string
}

// ErrResetNotConfirmed is returned when Reset lacks either confirmation.
var ErrResetNotConfirmed = errors.New("resetting the PIV applet destroys every key on it: it needs --really-reset and the card's serial typed in full")

// Reset wipes the PIV applet (all keys and certificates; PIN, PUK and
// management key back to the factory values). It first blocks the PIN and
// PUK with random wrong values, as the YubiKey requires (piv-go's Reset):
// no real PIN is guessed. The device attestation key survives.
func (t *Token) Reset(ctx context.Context, c ResetConfirmation) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ensure(ctx); err != nil {
		return err
	}
	if !c.ReallyReset || c.Typed != strconv.FormatUint(uint64(t.info.Serial), 10) {
		return ErrResetNotConfirmed
	}
	if err := t.yk.Reset(); err != nil {
		return fmt.Errorf("resetting the PIV applet of %s: %w", t.describe(), t.fail(err))
	}
	t.info.DefaultPIN, t.info.DefaultPUK, t.info.DefaultManagementKey = true, true, true
	t.info.PINRetries, t.info.PUKRetries = 3, 3
	return nil
}
