package review

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/tui/theme"
)

func plainText(s string) string { return ansi.Strip(s) }

// TestFilterLine: the filters combine, and the line above the table
// always says what is shown.
func TestFilterLine(t *testing.T) {
	m := newModel(t, newFake(generated(1000)), theme.Minimum, nil)
	if got := lines(m)[1]; got != "showing 1,000 of 1,000" {
		t.Fatalf("filter line %q", got)
	}
	press(t, m, "p", "/", "numpy-1", "enter")
	want := "showing 2 of 1,000 · problems only · /numpy-1"
	if got := lines(m)[1]; got != want {
		t.Fatalf("filter line %q, want %q", got, want)
	}
	for _, i := range m.index {
		if !m.rows[i].problem || !strings.HasPrefix(m.rows[i].name, "numpy-1") {
			t.Fatalf("row %s shown", m.rows[i].rawID)
		}
	}
	press(t, m, "u", "t", "t", "t", "t")
	if got, want := lines(m)[1], "showing 2 of 1,000 · problems only · undecided only · recover only · /numpy-1"; got != want {
		t.Fatalf("filter line %q, want %q", got, want)
	}
	press(t, m, "esc")
	if got := lines(m)[1]; got != "showing 1,000 of 1,000" {
		t.Fatalf("after esc: %q", got)
	}
}

