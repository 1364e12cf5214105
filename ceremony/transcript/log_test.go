package transcript

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// memory is an Appender keeping the log in memory, as the file would hold it.
type memory struct {
	data []byte
	fail error // returned by the next Append, after writing half the line
}

func (m *memory) Append(line []byte) error {
	if m.fail != nil {
		m.data = append(m.data, line[:len(line)/2]...)
		return m.fail
	}
	m.data = append(m.data, line...)
	m.data = append(m.data, '\n')
	return nil
}

var t0 = time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)

func TestAppendThenParse(t *testing.T) {
	var m memory
	l := New(&m, "ceremony-1")
	if got, want := l.Head(), Genesis("ceremony-1"); got != want {
		t.Fatalf("empty log's head = %s, want %s", got, want)
	}
	first, err := l.Append("opened", t0.Add(1500*time.Millisecond), map[string]any{"version": "1.0", "note": "a\nb"})
	if err != nil {
		t.Fatal(err)
	}
	wantFirst := `{"body":{"ceremony":"ceremony-1","format":"conclave-transcript/1","note":"a\nb","version":"1.0"},"prev":"` +
		Genesis("ceremony-1") + `","seq":1,"time":"2026-12-03T14:00:01Z","type":"opened"}`
	if string(first.Line) != wantFirst {
		t.Fatalf("line 1 =\n%s\nwant\n%s", first.Line, wantFirst)
	}
	second, err := l.Append("imported", t0.In(time.FixedZone("x", 3600)), struct {
		Count int `json:"count"`
	}{7})
	if err != nil {
		t.Fatal(err)
	}
	if second.Prev != first.Hash || l.Head() != second.Hash || l.Len() != 2 {
		t.Fatalf("chain: second.Prev %s first.Hash %s head %s len %d", second.Prev, first.Hash, l.Head(), l.Len())
	}
	if got := string(second.Body); got != `{"count":7}` {
		t.Errorf("body = %s", got)
	}
	entries, torn, err := Parse(m.data)
	if err != nil || torn {
		t.Fatalf("Parse: torn %v, err %v", torn, err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries", len(entries))
	}
	for i, want := range []Entry{first, second} {
		got := entries[i]
		if got.Seq != want.Seq || got.Prev != want.Prev || !got.Time.Equal(want.Time) || got.Type != want.Type ||
			!bytes.Equal(got.Body, want.Body) || got.Hash != want.Hash || !bytes.Equal(got.Line, want.Line) {
			t.Errorf("entry %d = %+v, want %+v", i+1, got, want)
		}
	}
	if got := entries[1].Time; got != t0 {
		t.Errorf("time of line 2 = %v, want %v in UTC", got, t0)
	}
}

func TestAppendRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
		typ  string
		at   time.Time
		body any
		want string
	}{
		{"array body", "c", "opened", t0, []int{1}, "append opened to the log: the body is an array, not an object"},
		{"null body", "c", "opened", t0, nil, "append opened to the log: the body is null, not an object"},
		{"float", "c", "opened", t0, map[string]any{"x": 1.5}, "append opened to the log: encode the body: x (at byte 5): number 1.5 is not an integer (canonical JSON allows integers only)"},
		{"unmarshalable", "c", "opened", t0, map[string]any{"x": func() {}}, "append opened to the log: encode the body: json: unsupported type: func()"},
		{"type", "c", "Opened", t0, struct{}{}, `append Opened to the log: the event type "Opened" is not a lower-case word (letters a to z, then digits and hyphens)`},
		{"empty type", "c", "", t0, struct{}{}, `append  to the log: the event type "" is not 1 to 64 characters long`},
		{"empty id", "", "opened", t0, struct{}{}, "append opened to the log: the ceremony id is not 1 to 256 bytes long"},
		{"control in id", "a\nb", "opened", t0, struct{}{}, `append opened to the log: the ceremony id "a\nb" holds a control character`},
		{"other format", "c", "opened", t0, map[string]string{"format": "x"}, `append opened to the log: the first line's body has format "x", not "conclave-transcript/1"`},
		{"other ceremony", "c", "opened", t0, map[string]int{"ceremony": 1}, `append opened to the log: the first line's body has ceremony 1, not "c"`},
		{"year", "c", "opened", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), struct{}{}, "append opened to the log: the time 10000-01-01 00:00:00 +0000 UTC is not between the years 1 and 9999"},
		{"too long", "c", "opened", t0, map[string]string{"x": strings.Repeat("a", MaxLine)}, "append opened to the log: the line would be 1048769 bytes long, more than the 1048576 a line may be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m memory
			l := New(&m, tc.id)
			_, err := l.Append(tc.typ, tc.at, tc.body)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
			if len(m.data) != 0 || l.Len() != 0 {
				t.Fatalf("something was written: %q", m.data)
			}
			// A refused event leaves the log usable.
			if tc.id == "c" {
				if _, err := l.Append("opened", t0, struct{}{}); err != nil {
					t.Fatalf("append after a refused event: %v", err)
				}
			}
		})
	}
}

