// Package enrolment is the enrolment record: what a new key holder brings
// from `conclave enroll` to the officers who will name their key in the
// root. It says who the holder is, which public key they hold (a TUF key
// object and its keyid), on which token (a YubiKey by serial and slot, or a
// PKCS#11 key by RFC 7512 URI) with which firmware and policies, the
// token's attestation certificates where it has them, and when. The key
// signs the whole record over a nonce drawn for the enrolment, in a typed
// envelope (package envelope, type [envelope.TypeEnrolment]): the proof of
// possession.
//
// # Reading a record
//
// [Parse] reads a record strictly (unknown and duplicate members, trailing
// bytes and oversized values refused, every error naming its field path)
// and checks what needs no trust anchor: the keyid is the key's, the proof
// covers exactly this record. [Verify] then checks the proof's signature,
// the attestation chain through an [AttestationChecker] (the x509 work
// lives with the token backend), that the attestation states what the
// record says, and the policy's attestation rules. A caller that names a
// record's key in a root uses only a record [Verify] accepted.
//
// The record's fingerprint ([Record.Fingerprint]) is the SHA-256 of the
// signed payload: the holder reads it out, in groups of hex digits and in
// PGP words (package words), and the officer's `conclave enroll verify`
// shows the same.
package enrolment

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Format is the record's "format" member.
const Format = "conclave-enrolment/1"

// Limits of a record. A YubiKey's attestation is two certificates of under
// 1 KiB each (slot and device), and Yubico's 2024 PKI adds an intermediate
// or two: four of at most 8 KiB each leave room for any vendor chain.
const (
	MaxSize         = 64 << 10
	MaxCertificates = 4
	MaxCertificate  = 8 << 10
	// MaxURI bounds a PKCS#11 URI; real ones are under 200 bytes.
	MaxURI = 1024
	// NonceSize is the size of the enrolment nonce, in bytes.
	NonceSize = 32
)

// Token kinds, as the policy names them.
const (
	KindYubiKey = policy.TokenYubiKey
	KindPKCS11  = policy.TokenPKCS11
)

// Record is an enrolment record.
type Record struct {
	Holder Holder
	// Key is the public key, as the root will list it. KeyID is Key.ID().
	Key   *tuf.Key
	Token Token
	// Attestation is the token's attestation chain, DER, leaf first (for
	// a YubiKey: the slot's attestation certificate, then the device's
	// slot f9 certificate); empty when the token has none.
	Attestation [][]byte
	// Nonce was drawn for this enrolment (NonceSize bytes); the proof
	// signs it with the rest of the record.
	Nonce []byte
	// Time is when the record was made, UTC, whole seconds, by the
	// enrolling machine's clock.
	Time time.Time
	// Proof is the envelope of type envelope.TypeEnrolment whose payload
	// is Payload() and whose one signature is by Key.
	Proof *envelope.Envelope
}

// Holder is the person enrolling.
type Holder struct {
	Name    string
	Contact string // optional
}

// Token says where the key lives.
type Token struct {
	// Kind is KindYubiKey or KindPKCS11.
	Kind string
	// YubiKey: serial number, PIV slot ("9c"), form factor, and the PIN
	// and touch policies of the slot ("once", "always", …).
	Serial      uint32
	Slot        string
	FormFactor  string
	PINPolicy   string
	TouchPolicy string
	// URI selects a PKCS#11 key (RFC 7512), without any PIN.
	URI string
	// Firmware is the token's firmware version ("5.7.1").
	Firmware string
	// Attributes lists what the enrolling program checked on a PKCS#11
	// private key ("CKA_SENSITIVE", "!CKA_EXTRACTABLE", …): the token's
	// word, not proved by the record.
	Attributes []string
}

// KeyID is the record's keyid (the TUF keyid of Key).
func (r *Record) KeyID() string { return r.Key.ID() }

// HolderKey is the key as the policy's holders list names it.
func (r *Record) HolderKey() policy.HolderKey {
	return policy.HolderKey{KeyID: r.Key.ID(), Token: r.Token.Kind, Serial: r.Token.Serial, Slot: r.Token.Slot, URI: r.Token.URI}
}

// Payload is the canonical JSON of the record without its proof: the
// bytes the proof signs.
func (r *Record) Payload() []byte {
	var e cjson.Encoder
	r.encode(&e, false)
	b, err := e.Bytes()
	if err != nil {
		panic("enrolment: record encoding: " + err.Error())
	}
	return b
}

