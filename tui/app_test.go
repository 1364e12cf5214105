package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/tui/closing"
	"github.com/conclave-keys/conclave/tui/imported"
	"github.com/conclave-keys/conclave/tui/internal/golden"
	"github.com/conclave-keys/conclave/tui/internal/keys"
	"github.com/conclave-keys/conclave/tui/review"
	"github.com/conclave-keys/conclave/tui/theme"
)

// stillEngine is a ceremony that never opens: the shell's own screens
// (who operates, help, quit, too small) are drawn and driven without a
// log. Start records the opening it was given.
type stillEngine struct {
	rehearsal bool
	started   *session.Opening
}

func (e *stillEngine) CeremonyID() string { return "20261203T093015Z-1a2b3c4d" }
func (e *stillEngine) Journal() string    { return "/vault/journal/20261203T093015Z-1a2b3c4d" }
func (e *stillEngine) Vault() *vault.Vault {
	return &vault.Vault{Policy: &policy.Policy{Rehearsal: e.rehearsal, Holders: []policy.Holder{{Name: "Alice"}, {Name: "Bob"}, {Name: "Olga"}}}}
}
func (e *stillEngine) Session() *session.Session { return nil }
func (e *stillEngine) Start(o session.Opening) error {
	e.started = &o
	return context.Canceled
}
func (e *stillEngine) Checks() (*preflight.Report, []session.Check)     { return &preflight.Report{}, nil }
func (e *stillEngine) Import() error                                    { return nil }
func (e *stillEngine) Export(context.Context) ([]closing.File, error)   { return nil, nil }
func (e *stillEngine) Finish(context.Context) (*closing.Summary, error) { return nil, nil }
func (e *stillEngine) Close(context.Context) error                      { return nil }
func (e *stillEngine) SignHead(context.Context, string) error           { return nil }
func (e *stillEngine) Resume() string {
	return "conclave ceremony --resume /vault/journal/20261203T093015Z-1a2b3c4d --out /media/out"
}

func newShell(th *theme.Theme, s theme.Size, rehearsal bool) (*Model, *stillEngine) {
	e := &stillEngine{rehearsal: rehearsal}
	m := New(Options{Engine: e, Theme: th, Now: func() time.Time { return time.Date(2026, 12, 3, 9, 30, 15, 0, time.UTC) }})
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: s.Width, Height: s.Height})
	return m, e
}

func send(m *Model, msgs ...tea.Msg) tea.Cmd {
	var c tea.Cmd
	for _, msg := range msgs {
		_, c = m.Update(msg)
	}
	return c
}

// TestNameTakesEveryKey: while the name is typed, q and ? are letters;
// the opening names the operator and every holder once, and a rehearsal
// vault opens a rehearsal with its reason.
func TestNameTakesEveryKey(t *testing.T) {
	m, e := newShell(theme.New(theme.Options{}), theme.Minimum, true)
	send(m, keys.Type("Quinn?")...)
	if m.quitting || m.help || m.name.Value() != "Quinn?" {
		t.Fatalf("typing the name: quitting %v, help %v, name %q", m.quitting, m.help, m.name.Value())
	}
	send(m, keys.Press("backspace"))
	c := send(m, keys.Press("enter"))
	c() // Start
	o := e.started
	if o == nil || strings.Join(o.Participants, ",") != "Quinn,Alice,Bob,Olga" || !o.Rehearsal || o.RehearsalReason == "" {
		t.Errorf("opening %+v", o)
	}
}

// TestQuitSaysWhatHappens: q asks first; n stays; ctrl+c also asks; y
// quits, and the program says people quit before the ceremony ended.
func TestQuitSaysWhatHappens(t *testing.T) {
	m, _ := newShell(theme.New(theme.Options{}), theme.Minimum, false)
	m.by, m.step = "Olga", stepPreflight
	send(m, keys.Press("q"))
	if !m.quitting || !strings.Contains(plain(m), "The ceremony has not started: nothing was written.") {
		t.Fatalf("q:\n%s", plain(m))
	}
	send(m, keys.Press("n"))
	if m.quitting {
		t.Fatal("n did not stay")
	}
	send(m, keys.Press("ctrl+c"))
	c := send(m, keys.Press("y"))
	if c == nil || !m.Quit() {
		t.Fatalf("y: quit %v", m.Quit())
	}
	if _, ok := c().(tea.QuitMsg); !ok {
		t.Errorf("y sent %T", c())
	}
}