// TestAppendHeaderKept: a first body naming the format and ceremony
// itself is written once, not twice.
func TestAppendHeaderKept(t *testing.T) {
	var m memory
	e, err := New(&m, "c").Append("opened", t0, map[string]string{"format": Format, "ceremony": "c"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(e.Body), `{"ceremony":"c","format":"conclave-transcript/1"}`; got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}

func TestAppendFailureStopsTheLog(t *testing.T) {
	var m memory
	l := New(&m, "c")
	first, err := l.Append("opened", t0, struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	disk := errors.New("disk gone")
	m.fail = disk
	if _, err := l.Append("imported", t0, struct{}{}); !errors.Is(err, disk) {
		t.Fatalf("err = %v, want the Appender's", err)
	}
	if l.Head() != first.Hash || l.Len() != 1 {
		t.Fatalf("head moved: %s, len %d", l.Head(), l.Len())
	}
	m.fail = nil
	_, err = l.Append("imported", t0, struct{}{})
	if !errors.Is(err, ErrBroken) || !errors.Is(err, disk) {
		t.Fatalf("append after a failure: %v", err)
	}
	if got, want := err.Error(), "append imported to the log: an earlier append to the log failed, and the log must be read again and resumed: disk gone"; got != want {
		t.Fatalf("err = %s, want %s", got, want)
	}
	// The file holds the first line and half a line: torn, and resumable.
	entries, torn, err := Parse(m.data)
	if err != nil || !torn || len(entries) != 1 {
		t.Fatalf("Parse: %d entries, torn %v, err %v", len(entries), torn, err)
	}
}

func TestResume(t *testing.T) {
	var m memory
	l := New(&m, "c")
	for _, typ := range []string{"opened", "imported", "built"} {
		if _, err := l.Append(typ, t0, struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _, err := Parse(m.data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Resume(&m, entries)
	if err != nil {
		t.Fatal(err)
	}
	if r.Head() != l.Head() || r.Len() != 3 || r.CeremonyID() != "c" {
		t.Fatalf("resumed head %s len %d id %q, want %s 3 c", r.Head(), r.Len(), r.CeremonyID(), l.Head())
	}
	if _, err := r.Append("closed", t0, struct{}{}); err != nil {
		t.Fatal(err)
	}
	all, torn, err := Parse(m.data)
	if err != nil || torn || len(all) != 4 {
		t.Fatalf("after resume: %d entries, torn %v, err %v", len(all), torn, err)
	}
	if _, err := Resume(&m, nil); err == nil || err.Error() != "resume the log: it has no line: start it with New" {
		t.Fatalf("resume of nothing: %v", err)
	}
	entries[1].Hash = entries[0].Hash
	if _, err := Resume(&m, entries); err == nil || err.Error() != "resume the log: transcript line 2: the entry's seq or hash does not match its line" {
		t.Fatalf("resume with a wrong hash: %v", err)
	}
	entries[1] = entries[2]
	var ce *ChainError
	if _, err := Resume(&m, entries); !errors.As(err, &ce) || ce.Line != 2 {
		t.Fatalf("resume with a line missing: %v", err)
	}
}
