// Package tui is Conclave's terminal program: a full-screen walk through a
// ceremony that a room of key holders can follow without a manual.
//
// The root model (Model) is a shell around one screen at a time — who
// operates, preflight, import, review, signing, export and close — each a
// small model of its own package that takes its size and a theme. The
// shell draws what every screen shares: a status bar with the ceremony and
// its step, a permanent REHEARSAL banner on a rehearsal vault, the keys
// that work now, the help overlay (?), a quit that says what happens, and a
// "terminal too small" screen below 80 by 24.
//
// The program never decides policy: the session (ceremony/session) does,
// and a screen shows what it decided. Update never blocks: every session
// call that appends to the log, every token operation and every file read
// runs in a command that returns a message.
package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/closing"
	"github.com/conclave-keys/conclave/tui/imported"
	"github.com/conclave-keys/conclave/tui/internal/field"
	"github.com/conclave-keys/conclave/tui/internal/layout"
	"github.com/conclave-keys/conclave/tui/preflight"
	"github.com/conclave-keys/conclave/tui/review"
	"github.com/conclave-keys/conclave/tui/signing"
	"github.com/conclave-keys/conclave/tui/theme"
)

// Options make the program.
type Options struct {
	Engine Engine
	Theme  *theme.Theme
	// Name is who operates, when already known; else the program asks.
	Name string
	// Out is the export directory, shown.
	Out string
	// Context ends a step in progress when the program quits.
	Context context.Context
	// Now is the clock; time.Now when nil. Tests pass a fake one.
	Now func() time.Time
	// Bridge carries the tokens' prompts to the signing screen: its
	// Prompts are the ones the engine's tokens were opened with.
	Bridge *signing.Bridge
	// List reads the tokens in the room for the roster.
	List signing.Lister
}

// Screen is what the shell asks of a screen.
type Screen interface {
	// Init is the screen's first command.
	Init() tea.Cmd
	// Update handles a message; the shell forwards every message it does
	// not handle itself.
	Update(tea.Msg) tea.Cmd
	// View is exactly the height given by SetSize.
	View() string
	SetSize(theme.Size)
	// Bindings are the keys that work now, for the footer and the help.
	Bindings() []key.Binding
	// Typing is true while a text or secret field has focus: every key
	// but ctrl+c goes to the screen.
	Typing() bool
}

// step is where the walk stands.
type step int

const (
	stepName step = iota
	stepPreflight
	stepImport
	stepReview
	stepSign
	stepClose
	stepDone
	stepFailed
)

var stepNames = [...]string{
	stepName:      "who operates",
	stepPreflight: "preflight",
	stepImport:    "import",
	stepReview:    "review",
	stepSign:      "sign",
	stepClose:     "export and close",
	stepDone:      "done",
	stepFailed:    "stopped",
}

// Messages of the shell's own commands.
type (
	startedMsg  struct{ err error }
	recordedMsg struct {
		err   error
		clock bool
	}
	importedMsg struct {
		err error
		rep *verdict.Report // the judged bundle, read off the event loop
	}
	notedMsg   struct{ err error }
	builtMsg   struct{ err error }
	abandonMsg struct{ err error }
	// screenMsg brings a screen made off the event loop.
	screenMsg struct {
		step   step
		screen Screen
	}
)

// Model is the program.
type Model struct {
	o    Options
	th   *theme.Theme
	size theme.Size
	by   string

	step   step
	screen Screen
	busy   string // what a running shell command does, shown
	err    error  // a failure the walk cannot go past

	name     field.Field
	notice   string
	help     bool
	helpFind field.Field
	quitting bool
	// abandon is the dialog, opened from the quit dialog, that abandons
	// the ceremony; nil when closed.
	abandon *abandonForm
	// Quit says the program ended because people asked, not because the
	// ceremony did.
	quit bool
}

// New returns the program at its first step.
func New(o Options) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	m := &Model{o: o, th: o.Theme, size: theme.Minimum, by: o.Name}
	return m
}

// Init goes to the first step.
func (m *Model) Init() tea.Cmd {
	if m.by == "" {
		m.step = stepName
		return nil
	}
	return m.enter()
}

// Quit reports whether people quit before the ceremony ended.
func (m *Model) Quit() bool { return m.quit }

// Step is the name of the step shown.
func (m *Model) Step() string { return stepNames[m.step] }

