// Package field is a one-line text field for names, reasons and times
// typed into the terminal program. It is not for secrets: the PIN field of
// the signing screen shows nothing of what is typed; this one shows it.
package field

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/theme"
)

// Max is the longest text a field takes, in characters: a reason is a
// sentence or two, never a document.
const Max = 200

// Field is the text being typed.
type Field struct {
	r []rune
}

// Key applies a key press and reports whether the field used it: a
// printable character, backspace, or ctrl+u (clear).
func (f *Field) Key(k tea.KeyPressMsg) bool {
	switch k.String() {
	case "backspace":
		if len(f.r) > 0 {
			f.r = f.r[:len(f.r)-1]
		}
		return true
	case "ctrl+u":
		f.r = f.r[:0]
		return true
	}
	if k.Text == "" || k.Mod&^tea.ModShift != 0 {
		return false
	}
	for _, c := range k.Text {
		if unicode.IsPrint(c) && len(f.r) < Max {
			f.r = append(f.r, c)
		}
	}
	return true
}

// Paste types pasted text, on one line.
func (f *Field) Paste(s string) {
	for _, c := range s {
		if c == '\n' || c == '\r' || c == '\t' {
			c = ' '
		}
		if unicode.IsPrint(c) && len(f.r) < Max {
			f.r = append(f.r, c)
		}
	}
}

// Value is the text typed, spaces at either end removed.
func (f *Field) Value() string { return strings.TrimSpace(string(f.r)) }

// Set replaces the text.
func (f *Field) Set(s string) { f.r = []rune(s) }

// View draws the field with its cursor, as wide as width at most: the end
// of a long text stays visible.
func (f *Field) View(th *theme.Theme, width int) string {
	s := termtext.Safe(string(f.r))
	r := []rune(s)
	if width > 2 && len(r) > width-2 {
		r = append([]rune("…"), r[len(r)-(width-3):]...)
	}
	return th.Input.Render(string(r) + "▏")
}
