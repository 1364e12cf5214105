package termtext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Width is the column at which text for people is wrapped when the
// output is not a terminal whose width is known.
const Width = 80

// Wrap breaks text at spaces so that no line, its prefix included, is
// longer than width characters: the first line starts with first, every
// other with rest (a hanging indent). A word longer than a line stays
// whole on a line of its own rather than being cut: a keyid or a path
// broken in two reads as two things. Spacing within a line is kept (a
// column of labels stays aligned); the spaces where a line is broken go.
// Lines are joined with "\n", with no newline at the end. Tabs and line
// breaks count as spaces: pass outside text through [Safe] first, so that
// what it holds is shown, not obeyed.
func Wrap(text string, width int, first, rest string) string {
	if strings.ContainsAny(text, "\t\n\r") { // most text has none: no rune-by-rune pass
		text = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, text)
	}
	var b strings.Builder
	b.Grow(len(first) + len(text) + len(rest) + 8)
	b.WriteString(first)
	col := utf8.RuneCountInString(first)
	start := true // nothing yet on this line after its prefix
	for text != "" {
		gap := len(text) - len(strings.TrimLeft(text, " "))
		text = text[gap:]
		end := strings.IndexByte(text, ' ')
		if end < 0 {
			end = len(text)
		}
		word := text[:end]
		text = text[end:]
		if word == "" {
			break // trailing spaces
		}
		n := utf8.RuneCountInString(word)
		if !start && col+gap+n > width {
			b.WriteByte('\n')
			b.WriteString(rest)
			col, start, gap = utf8.RuneCountInString(rest), true, 0
		}
		if start {
			gap = 0 // a line's text starts right after its prefix
		}
		b.WriteString(strings.Repeat(" ", gap))
		b.WriteString(word)
		col += gap + n
		start = false
	}
	return b.String()
}

// Plural writes a count with its noun, "1 key" or "3 keys"; irregular
// nouns give their plural as the optional last argument ("1 medium",
// "2 media").
func Plural(n int, noun string, plural ...string) string {
	if n == 1 {
		return "1 " + noun
	}
	if len(plural) > 0 {
		return fmt.Sprintf("%d %s", n, plural[0])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
