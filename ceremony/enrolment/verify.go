package enrolment

import (
	"crypto"
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Attested is what a verified attestation states about a key.
type Attested struct {
	Public      crypto.PublicKey
	Serial      uint32
	Slot        string
	Firmware    string
	PINPolicy   string
	TouchPolicy string
	FormFactor  string
	// Root names the trust root the chain verified against.
	Root string
	// Vendor is true when that root is the token maker's own (Yubico's),
	// false for another root (the virtual YubiKey's test CA).
	Vendor bool
}

// AttestationChecker verifies an attestation chain (DER, leaf first)
// offline against its trusted roots and returns what it states. The token
// backend implements it (x509 and the vendor's extensions are its
// business); errors say why the chain was refused.
type AttestationChecker interface {
	CheckAttestation(chain [][]byte) (*Attested, error)
}

// VerifyOptions say what Verify checks beyond the proof of possession.
type VerifyOptions struct {
	// Attestation checks the record's attestation chain. Nil leaves it
	// unchecked: Verified.Attested stays nil, and a policy requiring
	// attestation refuses the record.
	Attestation AttestationChecker
	// Policy, when set, holds the attestation rules the token must meet
	// (policy.Attestation: required, min_firmware, pin and touch
	// policies). They apply to YubiKeys.
	Policy *policy.Attestation
	// Nonce, when set, is the nonce the record must answer (one an
	// officer gave the holder for this enrolment).
	Nonce []byte
}

// Verified is a record Verify accepted.
type Verified struct {
	Record *Record
	// Attested is what the attestation states, nil when the record has
	// none or it was not checked.
	Attested *Attested
}

// Verify checks a parsed record: the proof of possession's signature by
// the record's key, the nonce when one is expected, the attestation chain
// and that it states this key, serial, slot, firmware and policies, and
// the policy's rules. Errors are *Error wrapping ErrProof, ErrNonce,
// ErrAttestation, ErrNotAttested or ErrPolicy.
func Verify(r *Record, opts VerifyOptions) (*Verified, error) {
	if r.Proof == nil {
		return nil, errAt("proof", ErrProof, "is missing")
	}
	if err := r.checkProofShape(); err != nil {
		return nil, err
	}
	if _, err := r.Proof.Verify(envelope.TypeEnrolment, map[string]*tuf.Key{r.Key.ID(): r.Key}); err != nil {
		return nil, &Error{Path: "proof", Msg: fmt.Sprintf("the signature does not verify against the record's key (%v)", err), Err: ErrProof}
	}
	if opts.Nonce != nil && subtle.ConstantTimeCompare(opts.Nonce, r.Nonce) != 1 {
		return nil, errAt("nonce", ErrNonce, "is not the nonce given for this enrolment")
	}
	v := &Verified{Record: r}
	if len(r.Attestation) > 0 && opts.Attestation != nil {
		a, err := opts.Attestation.CheckAttestation(r.Attestation)
		if err != nil {
			return nil, &Error{Path: "attestation", Msg: err.Error(), Err: ErrAttestation}
		}
		if err := r.matchAttestation(a); err != nil {
			return nil, err
		}
		v.Attested = a
	}
	if opts.Policy != nil && r.Token.Kind == KindYubiKey {
		if err := r.checkPolicy(*opts.Policy, v.Attested); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// matchAttestation checks the attestation states what the record says.
func (r *Record) matchAttestation(a *Attested) error {
	pk, ok := a.Public.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pk.Equal(r.Key.PublicKey()) {
		return errAt("attestation", ErrAttestation, "attests another key than the record's")
	}
	t := r.Token
	if t.Kind != KindYubiKey {
		return nil
	}
	for _, f := range []struct {
		path       string
		rec, attst string
	}{
		{"token.serial", fmt.Sprint(t.Serial), fmt.Sprint(a.Serial)},
		{"token.slot", t.Slot, a.Slot},
		{"token.firmware", t.Firmware, a.Firmware},
		{"token.pin_policy", t.PINPolicy, a.PINPolicy},
		{"token.touch_policy", t.TouchPolicy, a.TouchPolicy},
	} {
		if f.rec != f.attst {
			return errAt(f.path, ErrAttestation, "the record says %s, the attestation %s", termtext.Quote(f.rec), termtext.Quote(f.attst))
		}
	}
	return nil
}

// checkPolicy applies the policy's attestation rules to a YubiKey record.
// Firmware and policies are the record's, which matchAttestation has tied
// to the attestation when there is one.
func (r *Record) checkPolicy(p policy.Attestation, a *Attested) error {
	if p.Required && a == nil {
		why := "the record carries no attestation"
		if len(r.Attestation) > 0 {
			why = "its attestation was not checked (no attestation roots)"
		}
		return errAt("attestation", ErrNotAttested, "the policy requires an attested key, and %s", why)
	}
	return CheckYubiKey(p, r.Token.Firmware, r.Token.PINPolicy, r.Token.TouchPolicy)
}

// CheckYubiKey applies the policy's min_firmware, pin_policies and
// touch_policies to a YubiKey's firmware and a slot's policies: what
// Verify checks of a record, and what `conclave enroll` checks before it
// changes anything on a card. Errors are *Error wrapping ErrPolicy.
func CheckYubiKey(p policy.Attestation, firmware, pin, touch string) error {
	if p.MinFirmware != "" {
		want, ok := firmwareVersion(p.MinFirmware)
		got, ok2 := firmwareVersion(firmware)
		if !ok || !ok2 {
			return errAt("token.firmware", ErrPolicy, "cannot compare %s with the policy's min_firmware %s", termtext.Quote(firmware), termtext.Quote(p.MinFirmware))
		}
		if compareVersions(got, want) < 0 {
			return errAt("token.firmware", ErrPolicy, "firmware %s is older than the policy's min_firmware %s", firmware, p.MinFirmware)
		}
	}
	if len(p.PINPolicy) > 0 && !contains(p.PINPolicy, pin) {
		return errAt("token.pin_policy", ErrPolicy, "PIN policy %s is not one the policy allows (%s)", pin, strings.Join(p.PINPolicy, ", "))
	}
	if len(p.TouchPolicy) > 0 && !contains(p.TouchPolicy, touch) {
		return errAt("token.touch_policy", ErrPolicy, "touch policy %s is not one the policy allows (%s)", touch, strings.Join(p.TouchPolicy, ", "))
	}
	return nil
}

func compareVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Default policies of a generated YubiKey key: the PIN once per session
// (a ceremony signs several roles), a touch for every signature.
const (
	DefaultPINPolicy   = "once"
	DefaultTouchPolicy = "always"
)

// GenerationPolicies says which PIN and touch policies to generate a
// YubiKey key with under a policy's attestation rules: the defaults when
// the policy allows them (or has no rule), else the first it lists.
func GenerationPolicies(p *policy.Attestation) (pin, touch string) {
	pin, touch = DefaultPINPolicy, DefaultTouchPolicy
	if p == nil {
		return pin, touch
	}
	if len(p.PINPolicy) > 0 && !contains(p.PINPolicy, pin) {
		pin = p.PINPolicy[0]
	}
	if len(p.TouchPolicy) > 0 && !contains(p.TouchPolicy, touch) {
		touch = p.TouchPolicy[0]
	}
	return pin, touch
}
