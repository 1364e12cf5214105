package signing

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/words"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/theme"
)

// Key bindings, by mode. Keys lists only those that work now.
var (
	keyScroll  = key.NewBinding(key.WithKeys("up", "down", "k", "j", "pgup", "pgdown", "home", "end"), key.WithHelp("↑/↓", "changes"))
	keyCall    = key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "call and response"))
	keyAck     = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "acknowledge"))
	keyToSign  = key.NewBinding(key.WithKeys("s", "tab"), key.WithHelp("s", "signing"))
	keyNext    = key.NewBinding(key.WithKeys("space", "enter", "right"), key.WithHelp("space", "next group"))
	keyPrev    = key.NewBinding(key.WithKeys("left", "backspace"), key.WithHelp("←", "previous group"))
	keyBack    = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	keyRecord  = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "record"))
	keyMove    = key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑/↓", "holder"))
	keySign    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "sign"))
	keyWhat    = key.NewBinding(key.WithKeys("w", "tab"), key.WithHelp("w", "what is signed"))
	keySend    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "send PIN"))
	keyCancel  = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
	keyClear   = key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "clear"))
	keyConfirm = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "confirm"))
	keyRetry   = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "try again"))
	keyOther   = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "another holder"))
)

// Keys are the bindings that work in the screen's current state, for the
// footer and the help overlay.
func (m *Model) Keys() []key.Binding {
	switch m.mode {
	case modeCards:
		if m.busy {
			return []key.Binding{keyScroll, keyCall, keyToSign}
		}
		return []key.Binding{keyScroll, keyCall, keyAck, keyToSign}
	case modeCall:
		return []key.Binding{keyNext, keyPrev, keyBack}
	case modeAck:
		return []key.Binding{keyRecord, keyBack}
	case modeSign:
		if m.busy {
			return []key.Binding{keyMove, keyWhat}
		}
		return []key.Binding{keyMove, keySign, keyWhat}
	case modePIN:
		return []key.Binding{keySend, keyClear, keyCancel}
	case modeConfirm:
		return []key.Binding{keyConfirm, keyCancel}
	case modeError:
		return []key.Binding{keyRetry, keyOther}
	case modeHead:
		return m.headKeys()
	}
	return nil
}

// View draws the screen at its size.
func (m *Model) View() string {
	w := m.size.Width
	var head, body, foot []string
	th := m.th
	switch {
	case m.head != nil:
		head = append(head, th.Title.Render("The log's head: signed by the holders who wish to"))
	case m.mode == modeCards, m.mode == modeCall, m.mode == modeAck:
		head = append(head, th.Title.Render("What is signed"))
	default:
		head = append(head, th.Title.Render("Signing"))
	}
	if m.touchBanner() {
		text := " TOUCH THE TOKEN NOW · " + termtext.Safe(m.touch.token) + " is waiting for a touch "
		head = append(head, th.Banner.Render(padRight(cut(text, w), w)))
	}
	switch {
	case m.head != nil:
		body = m.headView(w)
	case m.mode == modeCards, m.mode == modeAck:
		body = m.cardsView(w)
	case m.mode == modeCall:
		body = m.callView(w)
	default:
		body = m.signView(w)
	}
	switch m.mode {
	case modeAck:
		foot = append(foot, "Who acknowledges? "+th.Input.Render(termtext.Safe(string(m.typed))+"_"),
			th.Muted.Render(wrap("The name is one given when the ceremony opened; the log records it with the digest.", w)))
	case modePIN:
		foot = append(foot, m.pinView(w)...)
	case modeConfirm:
		foot = append(foot, m.confirmView(w)...)
	case modeError:
		foot = append(foot, m.errView(w)...)
	case modeSigning:
		if m.head != nil {
			foot = append(foot, th.Text.Render(wrap(fmt.Sprintf("%s is signing the log's head: the token is opened and checked against the enrolled key before any PIN.", termtext.Safe(m.holder)), w)))
			break
		}
		foot = append(foot, th.Text.Render(wrap(fmt.Sprintf("%s is signing: the token is opened and checked against the enrolled key before any PIN.", termtext.Safe(m.holder)), w)))
	}
	if m.notice != "" {
		foot = append(foot, th.Style(theme.Warn).Render(wrap(termtext.Safe(m.notice), w)))
	}
	foot = append(foot, th.Hints(m.Keys()...))
	return frame(head, body, foot, m.size.Height)
}