// Fingerprint is the hex SHA-256 of Payload(): what the holder reads out
// and the officer compares.
func (r *Record) Fingerprint() string {
	s := sha256.Sum256(r.Payload())
	return hex.EncodeToString(s[:])
}

// Marshal is the record file: canonical JSON and a newline. It fails for a
// record that Parse would refuse, so nothing unreadable is ever written.
func (r *Record) Marshal() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if r.Proof == nil {
		return nil, errors.New("the record has no proof of possession: sign it first")
	}
	// File form: the key's PEM newlines are written escaped, so the file
	// is plain JSON for any reader (jq, a schema checker); the payload the
	// proof signs stays canonical.
	e := cjson.Encoder{FileForm: true}
	r.encode(&e, true)
	b, err := e.Bytes()
	if err != nil {
		return nil, err
	}
	if len(b)+1 > MaxSize {
		return nil, fmt.Errorf("the record is %d bytes; at most %d are allowed", len(b)+1, MaxSize)
	}
	return append(b, '\n'), nil
}

// Sign makes the proof of possession: signer (the token's key, which must
// be Key) signs Payload() in an envelope of type envelope.TypeEnrolment.
// The signature is verified before it is kept.
func (r *Record) Sign(signer crypto.Signer) error {
	if err := r.check(); err != nil {
		return err
	}
	env := &envelope.Envelope{PayloadType: envelope.TypeEnrolment, Payload: r.Payload()}
	if err := env.Sign(signer, r.Key); err != nil {
		return fmt.Errorf("signing the proof of possession: %w", err)
	}
	r.Proof = env
	return nil
}

// encode writes the record in canonical member order.
func (r *Record) encode(e *cjson.Encoder, withProof bool) {
	e.BeginObject()
	if len(r.Attestation) > 0 {
		e.Name("attestation")
		e.BeginArray()
		for _, c := range r.Attestation {
			e.String(base64.StdEncoding.EncodeToString(c))
		}
		e.EndArray()
	}
	e.Name("format")
	e.String(Format)
	e.Name("holder")
	e.BeginObject()
	if r.Holder.Contact != "" {
		e.Name("contact")
		e.String(r.Holder.Contact)
	}
	e.Name("name")
	e.String(r.Holder.Name)
	e.EndObject()
	e.Name("key")
	e.Canonical(r.Key.Canonical())
	e.Name("keyid")
	e.String(r.Key.ID())
	e.Name("nonce")
	e.String(hex.EncodeToString(r.Nonce))
	if withProof {
		e.Name("proof")
		e.Canonical(r.Proof.Marshal())
	}
	e.Name("time")
	e.String(r.Time.UTC().Format(time.RFC3339))
	e.Name("token")
	t := r.Token
	e.BeginObject()
	if len(t.Attributes) > 0 {
		e.Name("attributes")
		e.BeginArray()
		for _, a := range t.Attributes {
			e.String(a)
		}
		e.EndArray()
	}
	str := func(name, v string) {
		if v != "" {
			e.Name(name)
			e.String(v)
		}
	}
	str("firmware", t.Firmware)
	str("form_factor", t.FormFactor)
	e.Name("kind")
	e.String(t.Kind)
	str("pin_policy", t.PINPolicy)
	if t.Serial != 0 {
		e.Name("serial")
		e.Int(int64(t.Serial))
	}
	str("slot", t.Slot)
	str("touch_policy", t.TouchPolicy)
	str("uri", t.URI)
	e.EndObject()
	e.EndObject()
}

// Error is a record that breaks a rule: where (the field path) and what.
// Err is the family (ErrMalformed, ErrProof, ErrAttestation, ErrPolicy,
// ErrNonce) for errors.Is, or a cause such as tuf.ErrInvalidKey.
type Error struct {
	Path string
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Error families.
var (
	// ErrMalformed: the record is not a well-formed enrolment record.
	ErrMalformed = errors.New("malformed enrolment record")
	// ErrProof: the proof of possession does not cover this record or its
	// signature does not verify against the record's key.
	ErrProof = errors.New("the proof of possession does not hold")
	// ErrAttestation: the attestation chain does not verify against the
	// trusted roots, or it states something other than the record.
	ErrAttestation = errors.New("the attestation does not hold")
	// ErrNotAttested: the policy requires an attestation the record lacks,
	// or that was not checked.
	ErrNotAttested = errors.New("the key is not attested")
	// ErrPolicy: the token's firmware or policies are not what the policy
	// allows.
	ErrPolicy = errors.New("the token does not meet the policy")
	// ErrNonce: the record was made for another enrolment nonce.
	ErrNonce = errors.New("the record answers another nonce")
)

func errAt(path string, family error, format string, a ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, a...), Err: family}
}