// TestHelpListsWorkingKeysAndFinds: the help lists the keys that work now
// and narrows them to what is typed.
func TestHelpListsWorkingKeysAndFinds(t *testing.T) {
	m, _ := newShell(theme.New(theme.Options{}), theme.Minimum, false)
	m.by, m.step = "Olga", stepPreflight
	send(m, keys.Press("?"))
	all := plain(m)
	if !strings.Contains(all, "quit (asks first)") || !strings.Contains(all, "?            help") {
		t.Fatalf("help:\n%s", all)
	}
	send(m, keys.Type("ctrl")...)
	found := plain(m)
	if strings.Contains(found, "?            help") || !strings.Contains(found, "quit (asks first)") {
		t.Errorf("help after typing ctrl:\n%s", found)
	}
	send(m, keys.Press("esc"))
	if m.help {
		t.Error("esc did not close the help")
	}
}

// TestTooSmall: below 80×24 only the "terminal too small" screen shows,
// with both sizes; at 80×24 the program shows.
func TestTooSmall(t *testing.T) {
	m, _ := newShell(theme.New(theme.Options{}), theme.Size{Width: 79, Height: 24}, false)
	got := plain(m)
	if !strings.Contains(got, "Terminal too small") || !strings.Contains(got, "at least 80 columns by 24 lines; this terminal has 79 by 24") {
		t.Fatalf("79x24:\n%s", got)
	}
	send(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if strings.Contains(plain(m), "Terminal too small") {
		t.Errorf("80x24 is too small:\n%s", plain(m))
	}
}

func TestViews(t *testing.T) {
	golden.Views(t, "name", func(s theme.Size, th *theme.Theme) string {
		m, _ := newShell(th, s, true)
		send(m, keys.Type("Olga")...)
		return m.Render()
	})
	golden.Views(t, "help", func(s theme.Size, th *theme.Theme) string {
		m, _ := newShell(th, s, true)
		m.by, m.step = "Olga", stepPreflight
		send(m, keys.Press("?"))
		return m.Render()
	})
	golden.Views(t, "quit", func(s theme.Size, th *theme.Theme) string {
		m, _ := newShell(th, s, false)
		m.by, m.step = "Olga", stepPreflight
		send(m, keys.Press("q"))
		return m.Render()
	})
	golden.Views(t, "abandon", func(s theme.Size, th *theme.Theme) string {
		m, _ := newShell(th, s, false)
		m.by, m.step, m.screen = "Olga", stepSign, &heard{}
		send(m, keys.Press("q"), keys.Press("a"))
		send(m, keys.Type("the summary digests differ")...)
		send(m, keys.Press("tab"))
		send(m, keys.Type("Wendy")...)
		send(m, keys.Press("tab"), keys.Press("enter"))
		return m.Render()
	})
	golden.Check(t, "too-small.txt", func() string {
		m, _ := newShell(theme.New(theme.Options{}), theme.Size{Width: 60, Height: 20}, false)
		return plain(m)
	}())
}

// plain is the program's screen without its escape sequences.
func plain(m *Model) string { return ansi.Strip(m.Render()) }

// heard is a screen that records the messages it is given.
type heard struct{ got []tea.Msg }

func (h *heard) Init() tea.Cmd              { return nil }
func (h *heard) Update(msg tea.Msg) tea.Cmd { h.got = append(h.got, msg); return nil }
func (h *heard) View() string               { return "" }
func (h *heard) SetSize(theme.Size)         {}
func (h *heard) Bindings() []key.Binding    { return nil }
func (h *heard) Typing() bool               { return false }

// TestBusyHoldsKeys: while the shell runs a call on the session, keys and
// pastes do not reach the screen (a decision would race the build), the
// shell says why, and ctrl+c still asks to quit.
func TestBusyHoldsKeys(t *testing.T) {
	m, _ := newShell(theme.New(theme.Options{}), theme.Minimum, false)
	h := &heard{}
	m.by, m.step, m.screen, m.busy = "Olga", stepReview, h, "building the new metadata from the decisions"
	send(m, keys.Press("a"), keys.Press("enter"), tea.PasteMsg{Content: "a"})
	if len(h.got) != 0 {
		t.Fatalf("the screen was given %v while busy", h.got)
	}
	if m.notice != "wait: building the new metadata from the decisions" {
		t.Errorf("notice %q", m.notice)
	}
	send(m, keys.Press("ctrl+c"))
	if !m.quitting {
		t.Error("ctrl+c did not ask to quit while busy")
	}
}

// TestFinishTwiceBuildsOnce: a second F (or its Finished) while the
// build runs starts no second build.
func TestFinishTwiceBuildsOnce(t *testing.T) {
	m, _ := newShell(theme.New(theme.Options{}), theme.Minimum, false)
	m.by, m.step, m.screen = "Olga", stepReview, &heard{}
	if c := send(m, review.Finished{}); c == nil {
		t.Fatal("the first Finished started no build")
	}
	if c := send(m, review.Finished{}); c != nil {
		t.Error("the second Finished started another build")
	}
}

// TestImportEnterTwiceNotesOnce: Enter pressed twice on the import screen
// records the notes once; A pressed twice abandons once.
func TestImportEnterTwiceNotesOnce(t *testing.T) {
	m, _ := newShell(theme.New(theme.Options{}), theme.Minimum, false)
	rep := &verdict.Report{BundleID: "b1", Source: "ci", Notes: []verdict.Finding{{Code: verdict.BundleReplayed}}}
	m.by = "Olga"
	m.show(stepImport, &adapt[*imported.Model]{m: imported.New(rep, "", m.th, m.body()), up: (*imported.Model).Update})
	send(m, keys.Press("a"))
	first, second := send(m, keys.Press("enter")), send(m, keys.Press("enter"))
	if first == nil || second == nil {
		t.Fatal("enter did not continue")
	}
	if c := send(m, first()); c == nil {
		t.Fatal("the first Continue recorded nothing")
	}
	if c := send(m, second()); c != nil {
		t.Error("the second Continue recorded the notes again")
	}

	m, _ = newShell(theme.New(theme.Options{}), theme.Minimum, false)
	m.by = "Olga"
	m.show(stepImport, &adapt[*imported.Model]{m: imported.New(nil, "the manifest is not signed", m.th, m.body()), up: (*imported.Model).Update})
	first, second = send(m, keys.Press("A")), send(m, keys.Press("A"))
	if c := send(m, first()); c == nil {
		t.Fatal("the first Abandon did nothing")
	}
	if c := send(m, second()); c != nil {
		t.Error("the second Abandon abandoned again")
	}
}

// TestQuitOffersAbandon: at the review the quit dialog offers to abandon
// (not at the preflight); Enter abandons nothing until the reason, a name
// and the typed word are there, then once; a name the log does not list
// as present is said, and the dialog stays.
func TestQuitOffersAbandon(t *testing.T) {
	m, _ := newShell(theme.New(theme.Options{}), theme.Minimum, false)
	m.by, m.step = "Olga", stepPreflight
	send(m, keys.Press("q"), keys.Press("a"))
	if m.abandon != nil || strings.Contains(plain(m), "abandon it instead") {
		t.Fatalf("the preflight's quit dialog offers to abandon:\n%s", plain(m))
	}
	m, _ = newShell(theme.New(theme.Options{}), theme.Minimum, false)
	m.by, m.step, m.screen = "Olga", stepReview, &heard{}
	send(m, keys.Press("q"))
	if !strings.Contains(plain(m), "abandon it instead (a)") || !strings.Contains(plain(m), "a abandon the ceremony…") {
		t.Fatalf("the review's quit dialog:\n%s", plain(m))
	}
	send(m, keys.Press("a"))
	if c := send(m, keys.Press("enter")); c != nil || m.abandon.problem != "type the reason: it is recorded in the log" {
		t.Fatalf("enter with nothing typed: %v, problem %q", c != nil, m.abandon.problem)
	}
	send(m, keys.Type("the digests differ")...)
	send(m, keys.Press("tab"))
	send(m, keys.Type("Wendy")...)
	send(m, keys.Press("tab"))
	send(m, keys.Type("abandn")...)
	if c := send(m, keys.Press("enter")); c != nil || m.abandon.problem != "type the word abandon to confirm: nothing undoes it" {
		t.Fatalf("enter with the word mistyped: %v, problem %q", c != nil, m.abandon.problem)
	}
	send(m, keys.Press("backspace"))
	send(m, keys.Type("on")...)
	first, second := send(m, keys.Press("enter")), send(m, keys.Press("enter"))
	if first == nil || m.busy != "abandoning the ceremony" || second != nil {
		t.Fatalf("enter: first %v, second %v, busy %q", first != nil, second != nil, m.busy)
	}
	send(m, abandonMsg{err: fmt.Errorf("%q: %w", "Wendy", session.ErrNotPresent)})
	if m.abandon == nil || m.abandon.focus != 1 || m.abandon.problem != "the ceremony's log does not name Wendy as present: type the name of a participant or witness" {
		t.Fatalf("a name not present:\n%s", plain(m))
	}
	send(m, keys.Press("esc"))
	if m.abandon != nil || !m.quitting {
		t.Errorf("esc: abandon %v, quitting %v", m.abandon != nil, m.quitting)
	}
}
