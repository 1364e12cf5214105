package request

import (
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
)

// Payload types of the statements developer keys sign.
const (
	TypePossession = envelope.TypeProofOfPossession
	TypeKeyChange  = envelope.TypeKeyChange
)

// Statement formats.
const (
	PossessionFormat = "conclave-possession/1"
	KeyChangeFormat  = "conclave-keychange/1"
)

// Possession is what every key of a request signs: "for project P, in
// request R, made against version V of the delegating metadata, I hold one
// of these keys, and agree that this keyset with this threshold be
// trusted".
//
// The base version is what keeps a request from being replayed across
// time: without it, an add approved once, for a project removed since,
// could be sent again unchanged and approved again. Every ceremony signs
// a new version of the delegating metadata, so a statement is good for
// one base only.
type Possession struct {
	RequestID   string
	Project     string // normalised
	BaseVersion int64  // version of the delegating metadata
	Keyset      Keyset
}

// Payload is the statement's canonical JSON:
//
//	{"base_version":7,"format":"conclave-possession/1",
//	 "keys":{"keyids":[…],"threshold":n},"project":"…","request_id":"…"}
func (p Possession) Payload() []byte {
	return p.encode(new(cjson.Encoder))
}

// Matches reports whether payload is exactly this statement, without
// keeping a copy of it: an import compares 100,000 of them.
func (p Possession) Matches(payload []byte) (same bool) {
	cjson.WithEncoder(func(e *cjson.Encoder) {
		same = string(p.encode(e)) == string(payload)
	})
	return same
}

func (p Possession) encode(e *cjson.Encoder) []byte {
	// Written member by member (in canonical order) rather than through a
	// cjson.Value: this runs once per request of a 100,000-request bundle.
	e.Grow(190 + 68*len(p.Keyset.KeyIDs) + len(p.Project) + len(p.RequestID))
	e.BeginObject()
	e.Name("base_version")
	e.Int(p.BaseVersion)
	e.Name("format")
	e.String(PossessionFormat)
	e.Name("keys")
	e.BeginObject()
	e.Name("keyids")
	e.BeginArray()
	for _, id := range p.Keyset.KeyIDs {
		e.String(id)
	}
	e.EndArray()
	e.Name("threshold")
	e.Int(p.Keyset.Threshold)
	e.EndObject()
	e.Name("project")
	e.String(p.Project)
	e.Name("request_id")
	e.String(p.RequestID)
	e.EndObject()
	b, err := e.Bytes()
	if err != nil {
		panic("request: possession statement: " + err.Error())
	}
	return b
}

// PossessionFor is the statement a request's keys must have signed when
// the trusted delegating metadata is version base.
func (r *Request) PossessionFor(base int64) Possession {
	return Possession{RequestID: r.ID, Project: r.Name, BaseVersion: base, Keyset: r.Keyset()}
}

// Change is what a key-change statement authorises.
type Change string

// The changes a key-change statement may authorise.
const (
	ChangeRotate Change = "rotate"
	ChangeRemove Change = "remove"
)

// KeyChange is what a threshold of a project's current keys signs to
// authorise a rotation or removal: "for project P, delegated by version V
// of the delegating metadata to the keyset with hash H, we authorise
// replacing it with this new keyset (or removing it)".
type KeyChange struct {
	Project       string // normalised
	BaseVersion   int64  // version of the delegating metadata
	CurrentKeyset string // Keyset.Hash of the current delegation
	Change        Change
	NewKeyset     Keyset // rotate only
}

// Payload is the statement's canonical JSON:
//
//	{"base_version":7,"change":"rotate","current_keyset":"<hex>",
//	 "format":"conclave-keychange/1","new_keys":{"keyids":[…],"threshold":n},
//	 "project":"…"}
//
// new_keys is absent for a removal.
func (k KeyChange) Payload() []byte {
	m := []cjson.Member{
		{Name: "base_version", Value: cjson.IntValue(k.BaseVersion)},
		{Name: "change", Value: cjson.StringValue(string(k.Change))},
		{Name: "current_keyset", Value: cjson.StringValue(k.CurrentKeyset)},
		{Name: "format", Value: cjson.StringValue(KeyChangeFormat)},
		{Name: "project", Value: cjson.StringValue(k.Project)},
	}
	if k.Change == ChangeRotate {
		m = append(m, cjson.Member{Name: "new_keys", Value: k.NewKeyset.Value()})
	}
	return cjson.ObjectValue(m...).Canonical()
}

