package signing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/words"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/theme"
)

// HeadOptions make the screen on which the holders in the room sign the
// closed log's head: the same token check, PIN field, touch banner and
// error cards as for the metadata.
type HeadOptions struct {
	// Policy names the holders and their tokens.
	Policy *policy.Policy
	// Bridge carries the tokens' prompts, as Options.Bridge.
	Bridge *Bridge
	// List reads the tokens present for the roster; nil shows none.
	List Lister
	// Context ends a signing in progress (the program quitting).
	Context context.Context
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// TouchDelay and RosterEvery are as in Options.
	TouchDelay, RosterEvery time.Duration
	// Head and Lines are the closed log's head hash and length, shown.
	Head  string
	Lines int64
	// Sign has one holder sign the log's head (called in a command, one
	// holder at a time); the envelope gathers every signature made.
	Sign func(ctx context.Context, holder string) error
}

// headState is what the screen of the log's head keeps.
type headState struct {
	sign    func(ctx context.Context, holder string) error
	hash    string
	lines   int64
	signed  []string
	skipped []string
	done    bool
	// ending: d was pressed and a typed "yes" is awaited. A YubiKey's
	// touch types letters and an Enter; it must not end the step.
	ending bool
}

// NewHead returns the screen on which holders sign the closed log's head.
// Each holder signs or passes; Complete reports true once every holder
// did one or the other, or people pressed d for done.
func NewHead(o HeadOptions, th *theme.Theme, size theme.Size) *Model {
	m := newScreen(Options{
		Policy: o.Policy, Bridge: o.Bridge, List: o.List, Context: o.Context, Now: o.Now,
		TouchDelay: o.TouchDelay, RosterEvery: o.RosterEvery,
	}, th, size)
	m.head = &headState{sign: o.Sign, hash: o.Head, lines: o.Lines}
	m.mode = modeHead
	return m
}

// HeadSigned lists who signed the log's head, in the order they signed.
func (m *Model) HeadSigned() []string {
	if m.head == nil {
		return nil
	}
	return slices.Clone(m.head.signed)
}

// listMode is the mode that lists the holders to choose from.
func (m *Model) listMode() mode {
	if m.head != nil {
		return modeHead
	}
	return modeSign
}

// headHolders are the holders with an enrolled key, in the policy's order.
func (m *Model) headHolders() []string {
	var out []string
	for _, h := range m.o.Policy.Holders {
		if len(h.Keys) > 0 {
			out = append(out, h.Name)
		}
	}
	return out
}

var (
	keyHeadSign = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "sign the head"))
	keyHeadSkip = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pass"))
	keyHeadDone = key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "done: the others pass"))
	keyHeadEnd  = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "end head signing"))
)

// noticeHeadEnd asks for the "yes" that ends head signing.
const noticeHeadEnd = "Type yes to end head signing (the others pass), or press Esc to go back."

func (m *Model) headKey(k tea.KeyPressMsg) tea.Cmd {
	if m.head.ending {
		m.headEndKey(k)
		return nil
	}
	names := m.headHolders()
	m.notice = ""
	switch k.String() {
	case "up", "k":
		m.cursor = max(m.cursor-1, 0)
	case "down", "j":
		m.cursor = min(m.cursor+1, max(len(names)-1, 0))
	case "enter":
		if len(names) > 0 {
			return m.start(names[m.cursor])
		}
	case "p":
		if len(names) > 0 && !m.busy {
			name := names[m.cursor]
			if !slices.Contains(m.head.signed, name) && !slices.Contains(m.head.skipped, name) {
				m.head.skipped = append(m.head.skipped, name)
			}
			m.headNext()
		}
	case "d":
		if !m.busy {
			m.head.ending, m.typed, m.notice = true, m.typed[:0], noticeHeadEnd
		}
	}
	return nil
}

