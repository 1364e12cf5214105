package review

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/charmbracelet/x/ansi"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/theme"
)

// View draws the screen at its size: exactly Height lines, none wider
// than Width cells.
func (m *Model) View() string {
	var lines []string
	switch m.mode {
	case modeDetail:
		lines = m.viewDetail()
	case modeBulk:
		lines = m.viewBulk()
	default:
		lines = m.viewTable()
	}
	return m.frame(lines)
}

// frame fits body lines above the note and hint lines, cut to the
// screen's width and padded to its height. A long note (a refusal quoted
// from the session) takes two lines rather than being cut.
func (m *Model) frame(body []string) string {
	h := max(m.height, 4)
	note := m.noteLines()
	body = body[:min(len(body), h-1-len(note))]
	for len(body) < h-1-len(note) {
		body = append(body, "")
	}
	body = append(append(body, note...), m.th.Hints(m.Bindings()...))
	for i, l := range body {
		body[i] = fit(l, m.width)
	}
	return strings.Join(body, "\n")
}

// fit cuts a line to width cells, escapes and all.
func fit(s string, width int) string {
	if ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, termtext.Ellipsis)
}

// cell cuts plain text to width cells and pads it to exactly width.
func cell(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		s = ansi.Truncate(s, width, termtext.Ellipsis)
		w = ansi.StringWidth(s)
	}
	return s + strings.Repeat(" ", width-w)
}

// noteLines are the field being typed, what is in flight, or the
// outcome of the last action: one line, two for a long outcome.
func (m *Model) noteLines() []string {
	var text string
	style := m.th.Text
	switch {
	case m.mode == modeReason:
		verb := "reject"
		if m.reasonFor == session.Defer {
			verb = "defer"
		}
		label := fmt.Sprintf("Reason to %s %s (the repository reads it, enter records):", verb, m.rows[m.reasonRow].project)
		return []string{m.th.Heading.Render(label), m.text.View(m.th, m.width)}
	case m.busy != "":
		text, style = theme.Pending.Glyph()+" "+m.busy+"…", m.th.Style(theme.Pending)
	case m.note != "" && m.noteBad:
		text, style = theme.Fail.Glyph()+" "+m.note, m.th.Style(theme.Fail)
	default:
		text = m.note
	}
	ls := strings.Split(termtext.Wrap(text, m.width, "", "  "), "\n")
	if len(ls) > 2 {
		ls = append(ls[:1], strings.Join(ls[1:], " "))
	}
	for i := range ls {
		ls[i] = style.Render(ls[i])
	}
	return ls
}

// counts is the line that is always on screen: how many valid requests
// are decided, of how many.
func (m *Model) counts() string {
	nj := m.judge - m.judged
	parts := []string{fmt.Sprintf("Review · %s / %s decided", theme.Count(m.done), theme.Count(m.valid))}
	if nj > 0 {
		parts = append(parts, fmt.Sprintf("%s need judgement", theme.Count(nj)))
	}
	if n := len(m.rows) - m.valid; n > 0 {
		parts = append(parts, fmt.Sprintf("%s invalid", theme.Count(n)))
	}
	if m.report.BundleID != "" {
		parts = append(parts, "bundle "+termtext.Safe(m.report.BundleID))
	}
	return m.th.Title.Render(strings.Join(parts, " · "))
}

// filterLine says what the table shows: "showing 212 of 100,000 ·
// problems only · /numpy".
func (m *Model) filterLine() string {
	parts := []string{fmt.Sprintf("showing %s of %s", theme.Count(len(m.index)), theme.Count(len(m.rows)))}
	words := m.f.words()
	if m.mode == modeFilter {
		if m.f.pattern != "" {
			words = words[:len(words)-1]
		}
		words = append(words, m.editMode.sigil()+m.text.View(m.th, m.width/2)+" ("+m.editMode.String()+")")
	}
	parts = append(parts, words...)
	if m.asked {
		parts = append(parts, m.th.Style(theme.Pending).Render("matching…"))
	}
	if m.f.reErr != "" {
		parts = append(parts, m.th.Style(theme.Fail).Render(theme.Fail.Glyph()+" regex: "+termtext.Safe(m.f.reErr)))
	}
	return strings.Join(parts, " · ")
}

