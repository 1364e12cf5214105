package cjson

import (
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultMaxDepth bounds nesting. TUF metadata nests about six levels deep;
// the limit is there so hostile input cannot exhaust the stack.
const DefaultMaxDepth = 64

// SyntaxError is a parse failure: what was wrong, at which byte offset, and
// at which JSON path.
type SyntaxError struct {
	Offset int    // byte offset into the input
	Path   string // JSON path of the value being read ("" for the top)
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("at byte %d: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("%s (at byte %d): %s", e.Path, e.Offset, e.Msg)
}

// Options adjust Parse.
type Options struct {
	// MaxDepth bounds nesting of arrays and objects; 0 means DefaultMaxDepth.
	MaxDepth int
}

// Parse reads exactly one JSON value from data (surrounded by optional
// whitespace) strictly; see the package documentation for what is rejected.
func Parse(data []byte) (Value, error) { return ParseWith(data, Options{}) }

// ParseWith is Parse with options.
func ParseWith(data []byte, opts Options) (Value, error) {
	p := parsers.Get().(*parser)
	defer p.release()
	p.src, p.pos, p.depth, p.maxDepth = string(data), 0, 0, opts.MaxDepth
	if p.maxDepth <= 0 {
		p.maxDepth = DefaultMaxDepth
	}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return Value{}, p.errorf("unexpected data after the end of the JSON value")
	}
	return v, nil
}

// parsers keeps parsers with their scratch stacks: an import parses
// 100,000 small files, and growing fresh stacks for each was a tenth of
// the parse.
var parsers = sync.Pool{New: func() any { return new(parser) }}

// maxPooledScratch bounds the scratch kept for the next parse, so one
// large document does not pin its stacks for good.
const maxPooledScratch = 1 << 10

func (p *parser) release() {
	// Popped stack entries are cleared as they are popped (see object);
	// after an error the stacks may still hold values, and the path
	// stack holds names: none may keep this input alive.
	clear(p.members)
	clear(p.items)
	clear(p.path[:cap(p.path)])
	if cap(p.members) > maxPooledScratch || cap(p.items) > maxPooledScratch || cap(p.path) > maxPooledScratch {
		return
	}
	*p = parser{members: p.members[:0], items: p.items[:0], path: p.path[:0]}
	parsers.Put(p)
}

// segment is one step of the current JSON path; kept as a stack and only
// turned into text when an error is reported.
type segment struct {
	name  string
	index int // -1 for an object member
}

type parser struct {
	src      string // one copy of the input; unescaped strings are slices of it
	pos      int
	depth    int
	maxDepth int
	path     []segment
	// members and items are scratch stacks shared by all nesting levels:
	// a container's children are gathered on top and then copied into a
	// slice of exactly the right size, so large documents do not leave a
	// trail of outgrown slices for the garbage collector.
	members []Member
	items   []Value
}

func (p *parser) errorf(format string, a ...any) error {
	path := ""
	for _, s := range p.path {
		if s.index < 0 {
			path = PathField(path, s.name)
		} else {
			path = PathIndex(path, s.index)
		}
	}
	return &SyntaxError{Offset: p.pos, Path: path, Msg: fmt.Sprintf(format, a...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (Value, error) {
	if p.pos >= len(p.src) {
		return Value{}, p.errorf("unexpected end of input")
	}
	c := p.src[p.pos]
	k, ok := startsKind(c)
	switch {
	case !ok:
		return Value{}, p.errorf("unexpected character %s", quoteByte(c))
	case k == Object:
		return p.object()
	case k == Array:
		return p.array()
	case k == String:
		s, err := p.str()
		return Value{kind: String, s: s}, err
	case k == Int:
		return p.number()
	case c == 't':
		return p.literal("true", Value{kind: Bool, n: 1})
	case c == 'f':
		return p.literal("false", Value{kind: Bool})
	default:
		return p.literal("null", Value{kind: Null})
	}
}

// startsKind is the kind of value a byte starts, if any: what value reads
// next, and what Decoder.Peek says it will.
func startsKind(c byte) (Kind, bool) {
	switch {
	case c == '{':
		return Object, true
	case c == '[':
		return Array, true
	case c == '"':
		return String, true
	case c == '-' || c >= '0' && c <= '9':
		return Int, true
	case c == 't' || c == 'f':
		return Bool, true
	case c == 'n':
		return Null, true
	}
	return 0, false
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.Quote(string(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (p *parser) literal(word string, v Value) (Value, error) {
	if len(p.src)-p.pos < len(word) || p.src[p.pos:p.pos+len(word)] != word {
		return Value{}, p.errorf("invalid literal (expected %s)", word)
	}
	p.pos += len(word)
	return v, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > p.maxDepth {
		return p.errorf("nested more than %d levels deep", p.maxDepth)
	}
	return nil
}

func (p *parser) object() (Value, error) {
	mark := len(p.members)
	sorted := true
	err := p.eachMember(func(name string) error {
		v, err := p.value()
		if err != nil {
			return err
		}
		if n := len(p.members); n > mark && p.members[n-1].Name >= name {
			sorted = false
		}
		p.members = append(p.members, Member{Name: name, Value: v})
		return nil
	})
	if err != nil {
		return Value{}, err
	}
	members := make([]Member, len(p.members)-mark)
	copy(members, p.members[mark:])
	clear(p.members[mark:]) // drop references held by the scratch stack
	p.members = p.members[:mark]
	if !sorted {
		sortMembers(members)
	}
	for i := 1; i < len(members); i++ {
		if members[i].Name == members[i-1].Name {
			return Value{}, p.duplicate(members[i].Name)
		}
	}
	return Value{kind: Object, obj: members}, nil
}

// duplicate reports a member name found twice in the object just read.
// Both Parse and Decoder look for duplicates only after the whole object
// has been read, so both report the same first error for the same input.
func (p *parser) duplicate(name string) error {
	p.path = append(p.path, segment{name: name, index: -1})
	return p.errorf("duplicate member name %s", strconv.Quote(name))
}

// eachMember reads an object, from its "{" to just after its "}",
// calling member after each name and its colon; member must read the
// value. The grammar, the depth limit and the JSON path of every error
// are this loop's, whoever reads the values.
func (p *parser) eachMember(member func(name string) error) error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++ // '{'
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		p.depth--
		return nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return p.errorf("expected a member name in double quotes")
		}
		name, err := p.str()
		if err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.errorf("expected ':' after member name %s", strconv.Quote(name))
		}
		p.pos++
		p.skipSpace()
		p.path = append(p.path, segment{name: name, index: -1})
		if err := member(name); err != nil {
			return err
		}
		p.path = p.path[:len(p.path)-1]
		p.skipSpace()
		if p.pos >= len(p.src) {
			return p.errorf("unexpected end of input inside an object")
		}
		if p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.src[p.pos] == '}' {
			p.pos++
			break
		}
		return p.errorf("expected ',' or '}' in an object, found %s", quoteByte(p.src[p.pos]))
	}
	p.depth--
	return nil
}

func (p *parser) array() (Value, error) {
	mark := len(p.items)
	err := p.eachItem(func(int) error {
		v, err := p.value()
		if err != nil {
			return err
		}
		p.items = append(p.items, v)
		return nil
	})
	if err != nil {
		return Value{}, err
	}
	items := make([]Value, len(p.items)-mark)
	copy(items, p.items[mark:])
	clear(p.items[mark:])
	p.items = p.items[:mark]
	return Value{kind: Array, arr: items}, nil
}

// eachItem reads an array, from its "[" to just after its "]", calling
// item for each element, which item must read.
func (p *parser) eachItem(item func(i int) error) error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++ // '['
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		p.depth--
		return nil
	}
	for i := 0; ; i++ {
		p.skipSpace()
		p.path = append(p.path, segment{index: i})
		if err := item(i); err != nil {
			return err
		}
		p.path = p.path[:len(p.path)-1]
		p.skipSpace()
		if p.pos >= len(p.src) {
			return p.errorf("unexpected end of input inside an array")
		}
		if p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.src[p.pos] == ']' {
			p.pos++
			break
		}
		return p.errorf("expected ',' or ']' in an array, found %s", quoteByte(p.src[p.pos]))
	}
	p.depth--
	return nil
}

// number accepts the RFC 8259 number grammar, then refuses everything that
// is not a plain integer: canonical JSON has no fractions or exponents.
func (p *parser) number() (Value, error) {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	digits := p.pos
	switch {
	case p.pos < len(p.src) && p.src[p.pos] == '0':
		p.pos++
	case p.pos < len(p.src) && p.src[p.pos] >= '1' && p.src[p.pos] <= '9':
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
	default:
		return Value{}, p.errorf("invalid number")
	}
	intEnd := p.pos
	frac := false
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		frac = true
		p.pos++
		n := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == n {
			return Value{}, p.errorf("invalid number: no digits after the decimal point")
		}
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		frac = true
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		n := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == n {
			return Value{}, p.errorf("invalid number: no digits in the exponent")
		}
	}
	text := p.src[start:p.pos]
	if len(text) > 40 {
		// Hostile input may hold a megabyte-long number; the message
		// needs only its start.
		text = text[:40] + "…"
	}
	if frac {
		p.pos = start
		return Value{}, p.errorf("number %s is not an integer (canonical JSON allows integers only)", text)
	}
	if text == "-0" {
		p.pos = start
		return Value{}, p.errorf("number -0 is not allowed (canonical JSON encoders disagree about it)")
	}
	n, err := strconv.ParseInt(p.src[start:intEnd], 10, 64)
	if err != nil || intEnd-digits > 19 {
		p.pos = start
		return Value{}, p.errorf("integer %s is out of range (at most 64 bits)", text)
	}
	return Value{kind: Int, n: n}, nil
}

