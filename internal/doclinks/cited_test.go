package doclinks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// citedTest is a test or fuzz target named in code format in a guide:
// `TestX` or `FuzzX`.
var citedTest = regexp.MustCompile("`((?:Test|Fuzz)[A-Z][A-Za-z0-9_]*)`")

// TestCitedTestsExist checks that every test the guides name as backing a
// claim (threat-model.md's "Backed by" lines, release.md's checklist) is a
// test function of the repository: a claim whose test was renamed or
// removed would otherwise go on citing nothing.
func TestCitedTestsExist(t *testing.T) {
	repo := filepath.Join("..", "..")
	defined := testFunctions(t, repo)
	pages, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	cited := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range citedTest.FindAllStringSubmatch(line, -1) {
				cited++
				if !defined[m[1]] {
					rel, _ := filepath.Rel(repo, page)
					t.Errorf("%s:%d: cites %s, which no _test.go file defines", filepath.ToSlash(rel), i+1, m[1])
				}
			}
		}
	}
	if cited < 50 {
		t.Fatalf("found only %d cited tests: the pattern is broken", cited)
	}
}

// testFunctions returns the names of the top-level functions of every
// _test.go file under repo.
func testFunctions(t *testing.T, repo string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv == nil {
				names[fd.Name.Name] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}