// cardsView shows each role's card and the digest over all of them.
func (m *Model) cardsView(w int) []string {
	th := m.th
	var out []string
	out = append(out, th.Text.Render(wrap("Built from the payloads and compared with the trusted metadata. Read the digest aloud and compare it with a second machine's.", w)))
	for _, c := range m.cards {
		out = append(m.gap(out), th.Heading.Render(fmt.Sprintf("%s version %d", termtext.Safe(c.Role), c.Version))+
			fmt.Sprintf("  expires %s", c.Expires.UTC().Format("2006-01-02 15:04 UTC")))
		out = append(out, fmt.Sprintf("  %s added · %s rotated · %s removed", theme.Count(c.Added), theme.Count(c.Rotated), theme.Count(c.Removed)))
		out = append(out, wrapIndent("changes digest "+strings.Join(words.Groups(c.Digest), " "), w, "  ", "    "))
	}
	out = append(m.gap(out), th.Heading.Render("Digest of everything signed"))
	out = append(out, wrapIndent(strings.Join(words.Groups(m.digest), " "), w, "  ", "  "))
	if b, err := hex.DecodeString(m.digest); err == nil {
		out = append(out, wrapIndent(strings.Join(words.PGP(b), " "), w, "  ", "  "))
	}
	if len(m.acked) == 0 {
		out = append(out, th.Style(theme.Pending).Render(m.th.Mark(theme.Pending)+" acknowledged by nobody yet: signing is locked"))
	} else {
		out = append(out, th.Mark(theme.Pass)+" acknowledged by "+termtext.Safe(strings.Join(m.acked, ", ")))
	}
	// The changes fill what is left above the footer.
	rows := m.size.Height - len(strings.Split(strings.Join(out, "\n"), "\n")) - m.footLines() - 3
	return append(m.gap(out), m.changesView(w, max(rows, 2))...)
}

// gap puts a blank line before a block in the projector theme, so that a
// room reads the blocks apart.
func (m *Model) gap(out []string) []string {
	if m.th.Options().Present && len(out) > 0 {
		return append(out, "")
	}
	return out
}

// changesView lists the changes from m.top, rows lines at most.
func (m *Model) changesView(w, rows int) []string {
	if m.changes == 0 {
		return []string{m.th.Heading.Render("Changes"), "  none: the payloads change no delegation"}
	}
	last := min(m.top+rows, m.changes)
	out := []string{m.th.Heading.Render("Changes") + fmt.Sprintf("  %s–%s of %s", theme.Count(m.top+1), theme.Count(last), theme.Count(m.changes))}
	for i := m.top; i < last; i++ {
		c, ch := m.changeAt(i)
		out = append(out, "  "+cut(changeLine(c, ch), w-2))
	}
	return out
}

func (m *Model) changeAt(i int) (*build.Card, *build.Change) { return changeAt(m.cards, m.starts, i) }

// footLines is how many lines the footer takes in the cards' modes.
func (m *Model) footLines() int {
	n := 1 // hints
	if m.mode == modeAck {
		n += 2
	}
	if m.notice != "" {
		n++
	}
	return n
}

// callView shows one digest group, big enough to read out, with its words.
func (m *Model) callView(w int) []string {
	gs := words.Groups(m.digest)
	if len(gs) == 0 {
		return []string{"No digest: nothing is built."}
	}
	g := gs[m.group]
	hexpart := g[strings.IndexByte(g, ':')+1:]
	var ws []string
	if b, err := hex.DecodeString(m.digest); err == nil {
		lo := m.group * words.GroupSize / 2
		ws = words.PGP(b)[lo:min(lo+words.GroupSize/2, len(b))]
	}
	return []string{
		m.th.Text.Render(wrap("Call and response: the reader says the group and its words, the other side says them back; press space for the next group.", w)),
		"",
		m.th.Heading.Render(fmt.Sprintf("Group %d of %d", m.group+1, len(gs))),
		"",
		"    " + m.th.Title.Render(spaced(hexpart)),
		"    " + m.th.Title.Render(strings.Join(ws, "  ")),
	}
}

