package tuf

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// FieldError is a metadata value that breaks a rule: where (the JSON path)
// and which rule.
type FieldError struct {
	Path string
	Msg  string
	Err  error // the cause, when there is one (such as ErrInvalidKey); Msg is its text
}

// Unwrap lets errors.Is find the cause (ErrInvalidKey for a bad key).
func (e *FieldError) Unwrap() error { return e.Err }

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func fieldErr(path, format string, a ...any) error {
	e := fmt.Errorf(format, a...)
	return &FieldError{Path: path, Msg: e.Error(), Err: errors.Unwrap(e)}
}

// fields reads the members of one JSON object, tracking which ones were
// used so that the rest can be kept verbatim as unknown fields.
type fields struct {
	path string
	obj  []cjson.Member
	used []bool
	err  error
}

func objectAt(v cjson.Value, path string) (*fields, error) {
	if v.Kind() != cjson.Object {
		return nil, fieldErr(path, "must be an object, not %s", v.Kind())
	}
	m := v.Members()
	return &fields{path: path, obj: m, used: make([]bool, len(m))}, nil
}

func (f *fields) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

func (f *fields) at(name string) string { return cjson.PathField(f.path, name) }

// get finds a member; a missing required member is an error.
func (f *fields) get(name string, required bool) (cjson.Value, bool) {
	for i := range f.obj {
		if f.obj[i].Name == name {
			f.used[i] = true
			return f.obj[i].Value, true
		}
	}
	if required {
		f.fail(fieldErr(f.at(name), "is missing"))
	}
	return cjson.Value{}, false
}

func (f *fields) kind(name string, required bool, k cjson.Kind) (cjson.Value, bool) {
	v, ok := f.get(name, required)
	if !ok {
		return v, false
	}
	if v.Kind() != k {
		f.fail(fieldErr(f.at(name), "must be %s, not %s", k, v.Kind()))
		return v, false
	}
	return v, true
}

func (f *fields) str(name string) string {
	v, _ := f.kind(name, true, cjson.String)
	return v.Str()
}

func (f *fields) integer(name string) int64 {
	v, _ := f.kind(name, true, cjson.Int)
	return v.Int()
}

func (f *fields) boolean(name string) bool {
	v, _ := f.kind(name, true, cjson.Bool)
	return v.Bool()
}

// optBool reads an optional boolean, remembering whether it was present so
// that a round trip writes exactly what was read.
func (f *fields) optBool(name string) *bool {
	v, ok := f.kind(name, false, cjson.Bool)
	if !ok {
		return nil
	}
	b := v.Bool()
	return &b
}

func (f *fields) strings(name string, required bool) ([]string, bool) {
	v, ok := f.kind(name, required, cjson.Array)
	if !ok {
		return nil, false
	}
	out := make([]string, len(v.Items()))
	for i, item := range v.Items() {
		if item.Kind() != cjson.String {
			f.fail(fieldErr(cjson.PathIndex(f.at(name), i), "must be a string, not %s", item.Kind()))
			return nil, false
		}
		out[i] = item.Str()
	}
	return out, true
}

// rest returns the members not read, in canonical order.
func (f *fields) rest() []cjson.Member {
	var out []cjson.Member
	for i, m := range f.obj {
		if !f.used[i] {
			out = append(out, m)
		}
	}
	return out
}

// writeObject writes an object whose known members are written by write (in
// canonical order, through e.Name) merged with the unknown members kept
// from parsing. known lists the known names in sorted order, so that the
// unknown ones can be slotted in between.
func writeObject(e *cjson.Encoder, unknown []cjson.Member, known []string, write func(name string)) {
	e.BeginObject()
	u := 0
	for _, name := range known {
		for u < len(unknown) && unknown[u].Name < name {
			e.Name(unknown[u].Name)
			e.Value(unknown[u].Value)
			u++
		}
		write(name)
	}
	for ; u < len(unknown); u++ {
		e.Name(unknown[u].Name)
		e.Value(unknown[u].Value)
	}
	e.EndObject()
}

func quote(s string) string { return strconv.Quote(s) }
