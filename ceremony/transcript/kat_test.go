package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The known-answer vectors in testdata/kat:
//
//   - log.jsonl, a log of the events below, written by Append;
//   - head, its head hash and line count, computed with sha256sum, not by
//     this package (docs/formats/transcript.md has the recipe);
//   - broken/NAME.jsonl, log.jsonl damaged one way each (made with a text
//     editor's means: sed, head, printf), and broken/expected.json, the first
//     broken line and the reason for each; line 0 marks damage that the
//     chain alone cannot show (a cut or changed end: only the head kept on
//     the paper log shows it), with the head and count Parse then finds.
//
// CONCLAVE_WRITE_VECTORS=1 rewrites log.jsonl from katEvents; the rest is
// made by hand.

const katCeremony = "2026-12-03-claimed-a"

var katEvents = []struct {
	typ  string
	at   time.Time
	body string
}{
	{"opened", time.Date(2026, 12, 3, 9, 0, 5, 0, time.UTC), `{"conclave":"1.0.0","rehearsal":true}`},
	{"imported", time.Date(2026, 12, 3, 9, 4, 40, 0, time.UTC), `{"bundle":"b-17","invalid":2,"valid":998}`},
	{"decided", time.Date(2026, 12, 3, 9, 20, 0, 0, time.UTC), `{"count":998,"decision":"approve","who":"Zoë Ångström"}`},
	{"noted", time.Date(2026, 12, 3, 9, 31, 12, 0, time.UTC), `{"text":"token pulled\nand put back \"at once\"","witness":"w1"}`},
	{"closed", time.Date(2026, 12, 3, 10, 2, 59, 0, time.UTC), `{}`},
}

func katDir(parts ...string) string {
	return filepath.Join(append([]string{"testdata", "kat"}, parts...)...)
}

func readKAT(t testing.TB, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(katDir(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// writeKATLog appends katEvents to a fresh log and returns its bytes.
func writeKATLog(t testing.TB) ([]byte, *Log) {
	t.Helper()
	var m memory
	l := New(&m, katCeremony)
	for _, e := range katEvents {
		if _, err := l.Append(e.typ, e.at, json.RawMessage(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	return m.data, l
}

func TestKnownLog(t *testing.T) {
	data, l := writeKATLog(t)
	if os.Getenv("CONCLAVE_WRITE_VECTORS") == "1" {
		if err := os.WriteFile(katDir("log.jsonl"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readKAT(t, "log.jsonl"); !bytes.Equal(data, want) {
		t.Fatalf("Append wrote\n%s\nthe vector is\n%s", data, want)
	}
	head, n := katHead(t)
	if l.Head() != head || l.Len() != n {
		t.Fatalf("Append's head %s, %d lines; the vector's %s, %d", l.Head(), l.Len(), head, n)
	}
	entries, torn, err := Parse(data)
	if err != nil || torn || len(entries) != len(katEvents) {
		t.Fatalf("Parse: %d entries, torn %v, err %v", len(entries), torn, err)
	}
	if got := entries[len(entries)-1].Hash; got != head {
		t.Fatalf("Parse's head %s, the vector's %s", got, head)
	}
	for i, e := range entries {
		if e.Type != katEvents[i].typ || e.Time != katEvents[i].at {
			t.Errorf("line %d: %s at %v, want %s at %v", i+1, e.Type, e.Time, katEvents[i].typ, katEvents[i].at)
		}
	}
}

// katHead reads testdata/kat/head: "HEX COUNT\n".
func katHead(t testing.TB) (string, int64) {
	t.Helper()
	var head string
	var n int64
	if _, err := fmt.Sscan(string(readKAT(t, "head")), &head, &n); err != nil {
		t.Fatalf("testdata/kat/head: %v", err)
	}
	return head, n
}

type brokenCase struct {
	Case   string `json:"case"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	// For line 0: what Parse finds instead of the paper log's head.
	Head  string `json:"head,omitempty"`
	Count int64  `json:"count,omitempty"`
	Torn  bool   `json:"torn,omitempty"`
}

func TestBrokenVectors(t *testing.T) {
	var cases []brokenCase
	dec := json.NewDecoder(bytes.NewReader(readKAT(t, "broken", "expected.json")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(katDir("broken", "*.jsonl"))
	if len(files) != len(cases) || len(cases) < 10 {
		t.Fatalf("%d files and %d cases in testdata/kat/broken", len(files), len(cases))
	}
	head, _ := katHead(t)
	for _, c := range cases {
		t.Run(c.Case, func(t *testing.T) {
			entries, torn, err := Parse(readKAT(t, "broken", c.Case+".jsonl"))
			if c.Line == 0 {
				if err != nil {
					t.Fatalf("Parse: %v, want no error", err)
				}
				last := Genesis(katCeremony)
				if len(entries) > 0 {
					last = entries[len(entries)-1].Hash
				}
				if last != c.Head || int64(len(entries)) != c.Count || torn != c.Torn {
					t.Fatalf("head %s, %d lines, torn %v; want %s, %d, %v", last, len(entries), torn, c.Head, c.Count, c.Torn)
				}
				if last == head && !c.Torn {
					t.Fatal("the damage leaves the head as it was")
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("Parse: %v, want a *ChainError", err)
			}
			if ce.Line != c.Line || ce.Reason != c.Reason {
				t.Fatalf("line %d: %s\nwant line %d: %s", ce.Line, ce.Reason, c.Line, c.Reason)
			}
			if entries != nil || torn {
				t.Fatalf("Parse returned %d entries, torn %v, with the error", len(entries), torn)
			}
			if !strings.HasPrefix(err.Error(), "transcript line ") {
				t.Fatalf("message %q", err)
			}
		})
	}
}