// enter shows the screen of the step the session stands at.
func (m *Model) enter() tea.Cmd {
	s := m.o.Engine.Session()
	if s == nil {
		m.busy = "opening the ceremony's log"
		e, o := m.o.Engine, m.opening()
		return func() tea.Msg { return startedMsg{e.Start(o)} }
	}
	switch s.State() {
	case session.StatePreflight:
		return m.show(stepPreflight, m.preflightScreen())
	case session.StateImport:
		return m.importBundle()
	case session.StateReview:
		// Reading a large bundle's report into the table takes a moment:
		// off the event loop.
		m.step, m.screen, m.busy = stepReview, nil, "opening the review"
		by, th, size := m.by, m.th, m.body()
		return func() tea.Msg { return screenMsg{stepReview, reviewScreen(s, by, th, size)} }
	case session.StateBuild, session.StateSign:
		return m.show(stepSign, m.signScreen(s))
	default:
		return m.closing()
	}
}

// opening names the people of a new ceremony: the operator and every
// holder of the vault's policy (any of them may sign).
func (m *Model) opening() session.Opening {
	v := m.o.Engine.Vault()
	people := []string{m.by}
	for _, h := range v.Policy.Holders {
		if !slices.Contains(people, h.Name) {
			people = append(people, h.Name)
		}
	}
	o := session.Opening{Participants: people, Witnesses: []string{}}
	if v.Policy.Rehearsal {
		o.Rehearsal = true
		o.RehearsalReason = "a rehearsal vault, in the terminal program"
	}
	return o
}

func (m *Model) preflightScreen() Screen {
	e := m.o.Engine
	p := preflight.New(preflight.Options{
		Name:      m.by,
		Required:  e.Vault().Policy.Preflight.Required,
		Rehearsal: e.Vault().Policy.Rehearsal,
		Run:       e.Checks,
		Now:       m.o.Now,
	}, m.th, m.body())
	return &adapt[*preflight.Model]{m: p, up: (*preflight.Model).Update}
}

func (m *Model) show(st step, sc Screen) tea.Cmd {
	m.step, m.screen, m.busy = st, sc, ""
	return sc.Init()
}

func (m *Model) importBundle() tea.Cmd {
	m.step, m.screen, m.busy = stepImport, nil, "reading the bundle from the medium and judging it"
	e := m.o.Engine
	return func() tea.Msg {
		// A large bundle's report is sorted and counted: here, not in
		// Update.
		if err := e.Import(); err != nil {
			return importedMsg{err: err}
		}
		return importedMsg{rep: e.Session().Report()}
	}
}

func (m *Model) closing() tea.Cmd {
	return m.show(stepClose, m.closingScreen(m.o.Engine.Session()))
}

// adapt fits a screen whose Update returns itself to Screen.
type adapt[M interface {
	Init() tea.Cmd
	View() string
	SetSize(theme.Size)
	Bindings() []key.Binding
	Typing() bool
}] struct {
	m  M
	up func(M, tea.Msg) (M, tea.Cmd)
}

func (a *adapt[M]) Update(msg tea.Msg) tea.Cmd {
	var c tea.Cmd
	a.m, c = a.up(a.m, msg)
	return c
}
func (a *adapt[M]) View() string            { return a.m.View() }
func (a *adapt[M]) SetSize(s theme.Size)    { a.m.SetSize(s) }
func (a *adapt[M]) Bindings() []key.Binding { return a.m.Bindings() }
func (a *adapt[M]) Typing() bool            { return a.m.Typing() }
func (a *adapt[M]) Init() tea.Cmd           { return a.m.Init() }

// The shell's keys.
var (
	keyHelp      = key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help"))
	keyQuit      = key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit"))
	keyInterrupt = key.NewBinding(key.WithKeys("ctrl+c"))
	keyYes       = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes, quit"))
	keyNo        = key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n", "no, stay"))
	keyClose     = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close the help"))
	keyEnter     = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "done"))
	keyLeave     = key.NewBinding(key.WithKeys("q", "enter"), key.WithHelp("q", "leave"))
	keyAbandon   = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "abandon the ceremony…"))
	keyNextField = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next field"))
	keyAbandonGo = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "abandon"))
	keyBack      = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back, abandon nothing"))
)

