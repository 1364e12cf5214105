package transcript

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// Limits on a log, checked while it is read (see Parse). A ceremony of
// 100,000 requests writes a few hundred lines: a bulk approval is one
// event, and the large bytes live beside the log as blobs.
const (
	// MaxLine bounds one line, without its newline, in bytes.
	MaxLine = 1 << 20
	// MaxLines bounds the number of lines of one log.
	MaxLines = 1_000_000
	// MaxCeremonyID bounds the ceremony id, in bytes.
	MaxCeremonyID = 256
	// MaxType bounds an event type's name, in bytes.
	MaxType = 64
)

// TimeLayout is how a line writes its time: UTC, to the second.
const TimeLayout = "2006-01-02T15:04:05Z"

// The members of the first line's body that name the log.
const (
	FormatMember   = "format"
	CeremonyMember = "ceremony"
)

// ErrBroken is returned by every Append after one failed; see Log.
var ErrBroken = errors.New("an earlier append to the log failed, and the log must be read again and resumed")

// Log appends events to a ceremony's log. Its methods may be called from
// several goroutines.
type Log struct {
	mu       sync.Mutex
	a        Appender
	ceremony string
	head     string // hex SHA-256 of the last line, or Genesis(ceremony)
	n        int64
	err      error // the first failed append; see Append
}

// New starts the log of the ceremony ceremonyID, writing its lines to a.
// The log is empty: the first Append writes line 1, whose body the log
// completes with the format and the ceremony id.
func New(a Appender, ceremonyID string) *Log {
	return &Log{a: a, ceremony: ceremonyID, head: Genesis(ceremonyID)}
}

// Genesis is the prev of a log's first line: the hex SHA-256 of the bytes
// of the ceremony id. It ties line 1 to its ceremony, so the first line of
// one ceremony's log cannot be passed off as another's.
func Genesis(ceremonyID string) string {
	return hexHash([]byte(ceremonyID))
}

func hexHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Head is the hex SHA-256 of the last line (of its bytes without the
// newline), or Genesis of the ceremony id when the log is empty. With Len,
// it is what the witness writes on the paper log: the chain shows that no
// line before the head was changed, removed or inserted, but only a copy
// of the head kept elsewhere shows that no line was cut from the end.
func (l *Log) Head() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Len is the number of lines in the log.
func (l *Log) Len() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// CeremonyID is the id of the log's ceremony.
func (l *Log) CeremonyID() string { return l.ceremony }

// Append writes one event of type typ, at the time at (kept in UTC, to the
// second), whose body is the JSON object that encoding/json makes of body
// (it must marshal to an object; numbers must be integers, as canonical
// JSON has no others). It returns once the Appender has made the line
// durable, and only then does the log's head move.
//
// A failed Append leaves the log as it was and unusable: every later
// Append returns the first error again. The Appender may have failed
// after writing some or all of the line (a sync that failed, a medium
// pulled out mid-write), so the file's tail is unknown. Writing on as if
// nothing happened could put a line after a fragment, or fork the chain
// (two lines with the same seq and prev, if the failed one did reach the
// disk). The only safe continuation is to read the file again, cut a torn
// tail, and Resume from what is there.
func (l *Log) Append(typ string, at time.Time, body any) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return Entry{}, fmt.Errorf("append %s to the log: %w: %w", typ, ErrBroken, l.err)
	}
	e, err := l.line(typ, at, body)
	if err != nil {
		// Nothing was written: the log stays usable.
		return Entry{}, fmt.Errorf("append %s to the log: %w", typ, err)
	}
	if err := l.a.Append(e.Line); err != nil {
		l.err = err
		return Entry{}, fmt.Errorf("append %s to the log as line %d: %w", typ, e.Seq, err)
	}
	l.head, l.n = e.Hash, e.Seq
	return e, nil
}

// line builds the next line, or says why the event cannot be written.
func (l *Log) line(typ string, at time.Time, body any) (Entry, error) {
	if err := checkType(typ); err != nil {
		return Entry{}, err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return Entry{}, fmt.Errorf("encode the body: %w", err)
	}
	v, err := cjson.Parse(raw)
	if err != nil {
		return Entry{}, fmt.Errorf("encode the body: %w", err)
	}
	if v.Kind() != cjson.Object {
		return Entry{}, fmt.Errorf("the body is %s, not an object", v.Kind())
	}
	seq := l.n + 1
	if seq == 1 {
		if err := checkCeremonyID(l.ceremony); err != nil {
			return Entry{}, err
		}
		if v, err = withHeader(v, l.ceremony); err != nil {
			return Entry{}, err
		}
	} else if seq > MaxLines {
		return Entry{}, fmt.Errorf("the log already holds %d lines, the most it may", MaxLines)
	}
	at = at.UTC().Truncate(time.Second)
	if y := at.Year(); y < 1 || y > 9999 {
		return Entry{}, fmt.Errorf("the time %s is not between the years 1 and 9999", at)
	}
	e := Entry{Seq: seq, Prev: l.head, Time: at, Type: typ}
	e.Line, e.Body = encodeLine(v, e)
	if len(e.Line) > MaxLine {
		return Entry{}, fmt.Errorf("the line would be %d bytes long, more than the %d a line may be", len(e.Line), MaxLine)
	}
	e.Hash = hexHash(e.Line)
	return e, nil
}

