package enrolment

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

type fixture struct {
	signer crypto.Signer
	rec    *Record
}

func newP256(t testing.TB) (crypto.Signer, *tuf.Key) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := tuf.KeyFromPublic(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return priv, k
}

// yubikeyRecord is a signed record of a YubiKey key, with a two-certificate
// attestation (the bytes are stand-ins: fakeChecker judges them).
func yubikeyRecord(t testing.TB) fixture {
	t.Helper()
	s, k := newP256(t)
	r := &Record{
		Holder: Holder{Name: "Alice Example", Contact: "alice@example.org"},
		Key:    k,
		Token: Token{Kind: KindYubiKey, Serial: 12345678, Slot: "9c", Firmware: "5.7.1", FormFactor: "USB-A Keychain",
			PINPolicy: "once", TouchPolicy: "always"},
		Attestation: [][]byte{[]byte("slot certificate"), []byte("device certificate")},
		Nonce:       bytes.Repeat([]byte{7}, NonceSize),
		Time:        time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC),
	}
	if err := r.Sign(s); err != nil {
		t.Fatal(err)
	}
	return fixture{s, r}
}

func pkcs11Record(t testing.TB) fixture {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := tuf.KeyFromPublic(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{
		Holder: Holder{Name: "Bob"},
		Key:    k,
		Token: Token{Kind: KindPKCS11, URI: "pkcs11:token=ceremony;serial=5c1e9a07d3f2b4a8;object=bob;id=%9f%3a%c2%01;type=private?module-path=/usr/lib/x86_64-linux-gnu/pkcs11/vendor-hsm.so",
			Attributes: []string{"CKA_SENSITIVE", "!CKA_EXTRACTABLE", "CKA_ALWAYS_SENSITIVE", "CKA_NEVER_EXTRACTABLE"}},
		Nonce: bytes.Repeat([]byte{1}, NonceSize),
		Time:  time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC),
	}
	if err := r.Sign(priv); err != nil {
		t.Fatal(err)
	}
	return fixture{priv, r}
}

// fakeChecker plays the token backend: it accepts the chain and states a.
type fakeChecker struct {
	a   Attested
	err error
}

func (f fakeChecker) CheckAttestation(chain [][]byte) (*Attested, error) {
	if f.err != nil {
		return nil, f.err
	}
	a := f.a
	return &a, nil
}

func statesRecord(r *Record) fakeChecker {
	t := r.Token
	return fakeChecker{a: Attested{Public: r.Key.PublicKey(), Serial: t.Serial, Slot: t.Slot, Firmware: t.Firmware,
		PINPolicy: t.PINPolicy, TouchPolicy: t.TouchPolicy, Root: "test root"}}
}

func marshal(t testing.TB, r *Record) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRoundTrip: a record parses back to the same bytes, fingerprint and
// holder key, and verifies, for both token kinds.
func TestRoundTrip(t *testing.T) {
	for _, f := range []fixture{yubikeyRecord(t), pkcs11Record(t)} {
		b := marshal(t, f.rec)
		got, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f.rec.Token.Kind, err, b)
		}
		if again := marshal(t, got); !bytes.Equal(again, b) {
			t.Fatalf("round trip changed the record:\n%s\n%s", b, again)
		}
		if got.Fingerprint() != f.rec.Fingerprint() || got.HolderKey() != f.rec.HolderKey() {
			t.Fatalf("fingerprint or holder key changed")
		}
		if !reflect.DeepEqual(got.Holder, f.rec.Holder) || !reflect.DeepEqual(got.Token, f.rec.Token) || !reflect.DeepEqual(got.Attestation, f.rec.Attestation) ||
			!bytes.Equal(got.Nonce, f.rec.Nonce) || !got.Time.Equal(f.rec.Time) || got.KeyID() != f.rec.KeyID() {
			t.Fatalf("parsed %+v\nmade   %+v", got, f.rec)
		}
		v, err := Verify(got, VerifyOptions{Attestation: statesRecord(got)})
		if err != nil {
			t.Fatal(err)
		}
		if (v.Attested != nil) != (len(got.Attestation) > 0) {
			t.Fatalf("Attested = %v for %d certificates", v.Attested, len(got.Attestation))
		}
	}
}

