// Package hsm is the one small interface every token backend implements:
// PKCS#11 modules (HSMs), YubiKeys through PIV, and the software keys used in
// rehearsals. Whatever the device, a key ends up as a [crypto.Signer].
//
// # Prompts
//
// A backend never prompts on its own and never writes to the terminal. The
// caller (the terminal program, a test, a rehearsal script) passes [Prompts]:
// the backend calls PIN when — and only when — the token needs a PIN, with
// what the token says about the retries left; Confirm before anything that
// could lock the token; and Touch when the token is waiting for a touch or a
// PIN pad. A backend never tries a PIN the person did not type: no factory
// defaults, no cached guesses.
//
// # Errors
//
// Errors a key holder can act on are typed ([*PINError]) or wrap one of the
// sentinel errors below, so callers branch with [errors.As] and [errors.Is]
// and show the sentence the error carries. No error ever contains a PIN.
package hsm

import (
	"context"
	"crypto"
	"errors"
	"fmt"
)

// Token is one opened device (a PKCS#11 token, a YubiKey, a software key
// store). Tokens are held for a whole ceremony, which may last an hour, so
// Close must release everything (log out, close sessions, finalise).
type Token interface {
	// Describe names the device for the people in the room, e.g.
	// "YubiKey 5 NFC, serial 12345678" or "SoftHSM token 'ceremony' (serial 5c1e…)".
	Describe() string
	// Keys lists the signing keys the token holds.
	Keys(ctx context.Context) ([]KeyInfo, error)
	// Signer returns a signer for one of the keys listed by Keys. Signing may
	// call the Prompts given when the token was opened (PIN, touch). Every
	// signature is verified against key.Public before it is returned.
	Signer(ctx context.Context, key KeyInfo) (crypto.Signer, error)
	// Close logs out and releases the device.
	Close() error
}

// KeyInfo describes one key on a token. Backends fill the fields that apply
// to them and leave the others zero.
type KeyInfo struct {
	// Label is the PKCS#11 CKA_LABEL, or a description of a PIV slot.
	Label string
	// ID is the PKCS#11 CKA_ID.
	ID []byte
	// Slot is the PIV slot ("9c"); empty for other backends.
	Slot string
	// URI selects this key again: an RFC 7512 pkcs11: URI, or
	// "yubikey:serial=…;slot=…". It never holds a PIN.
	URI string
	// Public is the public key (ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey).
	Public crypto.PublicKey
	// Attested is true when the device can prove (by attestation) that the key
	// was generated on it and cannot leave it. A key without attestation is
	// shown as such wherever it appears.
	Attested bool
}

// Algorithm names a key algorithm for key generation.
type Algorithm string

// The key algorithms Conclave signs with (TUF specification 1.0, §4.2 "keys").
const (
	Ed25519   Algorithm = "ed25519"
	ECDSAP256 Algorithm = "ecdsa-p256"
	ECDSAP384 Algorithm = "ecdsa-p384"
	RSA2048   Algorithm = "rsa-2048"
	RSA3072   Algorithm = "rsa-3072"
	RSA4096   Algorithm = "rsa-4096"
)

// GenerateOptions says what key to make on a token during enrolment.
type GenerateOptions struct {
	Algorithm Algorithm
	// Label must not exist on the token yet (PKCS#11).
	Label string
	// Slot is the PIV slot to generate in.
	Slot string
	// PINPolicy and TouchPolicy apply to PIV ("never", "once", "always";
	// touch also "cached").
	PINPolicy   string
	TouchPolicy string
}

// KeyGenerator is implemented by tokens that can generate a key on the
// device, so the private key never exists anywhere else.
type KeyGenerator interface {
	GenerateKey(ctx context.Context, opts GenerateOptions) (KeyInfo, error)
}

// Attestation is a device's statement about one of its keys.
type Attestation struct {
	// Chain is the DER certificates, leaf first, as the device gave them.
	Chain [][]byte
	// Serial, Firmware, PINPolicy, TouchPolicy and FormFactor are read
	// from the verified attestation.
	Serial      uint32
	Firmware    string
	PINPolicy   string
	TouchPolicy string
	FormFactor  string
	// Root names the trust root the chain verified against. Anything other
	// than a vendor root (a rehearsal CA) is marked everywhere it is shown.
	Root string
}

// Attester is implemented by tokens that can attest their keys.
type Attester interface {
	Attest(ctx context.Context, key KeyInfo) (*Attestation, error)
}

