package cjson

import (
	"slices"
)

// Decoder reads one JSON document with exactly the strictness of Parse —
// the same grammar, limits and checks, the same errors at the same offsets
// with the same paths — but hands values to the caller as it meets them
// instead of building the whole tree first. A reader of a fixed format
// (such as a delegation request, of which a bundle holds 100,000) uses it
// to keep only what it needs; parts it wants whole it takes as a Value.
//
// The caller reads exactly one value, then calls Finish. Object and Array
// call back for each member or element, and the callback must read that
// one value (with Value, or with Object, Array or String after a Peek that
// said so).
type Decoder struct {
	p *parser
}

// NewDecoder reads data. Close gives its scratch space back for the next
// decoder; the strings and values it returned stay valid.
func NewDecoder(data []byte, opts Options) *Decoder {
	p := parsers.Get().(*parser)
	p.src, p.pos, p.depth, p.maxDepth = string(data), 0, 0, opts.MaxDepth
	if p.maxDepth <= 0 {
		p.maxDepth = DefaultMaxDepth
	}
	p.skipSpace()
	return &Decoder{p: p}
}

// Close ends the decoder's use.
func (d *Decoder) Close() {
	if d.p != nil {
		d.p.release()
		d.p = nil
	}
}

// Peek returns the kind of the next value without reading it. Where the
// next bytes cannot start a value, it returns the error Parse gives there.
func (d *Decoder) Peek() (Kind, error) {
	p := d.p
	if p.pos >= len(p.src) {
		return 0, p.errorf("unexpected end of input")
	}
	if k, ok := startsKind(p.src[p.pos]); ok {
		return k, nil
	}
	_, err := p.value() // the error Parse gives at this byte
	return 0, err
}

// Value reads the next value whole, as Parse would.
func (d *Decoder) Value() (Value, error) {
	return d.p.value()
}

// String reads the next value, which Peek has said is a string.
func (d *Decoder) String() (string, error) {
	return d.p.str()
}

// Object reads the next value, which Peek has said is an object, calling
// member with each name in the order written; member must read the value.
// Duplicate names are reported once the object has been read, as Parse
// reports them.
func (d *Decoder) Object(member func(name string) error) error {
	var buf [16]string
	names := buf[:0]
	err := d.p.eachMember(func(name string) error {
		names = append(names, name)
		return member(name)
	})
	if err != nil {
		return err
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return d.p.duplicate(names[i])
		}
	}
	return nil
}

// Array reads the next value, which Peek has said is an array, calling
// item for each element; item must read it.
func (d *Decoder) Array(item func(i int) error) error {
	return d.p.eachItem(item)
}

// Finish checks that nothing but whitespace follows the value.
func (d *Decoder) Finish() error {
	d.p.skipSpace()
	if d.p.pos != len(d.p.src) {
		return d.p.errorf("unexpected data after the end of the JSON value")
	}
	return nil
}

// Mark is a position saved by Save. Save and Restore let a reader try a
// fast path over a value and, if the value turns out to have another shape
// (or a syntax error), read it again from the start as a Value, which then
// meets the same error at the same place: the input is in memory, so going
// back is only a position.
type Mark struct {
	pos, depth, path int
}

// Save marks the position before the next value.
func (d *Decoder) Save() Mark {
	return Mark{pos: d.p.pos, depth: d.p.depth, path: len(d.p.path)}
}

// Restore goes back to a mark saved at the same nesting level.
func (d *Decoder) Restore(m Mark) {
	d.p.pos, d.p.depth, d.p.path = m.pos, m.depth, d.p.path[:m.path]
}
