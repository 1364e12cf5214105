package cjson

import (
	"errors"
	"strconv"
	"sync"
)

// Encoder writes canonical JSON straight into a byte buffer. Callers write
// object members in canonical order; the encoder checks the order as it
// goes and remembers the first mistake, which Bytes returns. Nothing is ever
// re-sorted behind the caller's back, so the bytes are exactly the calls.
type Encoder struct {
	// FileForm escapes control characters (U+0000 to U+001F) in strings as
	// JSON requires. Canonical JSON leaves them raw — a PEM key's newlines
	// are signed as raw newline bytes — but raw control characters are not
	// valid JSON, so no TUF client could read a file written that way.
	// Conclave writes files in this form: canonical in every other respect,
	// and it parses back to exactly the values that were signed.
	FileForm bool

	buf   []byte
	stack []frame
	err   error
}

type frame struct {
	object  bool
	n       int    // members or elements written so far
	lastKey string // objects: the previous member name
	keyed   bool   // objects: a name was written and awaits its value
}

// WithEncoder lends f an empty Encoder (canonical form) from a pool, for
// bytes that are only looked at, hashed or compared, and never kept: the
// buffer is reused once f returns. Keyids and possession statements are
// written this way for every key and request of a bundle.
func WithEncoder(f func(e *Encoder)) {
	e := encoders.Get().(*Encoder)
	*e = Encoder{buf: e.buf[:0], stack: e.stack[:0]}
	f(e)
	encoders.Put(e)
}

var encoders = sync.Pool{New: func() any { return new(Encoder) }}

// ErrOrder reports members written out of canonical order or twice.
var ErrOrder = errors.New("object members not in canonical order")

// Reset empties the encoder for reuse, keeping its buffer.
func (e *Encoder) Reset() {
	e.buf, e.stack, e.err = e.buf[:0], e.stack[:0], nil
}

// Grow reserves room for n more bytes.
func (e *Encoder) Grow(n int) { e.ensure(n) }