// PINRequest is what a backend knows when it needs a PIN.
type PINRequest struct {
	// Token is the Describe() of the token asking.
	Token string
	// RetriesLeft is the number of wrong PINs the token still accepts before
	// it locks, or -1 when the token does not say (PKCS#11 only has flags).
	RetriesLeft int
	// CountLow, FinalTry and Locked mirror the PKCS#11 token flags
	// CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY and CKF_USER_PIN_LOCKED;
	// PIV sets them from the retry counter.
	CountLow bool
	FinalTry bool
	// PINPad is true when the PIN is entered on the device itself
	// (PKCS#11 CKF_PROTECTED_AUTHENTICATION_PATH); the callback should then
	// only tell the person and return an empty PIN.
	PINPad bool
}

// Prompts are the caller's callbacks. A nil PIN callback means no PIN can be
// given: an operation that needs one fails with ErrPINRequired.
type Prompts struct {
	// PIN asks for the PIN. The returned bytes are used once and then
	// zeroed by the backend where it can.
	PIN func(ctx context.Context, req PINRequest) ([]byte, error)
	// Confirm asks a yes/no question; it is called before a final PIN try.
	Confirm func(ctx context.Context, question string) (bool, error)
	// Touch is called when the token waits for a touch (or PIN pad entry),
	// after a short delay so that cached touches stay quiet. done is closed
	// when the wait is over.
	Touch func(token string, done <-chan struct{})
}

// Errors a key holder can act on. Backends wrap them with the device and key
// concerned.
var (
	// ErrTokenRemoved: the token was pulled out or the reader went away.
	// The operation can be retried after reinserting it.
	ErrTokenRemoved = errors.New("the token was removed")
	// ErrPINLocked: the PIN is blocked; it must be unblocked with the PUK or
	// by the security officer. Conclave never tries to unblock it itself.
	ErrPINLocked = errors.New("the PIN is locked")
	// ErrPINRequired: the operation needs a PIN and no PIN callback was given.
	ErrPINRequired = errors.New("a PIN is needed")
	// ErrCancelled: the person declined a confirmation or cancelled the PIN prompt.
	ErrCancelled = errors.New("cancelled by the key holder")
	// ErrNotLoggedIn: the token refused because no user is logged in; on
	// some tokens this is how a missing touch shows.
	ErrNotLoggedIn = errors.New("the token says nobody is logged in (on some tokens this means the touch was missed)")
	// ErrMechanism: the token cannot make this kind of signature.
	ErrMechanism = errors.New("the token does not support this signature mechanism")
	// ErrKeyNotFound and ErrAmbiguousKey: a selector matched no key, or more than one.
	ErrKeyNotFound  = errors.New("no key matches")
	ErrAmbiguousKey = errors.New("more than one key matches")
	// ErrWrongToken: the inserted token is not the one the holder enrolled.
	ErrWrongToken = errors.New("this is not the expected token")
	// ErrBadSignature: the token returned a signature that does not verify
	// against the expected public key (a wrong key or a faulty device).
	ErrBadSignature = errors.New("the token's signature does not verify against the expected key")
)

// PINError reports a wrong PIN with what the token says about the tries left.
type PINError struct {
	// Token is the Describe() of the token.
	Token string
	// RetriesLeft is the count the token reports, or -1 when it only has flags.
	RetriesLeft int
	// CountLow and FinalTry are the PKCS#11 flags after the failure.
	CountLow bool
	FinalTry bool
}

func (e *PINError) Error() string {
	switch {
	case e.RetriesLeft == 0:
		return fmt.Sprintf("wrong PIN for %s: no tries left, the PIN is now locked", e.Token)
	case e.RetriesLeft > 0:
		return fmt.Sprintf("wrong PIN for %s: %d tries left before it locks", e.Token, e.RetriesLeft)
	case e.FinalTry:
		return fmt.Sprintf("wrong PIN for %s: one try left before it locks", e.Token)
	case e.CountLow:
		return fmt.Sprintf("wrong PIN for %s: the token says few tries are left", e.Token)
	default:
		return fmt.Sprintf("wrong PIN for %s", e.Token)
	}
}

// Is lets errors.Is(err, ErrPINLocked) hold for a wrong PIN that used the last try.
func (e *PINError) Is(target error) bool {
	return target == ErrPINLocked && e.RetriesLeft == 0
}
