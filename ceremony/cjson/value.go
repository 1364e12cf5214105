// Package cjson parses JSON strictly and writes it in canonical form.
//
// The canonical form is the one the TUF specification (§4.2, "All of the
// formats are canonical JSON") and securesystemslib use, after OLPC's
// Canonical JSON: no whitespace, object members sorted by the bytes of their
// UTF-8 names, integers only, and strings written with only the backslash and
// the double quote escaped — every other byte, control characters included,
// is written as it is.
//
// Signatures are made over these bytes, so this package sits on the signing
// path that auditors read. It is kept small on purpose: [Parse] turns bytes
// into a [Value] tree, [Encoder] writes values one by one straight into a
// buffer and refuses members out of order, and [Value.Canonical] is the two
// put together.
//
// # Strictness
//
// Input comes from transfer media and is hostile until verified. [Parse]
// rejects what the JSON grammar (RFC 8259) rejects, and also: duplicate
// member names, numbers that are not integers in the int64 range (and "-0",
// which canonical encoders disagree about), strings that are not valid UTF-8
// (also through \u escapes: lone surrogates), nesting deeper than a limit,
// and anything but whitespace after the value. Every error says where: the
// byte offset and the JSON path (`signed.delegations.roles[3].threshold`).
package cjson

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Kind is the type of a JSON value.
type Kind uint8

// The JSON kinds. Numbers are always integers here.
const (
	Null Kind = iota
	Bool
	Int
	String
	Array
	Object
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "a boolean"
	case Int:
		return "an integer"
	case String:
		return "a string"
	case Array:
		return "an array"
	case Object:
		return "an object"
	}
	return "kind " + strconv.Itoa(int(k))
}

// Value is one parsed JSON value. Objects keep their members sorted by name,
// which is both canonical order and what makes lookups a binary search.
type Value struct {
	kind Kind
	n    int64 // Int, and Bool as 0 or 1
	s    string
	arr  []Value
	obj  []Member
}

// Member is one name/value pair of an object.
type Member struct {
	Name  string
	Value Value
}

// Constructors for building values in code.
func NullValue() Value           { return Value{kind: Null} }
func BoolValue(b bool) Value     { return Value{kind: Bool, n: b2i(b)} }
func IntValue(n int64) Value     { return Value{kind: Int, n: n} }
func StringValue(s string) Value { return Value{kind: String, s: s} }
func ArrayValue(items ...Value) Value {
	return Value{kind: Array, arr: items}
}

// ObjectValue builds an object. It panics on a duplicate name, which in code
// (as opposed to input) is a programming error.
func ObjectValue(members ...Member) Value {
	m := append([]Member(nil), members...)
	sortMembers(m)
	for i := 1; i < len(m); i++ {
		if m[i].Name == m[i-1].Name {
			panic("cjson: duplicate member " + strconv.Quote(m[i].Name))
		}
	}
	return Value{kind: Object, obj: m}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Kind reports the value's type.
func (v Value) Kind() Kind { return v.kind }

// Bool returns a boolean's value.
func (v Value) Bool() bool { return v.n != 0 }

// Int returns an integer's value.
func (v Value) Int() int64 { return v.n }

// Str returns a string's value.
func (v Value) Str() string { return v.s }

// Items returns an array's elements.
func (v Value) Items() []Value { return v.arr }

// Members returns an object's members in canonical order.
func (v Value) Members() []Member { return v.obj }

// Get finds an object member by name.
func (v Value) Get(name string) (Value, bool) {
	i := sort.Search(len(v.obj), func(i int) bool { return v.obj[i].Name >= name })
	if i < len(v.obj) && v.obj[i].Name == name {
		return v.obj[i].Value, true
	}
	return Value{}, false
}

// Equal reports whether two values are the same JSON value.
func (v Value) Equal(w Value) bool {
	if v.kind != w.kind || v.n != w.n || v.s != w.s || len(v.arr) != len(w.arr) || len(v.obj) != len(w.obj) {
		return false
	}
	for i := range v.arr {
		if !v.arr[i].Equal(w.arr[i]) {
			return false
		}
	}
	for i := range v.obj {
		if v.obj[i].Name != w.obj[i].Name || !v.obj[i].Value.Equal(w.obj[i].Value) {
			return false
		}
	}
	return true
}

// Canonical returns the canonical encoding of v.
func (v Value) Canonical() []byte {
	var e Encoder
	e.Value(v)
	b, err := e.Bytes()
	// Hand back only what was written, not the doubling slack.
	b = b[:len(b):len(b)]
	if err != nil {
		// A parsed or constructed Value is always in order; this is a bug.
		panic("cjson: " + err.Error())
	}
	return b
}

// sortMembers sorts by the bytes of the names (Go compares strings
// bytewise), which for UTF-8 is also code point order: the order
// securesystemslib's Python and Go encoders produce.
func sortMembers(m []Member) {
	slices.SortFunc(m, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
}

// PathField appends an object member to a JSON path for error messages:
// `signed.version`, or `keys["4e77…"]` when the name is not a plain word.
func PathField(path, name string) string {
	if isWord(name) {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	return path + "[" + strconv.Quote(name) + "]"
}

// PathIndex appends an array index to a JSON path.
func PathIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	// A byte loop: this runs for every key of a large delegating role.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