// status is a row's mark and word.
func (m *Model) status(i int) (theme.Mark, string) {
	switch m.state[i] {
	case approved:
		return theme.Pass, "approved"
	case rejected:
		return theme.Fail, "rejected"
	case deferred:
		return theme.Skip, "deferred"
	}
	switch m.rows[i].v.Class {
	case verdict.NeedsJudgement:
		return theme.Warn, "judge"
	case verdict.Invalid:
		return theme.Fail, "invalid"
	}
	return theme.Pending, "pending"
}

// columns are the table's widths at the screen's width.
type columns struct {
	id, project, kind, change, flags int
}

const (
	statusWidth = 10 // "✔ approved"
	kindWidth   = 7  // "recover"
	changeWidth = 22 // "2→3 keys (+1 −0), t1→2"
)

func (m *Model) columns() columns {
	c := columns{kind: kindWidth, change: changeWidth}
	rest := m.width - 2 - statusWidth - 1 - c.kind - 1 - c.change - 1 - 1
	if m.width >= 110 {
		c.id = 16
		rest -= c.id + 1
	}
	c.project = max(8, rest*55/100)
	c.flags = max(0, rest-c.project)
	return c
}

func (m *Model) viewTable() []string {
	c := m.columns()
	out := make([]string, 0, m.height)
	out = append(out, m.counts(), m.filterLine())
	head := "  " + cell("status", statusWidth) + " "
	if c.id > 0 {
		head += cell("request", c.id) + " "
	}
	head += cell("project", c.project) + " " + cell("kind", c.kind) + " " + cell("change", c.change) + " " + cell("flags", c.flags)
	out = append(out, m.th.Muted.Render(strings.TrimRight(head, " ")))
	if len(m.index) == 0 {
		return append(out, "  No request passes these filters (esc clears them).")
	}
	// A two-line note leaves a row fewer than scroll assumed: keep the
	// cursor in sight all the same.
	n := max(1, m.height-4-len(m.noteLines()))
	if m.cursor >= m.top+n {
		m.top = m.cursor - n + 1
	}
	end := min(len(m.index), m.top+n)
	for p := m.top; p < end; p++ {
		out = append(out, m.rowLine(m.index[p], p == m.cursor, c))
	}
	return out
}

// rowLine formats one row: only the rows on screen are formatted.
func (m *Model) rowLine(i int, selected bool, c columns) string {
	r := &m.rows[i]
	mark, word := m.status(i)
	st := cell(mark.Glyph()+" "+word, statusWidth)
	var b strings.Builder
	if selected {
		b.WriteString("› ")
	} else {
		b.WriteString("  ")
	}
	if !selected {
		st = m.th.Style(mark).Render(st)
	}
	b.WriteString(st)
	b.WriteByte(' ')
	if c.id > 0 {
		b.WriteString(cell(r.id, c.id))
		b.WriteByte(' ')
	}
	b.WriteString(cell(r.project, c.project))
	b.WriteByte(' ')
	b.WriteString(cell(r.kind, c.kind))
	b.WriteByte(' ')
	b.WriteString(cell(r.change, c.change))
	b.WriteByte(' ')
	b.WriteString(cell(r.flags, c.flags))
	line := strings.TrimRight(b.String(), " ")
	if selected {
		return m.th.Selected.Render(line)
	}
	return line
}

// detailRows is how many lines of the detail pane fit.
func (m *Model) detailRows() int { return max(1, m.height-4) }

func (m *Model) viewDetail() []string {
	i := m.current()
	if i < 0 {
		m.mode = modeTable
		return m.viewTable()
	}
	r := &m.rows[i]
	out := []string{
		m.th.Title.Render(fmt.Sprintf("Request %s · %s · %s", r.id, orDash(r.kind), r.project)),
		m.tabs(),
	}
	var body []string
	if m.tab == 0 {
		body = m.changeLines(i)
	} else {
		body = rawLines(r.v, m.width)
	}
	m.dtop = max(0, min(m.dtop, len(body)-m.detailRows()))
	return append(out, body[m.dtop:]...)
}

func (m *Model) tabs() string {
	names := []string{"change", "JSON"}
	for t, n := range names {
		if t == m.tab {
			names[t] = m.th.Selected.Render("[" + n + "]")
		} else {
			names[t] = " " + n + " "
		}
	}
	return strings.Join(names, " ") + "  " + m.th.Muted.Render("(tab switches)")
}