// withHeader adds the format and the ceremony id to the first line's body.
// A body that names them already must name the same.
func withHeader(body cjson.Value, ceremony string) (cjson.Value, error) {
	members := append([]cjson.Member(nil), body.Members()...)
	for _, m := range [...]struct{ name, value string }{{CeremonyMember, ceremony}, {FormatMember, Format}} {
		name, value := m.name, m.value
		got, ok := body.Get(name)
		if !ok {
			members = append(members, cjson.Member{Name: name, Value: cjson.StringValue(value)})
			continue
		}
		if got.Kind() != cjson.String || got.Str() != value {
			return cjson.Value{}, fmt.Errorf("the first line's body has %s %s, not %q", name, got.Canonical(), value)
		}
	}
	return cjson.ObjectValue(members...), nil
}

// encodeLine writes a line in the canonical file form (see package cjson:
// canonical, with control characters escaped, so a line holds no raw
// newline). It returns the line and the body's bytes within it.
func encodeLine(body cjson.Value, e Entry) (line, bodyBytes []byte) {
	// The body is written on its own first, to know where it lies in the
	// line; Canonical splices it in unchanged (file form has no control
	// character left to escape).
	benc := cjson.Encoder{FileForm: true}
	benc.Value(body)
	b, err := benc.Bytes()
	if err != nil {
		panic("transcript: " + err.Error()) // a parsed value is in order
	}
	enc := cjson.Encoder{FileForm: true}
	enc.Grow(len(b) + 200)
	enc.BeginObject()
	enc.Name("body")
	enc.Canonical(b)
	enc.Name("prev")
	enc.String(e.Prev)
	enc.Name("seq")
	enc.Int(e.Seq)
	enc.Name("time")
	enc.String(e.Time.Format(TimeLayout))
	enc.Name("type")
	enc.String(e.Type)
	enc.EndObject()
	line, err = enc.Bytes()
	if err != nil {
		panic("transcript: " + err.Error()) // the members above are in order
	}
	start, end := len(`{"body":`), len(`{"body":`)+len(b)
	return line[:len(line):len(line)], line[start:end:end]
}

// checkType: an event type is a lower-case word of letters, digits and
// hyphens, starting with a letter ("opened", "review-decision").
func checkType(typ string) error {
	if typ == "" || len(typ) > MaxType {
		return fmt.Errorf("the event type %q is not 1 to %d characters long", typ, MaxType)
	}
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return fmt.Errorf("the event type %q is not a lower-case word (letters a to z, then digits and hyphens)", typ)
		}
	}
	return nil
}

// checkCeremonyID: the ceremony id is printed and read aloud: printable
// UTF-8, no control characters, bounded.
func checkCeremonyID(id string) error {
	if id == "" || len(id) > MaxCeremonyID {
		return fmt.Errorf("the ceremony id is not 1 to %d bytes long", MaxCeremonyID)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("the ceremony id %q is not valid UTF-8", id)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return fmt.Errorf("the ceremony id %q holds a control character", id)
		}
	}
	return nil
}

// Resume continues the log whose lines are entries (as Parse returned
// them, torn tail already cut), writing new lines to a. The entries are
// verified again, as Parse verifies them; the ceremony id is the first
// line's. A log with no line has no ceremony id: start it with New.
func Resume(a Appender, entries []Entry) (*Log, error) {
	if len(entries) == 0 {
		return nil, errors.New("resume the log: it has no line: start it with New")
	}
	v := verifier{maxLine: MaxLine}
	for i, e := range entries {
		got, err := v.check(e.Line)
		if err != nil {
			return nil, fmt.Errorf("resume the log: %w", err)
		}
		if got.Hash != e.Hash || got.Seq != e.Seq || int64(i+1) != e.Seq {
			return nil, fmt.Errorf("resume the log: %w", &ChainError{Line: i + 1, Reason: "the entry's seq or hash does not match its line"})
		}
	}
	return &Log{a: a, ceremony: v.ceremony, head: v.head, n: v.n}, nil
}
