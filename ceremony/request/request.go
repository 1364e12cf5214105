// Package request reads and writes delegation requests: what the online
// repository asks the offline key holders to sign (docs/formats/request.md).
//
// The repository may be compromised, so a request only asks. Parse checks
// the format strictly and keeps what it read; whether a request may be
// approved is decided by package validate, against the trusted state.
//
// # Statements
//
// Two kinds of statement are signed by developer keys, each in a typed
// envelope (package envelope) so that no other signature can pass for one:
//
//   - the possession statement (TypePossession), signed by every key a
//     request lists: the developer controls every key the holders are
//     about to trust;
//   - the key-change statement (TypeKeyChange), signed by a threshold of a
//     project's current keys: the authority to rotate or remove them.
package request

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// Format is the value of a request's "format" member.
const Format = "conclave-request/1"

// Kind is what a request asks for.
type Kind string

// The kinds of request.
const (
	Add     Kind = "add"     // delegate a new project
	Rotate  Kind = "rotate"  // replace keys or threshold, with the current keys' authority
	Remove  Kind = "remove"  // end a delegation, with the current keys' authority
	Recover Kind = "recover" // rotate (keys given) or remove (no keys) without that authority
)

// TimeLayout is how times are written: UTC, whole seconds, as TUF's
// "expires".
const TimeLayout = "2006-01-02T15:04:05Z"

// Limits for a request's own fields.
const (
	MaxIDLength = 64
)

// KeyEntry is one key as read from a request. Key is nil when the object
// is not a usable key; Err then says why.
type KeyEntry struct {
	Path string
	Key  *tuf.Key
	Err  error
	// RSABits is the modulus size of an RSA key, also when it is outside
	// the sizes the tuf package reads (so that such a key gets its own
	// code); 0 for other keys or an unreadable one.
	RSABits int
	// Plain is false when the key object has members other than keytype,
	// keyval.public and scheme (they would be signed into the metadata).
	Plain bool
}

// Request is a parsed delegation request.
type Request struct {
	ID      string
	Kind    Kind
	Project string // as written
	Name    string // normalised (PEP 503); "" when the name is refused
	NameErr error

	// Keys and Threshold are the new keyset: absent (nil, 0) for remove
	// and for a recovery that removes.
	Keys      []KeyEntry
	Threshold int64

	Made        time.Time
	RequestedBy string

	// Possession and Authorisation are the envelopes, when present
	// (HasPossession, HasAuth). An envelope that cannot be read is nil
	// with its error kept, for the validation to report with its own code.
	Possession    *envelope.Envelope
	PossessionErr error
	HasPossession bool
	Authorisation *envelope.Envelope
	AuthErr       error
	HasAuth       bool

	// possessionSigners is what VerifyPossession found, once it has run.
	possessionSigners []string
	possessionErr     error
	possessionDone    bool
}

// VerifyPossession checks the signatures of the possession envelope
// against the request's own keys and remembers which keys made a valid one
// (see PossessionSigners). It checks signatures only: whether the signed
// statement is the one this request needs, and whether its keys are
// acceptable, is for the validation to judge, and to judge first: a key
// the policy refuses must not cost a verification.
//
// It is separate from Parse so that validation can run these checks, most
// of an import's work, in a pass of their own on every core. It verifies
// nothing when there is nothing worth verifying: no envelope of the
// possession type, a key that could not be read, a signature by a key
// not listed or a second one by one key (envelope.CheckSigners), or a key
// without a signature (UnsignedKeys) — each refuses the request whatever
// the signatures are. Verification stops at the first bad signature.
func (r *Request) VerifyPossession() {
	if r.possessionDone || r.Possession == nil || r.Possession.PayloadType != TypePossession {
		return
	}
	keys := make(map[string]*tuf.Key, len(r.Keys))
	for _, e := range r.Keys {
		if e.Key == nil {
			return
		}
		keys[e.Key.ID()] = e.Key
	}
	r.possessionDone = true
	if len(r.UnsignedKeys()) > 0 {
		// Refused whatever the signatures are; only a signer that may
		// not sign is worth saying as well.
		r.possessionErr = r.Possession.CheckSigners(keys)
		return
	}
	// Verify checks the signers before it verifies anything.
	res, err := r.Possession.Verify(TypePossession, keys)
	if err != nil {
		r.possessionErr = err
		return
	}
	r.possessionSigners = res.Signers
}

