package verdict

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	hide = "\x1b[8m" // hides what follows on most terminals
	rlo  = "\u202e"  // right-to-left override: "evil" reads "live"
	fpA  = "e0d35838a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718f155f37b"
	fpB  = "874d2cc5a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718dc279a52"
)

func hostileReport() *Report {
	return &Report{
		Format:   ReportFormat,
		BundleID: "b1" + hide,
		Source:   "example.org" + rlo + "gro.live",
		Notes:    []Finding{{Code: PublishedDiffers, Severity: Warning, Sentence: "note about " + hide + "x"}},
		Requests: []Verdict{{
			RequestID:   "r1" + hide,
			Batch:       "requests/0001.jsonl" + rlo,
			Line:        1,
			Kind:        "rotate",
			Project:     "proj" + hide + "RESULT: all files valid",
			Class:       NeedsJudgement,
			RequestedBy: "mallory" + rlo + "\x1b[2K",
			Made:        "2026-11-24T11:00:00Z",
			Change: &Change{
				Before: &Delegation{Keys: []Key{{KeyID: "k1", Fingerprint: fpA, Scheme: "ed25519"}}, Threshold: 1, Paths: []string{"proj/*" + hide}},
				After:  &Delegation{Keys: []Key{{KeyID: "k2", Fingerprint: fpB, Scheme: "ed25519" + rlo}}, Threshold: 1, Paths: []string{"proj/*"}},
			},
			Findings: []Finding{{Code: Recovery, Severity: Warning, Sentence: "The reason " + hide + " hidden " + rlo + " reversed."}},
		}},
	}
}

// TestWriteTextShowsOutsideTextSafely: no escape sequence or bidi control
// from a bundle reaches the terminal; each is shown as a visible escape.
func TestWriteTextShowsOutsideTextSafely(t *testing.T) {
	r := hostileReport()
	r.Tally()
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := `bundle b1\x1b[8m from example.org\u202egro.live
NOTE [published-differs]: note about \x1b[8mx
1 request: 1 needs judgement, 0 rule-approvable, 0 invalid

NEEDS JUDGEMENT  r1\x1b[8m rotate proj\x1b[8mRESULT: all files valid
    (requests/0001.jsonl\u202e:1)
  requested by "mallory\u202e\x1b[2K", made 2026-11-24T11:00:00Z (as the request
    says)
  now:   1 key, threshold 1, paths proj/*\x1b[8m
           ed25519 fingerprint e0d35838…f155f37b (removed)
  after: 1 key, threshold 1, paths proj/*
           ed25519\u202e fingerprint 874d2cc5…dc279a52 (new)
  ! [recovery] The reason \x1b[8m hidden \u202e reversed.
`
	if buf.String() != want {
		t.Fatalf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
	if strings.ContainsAny(buf.String(), "\x1b\u202e") {
		t.Fatal("a raw escape or bidi control reached the text")
	}
}

// TestWriteJSONStaysExact: the JSON report carries every string as it
// was, and every fingerprint whole.
func TestWriteJSONStaysExact(t *testing.T) {
	r := hostileReport()
	r.Tally()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	v, orig := back.Requests[0], r.Requests[0]
	if v.Project != orig.Project || v.RequestedBy != orig.RequestedBy || v.Findings[0].Sentence != orig.Findings[0].Sentence ||
		back.Source != r.Source || v.Change.After.Keys[0].Fingerprint != fpB || v.Change.After.Keys[0].Scheme != "ed25519"+rlo ||
		v.Change.Before.Paths[0] != "proj/*"+hide {
		t.Fatalf("JSON changed outside strings: %+v", v)
	}
}

// TestWriteTextWraps: a long sentence is wrapped, never a line over the
// width, and no word is lost.
func TestWriteTextWraps(t *testing.T) {
	long := strings.Repeat("The requests were made against other metadata than the trusted version. ", 8)
	r := &Report{Format: ReportFormat, BundleID: "b1", Source: "example.org", Refused: &Refusal{Code: BundleBaseMismatch, Sentence: long}}
	for _, width := range []int{0, 120} {
		r.Width = width
		var buf bytes.Buffer
		r.WriteText(&buf)
		max := width
		if max == 0 {
			max = 80
		}
		for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			if n := utf8.RuneCountInString(l); n > max {
				t.Errorf("width %d: line of %d characters: %q", width, n, l)
			}
		}
		if got := strings.Join(strings.Fields(buf.String()), " "); !strings.Contains(got, strings.TrimSpace(long)) {
			t.Errorf("width %d: words lost:\n%s", width, buf.String())
		}
	}
}