// headEndKey takes the typed "yes" that ends head signing.
func (m *Model) headEndKey(k tea.KeyPressMsg) {
	switch k.Code {
	case tea.KeyBackspace:
		if len(m.typed) > 0 {
			m.typed = m.typed[:len(m.typed)-1]
		}
	case tea.KeyEscape:
		m.head.ending, m.typed, m.notice = false, m.typed[:0], ""
	case tea.KeyEnter:
		yes := strings.EqualFold(strings.TrimSpace(string(m.typed)), "yes")
		m.typed = m.typed[:0]
		if !yes {
			m.notice = noticeHeadEnd
			return
		}
		m.head.ending, m.head.done, m.notice = false, true, ""
	default:
		if k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0 && len(m.typed) < 16 {
			m.typed = append(m.typed, k.Text...)
		}
	}
}

// headNext moves the cursor to the next holder who has neither signed nor
// passed; with none left, the step is done.
func (m *Model) headNext() {
	names := m.headHolders()
	for i := range names {
		j := (m.cursor + i) % len(names)
		if !slices.Contains(m.head.signed, names[j]) && !slices.Contains(m.head.skipped, names[j]) {
			m.cursor = j
			return
		}
	}
	m.head.done = true
}

func (m *Model) onHeadSigned(msg signedMsg) tea.Cmd {
	if msg.err != nil {
		c := newErrCard(msg.err, m.holderNamed(msg.holder), m.present)
		m.err, m.mode = &c, modeError
		return nil
	}
	if !slices.Contains(m.head.signed, msg.holder) {
		m.head.signed = append(m.head.signed, msg.holder)
	}
	m.head.skipped = slices.DeleteFunc(m.head.skipped, func(n string) bool { return n == msg.holder })
	m.last = msg.holder + " signed the log's head."
	m.mode = modeHead
	m.lastLoc = time.Time{} // the next tick reads the roster again
	m.headNext()
	return nil
}

// headKeys are the keys of the list of holders.
func (m *Model) headKeys() []key.Binding {
	if m.head.ending {
		return []key.Binding{keyHeadEnd, keyBack}
	}
	if m.busy {
		return []key.Binding{keyMove}
	}
	return []key.Binding{keyMove, keyHeadSign, keyHeadSkip, keyHeadDone}
}

// headView is the head to sign, each holder's choice and the roster.
func (m *Model) headView(w int) []string {
	th := m.th
	out := []string{th.Text.Render(wrap(fmt.Sprintf("The ceremony is closed. Its log ends at this head (%s); each holder may sign it, so that anyone can later check the log against the signatures. Signing is optional: a holder may pass.", termtext.Plural(int(m.head.lines), "line")), w))}
	out = append(m.gap(out), wrapIndent(strings.Join(words.Groups(m.head.hash), " "), w, "  ", "  "))
	out = append(m.gap(out), th.Heading.Render("Holders"))
	rows := roster(m.o.Policy, m.present, m.holderRoles())
	for i, name := range m.headHolders() {
		h := m.holderNamed(name)
		var state string
		switch {
		case slices.Contains(m.head.signed, name):
			state = th.MarkGlyph(theme.Pass) + " signed the head"
		case slices.Contains(m.head.skipped, name):
			state = th.MarkGlyph(theme.Skip) + " passes"
		case inRoom(rows, h):
			state = th.MarkGlyph(theme.Pending) + " token in · may sign"
		default:
			state = th.MarkGlyph(theme.Pending) + " " + termtext.Safe(insertPrompt(h))
		}
		line := cut(fmt.Sprintf("%-12s %s", termtext.Safe(name), state), w-2)
		if i == m.cursor && m.mode == modeHead {
			line = th.Selected.Render("> " + line)
		} else {
			line = "  " + line
		}
		out = append(out, line)
	}
	if m.last != "" {
		out = append(out, th.Mark(theme.Pass)+" "+termtext.Safe(m.last))
	}
	if m.head.ending {
		out = append(m.gap(out), "End head signing? Type yes: "+termtext.Safe(string(m.typed)))
	}
	return m.rosterView(m.gap(out), rows, w)
}