func (e *Encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// beforeValue writes the comma between array elements and checks that an
// object member's value follows its name.
func (e *Encoder) beforeValue() {
	if len(e.stack) == 0 {
		if len(e.buf) > 0 {
			e.fail(errors.New("more than one top-level value"))
		}
		return
	}
	f := &e.stack[len(e.stack)-1]
	if f.object {
		if !f.keyed {
			e.fail(errors.New("object value written without a member name"))
		}
		f.keyed = false
		return
	}
	if f.n > 0 {
		e.buf = append(e.buf, ',')
	}
	f.n++
}

// Name writes an object member's name; its value must follow.
func (e *Encoder) Name(name string) {
	if len(e.stack) == 0 || !e.stack[len(e.stack)-1].object {
		e.fail(errors.New("member name written outside an object"))
		return
	}
	f := &e.stack[len(e.stack)-1]
	if f.keyed {
		e.fail(errors.New("member name written where a value was expected"))
	}
	if f.n > 0 {
		if name <= f.lastKey {
			e.fail(errorsOrder(f.lastKey, name))
		}
		e.buf = append(e.buf, ',')
	}
	f.n++
	f.lastKey = name
	f.keyed = true
	e.ensure(len(name) + 3)
	e.buf = appendString(e.buf, name, e.FileForm)
	e.buf = append(e.buf, ':')
}

func errorsOrder(prev, next string) error {
	return &orderError{prev: prev, next: next}
}

type orderError struct{ prev, next string }

func (e *orderError) Error() string {
	return "member " + strconv.Quote(e.next) + " written after " + strconv.Quote(e.prev) + ": " + ErrOrder.Error()
}
func (e *orderError) Unwrap() error { return ErrOrder }

// BeginObject opens an object.
func (e *Encoder) BeginObject() {
	e.beforeValue()
	e.buf = append(e.buf, '{')
	e.stack = append(e.stack, frame{object: true})
}

// EndObject closes an object.
func (e *Encoder) EndObject() {
	if len(e.stack) == 0 || !e.stack[len(e.stack)-1].object || e.stack[len(e.stack)-1].keyed {
		e.fail(errors.New("unbalanced EndObject"))
		return
	}
	e.stack = e.stack[:len(e.stack)-1]
	e.buf = append(e.buf, '}')
}

// BeginArray opens an array.
func (e *Encoder) BeginArray() {
	e.beforeValue()
	e.buf = append(e.buf, '[')
	e.stack = append(e.stack, frame{})
}

// EndArray closes an array.
func (e *Encoder) EndArray() {
	if len(e.stack) == 0 || e.stack[len(e.stack)-1].object {
		e.fail(errors.New("unbalanced EndArray"))
		return
	}
	e.stack = e.stack[:len(e.stack)-1]
	e.buf = append(e.buf, ']')
}

// String writes a string.
func (e *Encoder) String(s string) {
	e.beforeValue()
	e.ensure(len(s) + 2)
	e.buf = appendString(e.buf, s, e.FileForm)
}

// ensure makes room for n more bytes, doubling the buffer: append's own
// growth for large slices is gentler and copies a large document many times.
func (e *Encoder) ensure(n int) {
	if cap(e.buf)-len(e.buf) >= n {
		return
	}
	c := max(2*cap(e.buf), len(e.buf)+n, 128)
	b := make([]byte, len(e.buf), c)
	copy(b, e.buf)
	e.buf = b
}

// Canonical splices in b, the canonical encoding of one value made by this
// package. In file form its control characters are escaped: canonical JSON
// has no whitespace outside strings, so every byte below 0x20 in it is
// inside a string, and escaping them all is exactly the file form.
func (e *Encoder) Canonical(b []byte) {
	e.beforeValue()
	e.ensure(len(b))
	if !e.FileForm {
		e.buf = append(e.buf, b...)
		return
	}
	start := 0
	for i, c := range b {
		if c < 0x20 {
			e.buf = append(e.buf, b[start:i]...)
			e.buf = appendControl(e.buf, c)
			start = i + 1
		}
	}
	e.buf = append(e.buf, b[start:]...)
}

// Splice writes the one value sub encoded, as Canonical does, or fails
// with the first mistake sub made: a part of a large document can be
// encoded on another core and written in its place. sub writes canonical
// form; the file form, if e has it, is applied here.
func (e *Encoder) Splice(sub *Encoder) {
	b, err := sub.Bytes()
	switch {
	case err != nil:
		e.fail(err)
	case sub.FileForm:
		e.fail(errors.New("spliced value written in file form, not canonical form"))
	case len(b) == 0:
		e.fail(errors.New("spliced encoder holds no value"))
	default:
		e.Canonical(b)
	}
}

// Int writes an integer.
func (e *Encoder) Int(n int64) {
	e.beforeValue()
	e.buf = strconv.AppendInt(e.buf, n, 10)
}

// Bool writes true or false.
func (e *Encoder) Bool(b bool) {
	e.beforeValue()
	if b {
		e.buf = append(e.buf, "true"...)
	} else {
		e.buf = append(e.buf, "false"...)
	}
}

// Null writes null.
func (e *Encoder) Null() {
	e.beforeValue()
	e.buf = append(e.buf, "null"...)
}

// Value writes a whole parsed or constructed value.
func (e *Encoder) Value(v Value) {
	switch v.kind {
	case Null:
		e.Null()
	case Bool:
		e.Bool(v.n != 0)
	case Int:
		e.Int(v.n)
	case String:
		e.String(v.s)
	case Array:
		e.BeginArray()
		for _, item := range v.arr {
			e.Value(item)
		}
		e.EndArray()
	case Object:
		e.BeginObject()
		for _, m := range v.obj {
			e.Name(m.Name)
			e.Value(m.Value)
		}
		e.EndObject()
	}
}

// Bytes returns the encoding, or the first mistake made while writing it.
func (e *Encoder) Bytes() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	if len(e.stack) != 0 {
		return nil, errors.New("unclosed array or object")
	}
	return e.buf, nil
}

// appendString writes s in double quotes with only '\\' and '"' escaped, as
// canonical JSON requires (securesystemslib's encode_canonical does exactly
// this; every other byte passes through unchanged). In file form, control
// characters are escaped too: \\b \\t \\n \\f \\r by name, the rest as \\u00XX
// (the escapes Python's json module writes).
func appendString(b []byte, s string, fileForm bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '"' && c != '\\' && (c >= 0x20 || !fileForm) {
			continue
		}
		b = append(b, s[start:i]...)
		if c < 0x20 {
			b = appendControl(b, c)
		} else {
			b = append(b, '\\', c)
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendControl(b []byte, c byte) []byte {
	switch c {
	case '\b':
		return append(b, '\\', 'b')
	case '\t':
		return append(b, '\\', 't')
	case '\n':
		return append(b, '\\', 'n')
	case '\f':
		return append(b, '\\', 'f')
	case '\r':
		return append(b, '\\', 'r')
	}
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
}