// pivSlots are the PIV slots that hold signing keys (NIST SP 800-73-4
// §3.1: 9a, 9c, 9d, 9e, and the retired slots 82–95).
func pivSlot(s string) bool {
	switch s {
	case "9a", "9c", "9d", "9e":
		return true
	}
	n, err := strconv.ParseUint(s, 16, 8)
	return err == nil && len(s) == 2 && strings.ToLower(s) == s && n >= 0x82 && n <= 0x95
}

// PIV PIN and touch policies as the YubiKey attestation states them
// (Yubico PIV attestation extension 1.3.6.1.4.1.41482.3.8).
var (
	pinPolicies   = []string{"never", "once", "always", "match-once", "match-always"}
	touchPolicies = []string{"never", "always", "cached"}
)

// plain checks one line of text shown to people: UTF-8, no control,
// invisible or backslash character, at most max characters.
func plain(path, s string, required bool, max int) error {
	switch {
	case s == "" && required:
		return errAt(path, ErrMalformed, "is empty")
	case !utf8.ValidString(s):
		return errAt(path, ErrMalformed, "is not UTF-8 text")
	case utf8.RuneCountInString(s) > max:
		return errAt(path, ErrMalformed, "is %d characters long; at most %d are allowed", utf8.RuneCountInString(s), max)
	case termtext.Cap(s, len(s)+2) != s:
		return errAt(path, ErrMalformed, "%s holds a control, invisible or backslash character; write plain text", termtext.Quote(s))
	}
	return nil
}

