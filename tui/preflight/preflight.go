// Package preflight is the first screen of a ceremony in the terminal
// program: the machine's air-gap checks with what to do about
// each, an override with a typed reason for a check that could not look,
// and the clock confirmed by a person against a reference kept outside the
// room.
//
// The screen decides nothing: it collects what people said and hands it to
// the shell (Done), which records it in the ceremony's log; the session
// says whether that lets the ceremony go on, and a refusal comes back here
// (Refused) to be shown.
package preflight

import (
	"fmt"
	"slices"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/internal/field"
	"github.com/conclave-keys/conclave/tui/internal/layout"
	"github.com/conclave-keys/conclave/tui/theme"
)

// Options make a preflight screen.
type Options struct {
	// Name is who operates: the overrides and the clock are recorded
	// under it.
	Name string
	// Required are the check ids the vault's policy requires.
	Required []string
	// Rehearsal says the session lets a rehearsal go on whatever the
	// checks found (shown, not decided, here), and that the time may be
	// typed: a real ceremony confirms this machine's clock, as a script
	// must (clock: {confirm: system}), after it was set right.
	Rehearsal bool
	// Run runs the machine's checks, as a report for people and as the
	// session records them; it is called in a command.
	Run func() (*preflight.Report, []session.Check)
	// Now is the machine's clock; time.Now when nil.
	Now func() time.Time
}

// Done is what people said: the shell records it.
type Done struct {
	By        string
	Report    *preflight.Report
	Checks    []session.Check
	Overrides map[string]string
	Clock     time.Time
}

// Refused is the session's refusal of a Done, sent back by the shell.
type Refused struct {
	Err error
	// Clock is true when the refusal is about the confirmed time: the
	// screen goes back to the clock, else to the checks.
	Clock bool
}

// TickMsg redraws the clock; the time is read from Options.Now.
type TickMsg struct{}

type ranMsg struct {
	r      *preflight.Report
	checks []session.Check
}

type phase int

const (
	phaseRunning phase = iota
	phaseChecks
	phaseReason
	phaseClock
	phaseClockTyped
	phaseSent
)

// Model is the preflight screen.
type Model struct {
	o         Options
	th        *theme.Theme
	size      theme.Size
	phase     phase
	report    *preflight.Report
	checks    []session.Check
	cursor    int
	overrides map[string]string
	reason    field.Field
	typed     field.Field
	notice    string
	refusal   string
}

// New returns the screen.
func New(o Options, th *theme.Theme, size theme.Size) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Model{o: o, th: th, size: size, overrides: map[string]string{}, phase: phaseRunning}
}

// Init runs the checks.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.run(), tick()) }

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return TickMsg{} })
}

func (m *Model) run() tea.Cmd {
	run := m.o.Run
	return func() tea.Msg {
		r, c := run()
		return ranMsg{r, c}
	}
}

// SetSize is the shell's window size.
func (m *Model) SetSize(s theme.Size) { m.size = s }

// Typing reports whether a text field has focus: the shell then leaves
// every key to the screen but ctrl+c.
func (m *Model) Typing() bool {
	return m.phase == phaseReason || m.phase == phaseClockTyped
}

var (
	keyUp       = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "previous check"))
	keyDown     = key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "next check"))
	keyOverride = key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "override (type a reason)"))
	keyRerun    = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run the checks again"))
	keyNext     = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "go on to the clock"))
	keyConfirm  = key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "the clocks agree: confirm"))
	keyType     = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "type the reference time"))
	keyBack     = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	keyEnter    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "done"))
)

// Bindings are the keys that work now.
func (m *Model) Bindings() []key.Binding {
	switch m.phase {
	case phaseChecks:
		ov := keyOverride
		ov.SetEnabled(m.selectedUnchecked())
		return []key.Binding{keyUp, keyDown, ov, keyRerun, keyNext}
	case phaseReason, phaseClockTyped:
		return []key.Binding{keyEnter, keyBack}
	case phaseClock:
		typ := keyType
		typ.SetEnabled(m.o.Rehearsal)
		return []key.Binding{keyConfirm, typ, keyBack}
	}
	return nil
}

