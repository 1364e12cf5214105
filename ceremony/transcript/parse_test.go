package transcript

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseEmpty(t *testing.T) {
	entries, torn, err := Parse(nil)
	if entries != nil || torn || err != nil {
		t.Fatalf("Parse(nil) = %v, %v, %v", entries, torn, err)
	}
}

// TestParseTorn: whatever follows the last newline is a torn write, even a
// whole valid line: Append had not returned, its event did not happen.
func TestParseTorn(t *testing.T) {
	log := readKAT(t, "log.jsonl")
	lines := bytes.SplitAfter(log, []byte("\n"))
	whole := bytes.Join(lines[:4], nil)
	for _, tail := range []string{"{", "\x00\x00", strings.TrimSuffix(string(lines[4]), "\n"), "garbage\r"} {
		entries, torn, err := Parse([]byte(string(whole) + tail))
		if err != nil || !torn || len(entries) != 4 {
			t.Errorf("tail %q: %d entries, torn %v, %v", tail, len(entries), torn, err)
		}
	}
	// Only the fragment on the first line: no entry, torn.
	if entries, torn, err := Parse([]byte(`{"body"`)); err != nil || !torn || len(entries) != 0 {
		t.Errorf("fragment alone: %d entries, torn %v, %v", len(entries), torn, err)
	}
}

func TestParseLimits(t *testing.T) {
	log := readKAT(t, "log.jsonl")
	first := bytes.IndexByte(log, '\n')
	long := 0
	for _, l := range bytes.Split(log, []byte("\n")) {
		long = max(long, len(l))
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		maxLine  int
		maxLines int
		want     string
	}{
		{"line", log, long - 1, 10, fmt.Sprintf("transcript line 1: the line is longer than %d bytes", long-1)},
		{"torn line", append(log[:first+1:first+1], bytes.Repeat([]byte("x"), long+1)...), long, 10, fmt.Sprintf("transcript line 2: the line is longer than %d bytes", long)},
		{"lines", log, long, 4, "transcript line 5: the log has more than 4 lines, the most it may"},
		{"torn line counts", append(log[:len(log):len(log)], '{'), long, 5, "transcript line 6: the log has more than 5 lines, the most it may"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, torn, err := parse(tc.data, tc.maxLine, tc.maxLines)
			if err == nil || err.Error() != tc.want || entries != nil || torn {
				t.Fatalf("%d entries, torn %v, err %v\nwant %s", len(entries), torn, err, tc.want)
			}
		})
	}
	// At the limits exactly, the log is whole.
	if entries, _, err := parse(log, long, 5); err != nil || len(entries) != 5 {
		t.Fatalf("at the limits: %d entries, %v", len(entries), err)
	}
}

// TestParseCopies: the entries do not share data's bytes, and an entry's
// Body is its Line's body.
func TestParseCopies(t *testing.T) {
	data := readKAT(t, "log.jsonl")
	entries, _, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	want := string(entries[1].Line)
	for i := range data {
		data[i] = 'x'
	}
	if string(entries[1].Line) != want {
		t.Fatal("the entry changed with data")
	}
	if got := string(entries[1].Body); got != `{"bundle":"b-17","invalid":2,"valid":998}` {
		t.Fatalf("body %s", got)
	}
}

