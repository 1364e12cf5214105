// Package layout has the few text-layout steps every screen of the
// terminal program takes: wrapping a sentence to the width and giving the
// shell exactly the lines it asked for.
package layout

import (
	"strings"

	"github.com/conclave-keys/conclave/internal/termtext"
)

// Lines collects a screen's lines.
type Lines struct {
	Width int
	l     []string
}

// Add appends lines as they are.
func (b *Lines) Add(s ...string) { b.l = append(b.l, s...) }

// Wrap appends text wrapped to the width, the first line after first and
// the others after rest.
func (b *Lines) Wrap(text, first, rest string) {
	b.l = append(b.l, strings.Split(termtext.Wrap(text, b.Width, first, rest), "\n")...)
}

// Fit returns exactly h lines: cut, or padded with empty ones.
func (b *Lines) Fit(h int) string { return Fit(b.l, h) }

// Fit returns exactly h lines of lines: cut, or padded with empty ones.
func Fit(lines []string, h int) string {
	if len(lines) > h {
		lines = lines[:h]
	}
	out := make([]string, h)
	copy(out, lines)
	return strings.Join(out, "\n")
}