// PossessionSigners returns the keyids, sorted, of the request's keys that
// made a valid signature over the possession envelope, verifying them
// first if VerifyPossession has not run yet. The request must have a
// possession envelope of the possession type and only readable keys. The
// error is an *envelope.SignatureError when a signature is refused; with
// UnsignedKeys, nothing is verified and there are no signers.
func (r *Request) PossessionSigners() ([]string, error) {
	r.VerifyPossession()
	if !r.possessionDone {
		return nil, fmt.Errorf("request %s: no possession envelope with readable keys to verify", r.ID)
	}
	return r.possessionSigners, r.possessionErr
}

// UnsignedKeys are the indexes in Keys of the keys that no signature of
// the possession envelope names (read, not verified).
func (r *Request) UnsignedKeys() []int {
	if r.Possession == nil {
		return nil
	}
	var out []int
	for i, e := range r.Keys {
		if e.Key == nil {
			continue
		}
		named := false
		for _, s := range r.Possession.Signatures {
			if s.KeyID == e.Key.ID() {
				named = true
				break
			}
		}
		if !named {
			out = append(out, i)
		}
	}
	return out
}

// Removes reports whether the request ends the delegation.
func (r *Request) Removes() bool {
	return r.Kind == Remove || (r.Kind == Recover && r.Keys == nil)
}