// signView is the threshold panel, the holders and the roster.
func (m *Model) signView(w int) []string {
	th := m.th
	var out []string
	out = append(out, th.Heading.Render("Roles"))
	rows := roster(m.o.Policy, m.present, m.holderRoles())
	for _, p := range m.progress {
		var glyphs strings.Builder
		for range p.Signed {
			glyphs.WriteString(theme.Pass.Glyph())
		}
		for range len(p.Holders) - len(p.Signed) {
			glyphs.WriteString(theme.Pending.Glyph())
		}
		mark := theme.Pending
		state := fmt.Sprintf("needs %d", p.Threshold)
		switch {
		case p.Complete():
			mark, state = theme.Pass, fmt.Sprintf("threshold %d met", p.Threshold)
		case int64(len(p.Holders)) < p.Threshold:
			mark, state = theme.Fail, fmt.Sprintf("threshold %d cannot be met", p.Threshold)
		}
		out = append(out, fmt.Sprintf("%s %s v%d  claimed: %d of %d %s  %s", th.Mark(mark), termtext.Safe(p.Role), p.Version,
			len(p.Signed), len(p.Holders), glyphs.String(), state))
		var room []string
		for _, h := range p.Holders {
			if inRoom(rows, m.holderNamed(h)) {
				room = append(room, h)
			}
		}
		out = append(out, th.Muted.Render(wrapIndent(fmt.Sprintf("signed: %s · keys in the room: %s", names(p.Signed), names(room)), w, "  ", "    ")))
	}
	out = append(m.gap(out), th.Heading.Render("Holders"))
	for i, name := range m.signers() {
		h := m.holderNamed(name)
		line := fmt.Sprintf("%-12s %s", termtext.Safe(name), m.holderState(h, rows))
		line = cut(line, w-2)
		if i == m.cursor && m.mode == modeSign {
			line = th.Selected.Render("> " + line)
		} else {
			line = "  " + line
		}
		out = append(out, line)
	}
	if m.mode == modeSign {
		if r := m.blocked(); r != "" {
			out = append(out, th.Style(theme.Fail).Render(wrap(r, w)))
		}
	}
	if m.last != "" {
		out = append(out, th.Mark(theme.Pass)+" "+termtext.Safe(m.last))
	}
	return m.rosterView(m.gap(out), rows, w)
}

// rosterView adds the tokens in the room to out.
func (m *Model) rosterView(out []string, rows []rosterRow, w int) []string {
	th := m.th
	out = append(out, th.Heading.Render("Tokens in the room"))
	shown := 0
	for _, r := range rows {
		if r.present == nil {
			continue
		}
		shown++
		out = append(out, "  "+cut(m.rosterLine(r), w-2))
	}
	switch {
	case shown > 0:
	case !m.listed:
		// Before the first reading, "none found" would tell the holders
		// their tokens are missing when nobody has looked yet.
		out = append(out, "  looking for tokens…")
	default:
		out = append(out, "  none found")
	}
	if m.listErr != nil {
		out = append(out, th.Style(theme.Warn).Render(wrap("  the tokens could not be listed: "+termtext.Safe(m.listErr.Error()), w)))
	}
	return out
}

// holderState is a holder's line: what they signed, or what to do.
func (m *Model) holderState(h policy.Holder, rows []rosterRow) string {
	var todo, done []string
	for _, p := range m.progress {
		if !slices.Contains(p.Holders, h.Name) {
			continue
		}
		if slices.Contains(p.Signed, h.Name) {
			done = append(done, p.Role)
		} else {
			todo = append(todo, p.Role)
		}
	}
	switch {
	case len(todo) == 0:
		return m.th.MarkGlyph(theme.Pass) + " signed " + termtext.Safe(strings.Join(done, ", "))
	case inRoom(rows, h):
		return m.th.MarkGlyph(theme.Pending) + " token in · to sign " + termtext.Safe(strings.Join(todo, ", "))
	}
	return m.th.MarkGlyph(theme.Pending) + " " + termtext.Safe(insertPrompt(h))
}

