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
// broken in two reads as two things. Text that fits is left as it is;
// text that does not is broken at its runs of white space. Lines are joined with "\n", with no
// newline at the end. The text is laid out as it is: pass outside text
// through [Safe] first, so that it holds no newline or escape of its own.
func Wrap(text string, width int, first, rest string) string {
	if utf8.RuneCountInString(first)+utf8.RuneCountInString(text) <= width && !strings.ContainsAny(text, "\n\r") {
		return first + text // a line that fits keeps its own spacing
	}
	words := strings.Fields(text)
	if len(words) == 0 {
		return strings.TrimRight(first, " ")
	}
	var b strings.Builder
	b.WriteString(first)
	col := utf8.RuneCountInString(first)
	start := true // nothing yet on this line after its prefix
	for _, w := range words {
		n := utf8.RuneCountInString(w)
		if !start && col+1+n > width {
			b.WriteByte('\n')
			b.WriteString(rest)
			col, start = utf8.RuneCountInString(rest), true
		}
		if !start {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
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
