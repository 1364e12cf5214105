// Package golden compares the screens the terminal program draws with the
// files under a package's testdata/golden directory.
//
// Run the tests with CONCLAVE_WRITE_GOLDEN=1 to write the files anew, then
// read the diff: a golden file is a picture of what the room sees, reviewed
// like code. docs/holders.md quotes some of them, and a test keeps the
// guide equal to the files.
package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/conclave-keys/conclave/tui/theme"
)

// Dir is where the golden files of the package under test live.
const Dir = "testdata/golden"

// Writing reports whether the tests are asked to write the files anew.
func Writing() bool { return os.Getenv("CONCLAVE_WRITE_GOLDEN") != "" }

// Check compares got with the file Dir/name, or writes it when Writing.
// On a difference it prints the first line that differs, both ways.
func Check(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join(Dir, name)
	if Writing() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (CONCLAVE_WRITE_GOLDEN=1 writes it)", err)
	}
	if string(want) == got {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s: line %d differs (CONCLAVE_WRITE_GOLDEN=1 rewrites it)\n got: %q\nwant: %q", path, i+1, g, w)
		}
	}
	t.Fatalf("%s differs", path)
}

// Views draws a screen at every size of theme.Sizes, colour off and on, and
// checks each drawing against NAME.SIZE.txt (colour off, as plain text:
// what a screen capture or a printout shows, and what docs/holders.md
// quotes) and NAME.SIZE.color.txt (colour on; the escape sequences are in
// the file). The projector size is drawn with the projector theme.
func Views(t *testing.T, name string, draw func(s theme.Size, th *theme.Theme) string) {
	t.Helper()
	for _, s := range theme.Sizes {
		for _, color := range []bool{false, true} {
			o := theme.Options{Color: color, Present: s == theme.Projector}
			file := name + "." + s.Name + ".txt"
			if color {
				file = name + "." + s.Name + ".color.txt"
			}
			got := draw(s, theme.New(o))
			if !color {
				got = ansi.Strip(got)
			}
			Check(t, file, got)
		}
	}
}