// Error is a request that cannot be read: a code and a sentence.
type Error struct {
	Code verdict.Code
	Path string // JSON path, "" for the whole file
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

func formatErr(path, format string, a ...any) *Error {
	return &Error{Code: verdict.FormatInvalid, Path: path, Msg: fmt.Sprintf(format, a...)}
}

// Limits bound a request's free-text fields and JSON nesting.
type Limits struct {
	MaxDepth       int
	MaxProjectName int
	MaxRequestedBy int
	MaxKeys        int
}

// Parse reads one request (a line of a batch) strictly: strict JSON (no duplicate names,
// nothing after the value, valid UTF-8, bounded depth), exactly the
// members its kind allows, each of the right type. Keys that cannot be
// used and a refused project name do not stop the parse: they are kept in
// the Request for the validation to report with their own codes.
func Parse(data []byte, lim Limits) (*Request, error) {
	d := cjson.NewDecoder(data, cjson.Options{MaxDepth: lim.MaxDepth})
	defer d.Close()
	var raw rawRequest
	err := readRaw(d, &raw)
	if err == nil {
		err = d.Finish()
	}
	if err != nil {
		return nil, &Error{Code: verdict.JSONInvalid, Msg: err.Error(), Err: err}
	}
	return raw.request(lim)
}

// FromValue reads a request from a parsed value, as Parse reads it from
// bytes.
func FromValue(v cjson.Value, lim Limits) (*Request, error) {
	return rawFromValue(v).request(lim)
}

// request checks the collected members, in a fixed order, into a Request.
func (raw *rawRequest) request(lim Limits) (*Request, error) {
	if raw.top != cjson.Object {
		return nil, formatErr("", "a request must be a JSON object, not %s", raw.top)
	}
	if raw.hasUnknown {
		return nil, formatErr(cjson.PathField("", raw.unknown), "is not a member a request may have")
	}
	for _, f := range requiredFields {
		if !raw.has[f] {
			return nil, formatErr(fieldNames[f], "is missing")
		}
	}
	r := &Request{}
	str := func(name string) (string, error) {
		m := raw.vals[fieldIndex(name)]
		if m.Kind() != cjson.String {
			return "", formatErr(name, "must be a string, not %s", m.Kind())
		}
		return m.Str(), nil
	}
	f, err := str("format")
	if err != nil {
		return nil, err
	}
	if f != Format {
		return nil, formatErr("format", "is %q; this version of Conclave reads %q", f, Format)
	}
	if r.ID, err = str("id"); err != nil {
		return nil, err
	}
	if err := CheckID(r.ID); err != nil {
		return nil, formatErr("id", "%v", err)
	}
	k, err := str("kind")
	if err != nil {
		return nil, err
	}
	switch Kind(k) {
	case Add, Rotate, Remove, Recover:
		r.Kind = map[Kind]Kind{Add: Add, Rotate: Rotate, Remove: Remove, Recover: Recover}[Kind(k)] // the constant, not a piece of the file
	default:
		return nil, formatErr("kind", "is %q; it must be add, rotate, remove or recover", k)
	}
	if r.Project, err = str("project"); err != nil {
		return nil, err
	}
	r.Name, r.NameErr = Normalize(r.Project, lim.MaxProjectName)
	made, err := str("made")
	if err != nil {
		return nil, err
	}
	if r.Made, err = ParseTime(made); err != nil {
		return nil, formatErr("made", "%v", err)
	}
	if r.RequestedBy, err = str("requested_by"); err != nil {
		return nil, err
	}
	if err := CheckText(r.RequestedBy, lim.MaxRequestedBy); err != nil {
		return nil, formatErr("requested_by", "%v", err)
	}

	hasKeys := raw.hasKeys
	th, hasTh := raw.vals[fThreshold], raw.has[fThreshold]
	possession, hasPossession := raw.vals[fPossession], raw.has[fPossession]
	authorisation, hasAuth := raw.vals[fAuthorisation], raw.has[fAuthorisation]
	r.HasPossession, r.HasAuth = hasPossession, hasAuth
	switch {
	case r.Kind == Remove && (hasKeys || hasTh || r.HasPossession):
		return nil, formatErr("", "a remove request has no keys, threshold or possession")
	case (r.Kind == Add || r.Kind == Rotate) && !hasKeys:
		return nil, formatErr("keys", "is missing (an %s request names the new keys)", r.Kind)
	case hasKeys != hasTh:
		return nil, formatErr("", "keys and threshold go together: give both or neither")
	case (r.Kind == Add || r.Kind == Recover) && r.HasAuth:
		return nil, formatErr("authorisation", "only rotate and remove requests carry a key-change authorisation")
	case !hasKeys && r.HasPossession:
		return nil, formatErr("possession", "a request without keys has nothing to prove possession of")
	}
	if hasKeys {
		if raw.keysKind != cjson.Array {
			return nil, formatErr("keys", "must be an array, not %s", raw.keysKind)
		}
		if len(raw.keys) == 0 {
			return nil, formatErr("keys", "is empty; a project needs at least one key")
		}
		if lim.MaxKeys > 0 && len(raw.keys) > lim.MaxKeys {
			return nil, &Error{Code: verdict.TooManyKeys, Path: "keys", Msg: fmt.Sprintf("lists %d keys; at most %d are allowed", len(raw.keys), lim.MaxKeys)}
		}
		r.Keys = make([]KeyEntry, len(raw.keys))
		for i, rk := range raw.keys {
			p := keyPath(i)
			if rk.plain {
				// Copies of the strings, so that the key does not keep
				// the whole file alive.
				e := KeyEntry{Path: p, Plain: true}
				e.Key, e.Err = tuf.ParsePlainKey(detach(rk.keytype), strings.Clone(rk.public), detach(rk.scheme), p)
				e.RSABits = rsaBits(e.Key, e.Err)
				r.Keys[i] = e
				continue
			}
			// Anything else is read as it is, to be refused with what
			// it holds.
			e := KeyEntry{Path: p, Plain: plainKeyObject(rk.v)}
			e.Key, e.Err = tuf.ParseKey(rk.v, p)
			e.RSABits = rsaBits(e.Key, e.Err)
			r.Keys[i] = e
		}
		if th.Kind() != cjson.Int {
			return nil, formatErr("threshold", "must be an integer, not %s", th.Kind())
		}
		r.Threshold = th.Int()
	}
	// The envelopes are read now, so that nothing of the parsed JSON
	// tree outlives the parse: a bundle holds up to 100,000 requests.
	if hasPossession {
		r.Possession, r.PossessionErr = envelope.Parse(possession, "possession")
		detachEnvelope(r.Possession)
	}
	if hasAuth {
		r.Authorisation, r.AuthErr = envelope.Parse(authorisation, "authorisation")
		detachEnvelope(r.Authorisation)
	}
	r.ID, r.Project, r.RequestedBy = strings.Clone(r.ID), strings.Clone(r.Project), strings.Clone(r.RequestedBy)
	return r, nil
}

// The parser's strings share the memory of the whole file they were read
// from, so one string kept keeps the file. What a Request keeps is copied
// out (the key strings, detachEnvelope, strings.Clone, detach), which for
// 100,000 requests is the difference of about 130 MB.

// keyPaths are the JSON paths of the first keys, written once.
var keyPaths = func() (p [16]string) {
	for i := range p {
		p[i] = cjson.PathIndex("keys", i)
	}
	return p
}()

func keyPath(i int) string {
	if i < len(keyPaths) {
		return keyPaths[i]
	}
	return cjson.PathIndex("keys", i)
}

// common are the values nearly every request carries; detach returns
// these constants rather than 100,000 copies of each.
var common = [...]string{tuf.KeyTypeEd25519, tuf.KeyTypeECDSA, tuf.KeyTypeRSA, tuf.SchemeECDSAP256, tuf.SchemeECDSAP384, tuf.SchemeRSAPSSSHA2, TypePossession, TypeKeyChange}

// detach returns a string that does not share the parsed file's memory.
func detach(s string) string {
	for _, c := range common {
		if s == c {
			return c
		}
	}
	return strings.Clone(s)
}

func detachEnvelope(e *envelope.Envelope) {
	if e == nil {
		return
	}
	e.PayloadType = detach(e.PayloadType)
	for i := range e.Signatures {
		e.Signatures[i].KeyID = strings.Clone(e.Signatures[i].KeyID)
	}
}

// rsaBits is the modulus size of an RSA key as the tuf package read or
// refused it, without reading the key again.
func rsaBits(k *tuf.Key, err error) int {
	if k != nil {
		if r, ok := k.PublicKey().(*rsa.PublicKey); ok {
			return r.N.BitLen()
		}
	}
	if err == nil {
		return 0 // before errors.As, whose target would escape for every key
	}
	if se := (*tuf.RSASizeError)(nil); errors.As(err, &se) {
		return se.Bits
	}
	return 0
}

func plainKeyObject(raw cjson.Value) bool {
	if len(raw.Members()) != 3 {
		return false
	}
	kv, _ := raw.Get("keyval")
	return len(kv.Members()) == 1
}

// CheckID accepts request and bundle ids: 1 to 64 ASCII letters, digits,
// ".", "_" or "-", starting with a letter or digit.
func CheckID(id string) error {
	if id == "" || len(id) > MaxIDLength {
		return fmt.Errorf("an id must be 1 to %d characters long", MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')) {
			return fmt.Errorf("an id may hold only ASCII letters, digits, \".\", \"_\" and \"-\", starting with a letter or digit")
		}
	}
	return nil
}

// CheckText accepts free text shown to key holders: bounded, and with no
// control or formatting characters (a right-to-left override or an escape
// sequence could make the screen say something the bytes do not).
func CheckText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("is %d bytes long; at most %d are allowed", len(s), max)
	}
	for _, r := range s {
		if r == utf8.RuneError || (!unicode.IsGraphic(r) && r != ' ') || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("holds the character %U, which cannot be shown safely", r)
		}
	}
	return nil
}

