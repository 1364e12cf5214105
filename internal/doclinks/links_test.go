package doclinks

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// TestDocLinksResolve checks every link of README.md and docs/**/*.md.
func TestDocLinksResolve(t *testing.T) {
	root := os.DirFS(filepath.Join("..", ".."))
	pages := []string{"README.md"}
	err := fs.WalkDir(root, "docs", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(name, ".md") {
			pages = append(pages, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	links := 0
	for _, page := range pages {
		problems, n := checkPage(root, page)
		links += n
		for _, p := range problems {
			t.Error(p)
		}
	}
	// A parser that finds nothing would pass every page.
	if links < 100 {
		t.Fatalf("found only %d relative links in %d pages: the link parser is broken", links, len(pages))
	}
}

// TestEveryGuideIsListed checks that docs/README.md, the index a reader
// starts from, links every page directly under docs/.
func TestEveryGuideIsListed(t *testing.T) {
	root := os.DirFS(filepath.Join("..", ".."))
	index, err := fs.ReadFile(root, "docs/README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range inlineLink.FindAllStringSubmatch(string(index), -1) {
		file, _, _ := strings.Cut(m[1], "#")
		listed[path.Clean(file)] = true
	}
	pages, err := fs.Glob(root, "docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		name := path.Base(p)
		if name != "README.md" && !listed[name] {
			t.Errorf("docs/README.md does not link %s", p)
		}
	}
}

// TestCheckPageFindsEachFault feeds pages with one fault each to the
// checker, so that TestDocLinksResolve cannot pass by seeing nothing.
func TestCheckPageFindsEachFault(t *testing.T) {
	root := fsMap{
		"docs/a.md":       "# Title\n\n## Some `code` heading (here)\n\ntext\n",
		"docs/sub/b.md":   "",
		"scripts/run.sh":  "",
		"docs/dir/x.json": "",
	}
	for _, tc := range []struct{ page, want string }{
		{"[ok](a.md) [ok](sub/b.md) [ok](../scripts/run.sh) [ok](dir/) [ok](a.md#title) [ok](#title-here) [ok](https://example.org/x)\n# Title here\n", ""},
		{"[ok](a.md#some-code-heading-here)\n", ""},
		{"`[not a link](missing.md)`\n```\n[not a link](missing.md)\n```\n", ""},
		{"[x](missing.md)\n", `docs/p.md:1: link "missing.md": docs/missing.md does not exist`},
		{"\n\n[x](../../outside.md)\n", `docs/p.md:3: link "../../outside.md" leads out of the repository`},
		{"[x](/etc/passwd)\n", `docs/p.md:1: link "/etc/passwd" leads out of the repository`},
		{"[x](file:///etc/passwd)\n", `docs/p.md:1: link "file:///etc/passwd" leads out of the repository`},
		{"[x](a.md#nowhere)\n", `docs/p.md:1: link "a.md#nowhere": docs/a.md has no heading "nowhere"`},
		{"[x](#nowhere)\n", `docs/p.md:1: link "#nowhere": docs/p.md has no heading "nowhere"`},
		{"[ref]: sub/c.md\n", `docs/p.md:1: link "sub/c.md": docs/sub/c.md does not exist`},
	} {
		root["docs/p.md"] = tc.page
		problems, _ := checkPage(root, "docs/p.md")
		if got := strings.Join(problems, "\n"); got != tc.want {
			t.Errorf("page %q:\ngot  %q\nwant %q", tc.page, got, tc.want)
		}
	}
}

var (
	// inlineLink is [text](target) or [text](target "title"); the text may
	// hold code and brackets one level deep.
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// refLink is a reference definition: [name]: target
	refLink   = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)
	codeSpan  = regexp.MustCompile("`+[^`]*`+")
	heading   = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	schemeURL = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// checkPage returns one problem per broken link of page, and how many
// relative links it checked.
func checkPage(root fs.FS, page string) ([]string, int) {
	data, err := fs.ReadFile(root, page)
	if err != nil {
		return []string{err.Error()}, 0
	}
	var problems []string
	n := 0
	fence := ""
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		line = codeSpan.ReplaceAllString(line, "")
		var targets []string
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			targets = append(targets, m[1])
		}
		if m := refLink.FindStringSubmatch(line); m != nil {
			targets = append(targets, m[1])
		}
		for _, target := range targets {
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			n++
			if p := checkLink(root, page, target); p != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: link %q%s", page, i+1, target, p))
			}
		}
	}
	return problems, n
}

// checkLink returns what is wrong with one relative link of page, or "".
func checkLink(root fs.FS, page, target string) string {
	if schemeURL.MatchString(target) || strings.HasPrefix(target, "/") {
		return " leads out of the repository"
	}
	file, fragment, _ := strings.Cut(target, "#")
	if file != "" {
		unescaped, err := url.PathUnescape(file)
		if err != nil {
			return ": " + err.Error()
		}
		file = unescaped
	}
	name := page
	if file != "" {
		name = path.Join(path.Dir(page), file)
		if name == ".." || strings.HasPrefix(name, "../") {
			return " leads out of the repository"
		}
		if _, err := fs.Stat(root, name); err != nil {
			return ": " + name + " does not exist"
		}
	}
	if fragment == "" || !strings.HasSuffix(name, ".md") {
		return ""
	}
	data, err := fs.ReadFile(root, name)
	if err != nil {
		return ": " + err.Error()
	}
	if !anchors(string(data))[fragment] {
		return fmt.Sprintf(": %s has no heading %q", name, fragment)
	}
	return ""
}

// anchors are the fragment names GitHub gives a page's headings: lower
// case, punctuation other than - and _ dropped, spaces as -, and -1, -2 …
// after a name already taken.
func anchors(page string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	fence := ""
	for _, line := range strings.Split(page, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		m := heading.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, " ") {
			continue
		}
		slug := slugify(m[1])
		name := slug
		if k := seen[slug]; k > 0 {
			name = fmt.Sprintf("%s-%d", slug, k)
		}
		seen[slug]++
		out[name] = true
	}
	return out
}

func slugify(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_':
			b.WriteRune(r)
		case unicode.IsLetter(r), unicode.IsNumber(r), unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fsMap is an in-memory fs.FS of named files; a directory exists when a
// file lies under it.
type fsMap map[string]string

func (m fsMap) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
}

func (m fsMap) ReadFile(name string) ([]byte, error) {
	if s, ok := m[name]; ok {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (m fsMap) Stat(name string) (fs.FileInfo, error) {
	if _, ok := m[name]; ok {
		return nil, nil
	}
	for k := range m {
		if strings.HasPrefix(k, strings.TrimSuffix(name, "/")+"/") {
			return nil, nil
		}
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}