// str reads a string. Strings without escapes (nearly all of them) are
// slices of the input; the others are decoded into a new string.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	for p.pos < len(p.src) {
		// Most bytes of most strings (keys, hashes, base64) are plain
		// printable ASCII: skip them in a tight loop, and look closer
		// only at the byte that ends the run.
		i, src := p.pos, p.src
		for i < len(src) && plainASCII[src[i]] {
			i++
		}
		if p.pos = i; p.pos >= len(p.src) {
			break
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			s := p.src[start:p.pos]
			p.pos++
			return s, nil
		case c == '\\':
			return p.strEscaped(start)
		case c < 0x20:
			return "", p.errorf("control character 0x%02x inside a string must be escaped", c)
		case c < utf8.RuneSelf:
			p.pos++
		default:
			r, size := utf8.DecodeRuneInString(p.src[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errorf("string is not valid UTF-8")
			}
			p.pos += size
		}
	}
	return "", p.errorf("unexpected end of input inside a string")
}

// plainASCII marks the bytes a string holds as they are: printable ASCII
// other than the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (p *parser) strEscaped(start int) (string, error) {
	buf := []byte(p.src[start:p.pos])
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c == '\\':
			if p.pos+1 >= len(p.src) {
				return "", p.errorf("unexpected end of input inside a string")
			}
			e := p.src[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate must be followed by an escaped low one.
					if r >= 0xdc00 || p.pos+1 >= len(p.src) || p.src[p.pos] != '\\' || p.src[p.pos+1] != 'u' {
						return "", p.errorf("\\u escape is a lone UTF-16 surrogate (not valid Unicode)")
					}
					p.pos += 2
					r2, err := p.hex4()
					if err != nil {
						return "", err
					}
					if r2 < 0xdc00 || r2 > 0xdfff {
						return "", p.errorf("\\u escape is a lone UTF-16 surrogate (not valid Unicode)")
					}
					r = utf16.DecodeRune(r, r2)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				p.pos -= 2
				return "", p.errorf("invalid escape %s in a string", strconv.Quote(`\`+string(e)))
			}
		case c < 0x20:
			return "", p.errorf("control character 0x%02x inside a string must be escaped", c)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			p.pos++
		default:
			r, size := utf8.DecodeRuneInString(p.src[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errorf("string is not valid UTF-8")
			}
			buf = append(buf, p.src[p.pos:p.pos+size]...)
			p.pos += size
		}
	}
	return "", p.errorf("unexpected end of input inside a string")
}

func (p *parser) hex4() (rune, error) {
	if len(p.src)-p.pos < 4 {
		return 0, p.errorf("\\u escape needs four hex digits")
	}
	var r rune
	for _, c := range []byte(p.src[p.pos : p.pos+4]) {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, p.errorf("\\u escape needs four hex digits")
		}
	}
	p.pos += 4
	return r, nil
}