// Update handles a message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.size = theme.SizeOf(msg)
		if m.screen != nil {
			m.screen.SetSize(m.body())
		}
		return m, nil
	case tea.KeyPressMsg:
		if c, done := m.key(msg); done {
			return m, c
		}
		if m.held() {
			return m, nil
		}
	case tea.PasteMsg:
		if f := m.abandon; f != nil {
			[]*field.Field{&f.reason, &f.who, &f.confirm}[f.focus].Paste(msg.Content)
			return m, nil
		}
		if m.held() {
			return m, nil
		}
	case screenMsg:
		msg.screen.SetSize(m.body()) // the window may have changed meanwhile
		return m, m.show(msg.step, msg.screen)
	case startedMsg:
		if msg.err != nil {
			return m, m.fail(fmt.Errorf("open the ceremony: %w", msg.err))
		}
		return m, m.enter()
	case preflight.Done:
		if m.busy != "" {
			return m, nil
		}
		m.busy = "recording the checks and the clock in the log"
		return m, m.record(msg)
	case recordedMsg:
		m.busy = ""
		if msg.err != nil {
			return m, m.screen.Update(preflight.Refused{Err: msg.err, Clock: msg.clock})
		}
		return m, m.importBundle()
	case importedMsg:
		m.busy = ""
		var be *verdict.BundleError
		switch {
		case errors.As(msg.err, &be):
			return m, m.show(stepImport, &adapt[*imported.Model]{m: imported.New(nil, be.Sentence, m.th, m.body()), up: (*imported.Model).Update})
		case msg.err != nil:
			return m, m.fail(fmt.Errorf("import: %w", msg.err))
		}
		return m, m.show(stepImport, &adapt[*imported.Model]{m: imported.New(msg.rep, "", m.th, m.body()), up: (*imported.Model).Update})
	case imported.Continue:
		// A second Enter sent before the first was handled: the notes
		// are recorded once.
		if m.busy != "" {
			return m, nil
		}
		if len(msg.Acknowledged) == 0 {
			return m, m.enter()
		}
		s, by := m.o.Engine.Session(), m.by
		text := "read the notes about the whole bundle: " + strings.Join(msg.Acknowledged, ", ")
		m.busy = "recording that the notes were read"
		return m, func() tea.Msg { return notedMsg{s.Note(by, text)} }
	case notedMsg:
		m.busy = ""
		if msg.err != nil {
			return m, m.fail(msg.err)
		}
		return m, m.enter()
	case imported.Abandon:
		return m, m.abandonWith(msg.Reason, m.by)
	case abandonMsg:
		m.busy = ""
		if msg.err != nil && errors.Is(msg.err, session.ErrNotPresent) && m.abandon != nil {
			m.abandon.problem, m.abandon.focus = "the ceremony's log does not name "+m.abandon.who.Value()+" as present: type the name of a participant or witness", 1
			return m, nil
		}
		m.abandon, m.quitting = nil, false
		if msg.err != nil {
			return m, m.fail(msg.err)
		}
		return m, m.closing()
	case builtMsg:
		m.busy = ""
		if msg.err != nil {
			m.notice = "the payloads were not built: " + msg.err.Error()
			return m, nil
		}
		return m, m.enter()
	case closing.Ended:
		m.step = stepDone
	case review.Finished:
		// The session has no lock: one build, and no decision during it.
		if m.busy != "" {
			return m, nil
		}
		return m, m.build()
	}
	if m.screen == nil {
		return m, nil
	}
	c := m.screen.Update(msg)
	if m.step == stepSign {
		if d, ok := m.screen.(interface{ Complete() bool }); ok && d.Complete() && !busy(m.screen) {
			return m, tea.Batch(c, m.closing())
		}
	}
	return m, c
}

// abandonWith has the session abandon the ceremony for reason, given by
// by, in a command: the closing screen follows.
func (m *Model) abandonWith(reason, by string) tea.Cmd {
	if m.busy != "" {
		return nil
	}
	s := m.o.Engine.Session()
	m.busy = "abandoning the ceremony"
	return func() tea.Msg { _, err := s.Abandon(reason, by); return abandonMsg{err} }
}

// held keeps keys and pastes from the screen while the shell runs a call
// on the session: the session has no lock, so a decision must not race a
// build, nor a second call the first.
func (m *Model) held() bool {
	if m.busy == "" {
		return false
	}
	m.notice = "wait: " + m.busy
	return true
}

func busy(s Screen) bool {
	b, ok := s.(interface{ Busy() bool })
	return ok && b.Busy()
}

