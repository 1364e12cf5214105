package review

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/tui/theme"
)

// sgr is a colour or weight sequence, the only escape the screen writes.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// FuzzScreen: whatever a bundle names a project, a request, a file, a
// path or writes in a finding, each view of the screen stays its size and
// puts no control character, no escape sequence of its own and no
// bidirectional control on the terminal.
func FuzzScreen(f *testing.F) {
	f.Add("numpy", "r1", "add", "requests/0001.jsonl", "numpy/*", "a sentence")
	f.Add("evil\x1b[2K\x1b[8m", "id\r\n", "remove\x00", "\u202egnp.exe", "\x1b]0;t\x07", "\x9b31m")
	f.Add(strings.Repeat("数据", 300), strings.Repeat("x", 5000), "recover", "", "", "\xff\xfe")
	f.Fuzz(func(t *testing.T, project, id, kind, file, path, sentence string) {
		v := verdict.Verdict{RequestID: id, Batch: file, Line: len(file), Kind: kind, Project: project, Class: verdict.NeedsJudgement, RequestedBy: sentence, Made: path,
			Change:   &verdict.Change{Before: &verdict.Delegation{Threshold: 1, Paths: []string{path}, Keys: []verdict.Key{{KeyID: id, Fingerprint: sentence, Scheme: kind}}}, After: deleg(2, []string{path, project}, project)},
			Findings: []verdict.Finding{{Code: verdict.Code(kind), Severity: verdict.Warning, Sentence: sentence, Path: path}}}
		for _, keys := range [][]string{nil, {"enter"}, {"enter", "tab"}, {"r", sentence}} {
			m := newModel(t, newFake(append(generated(3), v)), theme.Minimum, theme.New(theme.Options{Color: true}))
			press(t, m, keys...)
			ls := strings.Split(m.View(), "\n")
			if len(ls) != theme.Minimum.Height {
				t.Fatalf("%v: %d lines", keys, len(ls))
			}
			for _, l := range ls {
				if w := ansi.StringWidth(l); w > theme.Minimum.Width {
					t.Fatalf("%v: a line of %d cells: %q", keys, w, l)
				}
				rest := sgr.ReplaceAllString(l, "")
				if !utf8.ValidString(rest) {
					t.Fatalf("%v: not UTF-8: %q", keys, rest)
				}
				for _, r := range rest {
					if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
						t.Fatalf("%v: %U on the screen: %q", keys, r, l)
					}
				}
			}
		}
	})
}

// fuzzKeys are the keys FuzzKeys presses, one per input byte.
var fuzzKeys = []string{"enter", "esc", "tab", "backspace", "up", "down", "pgdown", "a", "r", "d", "n", "N", "]", "[", "p", "u", "t", "/", "B", "F", "o", "g", "G", "1", "2", "x", "^", "(", "h", "-"}

// FuzzKeys: any sequence of keys leaves the screen whole: no panic, its
// size kept, the cursor on a row shown, the counts equal to the session's.
func FuzzKeys(f *testing.F) {
	f.Add([]byte{7, 0, 7, 18, 21, 22, 0})
	f.Add([]byte{15, 16, 17, 17, 0, 8, 24, 0, 9, 25, 0})
	f.Add([]byte{15, 16, 16, 17, 28, 29, 0, 7}) // the only row shown decided
	f.Fuzz(func(t *testing.T, seq []byte) {
		s := newFake(screenVerdicts())
		m := newModel(t, s, theme.Minimum, nil)
		for _, b := range seq {
			press(t, m, fuzzKeys[int(b)%len(fuzzKeys)])
			if n := len(strings.Split(m.View(), "\n")); n != theme.Minimum.Height {
				t.Fatalf("%d lines", n)
			}
			if len(m.index) > 0 && (m.cursor < 0 || m.cursor >= len(m.index)) {
				t.Fatalf("cursor %d of %d", m.cursor, len(m.index))
			}
		}
		if m.done != len(s.decisions) {
			t.Fatalf("%d decided on screen, %d in the session", m.done, len(s.decisions))
		}
	})
}