// firmwareVersion reads "MAJOR.MINOR.PATCH", each 0 to 255.
func firmwareVersion(s string) ([3]int, bool) {
	var v [3]int
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != p {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

// CheckHolder checks a holder's name and contact as a record carries
// them: plain text of at most policy.MaxText characters, the name not
// empty.
func CheckHolder(h Holder) error {
	if err := plain("holder.name", h.Name, true, policy.MaxText); err != nil {
		return err
	}
	return plain("holder.contact", h.Contact, false, policy.MaxText)
}

// check applies the rules Parse applies to the fields, so that Sign and
// Marshal refuse what Parse would.
func (r *Record) check() error {
	if err := CheckHolder(r.Holder); err != nil {
		return err
	}
	if r.Key == nil {
		return errAt("key", ErrMalformed, "is missing")
	}
	if r.Key.Legacy() != "" {
		return errAt("key", ErrMalformed, "%s", r.Key.Legacy())
	}
	if len(r.Nonce) != NonceSize {
		return errAt("nonce", ErrMalformed, "must be %d bytes, not %d", NonceSize, len(r.Nonce))
	}
	if r.Time.IsZero() || !r.Time.Equal(r.Time.Truncate(time.Second)) || r.Time.Year() < 2000 || r.Time.Year() > 9999 {
		return errAt("time", ErrMalformed, "must be a time in whole seconds between the years 2000 and 9999")
	}
	if len(r.Attestation) > MaxCertificates {
		return errAt("attestation", ErrMalformed, "holds %d certificates; at most %d are allowed", len(r.Attestation), MaxCertificates)
	}
	for i, c := range r.Attestation {
		if len(c) == 0 || len(c) > MaxCertificate {
			return errAt(cjson.PathIndex("attestation", i), ErrMalformed, "is %d bytes; a certificate has 1 to %d", len(c), MaxCertificate)
		}
	}
	if len(r.Attestation) > 0 && r.Token.Kind == KindPKCS11 {
		// Only a YubiKey's attestation is checked; a chain nobody checks
		// would only look like evidence.
		return errAt("attestation", ErrMalformed, "a pkcs11 record carries no attestation: Conclave checks only a YubiKey's")
	}
	return r.Token.check()
}

func (t *Token) check() error {
	for _, f := range []struct{ name, v string }{{"firmware", t.Firmware}, {"form_factor", t.FormFactor}} {
		if err := plain("token."+f.name, f.v, false, policy.MaxText); err != nil {
			return err
		}
	}
	yubikeyOnly := func(what string, set bool) error {
		if set {
			return errAt("token."+what, ErrMalformed, "only a yubikey token has a %s", strings.ReplaceAll(what, "_", " "))
		}
		return nil
	}
	switch t.Kind {
	case KindYubiKey:
		switch {
		case t.Serial == 0:
			return errAt("token.serial", ErrMalformed, "is missing: a YubiKey is recognised by its serial number")
		case !pivSlot(t.Slot):
			return errAt("token.slot", ErrMalformed, "%s is not a PIV signing slot (9a, 9c, 9d, 9e, 82–95)", termtext.Quote(t.Slot))
		case t.URI != "":
			return errAt("token.uri", ErrMalformed, "a YubiKey key is named by serial and slot, not by a URI")
		case len(t.Attributes) > 0:
			return errAt("token.attributes", ErrMalformed, "only a pkcs11 token lists checked attributes")
		}
		if _, ok := firmwareVersion(t.Firmware); !ok {
			return errAt("token.firmware", ErrMalformed, "%s is not a firmware version written MAJOR.MINOR.PATCH", termtext.Quote(t.Firmware))
		}
		if !contains(pinPolicies, t.PINPolicy) {
			return errAt("token.pin_policy", ErrMalformed, "%s is not one of %s", termtext.Quote(t.PINPolicy), strings.Join(pinPolicies, ", "))
		}
		if !contains(touchPolicies, t.TouchPolicy) {
			return errAt("token.touch_policy", ErrMalformed, "%s is not one of %s", termtext.Quote(t.TouchPolicy), strings.Join(touchPolicies, ", "))
		}
		return nil
	case KindPKCS11:
		for _, f := range []struct {
			what string
			set  bool
		}{{"serial", t.Serial != 0}, {"slot", t.Slot != ""}, {"pin_policy", t.PINPolicy != ""}, {"touch_policy", t.TouchPolicy != ""}, {"form_factor", t.FormFactor != ""}} {
			if err := yubikeyOnly(f.what, f.set); err != nil {
				return err
			}
		}
		switch {
		case !strings.HasPrefix(t.URI, "pkcs11:") || len(t.URI) == len("pkcs11:"):
			return errAt("token.uri", ErrMalformed, "%s is not a PKCS#11 URI (RFC 7512) such as pkcs11:token=ceremony;object=alice", termtext.Quote(t.URI))
		case len(t.URI) > MaxURI:
			return errAt("token.uri", ErrMalformed, "is %d bytes long; at most %d are allowed", len(t.URI), MaxURI)
		case hasPIN(t.URI):
			// RFC 7512 §2.3 allows pin-value and pin-source; a record is
			// carried and shown, so neither may be in it.
			return errAt("token.uri", ErrMalformed, "names a PIN (pin-value or pin-source): a record never carries one")
		}
		if err := plain("token.uri", t.URI, true, MaxURI); err != nil {
			return err
		}
		if len(t.Attributes) > 16 {
			return errAt("token.attributes", ErrMalformed, "holds %d entries; at most 16 are allowed", len(t.Attributes))
		}
		for i, a := range t.Attributes {
			if !pkcs11Attribute(a) {
				return errAt(cjson.PathIndex("token.attributes", i), ErrMalformed, "%s is not a PKCS#11 attribute name (CKA_…, optionally after !)", termtext.Quote(a))
			}
		}
		return nil
	}
	return errAt("token.kind", ErrMalformed, "%s is not a token kind (yubikey, pkcs11)", termtext.Quote(t.Kind))
}

// hasPIN reports a pin-value or pin-source attribute in a PKCS#11 URI's
// query or path (RFC 7512 §2.3), in any case.
func hasPIN(u string) bool {
	l := strings.ToLower(u)
	return strings.Contains(l, "pin-value") || strings.Contains(l, "pin-source")
}

func pkcs11Attribute(a string) bool {
	a = strings.TrimPrefix(a, "!")
	if !strings.HasPrefix(a, "CKA_") || len(a) == 4 || len(a) > 40 {
		return false
	}
	for _, c := range a[4:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
