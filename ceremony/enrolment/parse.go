package enrolment

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// maxDepth bounds nesting: record → proof → signatures → signature.
const maxDepth = 5

// Parse reads a record file strictly and checks what needs no trust
// anchor: every field's form, the keyid against the key, and that the
// proof's payload is exactly this record, signed under the record's keyid.
// It does not verify the proof's signature or the attestation: Verify
// does. Errors are *Error, naming the field path.
func Parse(data []byte) (*Record, error) {
	if len(data) > MaxSize {
		return nil, errAt("", ErrMalformed, "the record is %d bytes; at most %d are allowed", len(data), MaxSize)
	}
	v, err := cjson.ParseWith(data, cjson.Options{MaxDepth: maxDepth})
	if err != nil {
		return nil, &Error{Msg: err.Error(), Err: ErrMalformed}
	}
	m, err := members(v, "", []string{"format", "holder", "key", "keyid", "nonce", "proof", "time", "token"}, []string{"attestation"})
	if err != nil {
		return nil, err
	}
	format, err := str(m, "", "format")
	if err != nil {
		return nil, err
	}
	if format != Format {
		return nil, errAt("format", ErrMalformed, "%s is not %q", termtext.Quote(format), Format)
	}
	r := &Record{}
	if err := r.parseHolder(m["holder"]); err != nil {
		return nil, err
	}
	if err := r.parseKey(m); err != nil {
		return nil, err
	}
	if err := r.Token.parse(m["token"]); err != nil {
		return nil, err
	}
	if a, ok := m["attestation"]; ok {
		if r.Attestation, err = parseChain(a); err != nil {
			return nil, err
		}
	}
	nonce, err := str(m, "", "nonce")
	if err != nil {
		return nil, err
	}
	if r.Nonce, err = hex.DecodeString(nonce); err != nil || len(r.Nonce) != NonceSize || hex.EncodeToString(r.Nonce) != nonce {
		return nil, errAt("nonce", ErrMalformed, "must be %d lower-case hex digits", 2*NonceSize)
	}
	ts, err := str(m, "", "time")
	if err != nil {
		return nil, err
	}
	if r.Time, err = time.Parse(time.RFC3339, ts); err != nil || r.Time.UTC().Format(time.RFC3339) != ts {
		return nil, errAt("time", ErrMalformed, "%s is not a UTC time written as 2006-01-02T15:04:05Z", termtext.Quote(ts))
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	if r.Proof, err = envelope.Parse(m["proof"], "proof"); err != nil {
		return nil, &Error{Msg: err.Error(), Err: errors.Join(ErrMalformed, err)}
	}
	if err := r.checkProofShape(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Record) parseHolder(v cjson.Value) error {
	m, err := members(v, "holder", []string{"name"}, []string{"contact"})
	if err != nil {
		return err
	}
	if r.Holder.Name, err = str(m, "holder", "name"); err != nil {
		return err
	}
	if _, ok := m["contact"]; ok {
		if r.Holder.Contact, err = str(m, "holder", "contact"); err != nil {
			return err
		}
		if r.Holder.Contact == "" {
			return errAt("holder.contact", ErrMalformed, "is empty: leave it out instead")
		}
	}
	return nil
}

func (r *Record) parseKey(m map[string]cjson.Value) error {
	kv := m["key"]
	// Exactly keytype, keyval {public} and scheme: extra members would be
	// part of the keyid (TUF 1.0 §4.2) and carry what nobody checked.
	km, err := members(kv, "key", []string{"keytype", "keyval", "scheme"}, nil)
	if err != nil {
		return err
	}
	if _, err := members(km["keyval"], "key.keyval", []string{"public"}, nil); err != nil {
		return err
	}
	k, err := tuf.ParseKey(kv, "key")
	if err != nil {
		return &Error{Msg: err.Error(), Err: errors.Join(ErrMalformed, err)}
	}
	if k.Legacy() != "" {
		return errAt("key", ErrMalformed, "%s", k.Legacy())
	}
	r.Key = k
	id, err := str(m, "", "keyid")
	if err != nil {
		return err
	}
	if id != k.ID() {
		return errAt("keyid", ErrMalformed, "%s is not the keyid of key (%s)", termtext.Quote(id), k.ID())
	}
	return nil
}

func (t *Token) parse(v cjson.Value) error {
	m, err := members(v, "token", []string{"kind"}, []string{"attributes", "firmware", "form_factor", "pin_policy", "serial", "slot", "touch_policy", "uri"})
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{"kind", &t.Kind}, {"firmware", &t.Firmware}, {"form_factor", &t.FormFactor}, {"pin_policy", &t.PINPolicy}, {"slot", &t.Slot}, {"touch_policy", &t.TouchPolicy}, {"uri", &t.URI}} {
		if _, ok := m[f.name]; !ok {
			continue
		}
		if *f.to, err = str(m, "token", f.name); err != nil {
			return err
		}
		if *f.to == "" {
			return errAt("token."+f.name, ErrMalformed, "is empty: leave it out instead")
		}
	}
	if s, ok := m["serial"]; ok {
		if s.Kind() != cjson.Int || s.Int() < 1 || s.Int() > 0xffffffff {
			return errAt("token.serial", ErrMalformed, "must be an integer from 1 to 4294967295")
		}
		t.Serial = uint32(s.Int())
	}
	if a, ok := m["attributes"]; ok {
		if a.Kind() != cjson.Array || len(a.Items()) == 0 {
			return errAt("token.attributes", ErrMalformed, "must be a non-empty array of strings")
		}
		for i, it := range a.Items() {
			if it.Kind() != cjson.String {
				return errAt(cjson.PathIndex("token.attributes", i), ErrMalformed, "must be a string, not %s", it.Kind())
			}
			t.Attributes = append(t.Attributes, it.Str())
		}
	}
	return nil
}

func parseChain(v cjson.Value) ([][]byte, error) {
	if v.Kind() != cjson.Array || len(v.Items()) == 0 {
		return nil, errAt("attestation", ErrMalformed, "must be a non-empty array of base64 DER certificates")
	}
	if len(v.Items()) > MaxCertificates {
		return nil, errAt("attestation", ErrMalformed, "holds %d certificates; at most %d are allowed", len(v.Items()), MaxCertificates)
	}
	var out [][]byte
	for i, it := range v.Items() {
		at := cjson.PathIndex("attestation", i)
		if it.Kind() != cjson.String {
			return nil, errAt(at, ErrMalformed, "must be a base64 string, not %s", it.Kind())
		}
		if len(it.Str()) > base64.StdEncoding.EncodedLen(MaxCertificate) {
			return nil, errAt(at, ErrMalformed, "is longer than a certificate of %d bytes", MaxCertificate)
		}
		b, err := base64.StdEncoding.Strict().DecodeString(it.Str())
		if err != nil || strings.ContainsAny(it.Str(), "\r\n") {
			return nil, errAt(at, ErrMalformed, "is not standard base64")
		}
		out = append(out, b)
	}
	return out, nil
}

// checkProofShape checks the proof is one signature, under the record's
// keyid, of type TypeEnrolment, over exactly this record.
func (r *Record) checkProofShape() error {
	p := r.Proof
	if p.PayloadType != envelope.TypeEnrolment {
		return errAt("proof.payloadType", ErrProof, "%s is not %s", termtext.Quote(p.PayloadType), envelope.TypeEnrolment)
	}
	if len(p.Signatures) != 1 {
		return errAt("proof.signatures", ErrProof, "holds %d signatures; the proof is exactly one, by the record's key", len(p.Signatures))
	}
	if p.Signatures[0].KeyID != r.Key.ID() {
		return errAt("proof.signatures[0].keyid", ErrProof, "%s is not the record's keyid", termtext.Quote(p.Signatures[0].KeyID))
	}
	if !bytes.Equal(p.Payload, r.Payload()) {
		return errAt("proof.payload", ErrProof, "is not this record: the record was changed after it was signed, or the proof is another record's")
	}
	return nil
}

// members checks v is an object with every required member and no member
// outside required and optional, and returns them by name (cjson has
// already refused duplicates).
func members(v cjson.Value, path string, required, optional []string) (map[string]cjson.Value, error) {
	if v.Kind() != cjson.Object {
		return nil, errAt(path, ErrMalformed, "must be an object, not %s", v.Kind())
	}
	m := make(map[string]cjson.Value, len(v.Members()))
	for _, mem := range v.Members() {
		if !contains(required, mem.Name) && !contains(optional, mem.Name) {
			return nil, errAt(cjson.PathField(path, mem.Name), ErrMalformed, "unknown member")
		}
		m[mem.Name] = mem.Value
	}
	for _, name := range required {
		if _, ok := m[name]; !ok {
			return nil, errAt(cjson.PathField(path, name), ErrMalformed, "is missing")
		}
	}
	return m, nil
}

func str(m map[string]cjson.Value, path, name string) (string, error) {
	v := m[name]
	if v.Kind() != cjson.String {
		return "", errAt(cjson.PathField(path, name), ErrMalformed, "must be a string, not %s", v.Kind())
	}
	return v.Str(), nil
}