func (m *Model) selectedUnchecked() bool {
	if m.report == nil || m.cursor >= len(m.report.Results) {
		return false
	}
	return m.report.Results[m.cursor].Status == preflight.Unchecked
}

// Update handles a message.
func (m *Model) Update(msg tea.Msg) (*Model, tea.Cmd) {
	switch msg := msg.(type) {
	case TickMsg:
		if m.phase == phaseSent {
			return m, nil
		}
		return m, tick()
	case ranMsg:
		m.report, m.checks, m.phase, m.notice = msg.r, msg.checks, phaseChecks, ""
		m.cursor = min(m.cursor, max(len(msg.r.Results)-1, 0))
		return m, nil
	case Refused:
		m.refusal = msg.Err.Error()
		m.phase = phaseChecks
		if msg.Clock {
			m.phase = phaseClock
		}
		return m, nil
	case tea.PasteMsg:
		if f := m.focused(); f != nil {
			f.Paste(msg.Content)
		}
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Model) focused() *field.Field {
	switch m.phase {
	case phaseReason:
		return &m.reason
	case phaseClockTyped:
		return &m.typed
	}
	return nil
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	m.notice = ""
	switch m.phase {
	case phaseChecks:
		switch {
		case key.Matches(k, keyUp):
			m.cursor = max(m.cursor-1, 0)
		case key.Matches(k, keyDown):
			m.cursor = min(m.cursor+1, len(m.report.Results)-1)
		case key.Matches(k, keyOverride):
			if !m.selectedUnchecked() {
				m.notice = "only a check that could not look takes an override; a failed check must be fixed, then run again (r)"
				return nil
			}
			m.reason.Set(m.overrides[m.report.Results[m.cursor].ID])
			m.phase = phaseReason
		case key.Matches(k, keyRerun):
			m.phase = phaseRunning
			return m.run()
		case key.Matches(k, keyNext):
			m.refusal = ""
			m.phase = phaseClock
		}
	case phaseReason:
		switch {
		case key.Matches(k, keyBack):
			m.phase = phaseChecks
		case key.Matches(k, keyEnter):
			id := m.report.Results[m.cursor].ID
			if r := m.reason.Value(); r != "" {
				m.overrides[id] = r
			} else {
				delete(m.overrides, id)
			}
			m.phase = phaseChecks
		default:
			m.reason.Key(k)
		}
	case phaseClock:
		switch {
		case key.Matches(k, keyBack):
			m.phase = phaseChecks
		case key.Matches(k, keyConfirm):
			return m.done(m.o.Now())
		case key.Matches(k, keyType) && !m.o.Rehearsal:
			m.notice = "a real ceremony confirms this machine's clock: if it is wrong, set it (date -s), then confirm it"
		case key.Matches(k, keyType):
			m.typed.Set(m.o.Now().UTC().Format(timeLayout))
			m.phase = phaseClockTyped
		}
	case phaseClockTyped:
		switch {
		case key.Matches(k, keyBack):
			m.phase = phaseClock
		case key.Matches(k, keyEnter):
			t, err := time.ParseInLocation(timeLayout, m.typed.Value(), time.UTC)
			if err != nil {
				m.notice = "write the time as YYYY-MM-DD HH:MM:SS, in UTC"
				return nil
			}
			return m.done(t)
		default:
			m.typed.Key(k)
		}
	}
	return nil
}

const timeLayout = "2006-01-02 15:04:05"

func (m *Model) done(t time.Time) tea.Cmd {
	m.phase = phaseSent
	m.refusal = ""
	d := Done{By: m.o.Name, Report: m.report, Checks: m.checks, Overrides: maps(m.overrides), Clock: t.UTC()}
	return func() tea.Msg { return d }
}

func maps(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// markOf is how a check's status is shown.
func markOf(s preflight.Status) (theme.Mark, string) {
	switch s {
	case preflight.Pass:
		return theme.Pass, ""
	case preflight.Fail:
		return theme.Fail, ""
	case preflight.Unchecked:
		return theme.Warn, "could not look"
	case preflight.Confirm:
		return theme.Warn, "a person must confirm"
	}
	return theme.Info, ""
}

// View draws the screen, exactly as many lines as its height.
func (m *Model) View() string {
	th := m.th
	b := &layout.Lines{Width: m.size.Width}
	b.Add(th.Title.Render("Preflight: is this machine fit for a ceremony?"), "")
	switch m.phase {
	case phaseRunning:
		b.Add("  " + th.Mark(theme.Pending) + "  running the air-gap checks…")
	case phaseChecks, phaseReason:
		m.viewChecks(b)
	case phaseClock, phaseClockTyped, phaseSent:
		m.viewClock(b)
	}
	if m.refusal != "" {
		b.Add("")
		b.Wrap(th.Style(theme.Fail).Render("✘ refused: ")+termtext.Safe(m.refusal), "", "  ")
	}
	if m.notice != "" {
		b.Add("")
		b.Wrap("! "+m.notice, "", "  ")
	}
	return b.Fit(m.size.Height)
}

func (m *Model) viewChecks(b *layout.Lines) {
	th := m.th
	r := m.report
	summary := fmt.Sprintf("%s: %d failed, %d could not look", termtext.Plural(len(r.Results), "check"), r.Failed, r.Unchecked)
	b.Add(summary, "")
	for i, res := range r.Results {
		mark, _ := markOf(res.Status)
		req := "   "
		if slices.Contains(m.o.Required, res.ID) {
			req = "req"
		}
		line := fmt.Sprintf("%s %s  %-28s %s", req, th.Mark(mark), termtext.Cap(res.Title, 28), termtext.Safe(res.ID))
		if o := m.overrides[res.ID]; o != "" {
			line += "  (overridden)"
		}
		if i == m.cursor {
			b.Add(th.Selected.Render("▸ " + line))
		} else {
			b.Add("  " + line)
		}
	}
	if len(r.Results) == 0 {
		return
	}
	res := r.Results[m.cursor]
	b.Add("")
	mark, what := markOf(res.Status)
	head := th.Heading.Render(termtext.Safe(res.Title)) + "  " + th.Mark(mark)
	if what != "" {
		head += " (" + what + ")"
	}
	b.Add(head)
	b.Wrap(termtext.Safe(res.Message), "  ", "  ")
	for _, d := range res.Details {
		b.Wrap(th.Muted.Render(termtext.Safe(d)), "    ", "    ")
	}
	if slices.Contains(m.o.Required, res.ID) {
		b.Add("  Required by the vault's policy.")
	}
	if m.phase == phaseReason {
		b.Add("", "  Why is it safe to go on without this check? (recorded in the log)", "  Reason: "+m.reason.View(th, m.size.Width-10))
	} else if o := m.overrides[res.ID]; o != "" {
		b.Wrap("Override: "+termtext.Safe(o), "  ", "  ")
	}
	if m.o.Rehearsal && (r.Failed > 0 || r.Unchecked > 0) {
		b.Add("")
		b.Wrap("This is a rehearsal: it goes on whatever the checks found, and its log says what would have stopped a real ceremony.", "", "")
	}
}

func (m *Model) viewClock(b *layout.Lines) {
	th := m.th
	now := m.o.Now().UTC()
	b.Add(th.Heading.Render("The clock"), "")
	b.Wrap("Expiry dates count from the time confirmed here, and it must be later than the vault's last ceremony. Compare this machine's clock with a reference kept outside the room (a phone, a watch set that morning).", "", "")
	b.Add("", "  This machine's clock:  "+th.Title.Render(now.Format(timeLayout)+" UTC"), "")
	if m.phase == phaseClockTyped {
		b.Add("  The reference clock says (UTC): " + m.typed.View(th, 24))
	}
	if m.phase == phaseSent {
		b.Add("  " + th.Mark(theme.Pending) + "  recording the checks and the clock in the log…")
	}
}
