package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/conclave-keys/conclave/"

// forbidden are the packages the domain must not import, directly; the
// rule holds transitively because each of these only ever sits above it.
var forbidden = []string{"hsm", "airgap", "tui", "cmd", "rehearsal", "intake"}

func TestDomainImportsNoDevicesMediaOrTerminal(t *testing.T) {
	root := filepath.Join("..", "..", "ceremony")
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		// Tests may use the intake test fixtures; the rule is about what
		// the domain itself depends on.
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			rest, ok := strings.CutPrefix(p, module)
			if !ok {
				continue
			}
			top, _, _ := strings.Cut(rest, "/")
			for _, bad := range forbidden {
				if top == bad {
					t.Errorf("%s imports %s: ceremony/ must not depend on %s/ (docs/design.md, \"The import rule\")", path, p, bad)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("read only %d files under %s; the test is not looking where it should", files, root)
	}
}
