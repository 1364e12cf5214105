package request

import (
	"errors"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// A request is read in two steps. First its members are collected into a
// rawRequest — by Parse straight from the bytes with a cjson.Decoder, or
// by FromValue from a parsed tree — and then rawRequest.request checks
// them, in one fixed order, into a Request. Both ways collect the same
// thing, so both give the same Request or the same error (FuzzParse holds
// them to it); Parse's way builds no tree for the request and its keys,
// which for a 100,000-request bundle is most of the parsing.

// The members a request may have, as slots of a rawRequest.
const (
	fFormat = iota
	fID
	fKind
	fProject
	fMade
	fRequestedBy
	fThreshold
	fPossession
	fAuthorisation
	nFields
)

var fieldNames = [nFields]string{"format", "id", "kind", "project", "made", "requested_by", "threshold", "possession", "authorisation"}

// requiredFields are the members every request has, in the order a
// missing one is reported.
var requiredFields = []int{fFormat, fID, fKind, fProject, fMade, fRequestedBy}

func fieldIndex(name string) int {
	for i, n := range fieldNames {
		if n == name {
			return i
		}
	}
	return -1
}

type rawRequest struct {
	top cjson.Kind // the document's kind; only an object is a request
	// unknown is the first member name, in byte order, that a request
	// may not have (hasUnknown says whether there is one).
	unknown    string
	hasUnknown bool
	vals       [nFields]cjson.Value
	has        [nFields]bool

	hasKeys  bool
	keysKind cjson.Kind
	keys     []rawKey
}

// rawKey is one element of "keys": a plain key object's three strings, or
// the element as read when it is anything else.
type rawKey struct {
	plain                   bool
	keytype, public, scheme string
	v                       cjson.Value
}

func (r *rawRequest) member(name string, v cjson.Value) {
	if i := fieldIndex(name); i >= 0 {
		r.vals[i], r.has[i] = v, true
		return
	}
	r.noteUnknown(name)
}

func (r *rawRequest) noteUnknown(name string) {
	if !r.hasUnknown || name < r.unknown {
		r.unknown, r.hasUnknown = name, true
	}
}

// rawFromValue collects a parsed request.
func rawFromValue(v cjson.Value) *rawRequest {
	r := &rawRequest{top: v.Kind()}
	for _, m := range v.Members() {
		if m.Name != "keys" {
			r.member(m.Name, m.Value)
			continue
		}
		r.hasKeys, r.keysKind = true, m.Value.Kind()
		for _, kv := range m.Value.Items() {
			r.keys = append(r.keys, rawKeyFromValue(kv))
		}
	}
	return r
}

// rawKeyFromValue recognises a plain key object:
// {"keytype": string, "keyval": {"public": string}, "scheme": string}.
func rawKeyFromValue(kv cjson.Value) rawKey {
	ms := kv.Members()
	if kv.Kind() == cjson.Object && len(ms) == 3 && ms[0].Name == "keytype" && ms[1].Name == "keyval" && ms[2].Name == "scheme" &&
		ms[0].Value.Kind() == cjson.String && ms[2].Value.Kind() == cjson.String {
		if pm := ms[1].Value.Members(); ms[1].Value.Kind() == cjson.Object && len(pm) == 1 && pm[0].Name == "public" && pm[0].Value.Kind() == cjson.String {
			return rawKey{plain: true, keytype: ms[0].Value.Str(), public: pm[0].Value.Str(), scheme: ms[2].Value.Str()}
		}
	}
	return rawKey{v: kv}
}

// readRaw collects a request from the decoder into r: one value, read
// member by member when it is an object.
func readRaw(d *cjson.Decoder, r *rawRequest) error {
	k, err := d.Peek()
	if err != nil {
		return err
	}
	r.top = k
	if k != cjson.Object {
		_, err := d.Value()
		return err
	}
	return d.Object(func(name string) error {
		if name == "keys" {
			return r.readKeys(d)
		}
		v, err := d.Value()
		r.member(name, v)
		return err
	})
}

func (r *rawRequest) readKeys(d *cjson.Decoder) error {
	r.hasKeys = true
	r.keys = make([]rawKey, 0, 2) // the usual number of developer keys
	k, err := d.Peek()
	if err != nil {
		return err
	}
	r.keysKind = k
	if k != cjson.Array {
		_, err := d.Value()
		return err
	}
	return d.Array(func(int) error {
		m := d.Save()
		if rk, ok := readPlainKey(d); ok {
			r.keys = append(r.keys, rk)
			return nil
		}
		// Another shape, or bad JSON: read it again whole, which meets
		// any syntax error at the same place Parse would.
		d.Restore(m)
		v, err := d.Value()
		r.keys = append(r.keys, rawKey{v: v})
		return err
	})
}

// errShape stops the fast path over a key that is not a plain key object.
var errShape = errors.New("not a plain key object")

// readPlainKey reads a plain key object, in whatever order its members are
// written, reporting false as soon as the value is anything else (the
// caller then reads it again whole).
func readPlainKey(d *cjson.Decoder) (rawKey, bool) {
	var rk rawKey
	if k, err := d.Peek(); err != nil || k != cjson.Object {
		return rk, false
	}
	// keyval is a plain member exactly when its public was read.
	var sawType, sawScheme, sawPublic bool
	err := d.Object(func(name string) error {
		switch name {
		case "keytype":
			sawType = true
			return readString(d, &rk.keytype)
		case "scheme":
			sawScheme = true
			return readString(d, &rk.scheme)
		case "keyval":
			if k, err := d.Peek(); err != nil || k != cjson.Object {
				return errShape
			}
			n := 0
			return d.Object(func(name string) error {
				if n++; n > 1 || name != "public" {
					return errShape
				}
				sawPublic = true
				return readString(d, &rk.public)
			})
		}
		return errShape
	})
	// A repeated name is an error from Object, so each was seen once.
	if err != nil || !sawType || !sawScheme || !sawPublic {
		return rawKey{}, false
	}
	rk.plain = true
	return rk, true
}

// readString reads a string into s, or stops the fast path.
func readString(d *cjson.Decoder, s *string) error {
	if k, err := d.Peek(); err != nil || k != cjson.String {
		return errShape
	}
	v, err := d.String()
	*s = v
	return err
}
