// Package envelope signs and verifies everything a Conclave key signs that
// is not TUF metadata: a developer's proof of possession, a key-change
// authorisation, an enrolment proof, the transcript's head.
//
// Each signature is over the DSSE pre-authentication encoding (PAE, DSSE
// v1.0 "Protocol"):
//
//	"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
//
// with a Conclave payload type, "application/vnd.conclave.<what>.v1+json".
// TUF signatures are over bare canonical JSON, which starts with '{'; a PAE
// starts with "DSSEv1 ". So a TUF signature can never verify as an
// envelope, an envelope signature can never verify as TUF metadata, and an
// envelope of one type can never pass for another type.
//
// The envelope itself is the DSSE JSON form: {"payload": base64,
// "payloadType": …, "signatures": [{"keyid": …, "sig": base64}]}.
package envelope

import (
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Payload types Conclave signs.
const (
	TypeProofOfPossession = "application/vnd.conclave.possession.v1+json"
	TypeKeyChange         = "application/vnd.conclave.keychange.v1+json"
	TypeEnrolment         = "application/vnd.conclave.enrolment.v1+json"
	TypeTranscriptHead    = "application/vnd.conclave.transcript-head.v1+json"
	TypeBundleManifest    = "application/vnd.conclave.bundle-manifest.v1+json"
	// TypeVaultBinding binds a vault's policy to its root: signed by a
	// threshold of the root's root keys (package vault).
	TypeVaultBinding = "application/vnd.conclave.vault-binding.v1+json"
	// TypeRecoveryWaiver waives a recovery's notice period: signed by a
	// threshold of the holders of the role that delegates the project
	// (package session).
	TypeRecoveryWaiver = "application/vnd.conclave.recovery-waiver.v1+json"
)

// ErrPayloadType: the envelope is not of the type the caller expects.
var ErrPayloadType = errors.New("wrong envelope payload type")

// PAE is the DSSE pre-authentication encoding of a payload.
func PAE(payloadType string, payload []byte) []byte {
	return appendPAE(make([]byte, 0, 32+len(payloadType)+len(payload)), payloadType, payload)
}

func appendPAE(b []byte, payloadType string, payload []byte) []byte {
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// Envelope is a signed payload.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

// Signature is one signature on an envelope.
type Signature struct {
	KeyID string
	Sig   []byte
}

// checkType refuses payload types that are not Conclave's: a key holder's
// key must never sign an arbitrary type chosen by the input.
func checkType(t string) error {
	if !strings.HasPrefix(t, "application/vnd.conclave.") || !strings.HasSuffix(t, "+json") {
		return fmt.Errorf("%w: %q is not a Conclave payload type", ErrPayloadType, t)
	}
	return nil
}

// Sign adds a signature by key (whose keyid is written) over the PAE.
// The signature is verified before it is added.
func (e *Envelope) Sign(signer crypto.Signer, key *tuf.Key) error {
	if err := checkType(e.PayloadType); err != nil {
		return err
	}
	sig, err := tuf.SignMessage(signer, key, PAE(e.PayloadType, e.Payload))
	if err != nil {
		return fmt.Errorf("sign %s envelope: %w", e.PayloadType, err)
	}
	e.Signatures = append(e.Signatures, Signature{KeyID: key.ID(), Sig: sig})
	return nil
}

// VerifyResult names an envelope's signers.
type VerifyResult struct {
	// Signers are the keyids of the keys whose signatures verify, sorted:
	// every signature's, as Verify accepts nothing else.
	Signers []string
}

// Errors of Verify, wrapped in a *SignatureError that says which signature.
var (
	// ErrUnlistedKey: a signature names a keyid that may not sign.
	ErrUnlistedKey = errors.New("signature by a key that is not listed")
	// ErrRepeatedKey: a second signature by one key (under its keyid or
	// another keyid of the same public key).
	ErrRepeatedKey = errors.New("second signature by one key")
)

// SignatureError is a signature Verify refused: Err is ErrUnlistedKey,
// ErrRepeatedKey or tuf.ErrBadSignature.
type SignatureError struct {
	Index int    // in the envelope's signatures
	KeyID string // as the envelope gives it; shown only when listed
	Err   error
}

func (e *SignatureError) Error() string {
	at := cjson.PathIndex("signatures", e.Index)
	switch e.Err {
	case ErrUnlistedKey:
		return fmt.Sprintf("%s: %v: only the listed keys may sign, each once", at, e.Err)
	case ErrRepeatedKey:
		return fmt.Sprintf("%s: %v (keyid %s): each key signs once", at, e.Err, e.KeyID)
	}
	return fmt.Sprintf("%s: the signature by key %s does not verify", at, e.KeyID)
}

func (e *SignatureError) Unwrap() error { return e.Err }

// Verify checks the envelope is of type wantType and that every signature
// on it is a valid one by one of keys, each key at most once, and returns
// the signers. A signature by a keyid keys does not hold, or a second one
// by one key, refuses the envelope before any signature is verified; then
// the first signature that does not verify refuses it, and none after it
// is checked. So the work is at most one verification per listed key,
// whatever the envelope holds (a request of 1 MiB could otherwise carry
// hundreds of signatures under one keyid). The caller compares the
// signers with what it needs (every key, a threshold).
func (e *Envelope) Verify(wantType string, keys map[string]*tuf.Key) (*VerifyResult, error) {
	if e.PayloadType != wantType {
		return nil, fmt.Errorf("%w: expected %s, found %q", ErrPayloadType, wantType, e.PayloadType)
	}
	if err := e.CheckSigners(keys); err != nil {
		return nil, err
	}
	// The message is only hashed, never kept: its buffer is reused
	// (an import checks 100,000 envelopes).
	buf := paeBuffers.Get().(*[]byte)
	msg := appendPAE((*buf)[:0], e.PayloadType, e.Payload)
	defer func() {
		if cap(msg) <= maxPooledPAE {
			*buf = msg[:0]
			paeBuffers.Put(buf)
		}
	}()
	res := &VerifyResult{Signers: make([]string, 0, len(e.Signatures))}
	for i, s := range e.Signatures {
		if err := keys[s.KeyID].Verify(msg, s.Sig); err != nil {
			return nil, &SignatureError{Index: i, KeyID: s.KeyID, Err: tuf.ErrBadSignature}
		}
		res.Signers = append(res.Signers, s.KeyID)
	}
	sort.Strings(res.Signers)
	return res, nil
}

// CheckSigners refuses, without verifying any signature, an envelope
// with a signature by a keyid keys does not hold or a second signature by
// one key: the part of Verify that costs nothing, for a caller that has
// more to check before the signatures are worth verifying.
func (e *Envelope) CheckSigners(keys map[string]*tuf.Key) error {
	// Sized by the keys, not by the signatures: the input chooses those.
	seen := make(map[string]bool, min(len(e.Signatures), len(keys)))
	for i, s := range e.Signatures {
		k, ok := keys[s.KeyID]
		if !ok {
			return &SignatureError{Index: i, Err: ErrUnlistedKey}
		}
		if seen[k.Fingerprint()] {
			return &SignatureError{Index: i, KeyID: s.KeyID, Err: ErrRepeatedKey}
		}
		seen[k.Fingerprint()] = true
	}
	return nil
}

var paeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPAE keeps one large envelope (a bundle manifest) from pinning
// its buffer in the pool.
const maxPooledPAE = 16 << 10

// Marshal writes the envelope as canonical JSON in file form: a keyid or
// payload type holding a control character is escaped, so that the output
// is always valid JSON that Parse reads back.
func (e *Envelope) Marshal() []byte {
	enc := cjson.Encoder{FileForm: true}
	enc.BeginObject()
	enc.Name("payload")
	enc.String(base64.StdEncoding.EncodeToString(e.Payload))
	enc.Name("payloadType")
	enc.String(e.PayloadType)
	enc.Name("signatures")
	enc.BeginArray()
	for _, s := range e.Signatures {
		enc.BeginObject()
		enc.Name("keyid")
		enc.String(s.KeyID)
		enc.Name("sig")
		enc.String(base64.StdEncoding.EncodeToString(s.Sig))
		enc.EndObject()
	}
	enc.EndArray()
	enc.EndObject()
	b, err := enc.Bytes()
	if err != nil {
		panic("envelope: " + err.Error())
	}
	return b
}

// Parse reads an envelope strictly: exactly the DSSE members, standard
// base64, no duplicate or unknown members. path prefixes error messages.
func Parse(v cjson.Value, path string) (*Envelope, error) {
	if v.Kind() != cjson.Object {
		return nil, fmt.Errorf("%s: must be an object, not %s", path, v.Kind())
	}
	// Paths are written out only for an error: a bundle holds 100,000
	// envelopes, nearly all of them well formed.
	at := func(name string) string { return cjson.PathField(path, name) }
	e := &Envelope{}
	for _, m := range v.Members() {
		switch m.Name {
		case "payload":
			b, err := decodeB64(m.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", at(m.Name), err)
			}
			e.Payload = b
		case "payloadType":
			if m.Value.Kind() != cjson.String {
				return nil, fmt.Errorf("%s: must be a string", at(m.Name))
			}
			e.PayloadType = m.Value.Str()
		case "signatures":
			if m.Value.Kind() != cjson.Array {
				return nil, fmt.Errorf("%s: must be an array", at(m.Name))
			}
			e.Signatures = make([]Signature, 0, len(m.Value.Items()))
			for i, item := range m.Value.Items() {
				if item.Kind() != cjson.Object || len(item.Members()) != 2 {
					return nil, fmt.Errorf("%s: must be an object with exactly keyid and sig", cjson.PathIndex(at(m.Name), i))
				}
				kid, _ := item.Get("keyid")
				sv, ok := item.Get("sig")
				if kid.Kind() != cjson.String || !ok {
					return nil, fmt.Errorf("%s: must be an object with exactly keyid and sig", cjson.PathIndex(at(m.Name), i))
				}
				sig, err := decodeB64(sv)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", cjson.PathField(cjson.PathIndex(at(m.Name), i), "sig"), err)
				}
				e.Signatures = append(e.Signatures, Signature{KeyID: kid.Str(), Sig: sig})
			}
		default:
			return nil, fmt.Errorf("%s: unknown member", at(m.Name))
		}
	}
	for _, name := range []string{"payload", "signatures"} {
		if _, ok := v.Get(name); !ok {
			return nil, fmt.Errorf("%s: is missing", at(name))
		}
	}
	if err := checkType(e.PayloadType); err != nil {
		return nil, fmt.Errorf("%s: %w", at("payloadType"), err)
	}
	return e, nil
}

// decodeB64 decodes one strict standard-base64 string; the error says
// what is wrong, the caller says where.
func decodeB64(v cjson.Value) ([]byte, error) {
	if v.Kind() != cjson.String {
		return nil, errors.New("must be a base64 string")
	}
	// The decoder skips line breaks even in strict mode; one envelope must
	// have one encoding.
	if s := v.Str(); strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, '\n') >= 0 {
		return nil, errors.New("not standard base64: line breaks are not allowed")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(v.Str())
	if err != nil {
		return nil, fmt.Errorf("not standard base64: %v", err)
	}
	return b, nil
}