// TestMatchModes: prefix by default, exact and regex on tab; never
// fuzzy. A regex that does not compile matches nothing and says why.
func TestMatchModes(t *testing.T) {
	tests := []struct {
		keys []string
		want []string // request ids shown
		line string
	}{
		{[]string{"/", "numpy-8"}, []string{"r000008", "r000080", "r000088"}, "showing 3 of 100 · /numpy-8▏ (prefix)"},
		{[]string{"/", "tab", "numpy-8"}, []string{"r000008"}, "showing 1 of 100 · =numpy-8▏ (exact)"},
		{[]string{"/", "tab", "tab", "^(numpy|scipy)-8"}, []string{"r000008", "r000080", "r000088", "r000084"}, ""},
		{[]string{"/", "tab", "tab", "8$"}, []string{"r000008", "r000018", "r000028", "r000038", "r000048", "r000058", "r000068", "r000078", "r000088", "r000098"}, ""},
		{[]string{"/", "npy"}, nil, ""}, // a fuzzy match would show numpy
		// A character added narrows what was shown; one erased looks at
		// every row again.
		{[]string{"/", "numpy-8", "backspace", "backspace"}, []string{"r000000", "r000008", "r000016", "r000024", "r000032", "r000040", "r000048", "r000056", "r000064", "r000072", "r000080", "r000088", "r000096"}, ""},
		{[]string{"/", "scipy", "backspace", "backspace", "backspace", "backspace", "backspace", "numpy-9"}, []string{"r000096"}, "showing 1 of 100 · /numpy-9▏ (prefix)"},
		{[]string{"/", "numpy-8", "ctrl+u", "scipy-1"}, []string{"r000012"}, ""},
		{[]string{"/", "r00001"}, []string{"r000010", "r000011", "r000012", "r000013", "r000014", "r000015", "r000016", "r000017", "r000018", "r000019"}, ""},
		{[]string{"/", "tab", "tab", "(numpy"}, nil, "showing 0 of 100 · ~(numpy▏ (regex) · ✘ regex: missing closing ): `(numpy`"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.keys, " "), func(t *testing.T) {
			m := newModel(t, newFake(generated(100)), theme.Laptop, nil)
			press(t, m, tt.keys...)
			var got []string
			for _, i := range m.index {
				got = append(got, m.rows[i].rawID)
			}
			if !sameSet(got, tt.want) {
				t.Fatalf("shown %v, want %v", got, tt.want)
			}
			if tt.line != "" {
				if l := lines(m)[1]; l != tt.line {
					t.Fatalf("filter line %q, want %q", l, tt.line)
				}
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[string]int{}
	for _, s := range a {
		in[s]++
	}
	for _, s := range b {
		in[s]--
	}
	for _, n := range in {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestRegexAnswers: a regex is matched in a command; until the answer the
// filter line says so, and an answer to an older pattern is dropped.
func TestRegexAnswers(t *testing.T) {
	m := newModel(t, newFake(generated(100)), theme.Laptop, nil)
	press(t, m, "/", "tab", "tab")
	_, first := m.Update(tea.KeyPressMsg{Code: '^', Text: "^"})
	_, second := m.Update(tea.KeyPressMsg{Code: 'c', Text: "c"})
	if got := lines(m)[1]; got != "showing 100 of 100 · ~^c▏ (regex) · matching…" {
		t.Fatalf("filter line %q", got)
	}
	m.Update(second())
	m.Update(first()) // "^" matches every row: too late
	if got := lines(m)[1]; got != "showing 12 of 100 · ~^c▏ (regex)" {
		t.Fatalf("filter line %q", got)
	}
}

// TestPatternBound: a pattern stops growing at MaxPattern bytes, typed or
// pasted, and says so.
func TestPatternBound(t *testing.T) {
	m := newModel(t, newFake(generated(10)), theme.Minimum, nil)
	press(t, m, "/", strings.Repeat("a", MaxPattern+5))
	if len(m.f.pattern) != MaxPattern {
		t.Fatalf("pattern of %d bytes", len(m.f.pattern))
	}
	if m.note != fmt.Sprintf("a pattern is at most %d bytes", MaxPattern) {
		t.Fatalf("note %q", m.note)
	}
	m = newModel(t, newFake(generated(10)), theme.Minimum, nil)
	press(t, m, "/")
	m.Update(tea.PasteMsg{Content: strings.Repeat("b", 3*MaxPattern)})
	if len(m.f.pattern) != MaxPattern {
		t.Fatalf("pasted pattern of %d bytes", len(m.f.pattern))
	}
}

// TestJumps: n/N go to the next and previous request waiting for a
// decision, ]/[ to the next and previous problem, wrapping around.
func TestJumps(t *testing.T) {
	f := newFake(generated(30))
	m := newModel(t, f, theme.Minimum, nil)
	// Review order: needs judgement first (r000003, r000010, r000017,
	// r000024), then rule-approvable, then invalid (r000005, r000018).
	if got := cursorID(m); got != "r000003" {
		t.Fatalf("cursor starts on %s", got)
	}
	f.decisions["r000010"] = session.Decided{RequestID: "r000010", Decision: session.Defer, Reason: "x", By: "Alice"}
	m.refreshAll()
	steps := []struct{ key, want string }{
		{"n", "r000017"},
		{"N", "r000003"},
		{"N", "r000029"}, // wraps to the last rule-approvable
		{"]", "r000005"},
		{"]", "r000018"},
		{"]", "r000003"},
		{"[", "r000018"},
	}
	for _, s := range steps {
		press(t, m, s.key)
		if got := cursorID(m); got != s.want {
			t.Fatalf("after %s: cursor on %s, want %s", s.key, got, s.want)
		}
	}
}

// TestApproveMovesOn: an approval goes to the session as a command; the
// answer marks the row and puts the cursor on the next request waiting.
func TestApproveMovesOn(t *testing.T) {
	f := newFake(generated(30))
	m := newModel(t, f, theme.Minimum, nil)
	press(t, m, "G", "k", "k", "k") // r000028, rule-approvable
	if got := cursorID(m); got != "r000028" {
		t.Fatalf("cursor on %s", got)
	}
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'a', Text: "a"})
	if cmd == nil {
		t.Fatal("no command")
	}
	if len(f.calls) != 0 {
		t.Fatal("the session was called from Update")
	}
	if !m.Busy() {
		t.Fatal("not busy while the approval is recorded")
	}
	// A second decision waits for the first.
	if _, again := m.Update(tea.KeyPressMsg{Code: 'a', Text: "a"}); again != nil {
		t.Fatal("a second call while one is in flight")
	}
	if m.note != "wait: recording the approval of scipy-28" {
		t.Fatalf("note %q", m.note)
	}
	msg := cmd()
	if !reflect.DeepEqual(msg, Decided{RequestID: "r000028", Decision: session.Approve}) {
		t.Fatalf("message %#v", msg)
	}
	m.Update(msg)
	if got := cursorID(m); got != "r000029" {
		t.Fatalf("cursor on %s after the approval", got)
	}
	if m.done != 1 || m.state[m.byID["r000028"]] != approved {
		t.Fatalf("done %d, state %d", m.done, m.state[m.byID["r000028"]])
	}
	if got := lines(m)[0]; !strings.HasPrefix(got, "Review · 1 / 28 decided · 4 need judgement · 2 invalid") {
		t.Fatalf("counts %q", got)
	}
	if want := []string{`decide r000028 approve "" by Alice`}; !reflect.DeepEqual(f.calls, want) {
		t.Fatalf("calls %q", f.calls)
	}
	// The last rule-approvable decided, the cursor wraps to the first
	// request still waiting.
	press(t, m, "a")
	if got := cursorID(m); got != "r000003" {
		t.Fatalf("cursor on %s after the last approval", got)
	}
}

// TestLastShownDecided: deciding the only request a filter shows leaves
// an empty table, not a crash.
func TestLastShownDecided(t *testing.T) {
	f := newFake(generated(30))
	m := newModel(t, f, theme.Minimum, nil)
	press(t, m, "u", "/", "tab", "scipy-28", "enter", "a")
	if m.note != "approved scipy-28" || len(m.index) != 0 {
		t.Fatalf("note %q, %d shown", m.note, len(m.index))
	}
	if got := lines(m)[3]; got != "  No request passes these filters (esc clears them)." {
		t.Fatalf("table %q", got)
	}
}

// TestDrawWhileRecording: the screen draws from what it holds while the
// session records a decision on another goroutine (the session is not
// safe for concurrent use; go test -race sees a shared read).
func TestDrawWhileRecording(t *testing.T) {
	f := newFake(generated(30))
	m := newModel(t, f, theme.Minimum, nil)
	f.decisions["r000010"] = session.Decided{RequestID: "r000010", Decision: session.Defer, Reason: "asks again", By: "Bob"}
	m.refreshAll()
	press(t, m, "enter")
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'a', Text: "a"})
	done := make(chan tea.Msg)
	go func() { done <- cmd() }()
	for i := 0; i < 50; i++ {
		press(t, m, "n")
		_ = m.View()
	}
	m.Update(<-done)
	press(t, m, "g", "]")
	if got := lines(m)[2]; got != "- deferred · needs judgement: decided on its own · by Bob: \"asks again\"" {
		t.Fatalf("state line %q", got)
	}
}

// TestJudgementOpenedFirst: a request that needs judgement is approved
// only after someone opened it.
func TestJudgementOpenedFirst(t *testing.T) {
	f := newFake(generated(30))
	m := newModel(t, f, theme.Minimum, nil)
	press(t, m, "a")
	if len(f.calls) != 0 || m.note != "open flask-3 first (enter): it needs judgement" {
		t.Fatalf("calls %q, note %q", f.calls, m.note)
	}
	press(t, m, "enter", "a")
	if want := []string{`decide r000003 approve "" by Alice`}; !reflect.DeepEqual(f.calls, want) {
		t.Fatalf("calls %q", f.calls)
	}
	// Still in the detail pane, on the next request waiting, opened.
	if m.mode != modeDetail || cursorID(m) != "r000010" || !m.opened[m.byID["r000010"]] {
		t.Fatalf("mode %d, cursor %s", m.mode, cursorID(m))
	}
}

// TestRejectNeedsReason: a rejection or deferral asks for a typed reason;
// an empty one is not sent.
func TestRejectNeedsReason(t *testing.T) {
	f := newFake(generated(30))
	m := newModel(t, f, theme.Minimum, nil)
	press(t, m, "r", "enter")
	if len(f.calls) != 0 || m.note != "type the reason: the repository reads it" || !m.Typing() {
		t.Fatalf("calls %q, note %q, mode %d", f.calls, m.note, m.mode)
	}
	if got := lines(m)[21:23]; !reflect.DeepEqual(got, []string{"Reason to reject flask-3 (the repository reads it, enter records):", "▏"}) {
		t.Fatalf("reason lines %q", got)
	}
	press(t, m, "not the maintainers' keys", "enter")
	press(t, m, "d", "asks again next month", "backspace", "backspace", "backspace", "backspace", "backspace", "year", "enter")
	want := []string{`decide r000003 reject "not the maintainers' keys" by Alice`, `decide r000010 defer "asks again next year" by Alice`}
	if !reflect.DeepEqual(f.calls, want) {
		t.Fatalf("calls %q", f.calls)
	}
	// esc leaves the reason field without a call.
	press(t, m, "r", "why", "esc")
	if len(f.calls) != 2 || m.Typing() {
		t.Fatalf("calls %q, mode %d", f.calls, m.mode)
	}
}

// TestRefusalShown: what the session refuses is shown, and nothing
// changes.
func TestRefusalShown(t *testing.T) {
	f := newFake(generated(30))
	m := newModel(t, f, theme.Minimum, nil)
	press(t, m, "G", "k") // r000005, invalid
	press(t, m, "a")
	want := "not recorded: decide request r000005: the request is invalid and cannot be decided"
	if m.note != want || !m.noteBad || m.done != 0 {
		t.Fatalf("note %q", m.note)
	}
	// At 80 columns the refusal takes two lines rather than being cut.
	if got := lines(m)[21:23]; !reflect.DeepEqual(got, []string{"✘ not recorded: decide request r000005: the request is invalid and cannot be", "  decided"}) {
		t.Fatalf("note lines %q", got)
	}
	f.fail = errors.New("append to the log: no space left on device")
	press(t, m, "k", "a") // r000029
	if m.note != "not recorded: append to the log: no space left on device" || m.state[m.byID["r000029"]] != undecided {
		t.Fatalf("note %q", m.note)
	}
}

// TestResumed: decisions already in the log are read when the screen
// opens.
func TestResumed(t *testing.T) {
	f := newFake(generated(30))
	f.decisions["r000001"] = session.Decided{RequestID: "r000001", Decision: session.Approve, By: "Bob"}
	f.decisions["r000003"] = session.Decided{RequestID: "r000003", Decision: session.Reject, Reason: "no", By: "Bob"}
	m := newModel(t, f, theme.Minimum, nil)
	if m.done != 2 {
		t.Fatalf("done %d", m.done)
	}
	if got := lines(m)[0]; !strings.HasPrefix(got, "Review · 2 / 28 decided · 3 need judgement") {
		t.Fatalf("counts %q", got)
	}
}

// TestBulk: the summary counts per kind; every flagged request must be
// opened; the count is typed, never pasted; a wrong count is the
// session's refusal; the right one approves them all.
func TestBulk(t *testing.T) {
	f := newFake(generated(30))
	m := newModel(t, f, theme.Laptop, nil)
	press(t, m, "B")
	body := strings.Join(lines(m), "\n")
	for _, want := range []string{"  add              7", "  rotate           9", "  remove           8", "  total           24", "never opened: 24 of them", "✘ 4 need judgement and wait; 4 never opened", "  never opened: flask-3, django-10, requests-17, numpy-24\n"} {
		if !strings.Contains(body, want) {
			t.Fatalf("summary lacks %q:\n%s", want, body)
		}
	}
	press(t, m, "24", "enter")
	if len(f.calls) != 0 || m.note != "open the 4 flagged requests nobody opened first (o): each is decided on its own" {
		t.Fatalf("calls %q, note %q", f.calls, m.note)
	}
	m.Update(tea.PasteMsg{Content: "24"})
	if string(m.digits) != "24" || m.note != "type the count: pasting it proves nothing" {
		t.Fatalf("input %q, note %q", string(m.digits), m.note)
	}
	for _, id := range []string{"r000003", "r000010", "r000017", "r000024"} {
		press(t, m, "o")
		if m.mode != modeDetail || cursorID(m) != id {
			t.Fatalf("o opened %s (mode %d), want %s", cursorID(m), m.mode, id)
		}
		press(t, m, "esc")
		if m.mode != modeBulk {
			t.Fatalf("esc from the detail pane went to mode %d", m.mode)
		}
	}
	press(t, m, "backspace", "3", "enter")
	if m.note != "not recorded: 24 undecided rule-approvable requests, not the 23 typed: count again" || m.mode != modeBulk {
		t.Fatalf("note %q", m.note)
	}
	press(t, m, "backspace", "4", "enter")
	if m.note != "approved 24 rule-approvable requests together" || m.mode != modeTable || m.done != 24 {
		t.Fatalf("note %q, done %d", m.note, m.done)
	}
	if want := []string{"bulk 23 by Alice", "bulk 24 by Alice"}; !reflect.DeepEqual(f.calls, want) {
		t.Fatalf("calls %q", f.calls)
	}
}

// TestFinish: F ends the review only when every valid request is
// decided, and not while a decision is being recorded.
func TestFinish(t *testing.T) {
	f := newFake(generated(9))
	m := newModel(t, f, theme.Minimum, nil)
	if msg := press(t, m, "F"); msg != nil || m.note != "8 valid requests are still undecided" {
		t.Fatalf("message %#v, note %q", msg, m.note)
	}
	press(t, m, "enter", "a", "esc", "B", "7", "enter")
	m.busy = "recording the decision about flask-3"
	if msg := press(t, m, "F"); msg != nil || m.note != "wait: recording the decision about flask-3" {
		t.Fatalf("F while a decision is recorded: message %#v, note %q", msg, m.note)
	}
	m.busy = ""
	if msg := press(t, m, "F"); msg != (Finished{}) {
		t.Fatalf("message %#v, note %q", msg, m.note)
	}
}

// TestDetailDiff: the change tab shows the trusted delegation and the keys
// and paths removed and added.
func TestDetailDiff(t *testing.T) {
	m := newModel(t, newFake(generated(30)), theme.Laptop, nil)
	press(t, m, "enter")
	got := strings.Join(lines(m)[:16], "\n")
	want := strings.Join([]string{
		"Request r000003 · recover · flask-3",
		"[change]  JSON   (tab switches)",
		"! judge · needs judgement: decided on its own",
		"at requests/0001.jsonl:4",
		`requested by "maintainer@example.org", made 2026-12-01T10:00:00Z (as the request says)`,
		"",
		"What import found",
		"! [recovery] the current keys did not authorise this rotation: it is a recovery, after the notice period",
		"",
		"Change against the trusted delegation",
		"trusted now: claimed version 12, expires 2027-03-01 00:00 UTC",
		"threshold 1 (unchanged)",
		"keys (− removed, + added, by fingerprint):",
		"  − ed25519          fingerprint " + shortFP("flask-3a") + "  keyid " + shortFP("id:flask-3a"),
		"  + ed25519          fingerprint " + shortFP("flask-3c") + "  keyid " + shortFP("id:flask-3c"),
		"paths (− removed, + added):",
	}, "\n")
	if got != want {
		t.Fatalf("detail:\n%s\nwant:\n%s", got, want)
	}
}

func shortFP(name string) string {
	h := fp(name)
	return h[:8] + "…" + h[len(h)-8:]
}

// TestRawJSON: the JSON tab is the verdict's JSON, in printable ASCII
// only, and still the same JSON.
func TestRawJSON(t *testing.T) {
	for _, v := range hostile() {
		ls := rawLines(&v, 80)
		for _, l := range ls {
			if len(l) > 80 {
				t.Fatalf("%q: line of %d bytes", v.RequestID, len(l))
			}
			for _, c := range []byte(l) {
				if c < 0x20 || c >= 0x7f {
					t.Fatalf("%q: byte %#x in %q", v.RequestID, c, l)
				}
			}
		}
		var back verdict.Verdict
		if err := json.Unmarshal([]byte(strings.Join(ls, "")), &back); err != nil {
			// Lines broken at the width join back into the JSON text.
			t.Fatalf("%q: %v", v.RequestID, err)
		}
		if !reflect.DeepEqual(back, v) {
			t.Fatalf("%q: round trip gave %#v", v.RequestID, back)
		}
	}
	if got := asciiJSON("a\u202eb😀"); got != `a\u202eb\ud83d\ude00` {
		t.Fatalf("asciiJSON %q", got)
	}
}

// TestFitsEverySize: whatever the bundle names, every screen is exactly
// its height and no line is wider than its width, and no byte of a name
// reaches the terminal as a control.
func TestFitsEverySize(t *testing.T) {
	sizes := append([]theme.Size{{Name: "tiny", Width: 80, Height: 24}, {Name: "wide", Width: 200, Height: 60}}, theme.Sizes...)
	for _, size := range sizes {
		for _, keys := range [][]string{nil, {"enter"}, {"enter", "tab"}, {"B"}, {"r", "x"}, {"/", "h-"}} {
			m := newModel(t, newFake(screenVerdicts()), size, theme.New(theme.Options{Color: true}))
			for p := range m.index {
				m.cursor = p
				m.scroll()
				m.mode = modeTable
				press(t, m, keys...)
				view := m.View()
				ls := strings.Split(view, "\n")
				if len(ls) != size.Height {
					t.Fatalf("%s %v row %d: %d lines", size.Name, keys, p, len(ls))
				}
				for _, l := range ls {
					if w := ansi.StringWidth(l); w > size.Width {
						t.Fatalf("%s %v: line of %d cells: %q", size.Name, keys, w, l)
					}
				}
				plain := plainText(view)
				for _, bad := range []string{"\x1b", "\r", "\u202e", "\x00", "\x07"} {
					if strings.Contains(plain, bad) {
						t.Fatalf("%s %v: %q reached the screen", size.Name, keys, bad)
					}
				}
				press(t, m, "esc")
				if m.mode == modeTable && len(keys) > 0 && keys[0] == "/" {
					m.f = filter{}
					m.applyFilter()
				}
			}
		}
	}
}