// TestEditedRecordRefused: changing the name, the slot or the key of a
// signed record, in the file, is refused; so is a record whose proof is
// re-signed by another key.
func TestEditedRecordRefused(t *testing.T) {
	f := yubikeyRecord(t)
	b := marshal(t, f.rec)
	_, other := newP256(t)
	for _, c := range []struct {
		name, old, new, want string
		family               error
	}{
		{"name", `"name":"Alice Example"`, `"name":"Mallory Example"`,
			"proof.payload: is not this record: the record was changed after it was signed, or the proof is another record's", ErrProof},
		{"slot", `"slot":"9c"`, `"slot":"9a"`,
			"proof.payload: is not this record: the record was changed after it was signed, or the proof is another record's", ErrProof},
		{"key", jsonString(f.rec.Key.Public), jsonString(other.Public),
			`keyid: "` + f.rec.Key.ID() + `" is not the keyid of key (` + other.ID() + `)`, ErrMalformed},
		{"key and keyid", jsonString(f.rec.Key.Public) + `},"scheme":"ecdsa-sha2-nistp256"},"keyid":"` + f.rec.Key.ID(),
			jsonString(other.Public) + `},"scheme":"ecdsa-sha2-nistp256"},"keyid":"` + other.ID(),
			`proof.signatures[0].keyid: "` + f.rec.Key.ID() + `" is not the record's keyid`, ErrProof},
	} {
		edited := bytes.Replace(b, []byte(c.old), []byte(c.new), 1)
		if bytes.Equal(edited, b) {
			t.Fatalf("%s: the edit did not apply", c.name)
		}
		_, err := Parse(edited)
		if err == nil || err.Error() != c.want || !errors.Is(err, c.family) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}

	// The name changed in the record and in the proof's payload alike:
	// only the signature can tell.
	forged := *f.rec
	forged.Holder.Name = "Mallory Example"
	env := *f.rec.Proof
	env.Payload = forged.Payload()
	forged.Proof = &env
	r, err := Parse(marshal(t, &forged))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(r, VerifyOptions{})
	want := "proof: the signature does not verify against the record's key (signatures[0]: the signature by key " + f.rec.Key.ID() + " does not verify)"
	if err == nil || err.Error() != want || !errors.Is(err, ErrProof) {
		t.Fatalf("forged payload: got %v, want %q", err, want)
	}
}

