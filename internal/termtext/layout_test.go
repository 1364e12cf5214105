package termtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		text, first, rest string
		width             int
		want              string
	}{
		{"short line", "  ", "    ", 80, "  short line"},
		{"", "  ! ", "    ", 80, "  ! "},
		{"NEEDS JUDGEMENT  r1 add project", "", "    ", 20, "NEEDS JUDGEMENT  r1\n    add project"},
		{"  leading and trailing  ", "> ", "", 80, "> leading and trailing"},
		{"one two three four five", "> ", "  ", 12, "> one two\n  three four\n  five"},
		{"a 0123456789abcdef0123 b", "", "", 10, "a\n0123456789abcdef0123\nb"},
		{"UTC:   aligned", "- ", "  ", 80, "- UTC:   aligned"},
		{"spaces   stay\tand tabs when wrapped", "", "", 20, "spaces   stay and\ntabs when wrapped"},
		{"héllo wörld ünïcode", "", "", 11, "héllo wörld\nünïcode"},
		{"a line\nbreak and a\rreturn", "", "", 80, "a line break and a return"},
		{"no tab\r\nat all", "", "", 80, "no tab  at all"},
	}
	for _, tt := range tests {
		if got := Wrap(tt.text, tt.width, tt.first, tt.rest); got != tt.want {
			t.Errorf("Wrap(%q, %d) =\n%q\nwant\n%q", tt.text, tt.width, got, tt.want)
		}
	}
}

// TestWrapFits: every line of wrapped prose fits, and no word is lost.
func TestWrapFits(t *testing.T) {
	text := strings.Repeat("The repository must make the bundle again against the current metadata. ", 20)
	got := Wrap(text, 80, "  x [bundle-base-mismatch] ", "    ")
	for _, line := range strings.Split(got, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line of %d characters: %q", n, line)
		}
	}
	if strings.Join(strings.Fields(got), " ") != "x [bundle-base-mismatch] "+strings.Join(strings.Fields(text), " ") {
		t.Error("words changed")
	}
}

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int
		noun string
		pl   []string
		want string
	}{
		{0, "request", nil, "0 requests"},
		{1, "request", nil, "1 request"},
		{2, "key", nil, "2 keys"},
		{1, "medium", []string{"media"}, "1 medium"},
		{3, "medium", []string{"media"}, "3 media"},
	} {
		if got := Plural(tt.n, tt.noun, tt.pl...); got != tt.want {
			t.Errorf("Plural(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
}
