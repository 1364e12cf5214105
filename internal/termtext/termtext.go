// Package termtext is the one place that turns text from outside — transfer
// media, metadata, tokens, the command line — into text that is safe to put
// on a terminal.
//
// A forged file can carry terminal escape sequences (ESC [ 8 m hides what
// follows; ESC [ 2 K erases a line), carriage returns that overwrite a line,
// or Unicode bidirectional overrides that make "evil" read as "live". Any of
// them lets the file decide what an auditor reads on the screen. [Safe] shows
// every such character as a visible escape instead, and caps the length so
// that one string cannot push the verdict off the screen.
//
// Only text meant for people goes through here. JSON output stays exact: its
// encoder escapes control characters itself, and a program reading it needs
// the bytes as they were.
package termtext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMax is the longest text [Safe] shows, in characters. Keyids (64),
// role and project names, file names and reasons all fit.
const DefaultMax = 200

// Ellipsis ends a string that was cut.
const Ellipsis = "…"

// Safe returns s with control characters, bidirectional controls and other
// invisible format characters shown as escapes, and at most [DefaultMax]
// characters long, the last of them "…" when s was cut.
func Safe(s string) string { return Cap(s, DefaultMax) }

// Cap is [Safe] with another limit. A limit below 2 is taken as 2.
//
// Escapes: \t \n \r for those three, \xNN for other ASCII controls and for
// bytes that are not UTF-8, \uNNNN for every other invisible character, and
// \\ for a backslash, so that an escape shown can never have been typed by
// the file's author to imitate another one.
func Cap(s string, max int) string {
	if max < 2 {
		max = 2
	}
	if plain(s, max) {
		return s
	}
	var b strings.Builder
	n := 0 // characters written
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = hexByte(s[i])
		case r == '\\':
			piece = `\\`
		case r == '\t':
			piece = `\t`
		case r == '\n':
			piece = `\n`
		case r == '\r':
			piece = `\r`
		case r < 0x20 || r == 0x7f:
			piece = hexByte(byte(r))
		case invisible(r):
			piece = hexRune(r)
		default:
			piece = s[i : i+size]
		}
		i += size
		w := utf8.RuneCountInString(piece)
		// Leave room for the ellipsis unless this is the very end.
		if n+w > max || (n+w == max && i < len(s)) {
			b.WriteString(Ellipsis)
			return b.String()
		}
		b.WriteString(piece)
		n += w
	}
	return b.String()
}

// Quote shows s in double quotes, through [Safe], with every `"` in it
// escaped: text from outside cannot close the quote and go on as if it
// were the program's own words. The escape cannot be forged either: Safe
// has already doubled every backslash.
func Quote(s string) string {
	return `"` + strings.ReplaceAll(Safe(s), `"`, `\"`) + `"`
}

// plain reports whether s is printable ASCII without a backslash and short
// enough, so that Cap can return it as it is.
func plain(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// invisible reports characters that change how the terminal or the reader
// sees the text around them without being seen themselves: C1 controls,
// format characters (bidi overrides and isolates, zero-width joiners, the
// byte order mark: Unicode category Cf), line and paragraph separators,
// private use and unassigned code points.
func invisible(r rune) bool {
	switch {
	case r >= 0x80 && r < 0xa0:
		return true
	case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return true
	case unicode.Is(unicode.Co, r):
		return true
	case !unicode.IsGraphic(r) && r != ' ':
		return true
	}
	return false
}

const hexDigits = "0123456789abcdef"

func hexByte(c byte) string {
	return string([]byte{'\\', 'x', hexDigits[c>>4], hexDigits[c&0xf]})
}

func hexRune(r rune) string {
	if r > 0xffff {
		return `\U` + pad(r, 8)
	}
	return `\u` + pad(r, 4)
}

func pad(r rune, width int) string {
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		out[i] = hexDigits[r&0xf]
		r >>= 4
	}
	return string(out)
}

// ShortHex shortens a hex digest or keyid for people: its first and last
// eight digits, "69d5f3a1…c0e47b52". Sixteen digits (64 bits) are what a
// person compares by eye; fewer (32 bits) can be matched by generating
// keys until one fits. The full value is in every JSON report. Anything
// that is not plain lowercase hex is shown whole through [Safe]: it is
// odd, and the oddity must be seen.
func ShortHex(h string) string {
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return Safe(h)
		}
	}
	if len(h) <= 20 {
		return h
	}
	return h[:8] + Ellipsis + h[len(h)-8:]
}
