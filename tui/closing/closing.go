// Package closing is the last screen of a ceremony in the terminal
// program: the signed files written to the transfer medium, read back and
// verified as a TUF client would, with their SHA-256; then, once people
// close the ceremony, the final summary — what was signed, where it went,
// and the log's head in hex groups and words for the paper log.
package closing

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/words"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/internal/layout"
	"github.com/conclave-keys/conclave/tui/theme"
)

// File is one exported file.
type File struct {
	Name   string
	SHA256 string
	Size   int
}

// Summary is what a closed (or abandoned) ceremony left.
type Summary struct {
	CeremonyID string
	State      session.State
	// Head and Lines are the log's head hash and length.
	Head  string
	Lines int64
	// Generation and GenerationHash name the vault generation written.
	Generation     string
	GenerationHash string
	// Progress is who signed what.
	Progress []session.Progress
}

// Options make the screen.
type Options struct {
	// Out is the export directory, shown.
	Out string
	// Export writes, reads back and verifies the files (called in a
	// command); nil when the ceremony has nothing left to export.
	Export func(ctx context.Context) ([]File, error)
	// Finish closes the ceremony and writes the vault's next generation
	// (called in a command).
	Finish func(ctx context.Context) (*Summary, error)
	// Context ends a step in progress (the program quitting).
	Context context.Context
}

// Messages the screen's commands return.
type (
	exportedMsg struct {
		files []File
		err   error
	}
	finishedMsg struct {
		s   *Summary
		err error
	}
)

// Ended is sent once the summary is shown: the ceremony is over.
type Ended struct{ Summary *Summary }

type phase int

const (
	phaseExporting phase = iota
	phaseExported
	phaseClosing
	phaseDone
	phaseFailed
)

// Model is the export and close screen.
type Model struct {
	o       Options
	th      *theme.Theme
	size    theme.Size
	phase   phase
	files   []File
	summary *Summary
	err     error
	failed  phase // the step that failed
}

// New returns the screen; Init starts the export (or the close, when
// there is nothing to export).
func New(o Options, th *theme.Theme, size theme.Size) *Model {
	if o.Context == nil {
		o.Context = context.Background()
	}
	m := &Model{o: o, th: th, size: size}
	if o.Export == nil {
		m.phase = phaseClosing
	}
	return m
}

// Init starts the first step.
func (m *Model) Init() tea.Cmd {
	if m.phase == phaseClosing {
		return m.finish()
	}
	return m.export()
}

func (m *Model) export() tea.Cmd {
	m.phase = phaseExporting
	f, ctx := m.o.Export, m.o.Context
	return func() tea.Msg {
		files, err := f(ctx)
		return exportedMsg{files, err}
	}
}

func (m *Model) finish() tea.Cmd {
	m.phase = phaseClosing
	f, ctx := m.o.Finish, m.o.Context
	return func() tea.Msg {
		s, err := f(ctx)
		return finishedMsg{s, err}
	}
}

// SetSize is the shell's window size.
func (m *Model) SetSize(s theme.Size) { m.size = s }

// Typing is false: the screen has no text field.
func (m *Model) Typing() bool { return false }

// Busy reports whether a step runs.
func (m *Model) Busy() bool { return m.phase == phaseExporting || m.phase == phaseClosing }

var (
	keyClose = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "close the ceremony"))
	keyRetry = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "try again"))
)

// Bindings are the keys that work now.
func (m *Model) Bindings() []key.Binding {
	switch m.phase {
	case phaseExported:
		return []key.Binding{keyClose}
	case phaseFailed:
		return []key.Binding{keyRetry}
	}
	return nil
}

// Update handles a message.
func (m *Model) Update(msg tea.Msg) (*Model, tea.Cmd) {
	switch msg := msg.(type) {
	case exportedMsg:
		if msg.err != nil {
			m.err, m.failed, m.phase = msg.err, phaseExporting, phaseFailed
			return m, nil
		}
		m.files, m.phase = msg.files, phaseExported
	case finishedMsg:
		if msg.err != nil {
			m.err, m.failed, m.phase = msg.err, phaseClosing, phaseFailed
			return m, nil
		}
		m.summary, m.phase = msg.s, phaseDone
		s := msg.s
		return m, func() tea.Msg { return Ended{s} }
	case tea.KeyPressMsg:
		switch {
		case m.phase == phaseExported && key.Matches(msg, keyClose):
			return m, m.finish()
		case m.phase == phaseFailed && key.Matches(msg, keyRetry):
			m.err = nil
			if m.failed == phaseExporting {
				return m, m.export()
			}
			return m, m.finish()
		}
	}
	return m, nil
}

