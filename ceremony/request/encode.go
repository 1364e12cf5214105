package request

import (
	"time"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Draft is a request being written (by the intake side).
type Draft struct {
	ID          string
	Kind        Kind
	Project     string
	Keys        []*tuf.Key
	Threshold   int64
	Made        time.Time
	RequestedBy string
	// BaseVersion is the version of the delegating metadata the request
	// is made against, bound into the possession statement.
	BaseVersion   int64
	Possession    *envelope.Envelope
	Authorisation *envelope.Envelope
}

// Encode writes the request as canonical JSON in file form (control
// characters in strings escaped, so PEM keys stay valid JSON).
func (d *Draft) Encode() []byte {
	e := cjson.Encoder{FileForm: true}
	e.BeginObject()
	if d.Authorisation != nil {
		e.Name("authorisation")
		e.Canonical(d.Authorisation.Marshal())
	}
	e.Name("format")
	e.String(Format)
	e.Name("id")
	e.String(d.ID)
	if d.Keys != nil {
		e.Name("keys")
		e.BeginArray()
		for _, k := range d.Keys {
			e.Canonical(k.Canonical())
		}
		e.EndArray()
	}
	e.Name("kind")
	e.String(string(d.Kind))
	e.Name("made")
	e.String(d.Made.UTC().Format(TimeLayout))
	if d.Possession != nil {
		e.Name("possession")
		e.Canonical(d.Possession.Marshal())
	}
	e.Name("project")
	e.String(d.Project)
	e.Name("requested_by")
	e.String(d.RequestedBy)
	if d.Keys != nil {
		e.Name("threshold")
		e.Int(d.Threshold)
	}
	e.EndObject()
	b, err := e.Bytes()
	if err != nil {
		panic("request: encoding: " + err.Error())
	}
	return b
}

// PossessionStatement is the statement the draft's keys must sign.
func (d *Draft) PossessionStatement() (Possession, error) {
	name, err := Normalize(d.Project, 1<<10)
	if err != nil {
		return Possession{}, err
	}
	ids := make([]string, len(d.Keys))
	for i, k := range d.Keys {
		ids[i] = k.ID()
	}
	return Possession{RequestID: d.ID, Project: name, BaseVersion: d.BaseVersion, Keyset: NewKeyset(ids, d.Threshold)}, nil
}
