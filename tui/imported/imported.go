// Package imported is the import screen of the terminal program: the
// bundle as the session judged it against the vault — how many requests
// add, rotate, remove or recover a delegation, how many need judgement,
// which are invalid and why — and the notes about the whole bundle (the
// published state disagreeing with what is signed, a source not checked),
// drawn in a box that must be acknowledged before the review opens.
//
// A refused bundle shows its one reason; the ceremony can then only be
// abandoned, with that reason recorded.
package imported

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/internal/layout"
	"github.com/conclave-keys/conclave/tui/theme"
)

// Continue asks the shell to open the review; Acknowledged lists the note
// codes people acknowledged (recorded in the log as a note).
type Continue struct{ Acknowledged []string }

// Abandon asks the shell to abandon the refused ceremony.
type Abandon struct{ Reason string }

// Model is the import screen.
type Model struct {
	th      *theme.Theme
	size    theme.Size
	rep     *verdict.Report
	refusal string
	acked   bool
	notice  string
}

// New shows a judged bundle (rep) or, with refusal set, a refused one.
func New(rep *verdict.Report, refusal string, th *theme.Theme, size theme.Size) *Model {
	m := &Model{th: th, size: size, rep: rep, refusal: refusal}
	if rep == nil || len(rep.Notes) == 0 {
		m.acked = true
	}
	return m
}

// Init does nothing: the bundle is judged before the screen shows.
func (m *Model) Init() tea.Cmd { return nil }

// SetSize is the shell's window size.
func (m *Model) SetSize(s theme.Size) { m.size = s }

// Typing is false: the screen has no text field.
func (m *Model) Typing() bool { return false }

var (
	keyAck     = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "I have read the notes"))
	keyNext    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open the review"))
	keyAbandon = key.NewBinding(key.WithKeys("A"), key.WithHelp("A", "abandon the ceremony (recorded)"))
)

// Bindings are the keys that work now.
func (m *Model) Bindings() []key.Binding {
	if m.refusal != "" {
		return []key.Binding{keyAbandon}
	}
	if !m.acked {
		return []key.Binding{keyAck}
	}
	return []key.Binding{keyNext}
}

// Update handles a key.
func (m *Model) Update(msg tea.Msg) (*Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	m.notice = ""
	switch {
	case m.refusal != "" && key.Matches(k, keyAbandon):
		reason := "the bundle was refused: " + m.refusal
		return m, func() tea.Msg { return Abandon{Reason: reason} }
	case m.refusal == "" && !m.acked && key.Matches(k, keyAck):
		m.acked = true
	case m.refusal == "" && key.Matches(k, keyNext):
		if !m.acked {
			m.notice = "read the notes in the box first, then press a"
			return m, nil
		}
		var codes []string
		for _, n := range m.rep.Notes {
			codes = append(codes, string(n.Code))
		}
		return m, func() tea.Msg { return Continue{Acknowledged: codes} }
	}
	return m, nil
}

// maxReasons is how many reasons for invalid requests the screen lists:
// the review shows every request with its own.
const maxReasons = 3

// kinds are the request kinds, in the order shown.
var kinds = []string{"add", "rotate", "remove", "recover"}

// View draws the screen, exactly as many lines as its height.
func (m *Model) View() string {
	th := m.th
	b := &layout.Lines{Width: m.size.Width}
	b.Add(th.Title.Render("Import: the bundle, judged against the vault"), "")
	if m.refusal != "" {
		m.box(b, "THE BUNDLE IS REFUSED", []string{termtext.Safe(m.refusal)})
		b.Add("")
		b.Wrap("Nothing in it can be reviewed or signed. Abandon the ceremony (the refusal is recorded in its log as the reason), and tell the repository what was found.", "", "")
		return b.Fit(m.size.Height)
	}
	r := m.rep
	b.Wrap(fmt.Sprintf("Bundle %s from %s: %s.", termtext.Safe(r.BundleID), termtext.Safe(r.Source), termtext.Plural(len(r.Requests), "request")), "", "")
	b.Add("")
	if len(r.Notes) > 0 {
		var lines []string
		for _, n := range r.Notes {
			lines = append(lines, "! "+termtext.Safe(string(n.Code))+": "+termtext.Safe(n.Sentence))
		}
		title := strings.ToUpper(termtext.Plural(len(r.Notes), "note")) + " ABOUT THE WHOLE BUNDLE: read before the review"
		m.box(b, title, lines)
		if m.acked {
			b.Add("  " + th.Mark(theme.Pass) + "  read and acknowledged")
		}
		b.Add("")
	}
	m.table(b)
	m.invalid(b)
	if m.notice != "" {
		b.Add("")
		b.Wrap("! "+m.notice, "", "  ")
	}
	return b.Fit(m.size.Height)
}

