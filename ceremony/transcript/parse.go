package transcript

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// ChainError names the first line of a log that fails verification, and
// why. Lines count from 1, as seq does.
//
// A changed line shows where the chain first disagrees with it: a line
// edited into other valid JSON is found at the next line, whose prev no
// longer matches (the chain cannot tell whether that line or its
// predecessor was changed); a removed, repeated or moved line is found
// where the seq first goes wrong. A change to the last line, or lines cut
// from the end, leave a shorter or different chain that is whole in
// itself: only the head and line count kept elsewhere (the witness's
// paper log) reveal them.
type ChainError struct {
	Line   int
	Reason string
}

func (e *ChainError) Error() string {
	return "transcript line " + strconv.Itoa(e.Line) + ": " + e.Reason
}

// Parse reads and verifies a whole log: every line strict canonical JSON
// with exactly the members of the format, seq counting from 1, each prev
// the hash of the line before (of the ceremony id, for line 1), and line 1
// naming the format and its ceremony. The first line that fails is
// returned as a *ChainError, with no entries.
//
// Data after the last newline is a torn write: Append writes a line and
// its newline at once and makes it durable before the event takes effect,
// so a line without its newline is one that a crash interrupted, and its
// event never happened. Parse then returns torn = true and the entries
// before it, whatever the fragment holds (a crash can leave any prefix of
// the line, or zeros). Everything else that is wrong is an error, an
// empty line included.
//
// The lengths are checked while reading: a line longer than MaxLine, or a
// log of more than MaxLines lines (a torn fragment counted), is refused
// without reading on. The entries' Line and Body are copies, not parts of
// data.
func Parse(data []byte) (entries []Entry, torn bool, err error) {
	return parse(data, MaxLine, MaxLines)
}

// parse is Parse with the limits given, so that tests can reach them.
func parse(data []byte, maxLine, maxLines int) (entries []Entry, torn bool, err error) {
	v := verifier{maxLine: maxLine}
	for n := 1; len(data) > 0; n++ {
		if n > maxLines {
			return nil, false, &ChainError{Line: n, Reason: fmt.Sprintf("the log has more than %d lines, the most it may", maxLines)}
		}
		i := bytes.IndexByte(data[:min(len(data), maxLine+1)], '\n')
		if i < 0 {
			if len(data) > maxLine {
				return nil, false, &ChainError{Line: n, Reason: fmt.Sprintf("the line is longer than %d bytes", maxLine)}
			}
			return entries, true, nil
		}
		e, cerr := v.check(bytes.Clone(data[:i]))
		if cerr != nil {
			return nil, false, cerr
		}
		entries = append(entries, e)
		data = data[i+1:]
	}
	return entries, false, nil
}

// verifier checks lines one after another.
type verifier struct {
	maxLine  int    // MaxLine, or less in tests
	n        int64  // lines checked
	head     string // hash of the last line checked
	ceremony string // from line 1
}

// lineMembers are a line's members, in canonical order.
var lineMembers = [...]string{"body", "prev", "seq", "time", "type"}

// check verifies line as the next line of the log and keeps it as the head.
// line (without its newline) becomes the Entry's Line.
func (v *verifier) check(line []byte) (Entry, *ChainError) {
	n := v.n + 1
	fail := func(format string, args ...any) (Entry, *ChainError) {
		return Entry{}, &ChainError{Line: int(n), Reason: fmt.Sprintf(format, args...)}
	}
	if len(line) == 0 {
		return fail("the line is empty")
	}
	if len(line) > v.maxLine {
		return fail("the line is longer than %d bytes", v.maxLine)
	}
	val, err := cjson.Parse(line)
	if err != nil {
		return fail("not valid JSON: %v", err)
	}
	if val.Kind() != cjson.Object {
		return fail("the line is %s, not an object", val.Kind())
	}
	var m [len(lineMembers)]cjson.Value
	for _, member := range val.Members() {
		i := memberIndex(member.Name)
		if i < 0 {
			return fail("unknown member %q", member.Name)
		}
		m[i] = member.Value
	}
	for i, name := range lineMembers {
		if _, ok := val.Get(name); !ok {
			return fail("no member %q", name)
		}
		want := cjson.String
		switch name {
		case "body":
			want = cjson.Object
		case "seq":
			want = cjson.Int
		}
		if m[i].Kind() != want {
			return fail("%s is %s, not %s", name, m[i].Kind(), want)
		}
	}
	body, prev, seq, at, typ := m[0], m[1].Str(), m[2].Int(), m[3].Str(), m[4].Str()

	if seq != n {
		return fail("seq is %d where %d was expected: a line was removed, inserted, repeated or moved", seq, n)
	}
	ceremony := v.ceremony
	if n == 1 {
		if f, ok := body.Get(FormatMember); !ok || f.Kind() != cjson.String || f.Str() != Format {
			return fail("the first line's body does not have %s %q", FormatMember, Format)
		}
		c, ok := body.Get(CeremonyMember)
		if !ok || c.Kind() != cjson.String {
			return fail("the first line's body has no %s id", CeremonyMember)
		}
		if err := checkCeremonyID(c.Str()); err != nil {
			return fail("%v", err)
		}
		ceremony = c.Str()
		if prev != Genesis(ceremony) {
			return fail("prev is not the SHA-256 of the ceremony id %q", ceremony)
		}
	} else if prev != v.head {
		return fail("prev is not the SHA-256 of line %d: that line or this one was changed, or a line was inserted before this one", n-1)
	}
	t, err := time.Parse(TimeLayout, at)
	if err != nil || t.Format(TimeLayout) != at {
		return fail("time %q is not of the form YYYY-MM-DDTHH:MM:SSZ", at)
	}
	if t.Year() < 1 {
		// Append writes no such time (see Log.line): a resumed log could
		// not go on from it.
		return fail("time %q is before the year 1", at)
	}
	if err := checkType(typ); err != nil {
		return fail("%v", err)
	}
	e := Entry{Seq: seq, Prev: prev, Time: t, Type: typ}
	canon, bodyBytes := encodeLine(body, e)
	if !bytes.Equal(canon, line) {
		return fail("the line is not in canonical form (members sorted, no spaces, integers and strings written one way only)")
	}
	// canon equals line: the body is the same part of the caller's copy.
	start, end := len(`{"body":`), len(`{"body":`)+len(bodyBytes)
	e.Line, e.Body = line, line[start:end:end]
	e.Hash = hexHash(line)
	v.n, v.head, v.ceremony = n, e.Hash, ceremony
	return e, nil
}

func memberIndex(name string) int {
	for i, m := range lineMembers {
		if m == name {
			return i
		}
	}
	return -1
}