func TestParseRefuses(t *testing.T) {
	// Each line is line 1 of a log of the ceremony "c" (prev below).
	g := Genesis("c")
	for _, tc := range []struct {
		name, line, want string
	}{
		{"array", `[]`, "the line is an array, not an object"},
		{"no type", `{"body":{"ceremony":"c","format":"conclave-transcript/1"},"prev":"` + g + `","seq":1,"time":"2026-12-03T09:00:05Z"}`, `no member "type"`},
		{"body array", `{"body":[],"prev":"` + g + `","seq":1,"time":"2026-12-03T09:00:05Z","type":"opened"}`, "body is an array, not an object"},
		{"duplicate member", `{"body":{},"body":{},"prev":"` + g + `","seq":1,"time":"2026-12-03T09:00:05Z","type":"opened"}`, `not valid JSON: body (at byte 149): duplicate member name "body"`},
		{"seq 0", `{"body":{"ceremony":"c","format":"conclave-transcript/1"},"prev":"` + g + `","seq":0,"time":"2026-12-03T09:00:05Z","type":"opened"}`, "seq is 0 where 1 was expected: a line was removed, inserted, repeated or moved"},
		{"other format", `{"body":{"ceremony":"c","format":"conclave-transcript/2"},"prev":"` + g + `","seq":1,"time":"2026-12-03T09:00:05Z","type":"opened"}`, `the first line's body does not have format "conclave-transcript/1"`},
		{"no ceremony", `{"body":{"format":"conclave-transcript/1"},"prev":"` + g + `","seq":1,"time":"2026-12-03T09:00:05Z","type":"opened"}`, "the first line's body has no ceremony id"},
		{"control in ceremony", `{"body":{"ceremony":"c\n","format":"conclave-transcript/1"},"prev":"` + Genesis("c\n") + `","seq":1,"time":"2026-12-03T09:00:05Z","type":"opened"}`, `the ceremony id "c\n" holds a control character`},
		{"fractional time", `{"body":{"ceremony":"c","format":"conclave-transcript/1"},"prev":"` + g + `","seq":1,"time":"2026-12-03T09:00:05.5Z","type":"opened"}`, `time "2026-12-03T09:00:05.5Z" is not of the form YYYY-MM-DDTHH:MM:SSZ`},
		{"no such day", `{"body":{"ceremony":"c","format":"conclave-transcript/1"},"prev":"` + g + `","seq":1,"time":"2026-02-30T09:00:05Z","type":"opened"}`, `time "2026-02-30T09:00:05Z" is not of the form YYYY-MM-DDTHH:MM:SSZ`},
		{"year 0", `{"body":{"ceremony":"c","format":"conclave-transcript/1"},"prev":"` + g + `","seq":1,"time":"0000-01-01T00:00:00Z","type":"opened"}`, `time "0000-01-01T00:00:00Z" is before the year 1`},
		{"type", `{"body":{"ceremony":"c","format":"conclave-transcript/1"},"prev":"` + g + `","seq":1,"time":"2026-12-03T09:00:05Z","type":"Opened"}`, `the event type "Opened" is not a lower-case word (letters a to z, then digits and hyphens)`},
		{"escaped", `{"body":{"ceremony":"\u0063","format":"conclave-transcript/1"},"prev":"` + g + `","seq":1,"time":"2026-12-03T09:00:05Z","type":"opened"}`, "the line is not in canonical form (members sorted, no spaces, integers and strings written one way only)"},
		{"raw control", "{\"body\":{\"ceremony\":\"c\",\"format\":\"conclave-transcript/1\",\"x\":\"\t\"},\"prev\":\"" + g + "\",\"seq\":1,\"time\":\"2026-12-03T09:00:05Z\",\"type\":\"opened\"}", `not valid JSON: body.x (at byte 62): control character 0x09 inside a string must be escaped`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tc.line + "\n"))
			var ce *ChainError
			if !errors.As(err, &ce) || ce.Line != 1 || ce.Reason != tc.want {
				t.Fatalf("err = %v\nwant transcript line 1: %s", err, tc.want)
			}
		})
	}
}

// BenchmarkParse reads a log of 1,000 signature-sized events.
func BenchmarkParse(b *testing.B) {
	var m memory
	l := New(&m, "bench")
	for i := range 1000 {
		body := map[string]any{"holder": "h", "keyid": strings.Repeat("ab", 32), "role": "claimed", "version": i}
		if _, err := l.Append("signed", t0, body); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(m.data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(m.data); err != nil {
			b.Fatal(err)
		}
	}
}
