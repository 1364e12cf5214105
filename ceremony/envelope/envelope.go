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

// VerifyResult counts an envelope's valid signatures by distinct key.
type VerifyResult struct {
	// Signers are the keyids of distinct public keys whose signatures
	// verify, sorted.
	Signers []string
}

// Verify checks the envelope is of type wantType and returns which of keys
// signed it. Each public key counts once, however many keyids or entries
// it appears under; signatures by other keys, or that do not verify, are
// ignored. The caller compares len(Signers) with its threshold.
func (e *Envelope) Verify(wantType string, keys map[string]*tuf.Key) (*VerifyResult, error) {
	if e.PayloadType != wantType {
		return nil, fmt.Errorf("%w: expected %s, found %q", ErrPayloadType, wantType, e.PayloadType)
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
	res := &VerifyResult{}
	seen := map[string]bool{}
	for _, s := range e.Signatures {
		k, ok := keys[s.KeyID]
		if !ok || seen[k.Fingerprint()] || k.Verify(msg, s.Sig) != nil {
			continue
		}
		seen[k.Fingerprint()] = true
		res.Signers = append(res.Signers, s.KeyID)
	}
	sort.Strings(res.Signers)
	return res, nil
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
