package signing

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/tui/internal/golden"
)

// guide is the holders' page about signing; its screen captures are the
// golden files, so the page shows what the program draws.
const guide = "../../docs/signing.md"

// captureBlock is a capture in the guide: a marker naming the golden file,
// then a fenced text block.
var captureBlock = regexp.MustCompile("(?s)<!-- capture ([a-z0-9.-]+\\.txt) -->\n```text\n(.*?)```\n")

// TestGuideCaptures: every capture in docs/signing.md equals its golden
// file (colour off, trailing blanks cut); CONCLAVE_WRITE_GOLDEN=1 writes
// them from the files.
func TestGuideCaptures(t *testing.T) {
	page, err := os.ReadFile(guide)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	out := captureBlock.ReplaceAllStringFunc(string(page), func(block string) string {
		m := captureBlock.FindStringSubmatch(block)
		found++
		b, err := os.ReadFile(filepath.Join(golden.Dir, m[1]))
		if err != nil {
			t.Fatal(err)
		}
		want := trimCapture(string(b))
		if !golden.Writing() && trimCapture(m[2]) != want {
			t.Errorf("%s: the capture of %s is not the golden file (CONCLAVE_WRITE_GOLDEN=1 rewrites it):\n%s", guide, m[1], want)
		}
		return "<!-- capture " + m[1] + " -->\n```text\n" + want + "\n```\n"
	})
	if found == 0 {
		t.Fatalf("%s has no capture", guide)
	}
	if golden.Writing() {
		if err := os.WriteFile(guide, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// trimCapture cuts the blanks a screen ends its lines and itself with.
func trimCapture(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}