// box draws lines in a double border the width of the screen, with a title.
func (m *Model) box(b *layout.Lines, title string, lines []string) {
	w := m.size.Width - 4
	var body []string
	body = append(body, m.th.Banner.Render(" "+title+" "))
	for _, l := range lines {
		body = append(body, strings.Split(termtext.Wrap(l, w, " ", "   "), "\n")...)
	}
	box := m.th.Alert.Width(m.size.Width).Render(strings.Join(body, "\n"))
	b.Add(strings.Split(box, "\n")...)
}

// table counts the requests by kind and class.
func (m *Model) table(b *layout.Lines) {
	th := m.th
	count := map[string]map[verdict.Class]int{}
	total := map[verdict.Class]int{}
	for _, v := range m.rep.Requests {
		k := v.Kind
		if k == "" {
			k = "(unreadable)"
		}
		if count[k] == nil {
			count[k] = map[verdict.Class]int{}
		}
		count[k][v.Class]++
		total[v.Class]++
	}
	rows := append([]string{}, kinds...)
	var other []string
	for k := range count {
		if !slices.Contains(kinds, k) {
			other = append(other, k)
		}
	}
	sort.Strings(other)
	rows = append(rows, other...)
	head := fmt.Sprintf("  %-14s %16s %16s %10s", "kind", "rule-approvable", "needs judgement", "invalid")
	b.Add(th.Heading.Render(head))
	row := func(name string, c map[verdict.Class]int) string {
		return fmt.Sprintf("  %-14s %16s %16s %10s", termtext.Cap(name, 14),
			theme.Count(c[verdict.RuleApprovable]), theme.Count(c[verdict.NeedsJudgement]), theme.Count(c[verdict.Invalid]))
	}
	for _, k := range rows {
		b.Add(row(k, count[k]))
	}
	b.Add(lipgloss.NewStyle().Bold(true).Render(row("total", total)))
}

// invalid lists the reasons requests are invalid, most frequent first.
func (m *Model) invalid(b *layout.Lines) {
	type reason struct {
		code     verdict.Code
		n        int
		sentence string
	}
	by := map[verdict.Code]*reason{}
	for _, v := range m.rep.Requests {
		if v.Class != verdict.Invalid {
			continue
		}
		for _, f := range v.Findings {
			if f.Severity != verdict.Error {
				continue
			}
			if by[f.Code] == nil {
				by[f.Code] = &reason{code: f.Code, sentence: f.Sentence}
			}
			by[f.Code].n++
			break // the first error says why
		}
	}
	if len(by) == 0 {
		return
	}
	var rs []*reason
	for _, r := range by {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].n != rs[j].n {
			return rs[i].n > rs[j].n
		}
		return rs[i].code < rs[j].code
	})
	b.Add("", m.th.Heading.Render("Invalid requests cannot be approved. Why, most frequent first (an example each):"))
	if len(rs) > maxReasons {
		defer b.Wrap(fmt.Sprintf("… and %d more: every invalid request is in the review, with why", len(rs)-maxReasons), "  ", "  ")
		rs = rs[:maxReasons]
	}
	for _, r := range rs {
		b.Wrap(fmt.Sprintf("%s %5s  %s: %s", m.th.MarkGlyph(theme.Fail), theme.Count(r.n), termtext.Safe(string(r.code)), termtext.Safe(r.sentence)), "  ", "           ")
	}
}