// Build asks the session to build the payloads once the review is over.
func (m *Model) build() tea.Cmd {
	s := m.o.Engine.Session()
	m.busy = "building the new metadata from the decisions"
	return func() tea.Msg { return builtMsg{s.Build()} }
}

// record has the session record the preflight and the clock.
func (m *Model) record(d preflight.Done) tea.Cmd {
	e := m.o.Engine
	return func() tea.Msg {
		s := e.Session()
		if err := s.Preflight(d.Checks, d.Overrides); err != nil {
			return recordedMsg{err: err}
		}
		if err := s.ConfirmClock(d.Clock, d.By); err != nil {
			return recordedMsg{err: err, clock: true}
		}
		return recordedMsg{}
	}
}

func (m *Model) fail(err error) tea.Cmd {
	m.step, m.err, m.screen, m.busy = stepFailed, err, nil, ""
	return nil
}

// key handles the keys the shell owns; done is false to pass the key on
// to the screen.
func (m *Model) key(k tea.KeyPressMsg) (tea.Cmd, bool) {
	if m.abandon != nil {
		return m.abandonKey(k), true
	}
	if m.quitting {
		switch {
		case key.Matches(k, keyYes):
			return m.leave(), true
		case key.Matches(k, keyNo):
			m.quitting = false
		case m.mayAbandon() && key.Matches(k, keyAbandon):
			m.abandon = &abandonForm{}
		}
		return nil, true
	}
	if m.help {
		switch {
		case key.Matches(k, keyClose), key.Matches(k, keyInterrupt):
			m.help = false
			m.helpFind.Set("")
		default:
			m.helpFind.Key(k)
		}
		return nil, true
	}
	typing := m.step == stepName || (m.screen != nil && m.screen.Typing())
	if m.step == stepDone && key.Matches(k, keyLeave) {
		return tea.Quit, true
	}
	if key.Matches(k, keyInterrupt) || (!typing && key.Matches(k, keyQuit)) {
		if m.step == stepDone || m.step == stepFailed {
			return tea.Quit, true
		}
		m.quitting = true
		return nil, true
	}
	if !typing && key.Matches(k, keyHelp) {
		m.help = true
		return nil, true
	}
	if m.step == stepName {
		if key.Matches(k, keyEnter) {
			if m.by = m.name.Value(); m.by == "" {
				m.notice = "type your name: every decision is recorded under it"
				return nil, true
			}
			m.notice = ""
			return m.enter(), true
		}
		m.name.Key(k)
		return nil, true
	}
	m.notice = ""
	return nil, false
}

// leave quits: a screen holding a secret wipes it first.
func (m *Model) leave() tea.Cmd {
	if w, ok := m.screen.(interface{ Wipe() }); ok {
		w.Wipe()
	}
	m.quit = m.step != stepDone
	return tea.Quit
}

// Wipe zeroes what the screens hold of secrets; the command calls it
// however the program ends.
func (m *Model) Wipe() {
	if w, ok := m.screen.(interface{ Wipe() }); ok {
		w.Wipe()
	}
}

// chrome is how many lines the shell takes: the status bar, the REHEARSAL
// banner, the footer.
func (m *Model) chrome() int {
	n := 2
	if m.rehearsal() {
		n++
	}
	return n
}

func (m *Model) rehearsal() bool {
	v := m.o.Engine.Vault()
	return v != nil && v.Policy != nil && v.Policy.Rehearsal
}

// body is the size a screen gets.
func (m *Model) body() theme.Size {
	return theme.Size{Width: m.size.Width, Height: max(m.size.Height-m.chrome(), 1)}
}

// View draws the program.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	return v
}

// Render is the screen as text: what View shows.
func (m *Model) Render() string {
	th, w := m.th, m.size.Width
	if !m.size.Fits() {
		b := &layout.Lines{Width: max(w, 20)}
		b.Add(th.Title.Render("Terminal too small"), "")
		b.Wrap(fmt.Sprintf("Conclave needs at least %d columns by %d lines; this terminal has %d by %d. Make the window larger or the font smaller: nothing is lost meanwhile.",
			theme.Minimum.Width, theme.Minimum.Height, m.size.Width, m.size.Height), "", "")
		return b.Fit(max(m.size.Height, 1))
	}
	var out []string
	out = append(out, m.statusBar())
	if m.rehearsal() {
		out = append(out, th.Banner.Render(pad(" REHEARSAL · nothing signed here is ever published · the keys are throwaway", w)))
	}
	body := m.body()
	var main string
	switch {
	case m.abandon != nil:
		main = m.abandonView(body)
	case m.quitting:
		main = m.quitView(body)
	case m.help:
		main = m.helpView(body)
	case m.step == stepName:
		main = m.nameView(body)
	case m.step == stepFailed:
		main = m.failedView(body)
	case m.screen == nil:
		b := &layout.Lines{Width: w}
		b.Add("", "  "+th.Mark(theme.Pending)+"  "+m.busy+"…")
		main = b.Fit(body.Height)
	default:
		main = m.screen.View()
	}
	out = append(out, main, m.footer())
	return strings.Join(out, "\n")
}