// ParsePossession reads a possession statement's payload strictly.
func ParsePossession(payload []byte) (Possession, error) {
	v, err := cjson.ParseWith(payload, cjson.Options{MaxDepth: 4})
	if err != nil {
		return Possession{}, err
	}
	if _, ok := v.Get("base_version"); !ok && v.Kind() == cjson.Object {
		return Possession{}, fmt.Errorf("base_version is missing, so the statement is not bound to a version of the delegating metadata")
	}
	o, err := exact(v, "base_version", "format", "keys", "project", "request_id")
	if err != nil {
		return Possession{}, err
	}
	if o["format"].Str() != PossessionFormat {
		return Possession{}, fmt.Errorf("format is %q, not %q", o["format"].Str(), PossessionFormat)
	}
	if o["base_version"].Kind() != cjson.Int {
		return Possession{}, fmt.Errorf("base_version must be an integer")
	}
	ks, err := parseKeyset(o["keys"], "keys")
	if err != nil {
		return Possession{}, err
	}
	return Possession{RequestID: o["request_id"].Str(), Project: o["project"].Str(), BaseVersion: o["base_version"].Int(), Keyset: ks}, nil
}

// ParseKeyChange reads a key-change statement's payload strictly.
func ParseKeyChange(payload []byte) (KeyChange, error) {
	v, err := cjson.ParseWith(payload, cjson.Options{MaxDepth: 4})
	if err != nil {
		return KeyChange{}, err
	}
	names := []string{"base_version", "change", "current_keyset", "format", "project"}
	if _, ok := v.Get("new_keys"); ok {
		names = append(names, "new_keys")
	}
	o, err := exact(v, names...)
	if err != nil {
		return KeyChange{}, err
	}
	if o["format"].Str() != KeyChangeFormat {
		return KeyChange{}, fmt.Errorf("format is %q, not %q", o["format"].Str(), KeyChangeFormat)
	}
	if o["base_version"].Kind() != cjson.Int {
		return KeyChange{}, fmt.Errorf("base_version must be an integer")
	}
	k := KeyChange{
		Project:       o["project"].Str(),
		BaseVersion:   o["base_version"].Int(),
		CurrentKeyset: o["current_keyset"].Str(),
		Change:        Change(o["change"].Str()),
	}
	switch k.Change {
	case ChangeRotate:
		nk, ok := o["new_keys"]
		if !ok {
			return KeyChange{}, fmt.Errorf("a rotation must name new_keys")
		}
		if k.NewKeyset, err = parseKeyset(nk, "new_keys"); err != nil {
			return KeyChange{}, err
		}
	case ChangeRemove:
		if _, ok := o["new_keys"]; ok {
			return KeyChange{}, fmt.Errorf("a removal has no new_keys")
		}
	default:
		return KeyChange{}, fmt.Errorf("change is %q, not rotate or remove", k.Change)
	}
	return k, nil
}

// exact checks v is an object with exactly the names; every member but
// keys objects ("keys", "new_keys") and base_version must be a string.
func exact(v cjson.Value, names ...string) (map[string]cjson.Value, error) {
	if v.Kind() != cjson.Object {
		return nil, fmt.Errorf("the statement must be a JSON object")
	}
	if len(v.Members()) != len(names) {
		return nil, fmt.Errorf("the statement must have exactly the members %v", names)
	}
	out := make(map[string]cjson.Value, len(names))
	for _, n := range names {
		m, ok := v.Get(n)
		if !ok {
			return nil, fmt.Errorf("the statement must have exactly the members %v", names)
		}
		switch n {
		case "keys", "new_keys", "base_version":
		default:
			if m.Kind() != cjson.String {
				return nil, fmt.Errorf("%s must be a string", n)
			}
		}
		out[n] = m
	}
	return out, nil
}

func parseKeyset(v cjson.Value, path string) (Keyset, error) {
	if v.Kind() != cjson.Object || len(v.Members()) != 2 {
		return Keyset{}, fmt.Errorf("%s must be an object with exactly keyids and threshold", path)
	}
	ids, ok1 := v.Get("keyids")
	th, ok2 := v.Get("threshold")
	if !ok1 || !ok2 || ids.Kind() != cjson.Array || th.Kind() != cjson.Int {
		return Keyset{}, fmt.Errorf("%s must be an object with exactly keyids (an array) and threshold (an integer)", path)
	}
	var list []string
	for _, id := range ids.Items() {
		if id.Kind() != cjson.String {
			return Keyset{}, fmt.Errorf("%s.keyids must hold strings", path)
		}
		list = append(list, id.Str())
	}
	return NewKeyset(list, th.Int()), nil
}