// changeLines is the detail pane's first tab: the request's state, what
// import found, and the change as a diff against the trusted current
// delegation.
func (m *Model) changeLines(i int) []string {
	r := &m.rows[i]
	v := r.v
	w := m.width
	var out []string
	line := func(text, first, rest string) {
		out = append(out, strings.Split(termtext.Wrap(text, w, first, rest), "\n")...)
	}
	mark, word := m.status(i)
	state := m.th.Style(mark).Render(mark.Glyph()+" "+word) + " · " + classWord(v.Class)
	if d, ok := m.decisions[i]; ok {
		state += " · by " + termtext.Safe(d.By)
		if d.Reason != "" {
			state += ": " + termtext.Quote(d.Reason)
		}
	}
	out = append(out, state)
	line("at "+termtext.Safe(v.At()), "", "  ")
	if v.RequestedBy != "" || v.Made != "" {
		line(fmt.Sprintf("requested by %s, made %s (as the request says)", termtext.Quote(v.RequestedBy), orDash(termtext.Safe(v.Made))), "", "  ")
	}
	if len(v.Findings) > 0 {
		out = append(out, "", m.th.Heading.Render("What import found"))
		for _, f := range v.Findings {
			g := theme.Warn
			if f.Severity == verdict.Error {
				g = theme.Fail
			}
			line(fmt.Sprintf("%s [%s] %s", g.Glyph(), termtext.Safe(string(f.Code)), termtext.Cap(f.Sentence, maxSentence)), "", "    ")
		}
	}
	out = append(out, "", m.th.Heading.Render("Change against the trusted delegation"))
	if m.o.Trusted != nil {
		if t, ok := m.o.Trusted(v.Project); ok {
			line(fmt.Sprintf("trusted now: %s version %d, expires %s", termtext.Safe(t.Role), t.Version, t.Expires.UTC().Format("2006-01-02 15:04 UTC")), "", "  ")
		}
	}
	c := v.Change
	if c == nil {
		return append(out, "none: an invalid request cannot be approved")
	}
	switch {
	case c.Before == nil:
		out = append(out, "now:   not delegated (approving adds the project)")
	case c.After == nil:
		out = append(out, "after: not delegated (approving ends the delegation)")
	}
	if c.Before != nil && c.After != nil {
		if c.Before.Threshold == c.After.Threshold {
			out = append(out, fmt.Sprintf("threshold %d (unchanged)", c.After.Threshold))
		} else {
			out = append(out, fmt.Sprintf("threshold %d → %d", c.Before.Threshold, c.After.Threshold))
		}
	} else if d := orElse(c.After, c.Before); d != nil {
		out = append(out, fmt.Sprintf("threshold %d", d.Threshold))
	}
	out = append(out, "keys (− removed, + added, by fingerprint):")
	for _, k := range keyDiff(c) {
		line(fmt.Sprintf("%s %-16s fingerprint %s  keyid %s", k.sign, termtext.Safe(k.key.Scheme), fingerprint(k.key), termtext.ShortHex(k.key.KeyID)), "  ", "      ")
	}
	out = append(out, "paths (− removed, + added):")
	for _, p := range pathDiff(c) {
		line(p.sign+" "+termtext.Safe(p.path), "  ", "    ")
	}
	return out
}

// maxSentence caps a finding's sentence: sentences quote what they are
// about, and one from a hostile file must not fill the pane.
const maxSentence = 1000

func fingerprint(k verdict.Key) string {
	if k.Fingerprint == "" {
		return "(none: no such key in the metadata)"
	}
	return termtext.ShortHex(k.Fingerprint)
}

