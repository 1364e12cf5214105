package termtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"numpy", "numpy"},
		{"ascii with spaces", "ascii with spaces"},
		{"héllo wörld", "héllo wörld"},
		{"日本語", "日本語"},
		{"a\x1b[8mhidden", `a\x1b[8mhidden`},
		{"line\rRESULT: all files valid", `line\rRESULT: all files valid`},
		{"two\nlines\ttab", `two\nlines\ttab`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"c1\u009bcsi", `c1\u009bcsi`},
		{"evil\u202elive", `evil\u202elive`},
		{"iso\u2066late\u2069", `iso\u2066late\u2069`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"bom\ufeff", `bom\ufeff`},
		{"sep\u2028arator", `sep\u2028arator`},
		{"private\U000f0000", `private\U000f0000`},
		{`back\slash`, `back\\slash`},
		{`\x1b`, `\\x1b`},
	}
	for _, tt := range tests {
		if got := Safe(tt.in); got != tt.want {
			t.Errorf("Safe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCap(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"abcdef", 6, "abcdef"},
		{"abcdefg", 6, "abcde…"},
		{"ab\x1bcd", 6, "ab…"}, // the escape does not fit whole: it is not split
		{"ab\x1b", 6, `ab\x1b`},
		{"ééééééé", 6, "ééééé…"},
		{"abc", 0, "a…"},
	}
	for _, tt := range tests {
		if got := Cap(tt.in, tt.max); got != tt.want {
			t.Errorf("Cap(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
	long := strings.Repeat("x", 500)
	if got := Safe(long); utf8.RuneCountInString(got) != DefaultMax || !strings.HasSuffix(got, Ellipsis) {
		t.Errorf("Safe of 500 characters: %d characters, suffix %q", utf8.RuneCountInString(got), got[len(got)-3:])
	}
}

// FuzzSafe holds the two promises: nothing invisible or controlling gets
// through, and the result is never longer than the limit.
func FuzzSafe(f *testing.F) {
	for _, s := range []string{"", "numpy", "a\x1b[2Kb", "\u202e", "\xff\xfe", strings.Repeat("é", 300)} {
		f.Add(s, 200)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max > 10000 || max < -10 {
			return
		}
		got := Cap(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("Cap(%q) = %q: not UTF-8", s, got)
		}
		limit := max
		if limit < 2 {
			limit = 2
		}
		if n := utf8.RuneCountInString(got); n > limit {
			t.Fatalf("Cap(%q, %d) has %d characters", s, max, n)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || invisible(r) {
				t.Fatalf("Cap(%q) = %q lets %U through", s, got, r)
			}
		}
	})
}

func BenchmarkSafePlain(b *testing.B) {
	s := "c1f0e8d2a4b6c8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8"
	for b.Loop() {
		_ = Safe(s)
	}
}

func TestShortHex(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0462a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c3de0", "0462a1b2…4b5c3de0"},
		{"0123456789abcdef0123", "0123456789abcdef0123"},
		{"0123456789abcdef01234", "01234567…def01234"},
		{"", ""},
		{"ABCDEF0123456789ABCDEF", "ABCDEF0123456789ABCDEF"},
		{"69d5\x1b[8m7b52", `69d5\x1b[8m7b52`},
	}
	for _, tt := range tests {
		if got := ShortHex(tt.in); got != tt.want {
			t.Errorf("ShortHex(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"intake", `"intake"`},
		{`mallory" approved by Conclave "`, `"mallory\" approved by Conclave \""`},
		{`a\"b`, `"a\\\"b"`}, // a typed \" shows as \\\", never as an escaped quote alone
		{"x\x1b[2K", `"x\x1b[2K"`},
	} {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