func (m *Model) statusBar() string {
	id := m.o.Engine.CeremonyID()
	if id == "" {
		id = "(not opened)"
	}
	left := fmt.Sprintf(" Conclave · ceremony %s · step: %s", termtext.Safe(id), stepNames[m.step])
	if m.busy != "" && m.screen != nil {
		left += " · " + m.busy + "…"
	}
	return m.th.Bar.Render(pad(left, m.size.Width))
}

// pad cuts or pads s to w cells.
func pad(s string, w int) string {
	r := []rune(s)
	if len(r) > w {
		return string(r[:w-1]) + "…"
	}
	return s + strings.Repeat(" ", w-len(r))
}

// bindings are the keys that work now, the shell's included.
func (m *Model) bindings() []key.Binding {
	switch {
	case m.abandon != nil:
		return []key.Binding{keyNextField, keyAbandonGo, keyBack}
	case m.quitting && m.mayAbandon():
		return []key.Binding{keyYes, keyNo, keyAbandon}
	case m.quitting:
		return []key.Binding{keyYes, keyNo}
	case m.help:
		return []key.Binding{keyClose}
	case m.step == stepDone:
		return []key.Binding{keyLeave}
	case m.step == stepName:
		return []key.Binding{keyEnter}
	}
	var bs []key.Binding
	if d, ok := m.screen.(interface{ DrawsHints() bool }); m.screen != nil && !(ok && d.DrawsHints()) {
		bs = append(bs, m.screen.Bindings()...)
	}
	if m.screen == nil || !m.screen.Typing() {
		bs = append(bs, keyHelp, keyQuit)
	}
	return bs
}

func (m *Model) footer() string {
	line := m.th.Hints(m.bindings()...)
	if m.notice != "" {
		line = "! " + termtext.Safe(m.notice)
	}
	return line
}

func (m *Model) nameView(s theme.Size) string {
	th := m.th
	b := &layout.Lines{Width: s.Width}
	b.Add(th.Title.Render("Who is operating this machine?"), "")
	b.Wrap("Every decision taken here (approvals, rejections, overrides, the confirmed time) is recorded in the ceremony's log under this name. The key holders of the vault's policy are named in the log too: any of them may sign.", "", "")
	b.Add("", "  Your name: "+m.name.View(th, s.Width-13))
	return b.Fit(s.Height)
}

func (m *Model) failedView(s theme.Size) string {
	th := m.th
	b := &layout.Lines{Width: s.Width}
	b.Add(th.Style(theme.Fail).Render(th.Mark(theme.Fail)+"  The ceremony cannot go on from here"), "")
	b.Wrap(termtext.Safe(m.err.Error()), "  ", "  ")
	b.Add("")
	b.Wrap("Everything done so far is in the log. Quit (q), fix what the line above says, then continue with:", "", "")
	b.Add("  " + termtext.Safe(m.o.Engine.Resume()))
	return b.Fit(s.Height)
}

func (m *Model) quitView(s theme.Size) string {
	th := m.th
	b := &layout.Lines{Width: s.Width}
	b.Add(th.Title.Render("Quit the program?"), "")
	if m.o.Engine.Session() == nil {
		b.Wrap("The ceremony has not started: nothing was written.", "", "")
	} else {
		b.Wrap(fmt.Sprintf("Everything done so far is in the ceremony's log (%s). Nothing is lost: the tokens are logged out, what was typed is wiped, and the ceremony continues where it stopped with:",
			termtext.Plural(int(m.o.Engine.Session().Lines()), "line")), "", "")
		b.Add("  " + termtext.Safe(m.o.Engine.Resume()))
	}
	if busy(m.screen) || m.busy != "" {
		b.Add("")
		b.Wrap("A step is running now: quitting stops it. What it had recorded stays in the log; what it had not is done again on resume.", "", "")
	}
	if m.mayAbandon() {
		b.Add("")
		b.Wrap("If the ceremony must not go on (the digests do not match, the room stops here), abandon it instead (a): nothing is exported, the versions built are burned, and the bundle may be imported again by the next ceremony.", "", "")
	}
	return b.Fit(s.Height)
}

