package imported

import (
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/tui/internal/golden"
	"github.com/conclave-keys/conclave/tui/internal/keys"
	"github.com/conclave-keys/conclave/tui/theme"
)

func report(notes bool) *verdict.Report {
	r := &verdict.Report{BundleID: "bundle-0042", Source: "pypi.example.org", Requests: []verdict.Verdict{
		{RequestID: "r1", Kind: "add", Project: "numpy", Class: verdict.NeedsJudgement},
		{RequestID: "r2", Kind: "add", Project: "scipy", Class: verdict.RuleApprovable},
		{RequestID: "r3", Kind: "rotate", Project: "pandas", Class: verdict.RuleApprovable},
		{RequestID: "r4", Kind: "remove", Project: "left-pad", Class: verdict.RuleApprovable},
		{RequestID: "r5", Kind: "recover", Project: "ghost", Class: verdict.Invalid, Findings: []verdict.Finding{
			{Code: verdict.NotDelegated, Severity: verdict.Error, Sentence: `Project "ghost" is not delegated, so there is nothing to recover.`}}},
		{RequestID: "r6", Kind: "add", Project: "Bad Name", Class: verdict.Invalid, Findings: []verdict.Finding{
			{Code: verdict.ProjectName, Severity: verdict.Error, Sentence: `"Bad Name" is not a normalised project name.`}}},
		{RequestID: "r7", Kind: "rotate", Project: "ghost2", Class: verdict.Invalid, Findings: []verdict.Finding{
			{Code: verdict.NotDelegated, Severity: verdict.Error, Sentence: `Project "ghost2" is not delegated, so there is nothing to rotate.`}}},
	}}
	if notes {
		r.Notes = []verdict.Finding{{Code: verdict.PublishedDiffers, Severity: verdict.Warning,
			Sentence: "The published state says numpy is delegated to 2 keys; the trusted claimed metadata delegates it to 3. Someone may have published without a ceremony: find out before approving anything."}}
	}
	return r
}

func press(m *Model, ks ...string) (*Model, tea.Cmd) {
	var c tea.Cmd
	for _, k := range ks {
		m, c = m.Update(keys.Press(k))
	}
	return m, c
}

// TestNotesMustBeAcknowledged: with notes about the whole bundle, enter
// does not open the review until they are acknowledged; then the
// acknowledged codes go to the shell, which records them.
func TestNotesMustBeAcknowledged(t *testing.T) {
	m := New(report(true), "", theme.New(theme.Options{}), theme.Minimum)
	m, c := press(m, "enter")
	if c != nil || m.notice != "read the notes in the box first, then press a" {
		t.Fatalf("enter before acknowledging: notice %q", m.notice)
	}
	_, c = press(m, "a", "enter")
	msg, ok := c().(Continue)
	if !ok || !slices.Equal(msg.Acknowledged, []string{string(verdict.PublishedDiffers)}) {
		t.Errorf("sent %#v", c())
	}
}

// TestRefusedOnlyAbandons: a refused bundle offers only the abandon, with
// the refusal as its reason.
func TestRefusedOnlyAbandons(t *testing.T) {
	m := New(nil, "bundle bundle-0001 was imported before (replayed)", theme.New(theme.Options{}), theme.Minimum)
	if _, c := press(m, "enter"); c != nil {
		t.Fatal("enter on a refused bundle did something")
	}
	_, c := press(m, "A")
	if a, ok := c().(Abandon); !ok || a.Reason != "the bundle was refused: bundle bundle-0001 was imported before (replayed)" {
		t.Errorf("sent %#v", c())
	}
}

func TestViews(t *testing.T) {
	golden.Views(t, "notes", func(s theme.Size, th *theme.Theme) string { return New(report(true), "", th, s).View() })
	golden.Views(t, "summary", func(s theme.Size, th *theme.Theme) string { return New(report(false), "", th, s).View() })
	golden.Views(t, "refused", func(s theme.Size, th *theme.Theme) string {
		return New(nil, "No signature by a trusted intake key verifies on the manifest.", th, s).View()
	})
}

// TestManyReasonsFit: past three reasons the screen says how many more
// there are, rather than running off its height.
func TestManyReasonsFit(t *testing.T) {
	r := report(false)
	for _, c := range []verdict.Code{verdict.KeyInvalid, verdict.TooManyKeys, verdict.ThresholdRange} {
		r.Requests = append(r.Requests, verdict.Verdict{RequestID: string(c), Kind: "add", Class: verdict.Invalid,
			Findings: []verdict.Finding{{Code: c, Severity: verdict.Error, Sentence: "a reason."}}})
	}
	view := New(r, "", theme.New(theme.Options{}), theme.Minimum).View()
	if !strings.Contains(view, "… and 2 more: every invalid request is in the review, with why") || strings.Count(view, "\n") != theme.Minimum.Height-1 {
		t.Errorf("view:\n%s", view)
	}
}