func TestCountsPlural(t *testing.T) {
	for _, tc := range []struct {
		classes []Class
		want    string
	}{
		{nil, "0 requests: 0 need judgement, 0 rule-approvable, 0 invalid\n"},
		{[]Class{RuleApprovable}, "1 request: 0 need judgement, 1 rule-approvable, 0 invalid\n"},
		{[]Class{NeedsJudgement, NeedsJudgement, Invalid}, "3 requests: 2 need judgement, 0 rule-approvable, 1 invalid\n"},
	} {
		r := &Report{Format: ReportFormat}
		for _, c := range tc.classes {
			r.Requests = append(r.Requests, Verdict{RequestID: "r", Batch: "f", Line: 1, Class: c, Findings: []Finding{}})
		}
		r.Tally()
		var buf bytes.Buffer
		r.WriteText(&buf)
		if first, _, _ := strings.Cut(buf.String(), "\n"); first+"\n" != tc.want {
			t.Errorf("got %q, want %q", first+"\n", tc.want)
		}
	}
}

// TestWriteTextQuoteCannotBeClosed: who asked is shown in quotes, and a
// quote in it is escaped, so that the repository cannot end the quote and
// append words that read as Conclave's own.
func TestWriteTextQuoteCannotBeClosed(t *testing.T) {
	r := &Report{Format: ReportFormat, BundleID: "b1", Source: "example.org", Requests: []Verdict{{
		RequestID: "r1", Batch: "requests/0001.jsonl", Line: 1, Kind: "add", Project: "p", Class: Invalid,
		RequestedBy: `mallory" approved by Conclave "`, Made: "2026-11-24T11:00:00Z",
	}}}
	r.Tally()
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := `  requested by "mallory\" approved by Conclave \"", made 2026-11-24T11:00:00Z`
	if !strings.Contains(buf.String(), want+"\n") {
		t.Fatalf("text:\n%s\nwant a line:\n%s", buf.String(), want)
	}
}

// BenchmarkWriteText: the text report of a 100,000-request bundle, every
// request with its change shown.
func BenchmarkWriteText(b *testing.B) {
	r := &Report{Format: ReportFormat, BundleID: "b1", Source: "example.org"}
	for i := 0; i < 100_000; i++ {
		r.Requests = append(r.Requests, Verdict{
			RequestID: "r" + strings.Repeat("0", 5), Batch: "requests/0001.jsonl", Line: i + 1, Kind: "add", Project: "project-name",
			Class: NeedsJudgement, RequestedBy: "intake", Made: "2026-11-24T11:00:00Z",
			Change:   &Change{After: &Delegation{Keys: []Key{{KeyID: fpA, Fingerprint: fpA, Scheme: "ed25519"}, {KeyID: fpB, Fingerprint: fpB, Scheme: "ed25519"}}, Threshold: 2, Paths: []string{"project-name/*"}}},
			Findings: []Finding{{Code: NoDwell, Severity: Warning, Sentence: "The repository had not published these exact keys for project \"project-name\" in an earlier bundle; keys trusted on first use should have been public, unchanged, for a while before they are approved."}},
		})
	}
	r.Tally()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteTextManyRequestsInOrder: a report of more requests than one
// batch of the text writer shows each request's own lines, in the
// report's order, across the batches.
func TestWriteTextManyRequestsInOrder(t *testing.T) {
	const n = 2*4096 + 3
	r := &Report{Format: ReportFormat}
	var want strings.Builder
	want.WriteString(fmt.Sprintf("%d requests: 0 need judgement, 0 rule-approvable, %d invalid\n", n, n))
	for i := 0; i < n; i++ {
		v := Verdict{RequestID: fmt.Sprintf("r%05d", i), Batch: "requests/0001.jsonl", Line: i + 1, Class: Invalid,
			Findings: []Finding{{Code: "line-unreadable", Severity: Error, Sentence: fmt.Sprintf("Line %d is wrong.", i+1)}}}
		r.Requests = append(r.Requests, v)
		fmt.Fprintf(&want, "\nINVALID          r%05d - - (requests/0001.jsonl:%d)\n  x [line-unreadable] Line %d is wrong.\n", i, i+1, i+1)
	}
	r.Tally()
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != want.String() {
		got, w := strings.Split(buf.String(), "\n"), strings.Split(want.String(), "\n")
		for i := range min(len(got), len(w)) {
			if got[i] != w[i] {
				t.Fatalf("line %d: %q, want %q", i+1, got[i], w[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(got), len(w))
	}
}