// ParseTime reads a time written as TimeLayout.
func ParseTime(s string) (time.Time, error) {
	// time.Parse alone accepts more than the layout shows (one-digit
	// hours, fractions of a second); with every digit in its place, what
	// it accepts is exactly what Format writes back.
	if timeShape(s) {
		if t, err := time.Parse(TimeLayout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a UTC time written as 2026-01-02T15:04:05Z", s)
}

// timeShape reports whether s has TimeLayout's shape: digits where it has
// digits, its separators where it has separators.
func timeShape(s string) bool {
	if len(s) != len(TimeLayout) {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c, l := s[i], TimeLayout[i]; {
		case l >= '0' && l <= '9':
			if c < '0' || c > '9' {
				return false
			}
		case c != l:
			return false
		}
	}
	return true
}

// Keyset is a set of keys and the number that must sign, as the
// statements name it: keyids sorted and without repeats.
type Keyset struct {
	KeyIDs    []string
	Threshold int64
}

// NewKeyset sorts and deduplicates the keyids.
func NewKeyset(keyids []string, threshold int64) Keyset {
	ids := append([]string(nil), keyids...)
	sort.Strings(ids)
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return Keyset{KeyIDs: out, Threshold: threshold}
}

// Value is the keyset as a JSON object: {"keyids": [...], "threshold": n}.
func (k Keyset) Value() cjson.Value {
	ids := make([]cjson.Value, len(k.KeyIDs))
	for i, id := range k.KeyIDs {
		ids[i] = cjson.StringValue(id)
	}
	return cjson.ObjectValue(
		cjson.Member{Name: "keyids", Value: cjson.ArrayValue(ids...)},
		cjson.Member{Name: "threshold", Value: cjson.IntValue(k.Threshold)},
	)
}

// Hash is the lowercase hex SHA-256 of the keyset's canonical JSON: how
// a key-change statement names the current keyset, and how the published
// state is compared across bundles.
func (k Keyset) Hash() string {
	s := sha256.Sum256(k.Value().Canonical())
	return hex.EncodeToString(s[:])
}

// Equal reports whether two keysets are the same.
func (k Keyset) Equal(o Keyset) bool {
	if k.Threshold != o.Threshold || len(k.KeyIDs) != len(o.KeyIDs) {
		return false
	}
	for i := range k.KeyIDs {
		if k.KeyIDs[i] != o.KeyIDs[i] {
			return false
		}
	}
	return true
}

// Keyset returns the request's new keyset (the keyids of the keys that
// could be read).
func (r *Request) Keyset() Keyset {
	ids := make([]string, 0, len(r.Keys))
	for _, e := range r.Keys {
		if e.Key != nil {
			ids = append(ids, e.Key.ID())
		}
	}
	return NewKeyset(ids, r.Threshold)
}

// ChangeDigest names the change a request asks for, whatever its id: the
// hex SHA-256 of {"keys": keyset or null, "kind": …, "project": …}. A
// recovery's notice period is counted from when Conclave first saw this
// digest, so a repository cannot restart (or shorten) the period by
// sending the same change under a new id or date.
func (r *Request) ChangeDigest() string {
	keys := cjson.NullValue()
	if !r.Removes() {
		keys = r.Keyset().Value()
	}
	v := cjson.ObjectValue(
		cjson.Member{Name: "keys", Value: keys},
		cjson.Member{Name: "kind", Value: cjson.StringValue(string(r.Kind))},
		cjson.Member{Name: "project", Value: cjson.StringValue(r.Name)},
	)
	s := sha256.Sum256(v.Canonical())
	return hex.EncodeToString(s[:])
}
