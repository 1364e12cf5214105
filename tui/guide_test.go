package tui

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/tui/internal/golden"
)

// guide is the key holders' guide, which quotes the golden files.
const guide = "../docs/holders.md"

// capture is a quoted screen in the guide: a comment naming the golden
// file (from the repository's root), then the screen in a text block.
var capture = regexp.MustCompile("(?s)<!-- screen: ([^ ]+) -->\n```text\n(.*?)```\n")

// screenText is a golden file as the guide shows it: without the blank
// lines that pad it to the terminal's height and without trailing spaces.
func screenText(data string) string {
	lines := strings.Split(data, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n") + "\n"
}

// TestGuideScreensAreTheProgram: every screen the guide shows is the
// golden file it names, so the guide cannot drift from the program.
// CONCLAVE_WRITE_GOLDEN=1 rewrites the guide's screens from the files.
func TestGuideScreensAreTheProgram(t *testing.T) {
	data, err := os.ReadFile(guide)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	matches := capture.FindAllStringSubmatch(doc, -1)
	if len(matches) < 10 {
		t.Fatalf("%s quotes %d screens: the pattern no longer finds them", guide, len(matches))
	}
	out := capture.ReplaceAllStringFunc(doc, func(block string) string {
		m := capture.FindStringSubmatch(block)
		file := m[1]
		want, err := os.ReadFile(filepath.Join("..", file))
		if err != nil {
			t.Errorf("%s quotes %s: %v", guide, file, err)
			return block
		}
		if strings.Contains(string(want), "\x1b") {
			t.Errorf("%s quotes %s, a colour file: quote the plain one", guide, file)
		}
		text := screenText(string(want))
		if !golden.Writing() && m[2] != text {
			t.Errorf("%s: the screen quoted from %s is not the program's (CONCLAVE_WRITE_GOLDEN=1 rewrites it):\n%s", guide, file, text)
		}
		return "<!-- screen: " + file + " -->\n```text\n" + text + "```\n"
	})
	if golden.Writing() && out != doc {
		if err := os.WriteFile(guide, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