// jsonString is s as the record file writes it (newlines escaped).
func jsonString(s string) string {
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

// TestParseRefuses: each broken form is refused with its field path.
func TestParseRefuses(t *testing.T) {
	b := string(marshal(t, yubikeyRecord(t).rec))
	p := string(marshal(t, pkcs11Record(t).rec))
	for _, c := range []struct{ in, want string }{
		{strings.Replace(b, `{"attestation"`, `{"extra":1,"attestation"`, 1), "extra: unknown member"},
		{strings.Replace(b, `"format":"conclave-enrolment/1"`, `"format":"conclave-enrolment/2"`, 1), `format: "conclave-enrolment/2" is not "conclave-enrolment/1"`},
		{strings.Replace(b, `"kind":"yubikey"`, `"kind":"yubikey","colour":"red"`, 1), "token.colour: unknown member"},
		{strings.Replace(b, `"serial":12345678`, `"serial":0`, 1), "token.serial: must be an integer from 1 to 4294967295"},
		{strings.Replace(b, `"slot":"9c"`, `"slot":"f9"`, 1), `token.slot: "f9" is not a PIV signing slot (9a, 9c, 9d, 9e, 82–95)`},
		{strings.Replace(b, `"pin_policy":"once"`, `"pin_policy":"sometimes"`, 1), `token.pin_policy: "sometimes" is not one of never, once, always, match-once, match-always`},
		{strings.Replace(b, `"name":"Alice Example"`, `"name":"Alice\u001b[2J"`, 1), `holder.name: "Alice\x1b[2J" holds a control, invisible or backslash character; write plain text`},
		{strings.Replace(b, `"time":"2026-12-03T17:00:00Z"`, `"time":"2026-12-03T18:00:00+01:00"`, 1), `time: "2026-12-03T18:00:00+01:00" is not a UTC time written as 2006-01-02T15:04:05Z`},
		{strings.Replace(b, `"nonce":"07`, `"nonce":"7`, 1), "nonce: must be 64 lower-case hex digits"},
		{strings.Replace(b, `"attestation":["`, `"attestation":["!`, 1), "attestation[0]: is not standard base64"},
		{strings.Replace(p, `vendor-hsm.so"`, `vendor-hsm.so&pin-value=1234"`, 1), "token.uri: names a PIN (pin-value or pin-source): a record never carries one"},
		{strings.Replace(p, `"uri":"pkcs11:`, `"slot":"9c","uri":"pkcs11:`, 1), "token.slot: only a yubikey token has a slot"},
		{strings.Replace(p, `{"format"`, `{"attestation":["AAAA"],"format"`, 1), "attestation: a pkcs11 record carries no attestation: Conclave checks only a YubiKey's"},
		{strings.Replace(p, `"CKA_SENSITIVE"`, `"SENSITIVE"`, 1), `token.attributes[0]: "SENSITIVE" is not a PKCS#11 attribute name (CKA_…, optionally after !)`},
		{b + "x", "at byte " + strconv.Itoa(len(b)) + ": unexpected data after the end of the JSON value"},
		{`{"format":"conclave-enrolment/1"}`, "holder: is missing"},
		{strings.Repeat(" ", MaxSize+1), "the record is 65537 bytes; at most 65536 are allowed"},
	} {
		_, err := Parse([]byte(c.in))
		if err == nil || err.Error() != c.want || !errors.Is(err, ErrMalformed) {
			t.Errorf("got %v\nwant %s", err, c.want)
		}
	}
}

// TestVerifyAttestation: the attestation must verify and state the
// record's key, serial, slot, firmware and policies.
func TestVerifyAttestation(t *testing.T) {
	r := yubikeyRecord(t).rec
	_, other := newP256(t)
	for _, c := range []struct {
		name   string
		edit   func(*Attested)
		err    error
		want   string
		family error
	}{
		{"untrusted root", nil, errors.New("not attested by a trusted root: x509: certificate signed by unknown authority"),
			"attestation: not attested by a trusted root: x509: certificate signed by unknown authority", ErrAttestation},
		{"other key", func(a *Attested) { a.Public = other.PublicKey() }, nil, "attestation: attests another key than the record's", ErrAttestation},
		{"serial", func(a *Attested) { a.Serial = 87654321 }, nil, `token.serial: the record says "12345678", the attestation "87654321"`, ErrAttestation},
		{"slot", func(a *Attested) { a.Slot = "9a" }, nil, `token.slot: the record says "9c", the attestation "9a"`, ErrAttestation},
		{"touch", func(a *Attested) { a.TouchPolicy = "never" }, nil, `token.touch_policy: the record says "always", the attestation "never"`, ErrAttestation},
	} {
		ch := statesRecord(r)
		ch.err = c.err
		if c.edit != nil {
			c.edit(&ch.a)
		}
		_, err := Verify(r, VerifyOptions{Attestation: ch})
		if err == nil || err.Error() != c.want || !errors.Is(err, c.family) {
			t.Errorf("%s: got %v\nwant %s", c.name, err, c.want)
		}
	}
}

// TestVerifyPolicy: the policy's attestation rules.
func TestVerifyPolicy(t *testing.T) {
	r := yubikeyRecord(t).rec
	ch := statesRecord(r)
	for _, c := range []struct {
		name   string
		pol    policy.Attestation
		check  AttestationChecker
		want   string
		family error
	}{
		{"required, unchecked", policy.Attestation{Required: true}, nil,
			"attestation: the policy requires an attested key, and its attestation was not checked (no attestation roots)", ErrNotAttested},
		{"firmware", policy.Attestation{MinFirmware: "5.7.2"}, ch, "token.firmware: firmware 5.7.1 is older than the policy's min_firmware 5.7.2", ErrPolicy},
		{"pin", policy.Attestation{PINPolicy: []string{"always"}}, ch, "token.pin_policy: PIN policy once is not one the policy allows (always)", ErrPolicy},
		{"touch", policy.Attestation{TouchPolicy: []string{"cached"}}, ch, "token.touch_policy: touch policy always is not one the policy allows (cached)", ErrPolicy},
		{"met", policy.Attestation{Required: true, MinFirmware: "5.7.1", PINPolicy: []string{"once"}, TouchPolicy: []string{"always", "cached"}}, ch, "", nil},
	} {
		_, err := Verify(r, VerifyOptions{Attestation: c.check, Policy: &c.pol})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || err.Error() != c.want || !errors.Is(err, c.family) {
			t.Errorf("%s: got %v\nwant %s", c.name, err, c.want)
		}
	}
}

// TestSignOtherKey: a proof made by another key than the record's is
// refused when it is made.
func TestSignOtherKey(t *testing.T) {
	r := yubikeyRecord(t).rec
	err := r.Sign(yubikeyRecord(t).signer)
	if err == nil || !errors.Is(err, tuf.ErrWrongSigner) {
		t.Fatalf("got %v", err)
	}
}

// TestVerifyNonce: a record made for another nonce is refused.
func TestVerifyNonce(t *testing.T) {
	r := yubikeyRecord(t).rec
	if _, err := Verify(r, VerifyOptions{Nonce: bytes.Repeat([]byte{7}, NonceSize)}); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(r, VerifyOptions{Nonce: bytes.Repeat([]byte{8}, NonceSize)})
	if err == nil || err.Error() != "nonce: is not the nonce given for this enrolment" || !errors.Is(err, ErrNonce) {
		t.Fatalf("got %v", err)
	}
}

// TestGenerationPolicies: the defaults when allowed, else the policy's first.
func TestGenerationPolicies(t *testing.T) {
	for _, c := range []struct {
		pol        *policy.Attestation
		pin, touch string
	}{
		{nil, "once", "always"},
		{&policy.Attestation{PINPolicy: []string{"always", "once"}, TouchPolicy: []string{"cached", "always"}}, "once", "always"},
		{&policy.Attestation{PINPolicy: []string{"always"}, TouchPolicy: []string{"cached"}}, "always", "cached"},
	} {
		if pin, touch := GenerationPolicies(c.pol); pin != c.pin || touch != c.touch {
			t.Errorf("%+v: %s %s, want %s %s", c.pol, pin, touch, c.pin, c.touch)
		}
	}
}

// FuzzParse: whatever Parse accepts, Marshal writes back byte for byte,
// and Parse accepts again.
func FuzzParse(f *testing.F) {
	f.Add(marshal(f, yubikeyRecord(f).rec))
	f.Add(marshal(f, pkcs11Record(f).rec))
	f.Add([]byte(`{"format":"conclave-enrolment/1"}`))
	for _, name := range exampleFiles {
		if data, err := os.ReadFile(filepath.Join("../../docs/formats/examples", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed record: %v", err)
		}
		if _, err := Parse(b); err != nil {
			t.Fatalf("Parse of Marshal: %v", err)
		}
		_ = r.Fingerprint()
	})
}

// exampleFiles are the worked examples in docs/formats/examples.
var exampleFiles = []string{"enrolment-record-pkcs11.json", "enrolment-record-yubikey.json"}

// TestDocumentedExamples: the documented records parse, verify their
// proofs, and are written back byte for byte.
func TestDocumentedExamples(t *testing.T) {
	for _, name := range exampleFiles {
		data, err := os.ReadFile(filepath.Join("../../docs/formats/examples", name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := Verify(r, VerifyOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := marshal(t, r); !bytes.Equal(b, data) {
			t.Fatalf("%s is not written back as it is", name)
		}
	}
}
