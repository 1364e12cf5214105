package build

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// cardScript is the Python script docs/formats/summary-card.md gives,
// taken from the page itself so that the page and the test cannot drift.
func cardScript(t *testing.T) string {
	t.Helper()
	_, rest, ok := strings.Cut(string(page(t)), "```python\n")
	script, _, closed := strings.Cut(rest, "\n```")
	if !ok || !closed {
		t.Fatal("docs/formats/summary-card.md has no python block")
	}
	return script + "\n"
}

func page(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../docs/formats/summary-card.md")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ecdsaKey is a P-256 key: its PEM form puts raw newlines in the signed
// bytes, which the script's canonical JSON must reproduce.
func ecdsaKey(t *testing.T) *tuf.Key {
	t.Helper()
	d := make([]byte, 32)
	d[31] = 7
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	k, err := tuf.KeyFromPublic(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSummaryCardScript: the documented Python script, run on the files
// Build wrote, prints the cards and the ceremony digest Conclave computes.
func TestSummaryCardScript(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("no %s to run the documented script with: %v", python, err)
	}
	in := shardFixture(t)
	// An unknown field with a quote, a backslash, a control character and
	// a non-ASCII letter: the payload hash covers it as canonical JSON.
	a := in.Current["shard-a"]
	odd := bytes.Replace(a.Bytes(), []byte(`"signed":{`), []byte(`"signed":{"x-note":"a \"quote\", a \\ and a\ttab, é",`), 1)
	parsed, err := tuf.Parse("shard-a", odd)
	if err != nil {
		t.Fatal(err)
	}
	in.Current["shard-a"] = parsed
	ps, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "summary-card.py")
	if err := os.WriteFile(script, []byte(cardScript(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{script}
	var want strings.Builder
	var cards []*Card
	hashes := map[string]string{}
	for _, p := range ps {
		old, new := filepath.Join(dir, p.Role+".old.json"), filepath.Join(dir, p.Role+".new.json")
		if err := os.WriteFile(old, in.Current[p.Role].Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(new, p.File.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p.Role, old, new)
		c, err := Summarize(p.Role, in.Current[p.Role], p.File)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&want, "%s version %d expires %s\n  added %d rotated %d removed %d\n  digest %s\n",
			c.Role, c.Version, p.File.Expires(), c.Added, c.Rotated, c.Removed, c.Digest)
		cards = append(cards, c)
		hashes[p.Role] = p.SHA256
	}
	fmt.Fprintf(&want, "ceremony digest %s\n", Digest(cards, hashes))
	out, err := exec.Command(python, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", python, err, out)
	}
	if string(out) != want.String() {
		t.Errorf("the script printed\n%s\nConclave computes\n%s", out, want.String())
	}
	// The page's example is this fixture's output.
	if example := "\n    " + strings.ReplaceAll(strings.TrimSuffix(want.String(), "\n"), "\n", "\n    ") + "\n"; !strings.Contains(string(page(t)), example) {
		t.Errorf("docs/formats/summary-card.md's example is not\n%s", example)
	}
}
