package transcript

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// recipe returns the code block that follows "<!-- recipe: NAME -->" in
// docs/formats/transcript.md: the auditor's commands, run here so that
// the page cannot drift from the format.
func recipe(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "formats", "transcript.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- recipe: " + regexp.QuoteMeta(name) + " -->\n```[a-z]*\n(.*?)```\n").FindSubmatch(doc)
	if m == nil {
		t.Fatalf("no recipe %s in docs/formats/transcript.md", name)
	}
	return string(m[1])
}

func need(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("the recipe needs %s, which is not on PATH (Debian: apt install %s)", tool, tool)
	}
}

// TestDocHeadRecipe: the shell commands give the known head and count.
func TestDocHeadRecipe(t *testing.T) {
	need(t, "sha256sum")
	cmd := exec.Command("sh", "-c", recipe(t, "head.sh"))
	cmd.Dir = katDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	head, n := katHead(t)
	if got, want := string(out), fmt.Sprintf("%s  -\n%d\n", head, n); got != want {
		t.Fatalf("the recipe printed %q, want %q", got, want)
	}
}

// TestDocCheckRecipe: the Python check agrees with Parse on the
// known-answer log and on every damaged copy.
func TestDocCheckRecipe(t *testing.T) {
	need(t, "python3")
	script := filepath.Join(t.TempDir(), "check.py")
	if err := os.WriteFile(script, []byte(recipe(t, "check.py")), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(file string) string {
		out, _ := exec.Command("python3", script, file).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	head, n := katHead(t)
	if got, want := run(katDir("log.jsonl")), fmt.Sprintf("%s %d", head, n); got != want {
		t.Fatalf("on log.jsonl: %q, want %q", got, want)
	}
	var cases []brokenCase
	if err := json.Unmarshal(readKAT(t, "broken", "expected.json"), &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Case, func(t *testing.T) {
			t.Parallel() // a Python process each
			got := run(katDir("broken", c.Case+".jsonl"))
			if c.Line != 0 {
				if want := fmt.Sprintf("line %d: ", c.Line); !strings.HasPrefix(got, want) {
					t.Errorf("%q, want the line %d", got, c.Line)
				}
				return
			}
			want := fmt.Sprintf("%s %d", c.Head, c.Count)
			if c.Torn {
				want += " (a torn last line was left out)"
			}
			if got != want {
				t.Errorf("%q, want %q", got, want)
			}
		})
	}
}
