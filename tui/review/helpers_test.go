package review

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/tui/theme"
)

// fakeSession keeps decisions as the session does for the review's calls:
// the same refusals (a reason for a rejection or deferral, no decision on
// an invalid request, the bulk count) with the session's own errors.
type fakeSession struct {
	report    *verdict.Report
	decisions map[string]session.Decided
	calls     []string
	fail      error // returned by the next call, when set
}

func newFake(vs []verdict.Verdict) *fakeSession {
	r := &verdict.Report{Format: verdict.ReportFormat, BundleID: "b-2026-12-03", Source: "pypi", Requests: vs}
	verdict.Order(r.Requests)
	r.Tally()
	return &fakeSession{report: r, decisions: map[string]session.Decided{}}
}

func (f *fakeSession) Report() *verdict.Report { return f.report }

func (f *fakeSession) Decision(id string) (session.Decided, bool) {
	d, ok := f.decisions[id]
	return d, ok
}

func (f *fakeSession) find(id string) *verdict.Verdict {
	for i := range f.report.Requests {
		if f.report.Requests[i].RequestID == id {
			return &f.report.Requests[i]
		}
	}
	return nil
}

func (f *fakeSession) Decide(id, decision, reason, by string) error {
	f.calls = append(f.calls, fmt.Sprintf("decide %s %s %q by %s", id, decision, reason, by))
	if err := f.fail; err != nil {
		f.fail = nil
		return err
	}
	v := f.find(id)
	switch {
	case v == nil:
		return fmt.Errorf("decide request %s: the bundle holds no request %q", id, id)
	case v.Class == verdict.Invalid:
		return fmt.Errorf("decide request %s: %w", id, session.ErrInvalidRequest)
	case decision != session.Approve && strings.TrimSpace(reason) == "":
		return fmt.Errorf("decide request %s: a decision to %s needs a reason, for the repository", id, decision)
	}
	f.decisions[id] = session.Decided{RequestID: id, Decision: decision, Reason: strings.TrimSpace(reason), By: by}
	return nil
}

func (f *fakeSession) BulkApprove(confirmed int, by string) error {
	f.calls = append(f.calls, fmt.Sprintf("bulk %d by %s", confirmed, by))
	var ids []string
	for _, v := range f.report.Requests {
		if _, done := f.decisions[v.RequestID]; !done && v.Class == verdict.RuleApprovable {
			ids = append(ids, v.RequestID)
		}
	}
	sort.Strings(ids)
	if confirmed != len(ids) {
		return fmt.Errorf("approve in bulk: %w", &session.BulkCountError{Confirmed: confirmed, Undecided: len(ids)})
	}
	for _, id := range ids {
		f.decisions[id] = session.Decided{RequestID: id, Decision: session.Approve, By: by}
	}
	return nil
}

// fp is a made-up fingerprint, stable per name.
func fp(name string) string {
	s := sha256.Sum256([]byte(name))
	return hex.EncodeToString(s[:])
}

func vkey(name string) verdict.Key {
	return verdict.Key{KeyID: fp("id:" + name), Fingerprint: fp(name), Scheme: "ed25519"}
}

func deleg(threshold int64, paths []string, names ...string) *verdict.Delegation {
	d := &verdict.Delegation{Threshold: threshold, Paths: paths}
	for _, n := range names {
		d.Keys = append(d.Keys, vkey(n))
	}
	return d
}

// generated makes n verdicts of every kind and class: one in seven needs
// judgement, one in thirteen is invalid.
func generated(n int) []verdict.Verdict {
	vs := make([]verdict.Verdict, n)
	names := []string{"numpy", "requests", "django", "flask", "scipy", "pandas", "attrs", "click"}
	for i := range vs {
		p := fmt.Sprintf("%s-%d", names[i%len(names)], i)
		v := verdict.Verdict{RequestID: fmt.Sprintf("r%06d", i), Batch: fmt.Sprintf("requests/%04d.jsonl", i/4096+1), Line: i%4096 + 1, Project: p, Class: verdict.RuleApprovable, RequestedBy: "maintainer@example.org", Made: "2026-12-01T10:00:00Z", Findings: []verdict.Finding{}}
		paths := []string{p + "/*"}
		switch i % 3 {
		case 0:
			v.Kind = "add"
			v.Change = &verdict.Change{After: deleg(1, paths, p+"a")}
		case 1:
			v.Kind = "rotate"
			v.Change = &verdict.Change{Before: deleg(1, paths, p+"a"), After: deleg(2, paths, p+"a", p+"b")}
		case 2:
			v.Kind = "remove"
			v.Change = &verdict.Change{Before: deleg(1, paths, p+"a")}
		}
		switch {
		case i%13 == 5:
			v.Class = verdict.Invalid
			v.Change = nil
			v.Findings = []verdict.Finding{{Code: verdict.KeyInvalid, Severity: verdict.Error, Sentence: "keys[0] is not a usable ed25519 key", Path: "keys[0]"}}
		case i%7 == 3:
			v.Kind = "recover"
			v.Class = verdict.NeedsJudgement
			v.Change = &verdict.Change{Before: deleg(1, paths, p+"a"), After: deleg(1, paths, p+"c")}
			v.Findings = []verdict.Finding{{Code: verdict.Recovery, Severity: verdict.Warning, Sentence: "the current keys did not authorise this rotation: it is a recovery, after the notice period"}}
		}
		vs[i] = v
	}
	return vs
}