// rosterLine is one token present: serial, holder, keyid, roles, slot,
// PIN tries left.
func (m *Model) rosterLine(r rosterRow) string {
	p := r.present
	var b strings.Builder
	switch p.Kind {
	case policy.TokenYubiKey:
		fmt.Fprintf(&b, "YubiKey %s", termtext.Safe(p.Serial))
	default:
		fmt.Fprintf(&b, "HSM %s serial %s", termtext.Quote(p.Label), termtext.Safe(p.Serial))
	}
	if p.Err != nil {
		fmt.Fprintf(&b, " · %s cannot be read: %s", m.th.Mark(theme.Warn), termtext.Safe(p.Err.Error()))
		return b.String()
	}
	if r.key == nil {
		b.WriteString(" · not enrolled for this ceremony")
	} else {
		fmt.Fprintf(&b, " · %s · %s", termtext.Safe(r.holder), termtext.ShortHex(r.key.KeyID))
		if len(r.roles) > 0 {
			fmt.Fprintf(&b, " · %s", termtext.Safe(strings.Join(r.roles, ", ")))
		}
		if r.key.Slot != "" {
			fmt.Fprintf(&b, " · slot %s", termtext.Safe(r.key.Slot))
		}
	}
	switch {
	case p.Open:
		b.WriteString(" · open for signing")
	case p.Tries >= 0:
		fmt.Fprintf(&b, " · %s", termtext.Plural(p.Tries, "PIN try", "PIN tries"))
	case p.State != "":
		fmt.Fprintf(&b, " · %s", termtext.Safe(p.State))
	}
	return b.String()
}

// pinView is the PIN field: the same picture for any length but zero.
func (m *Model) pinView(w int) []string {
	th := m.th
	req := m.ask.pin
	field := "[          ]"
	if !m.pin.empty() {
		field = "[ ******** ]"
	}
	out := []string{
		th.Heading.Render(wrap(fmt.Sprintf("PIN for %s · %s", termtext.Safe(m.ask.holder), termtext.Safe(req.Token)), w)),
		th.Text.Render(triesSentence(req.RetriesLeft, req.CountLow, req.FinalTry)),
		"PIN " + th.Input.Render(field),
	}
	if m.pin.notice != "" {
		out = append(out, th.Style(theme.Warn).Render(wrap(m.pin.notice, w)))
	}
	return out
}

func (m *Model) confirmView(w int) []string {
	q := m.ask.question
	if m.ask.pin != nil {
		q = fmt.Sprintf("%s has ONE PIN try left: a wrong PIN locks it. Enter the PIN anyway?", m.ask.pin.Token)
	}
	return []string{
		m.th.Alert.Render(wrap(termtext.Safe(q), w-4)),
		"Type yes and press Enter to go on: " + m.th.Input.Render(termtext.Safe(string(m.typed))+"_"),
	}
}

// errView is an error card: what happened, the one next action, the raw
// details.
func (m *Model) errView(w int) []string {
	c := m.err
	inner := w - 4
	lines := []string{m.th.Style(theme.Fail).Render(m.th.Mark(theme.Fail) + " " + c.title)}
	for _, l := range c.lines {
		lines = append(lines, wrap(l, inner))
	}
	lines = append(lines, m.th.Key.Render("Next: ")+wrap(c.next, inner-6))
	lines = append(lines, m.th.Muted.Render(wrap("details: "+c.details, inner)))
	return []string{m.th.Alert.Width(w).Render(strings.Join(lines, "\n"))}
}

// frame joins the header, the body and the footer into exactly height
// lines: the body is cut (with a line saying so) to keep the footer, where
// the PIN field and the error cards are, always on screen.
func frame(head, body, foot []string, height int) string {
	split := func(ls []string) []string {
		var out []string
		for _, l := range ls {
			out = append(out, strings.Split(l, "\n")...)
		}
		return out
	}
	head, body, foot = split(head), split(body), split(foot)
	room := height - len(head) - len(foot) - 1
	if room < 0 {
		room = 0
	}
	if len(body) > room {
		hidden := len(body) - room + 1
		body = append(body[:max(room-1, 0)], fmt.Sprintf("… %s not shown (a larger terminal shows them)", termtext.Plural(hidden, "line")))
	}
	lines := append(append(append(head, body...), ""), foot...)
	for len(lines) < height {
		lines = append(lines, "")
	}
	return strings.Join(lines[:height], "\n")
}

func wrap(s string, w int) string { return termtext.Wrap(s, w, "", "") }

func wrapIndent(s string, w int, first, rest string) string {
	return termtext.Wrap(s, w, first, rest)
}

// cut shortens a line, styled or not, to w cells.
func cut(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	return lipgloss.NewStyle().MaxWidth(w-1).Render(s) + "…"
}

func padRight(s string, w int) string {
	if n := lipgloss.Width(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// spaced puts a space between hex digits, to read them one by one.
func spaced(s string) string { return strings.Join(strings.Split(s, ""), " ") }

func names(ns []string) string {
	if len(ns) == 0 {
		return "nobody"
	}
	return termtext.Safe(strings.Join(ns, ", "))
}