// View draws the screen, exactly as many lines as its height.
func (m *Model) View() string {
	th := m.th
	b := &layout.Lines{Width: m.size.Width}
	if m.phase == phaseDone {
		m.viewSummary(b)
		return b.Fit(m.size.Height)
	}
	b.Add(th.Title.Render("Export: the signed files, written, read back and verified"), "")
	switch m.phase {
	case phaseExporting:
		b.Wrap(th.Mark(theme.Pending)+"  writing to "+termtext.Safe(m.o.Out)+", then reading every file back and verifying it from the vault's root…", "  ", "  ")
	case phaseExported, phaseClosing:
		b.Wrap("Written to "+termtext.Safe(m.o.Out)+", read back, and verified as a TUF client would from the vault's root:", "", "")
		b.Add("")
		for _, f := range m.files {
			b.Add(fmt.Sprintf("  %s  %-28s %s", th.Mark(theme.Pass), termtext.Cap(f.Name, 28), termtext.Plural(f.Size, "byte")))
			for i, l := range groupLines(f.SHA256) {
				lead := "      sha256 "
				if i > 0 {
					lead = "             "
				}
				b.Add(lead + th.Muted.Render(l))
			}
		}
		b.Add("")
		if m.phase == phaseClosing {
			b.Add("  " + th.Mark(theme.Pending) + "  closing the ceremony and writing the vault's next generation…")
		} else {
			b.Wrap("Closing records the export in the log, ends the ceremony and writes the vault's next generation with the log. Nothing can be signed in this ceremony afterwards.", "", "")
		}
	case phaseFailed:
		what := "The export failed"
		if m.failed == phaseClosing {
			what = "Closing failed"
		}
		b.Add(th.Style(theme.Fail).Render(th.Mark(theme.Fail) + "  " + what))
		b.Wrap(termtext.Safe(m.err.Error()), "  ", "  ")
		b.Add("")
		b.Wrap("Everything done so far is in the log. Fix what the line above says (another medium, free space), then try again; or quit, and resume the ceremony later.", "", "")
	}
	return b.Fit(m.size.Height)
}

func (m *Model) viewSummary(b *layout.Lines) {
	th, s := m.th, m.summary
	b.Add(th.Title.Render(fmt.Sprintf("Ceremony %s %s", termtext.Safe(s.CeremonyID), s.State)), "")
	for _, p := range s.Progress {
		mark := theme.Pass
		if !p.Complete() {
			mark = theme.Fail
		}
		b.Wrap(th.Mark(mark)+"  "+termtext.Safe(p.String()), "  ", "       ")
	}
	if len(m.files) > 0 {
		b.Wrap(fmt.Sprintf("%s written to %s, read back and verified.", termtext.Plural(len(m.files), "file"), termtext.Safe(m.o.Out)), "  ", "  ")
	}
	b.Add("")
	b.Add(th.Heading.Render(fmt.Sprintf("Write on the paper log the log's head (%s):", termtext.Plural(int(s.Lines), "line"))))
	digest(b, s.Head)
	if s.Generation != "" {
		b.Add("", th.Heading.Render("and the hash of the vault's generation "+termtext.Safe(s.Generation)+":"))
		digest(b, s.GenerationHash)
	}
	b.Add("")
	b.Wrap("Read both aloud, group by group; the witness writes them down and reads them back. Then take the medium to the repository.", "", "")
}

// digest shows a hex SHA-256 as numbered groups and PGP words, eight to a
// line, to read aloud.
func digest(b *layout.Lines, hexstr string) {
	for _, l := range groupLines(hexstr) {
		b.Add("  " + l)
	}
	raw, err := hex.DecodeString(hexstr)
	if err != nil {
		return
	}
	ws := words.PGP(raw)
	for i := 0; i < len(ws); i += 8 {
		b.Add("  " + strings.Join(ws[i:min(i+8, len(ws))], " "))
	}
}

// groupLines are a hex digest's numbered groups, eight to a line.
func groupLines(hexstr string) []string {
	g := words.Groups(hexstr)
	var out []string
	for i := 0; i < len(g); i += 8 {
		out = append(out, strings.Join(g[i:min(i+8, len(g))], " "))
	}
	return out
}
