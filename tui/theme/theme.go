// Package theme holds the terminal program's styles and the marks that carry
// meaning on screen.
//
// A mark is always a glyph and a word ("✔ pass", "✘ fail"): colour is added
// on top when the terminal has it and the room wants it, never instead. With
// NO_COLOR set (https://no-color.org) or Options.Color false, every style
// renders plain text, so what a colour-blind reader, a monochrome projector
// and a text capture see is the same as what a colour terminal shows.
//
// Screens take a *Theme and their size; they never build styles of their own.
package theme

import (
	"image/color"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Options choose a theme.
type Options struct {
	// Color turns colours on. Off, styles keep only bold, underline and
	// reverse video, which every terminal and capture shows.
	Color bool
	// HighContrast uses only black, white and the terminal's bright
	// colours, and puts reverse video on the selection and the banners.
	HighContrast bool
	// Present is the projector mode (--present): high contrast, for a
	// room reading the screen from a distance; screens may also space
	// their blocks out (Options().Present).
	Present bool
}

// Detect returns the options the environment asks for: colour unless
// NO_COLOR is set to any non-empty value (https://no-color.org).
func Detect(getenv func(string) string) Options {
	return Options{Color: getenv("NO_COLOR") == ""}
}

// Size is a terminal size in cells.
type Size struct {
	Name          string
	Width, Height int
}

// SizeOf is the size a window-size message reports.
func SizeOf(m tea.WindowSizeMsg) Size {
	return Size{Width: m.Width, Height: m.Height}
}

// Fits reports whether the size is at least the minimum the program draws
// at (80 by 24); below it the program shows only "terminal too small".
func (s Size) Fits() bool {
	return s.Width >= Minimum.Width && s.Height >= Minimum.Height
}

// The sizes every screen is drawn at in its golden tests: the smallest
// terminal the program supports, a common laptop terminal, and a projector
// (a large font on a 1080p screen leaves about 100 by 30 cells).
var (
	Minimum   = Size{Name: "80x24", Width: 80, Height: 24}
	Laptop    = Size{Name: "120x40", Width: 120, Height: 40}
	Projector = Size{Name: "projector", Width: 100, Height: 30}
	Sizes     = []Size{Minimum, Laptop, Projector}
)

// Mark is the meaning of a line: a check's result, a request's state, a
// signature slot.
type Mark int

// The marks. Each renders as a glyph and a word of the same width in every
// theme.
const (
	Pass    Mark = iota // done and good
	Fail                // refused or broken: something must be done
	Warn                // allowed, but a person must look
	Pending             // not yet done
	Skip                // not asked for
	Info                // told, nothing to judge
)

var marks = [...]struct{ glyph, word string }{
	Pass:    {"✔", "pass"},
	Fail:    {"✘", "FAIL"},
	Warn:    {"!", "warn"},
	Pending: {"·", "wait"},
	Skip:    {"-", "skip"},
	Info:    {"i", "info"},
}

// Glyph is the mark's one-cell glyph, for dense places (a table column,
// "claimed: 2 of 3 ✔✔·") where the words are given elsewhere on screen.
func (m Mark) Glyph() string { return marks[m].glyph }

// Word is the mark's word.
func (m Mark) Word() string { return marks[m].word }

// Theme is a set of styles.
type Theme struct {
	opts Options

	Title    lipgloss.Style // a screen's title
	Heading  lipgloss.Style // a block's heading
	Text     lipgloss.Style // ordinary text
	Muted    lipgloss.Style // details: raw codes, paths
	Key      lipgloss.Style // a key name in hints and help
	Selected lipgloss.Style // the line under the cursor
	Bar      lipgloss.Style // the status bar
	Banner   lipgloss.Style // the REHEARSAL banner and the touch banner
	Alert    lipgloss.Style // a block that must not be missed
	Input    lipgloss.Style // a field being typed into

	mark [len(marks)]lipgloss.Style
}

// New returns the theme the options describe.
func New(o Options) *Theme {
	if o.Present {
		o.HighContrast = true
	}
	t := &Theme{opts: o}
	s := lipgloss.NewStyle
	t.Title = s().Bold(true)
	t.Heading = s().Bold(true)
	t.Text = s()
	t.Muted = s()
	t.Key = s().Bold(true)
	t.Selected = s().Reverse(true)
	t.Bar = s().Reverse(true)
	t.Banner = s().Reverse(true).Bold(true)
	t.Alert = s().Bold(true).Border(lipgloss.DoubleBorder())
	t.Input = s().Underline(true)
	for i := range t.mark {
		t.mark[i] = s()
	}
	t.mark[Fail] = t.mark[Fail].Bold(true)
	if !o.Color {
		return t
	}
	var good, bad, warn, dim, accent color.Color
	if o.HighContrast {
		good, bad, warn, dim, accent = lipgloss.BrightGreen, lipgloss.BrightRed, lipgloss.BrightYellow, lipgloss.BrightWhite, lipgloss.BrightCyan
	} else {
		good, bad, warn, dim, accent = lipgloss.Green, lipgloss.Red, lipgloss.Yellow, lipgloss.BrightBlack, lipgloss.Cyan
	}
	t.Title = t.Title.Foreground(accent)
	t.Muted = t.Muted.Foreground(dim)
	t.Key = t.Key.Foreground(accent)
	t.Banner = t.Banner.Foreground(warn)
	t.Alert = t.Alert.Foreground(warn).BorderForeground(warn)
	t.mark[Pass] = t.mark[Pass].Foreground(good)
	t.mark[Fail] = t.mark[Fail].Foreground(bad)
	t.mark[Warn] = t.mark[Warn].Foreground(warn)
	return t
}

// Options returns the options the theme was made with.
func (t *Theme) Options() Options { return t.opts }

// Mark renders a mark as its glyph and word: "✔ pass".
func (t *Theme) Mark(m Mark) string {
	return t.mark[m].Render(m.Glyph() + " " + m.Word())
}

// MarkGlyph renders only a mark's glyph, for dense places.
func (t *Theme) MarkGlyph(m Mark) string {
	return t.mark[m].Render(m.Glyph())
}

// Style returns the style of a mark, for text that carries its meaning.
func (t *Theme) Style(m Mark) lipgloss.Style { return t.mark[m] }

// Hints renders the enabled bindings as a one-line footer:
// "enter confirm · ? help".
func (t *Theme) Hints(bindings ...key.Binding) string {
	var parts []string
	for _, b := range bindings {
		if !b.Enabled() {
			continue
		}
		h := b.Help()
		parts = append(parts, t.Key.Render(h.Key)+" "+h.Desc)
	}
	return strings.Join(parts, " · ")
}

// Count writes a count with thousands separators, "100,000", as every
// screen shows counts.
func Count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