func orElse(a, b *verdict.Delegation) *verdict.Delegation {
	if a != nil {
		return a
	}
	return b
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func classWord(c verdict.Class) string {
	switch c {
	case verdict.NeedsJudgement:
		return "needs judgement: decided on its own"
	case verdict.RuleApprovable:
		return "rule-approvable"
	}
	return "invalid: cannot be decided"
}

type keyLine struct {
	sign string
	key  verdict.Key
}

// keyDiff lists the keys before and after: kept ones, then removed, then
// added.
func keyDiff(c *verdict.Change) []keyLine {
	var out []keyLine
	if c.Before != nil {
		for _, k := range c.Before.Keys {
			if c.After == nil || holds(c.After, k.Fingerprint) {
				out = append(out, keyLine{" ", k})
			}
		}
	}
	for _, k := range missing(c.Before, c.After) {
		if c.After != nil {
			out = append(out, keyLine{"−", k})
		}
	}
	for _, k := range missing(c.After, c.Before) {
		out = append(out, keyLine{"+", k})
	}
	return out
}

type pathLine struct{ sign, path string }

func pathDiff(c *verdict.Change) []pathLine {
	in := func(d *verdict.Delegation, p string) bool {
		if d == nil {
			return false
		}
		for _, q := range d.Paths {
			if q == p {
				return true
			}
		}
		return false
	}
	var out []pathLine
	if c.Before != nil {
		for _, p := range c.Before.Paths {
			switch {
			case c.After == nil:
				out = append(out, pathLine{" ", p})
			case in(c.After, p):
				out = append(out, pathLine{" ", p})
			default:
				out = append(out, pathLine{"−", p})
			}
		}
	}
	if c.After != nil {
		for _, p := range c.After.Paths {
			if !in(c.Before, p) {
				out = append(out, pathLine{"+", p})
			}
		}
	}
	return out
}

// rawLines is the detail pane's second tab: the verdict as the import
// report's JSON holds it, every character outside printable ASCII written
// as a JSON escape. That text is still the same JSON, and it can hold no
// terminal control, no bidirectional override and no look-alike letter:
// the JSON tab is where an auditor reads exactly what the bundle said.
// Lines are broken at the width, never cut.
func rawLines(v *verdict.Verdict, width int) []string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return []string{"the request cannot be shown as JSON: " + termtext.Safe(err.Error())}
	}
	var out []string
	for _, l := range strings.Split(asciiJSON(string(b)), "\n") {
		for width > 0 && len(l) > width {
			out = append(out, l[:width])
			l = l[width:]
		}
		out = append(out, l)
	}
	return out
}

// asciiJSON writes every character of JSON text outside printable ASCII
// as a \u escape (UTF-16 pairs above the basic plane, RFC 8259 section 7).
// The encoder has already escaped the controls below 0x20 and the quote,
// but not DEL (0x7f), which JSON allows raw.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func (m *Model) viewBulk() []string {
	perKind := map[string]int{}
	total, never := 0, 0
	for i := range m.rows {
		if m.rows[i].v.Class == verdict.RuleApprovable && m.state[i] == undecided {
			perKind[m.rows[i].v.Kind]++
			total++
			if !m.opened[i] {
				never++
			}
		}
	}
	waiting, unopened := m.flagged()
	out := []string{
		m.th.Title.Render("Approve in bulk: every rule-approvable request not yet decided"),
		"",
		m.th.Heading.Render("Would be approved, by kind"),
	}
	for _, k := range kinds[1:] {
		if n := perKind[k]; n > 0 {
			out = append(out, fmt.Sprintf("  %-8s %9s", k, theme.Count(n)))
		}
	}
	out = append(out, fmt.Sprintf("  %-8s %9s", "total", theme.Count(total)),
		fmt.Sprintf("  never opened: %s of them", theme.Count(never)),
		"",
		m.th.Heading.Render("Flagged: never approved in bulk"))
	if waiting == 0 {
		out = append(out, "  none waiting")
	} else {
		mark := theme.Pass
		if unopened > 0 {
			mark = theme.Fail
		}
		out = append(out, m.th.Style(mark).Render(fmt.Sprintf("  %s %s need judgement and wait; %s never opened", mark.Glyph(), theme.Count(waiting), theme.Count(unopened))))
		if unopened > 0 {
			var names []string
			for i := range m.rows {
				if len(names) == 5 {
					break
				}
				if m.rows[i].v.Class == verdict.NeedsJudgement && m.state[i] == undecided && !m.opened[i] {
					names = append(names, m.rows[i].project)
				}
			}
			out = append(out, strings.Split(termtext.Wrap("never opened: "+termtext.Series(names, unopened), m.width, "  ", "    "), "\n")...)
			out = append(out, "  each must be opened (o) before the bulk approval")
		}
	}
	out = append(out, "",
		"Type the number of requests to approve, as counted above, then enter:",
		"  "+m.th.Input.Render(string(m.digits)+"▏"))
	return out
}