func (m *Model) helpView(s theme.Size) string {
	th := m.th
	b := &layout.Lines{Width: s.Width}
	b.Add(th.Title.Render("Keys that work now"), "")
	b.Add("  Find: " + m.helpFind.View(th, 30))
	b.Add("")
	find := strings.ToLower(m.helpFind.Value())
	var bs []key.Binding
	if m.screen != nil {
		bs = append(bs, m.screen.Bindings()...)
	}
	bs = append(bs, keyHelp, keyQuit, key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit (asks first)")))
	n := 0
	for _, k := range bs {
		if !k.Enabled() {
			continue
		}
		h := k.Help()
		if find != "" && !strings.Contains(strings.ToLower(h.Key+" "+h.Desc), find) {
			continue
		}
		b.Add("  " + th.Key.Render(fmt.Sprintf("%-12s", h.Key)) + " " + h.Desc)
		n++
	}
	if n == 0 {
		b.Add("  (no key matches)")
	}
	return b.Fit(s.Height)
}

// abandonForm is what the room types to abandon the ceremony: the reason,
// who gives it (someone the log names as present), and the word abandon,
// since nothing undoes it.
type abandonForm struct {
	reason, who, confirm field.Field
	// focus is the field typed into: 0 reason, 1 who, 2 confirm.
	focus int
	// problem says why Enter abandoned nothing.
	problem string
}

// abandonWord is what is typed to confirm.
const abandonWord = "abandon"

// mayAbandon reports whether the quit dialog offers to abandon: at the
// review and the signing, while no step runs (a refused bundle is
// abandoned from its own screen; after the export, the ceremony closes).
func (m *Model) mayAbandon() bool {
	return (m.step == stepReview || m.step == stepSign) && m.busy == "" && !busy(m.screen)
}

// abandonKey types into the abandon dialog; Enter abandons once every
// field is right, Esc goes back to the quit dialog.
func (m *Model) abandonKey(k tea.KeyPressMsg) tea.Cmd {
	f := m.abandon
	fields := []*field.Field{&f.reason, &f.who, &f.confirm}
	switch {
	case key.Matches(k, keyInterrupt), key.Matches(k, keyBack):
		m.abandon = nil
	case key.Matches(k, keyNextField), k.String() == "shift+tab":
		step := 1
		if k.String() == "shift+tab" {
			step = len(fields) - 1
		}
		f.focus = (f.focus + step) % len(fields)
	case key.Matches(k, keyAbandonGo):
		switch {
		case f.reason.Value() == "":
			f.problem, f.focus = "type the reason: it is recorded in the log", 0
		case f.who.Value() == "":
			f.problem, f.focus = "type the name of the person present who abandons it", 1
		case f.confirm.Value() != abandonWord:
			f.problem, f.focus = "type the word "+abandonWord+" to confirm: nothing undoes it", 2
		default:
			f.problem = ""
			return m.abandonWith(f.reason.Value(), f.who.Value())
		}
	default:
		fields[f.focus].Key(k)
	}
	return nil
}

func (m *Model) abandonView(s theme.Size) string {
	th, f := m.th, m.abandon
	b := &layout.Lines{Width: s.Width}
	b.Add(th.Title.Render("Abandon the ceremony?"), "")
	b.Wrap("Nothing is exported and nothing more is signed. The versions built stay registered in the vault's next generation, burned: never signed with other contents. The bundle is not recorded, so the next ceremony may import it again. This cannot be undone.", "", "")
	b.Add("")
	mark := func(i int) string {
		if f.focus == i {
			return "▸ "
		}
		return "  "
	}
	w := max(s.Width-32, 10)
	b.Add(mark(0)+"Why (kept in the log):       "+f.reason.View(th, w), "")
	b.Add(mark(1)+"Who (someone present):       "+f.who.View(th, w), "")
	b.Add(mark(2) + "Type " + abandonWord + " to confirm:      " + f.confirm.View(th, w))
	if f.problem != "" {
		b.Add("")
		b.Wrap("! "+termtext.Safe(f.problem), "", "  ")
	}
	return b.Fit(s.Height)
}