// hostile are requests whose names and sentences try to take over the
// terminal, hide, reverse or push text off the screen.
func hostile() []verdict.Verdict {
	long := strings.Repeat("very-long-project-name-", 20)
	return []verdict.Verdict{
		{RequestID: "h-esc", Batch: "requests/0001.jsonl", Line: 1, Kind: "add", Project: "evil\x1b[2K\x1b[8mhidden", Class: verdict.NeedsJudgement,
			RequestedBy: "\x1b]0;owned\x07", Made: "2026-12-01",
			Change:   &verdict.Change{After: deleg(1, []string{"evil/*", "\x1b[31mred/*"}, "e1")},
			Findings: []verdict.Finding{{Code: verdict.NoDwell, Severity: verdict.Warning, Sentence: "the keyset of \"evil\x1b[2K\" was not published unchanged before\r\nAPPROVED"}}},
		{RequestID: "h-bidi", Batch: "requests/0001.jsonl", Line: 1, Kind: "rotate", Project: "\u202egnp.exe\u202c-lib", Class: verdict.RuleApprovable,
			Change:   &verdict.Change{Before: deleg(1, []string{"bidi/*"}, "b1"), After: deleg(1, []string{"bidi/*"}, "b2")},
			Findings: []verdict.Finding{}},
		{RequestID: "h-long-" + long, Batch: "requests/" + long + ".jsonl", Line: 1, Kind: "add", Project: long, Class: verdict.RuleApprovable,
			Change:   &verdict.Change{After: deleg(2, []string{long + "/*"}, "l1", "l2")},
			Findings: []verdict.Finding{}},
		{RequestID: "h-wide", Batch: "requests/0001.jsonl", Line: 1, Kind: "add", Project: "数据科学工具包数据科学工具包数据科学", Class: verdict.RuleApprovable,
			Change:   &verdict.Change{After: deleg(1, []string{"wide/*"}, "w1")},
			Findings: []verdict.Finding{}},
		{RequestID: "h-nl\nr000002", Batch: "requests/0001.jsonl", Line: 1, Kind: "remove\x00", Project: "line\nbreak", Class: verdict.Invalid,
			Findings: []verdict.Finding{{Code: verdict.FormatInvalid, Severity: verdict.Error, Sentence: "kind \"remove\\u0000\" is not a kind", Path: "kind"}}},
	}
}

// screenVerdicts is the report the golden screens show: generated
// requests with the hostile ones among them.
func screenVerdicts() []verdict.Verdict {
	return append(generated(40), hostile()...)
}

var trusted = func(string) (Trusted, bool) {
	return Trusted{Role: "claimed", Version: 12, Expires: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}, true
}

func newModel(t testing.TB, s Session, size theme.Size, th *theme.Theme) *Model {
	t.Helper()
	if th == nil {
		th = theme.New(theme.Options{})
	}
	return New(Options{Session: s, By: "Alice", Trusted: trusted, Theme: th, Size: size})
}

// press sends keys: a name of a special key ("enter", "esc", "tab",
// "backspace", "up", "down", "pgdown", "ctrl+u") or text typed a character at a
// time. It runs the commands Update returns, as the program would, and
// feeds their messages back; the last one's message is returned.
func press(t testing.TB, m *Model, keys ...string) tea.Msg {
	t.Helper()
	var last tea.Msg
	for _, k := range keys {
		var msgs []tea.KeyPressMsg
		switch k {
		case "enter":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyEnter})
		case "esc":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyEscape})
		case "tab":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyTab})
		case "backspace":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyBackspace})
		case "up":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyUp})
		case "down":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyDown})
		case "pgdown":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyPgDown})
		case "ctrl+u":
			msgs = append(msgs, tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
		default:
			for _, r := range k {
				msgs = append(msgs, tea.KeyPressMsg{Code: r, Text: string(r)})
			}
		}
		for _, msg := range msgs {
			_, cmd := m.Update(msg)
			for cmd != nil {
				last = cmd()
				_, cmd = m.Update(last)
			}
		}
	}
	return last
}

// cursorID is the request under the cursor.
func cursorID(m *Model) string {
	if i := m.current(); i >= 0 {
		return m.rows[i].rawID
	}
	return ""
}

// lines is the screen, its escape sequences removed.
func lines(m *Model) []string {
	return strings.Split(plainText(m.View()), "\n")
}
