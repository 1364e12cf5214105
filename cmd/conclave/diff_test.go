package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/session"
)

// summaryCardScript is the Python script of docs/formats/summary-card.md,
// taken from the page.
func summaryCardScript(t *testing.T) string {
	t.Helper()
	page, err := os.ReadFile("../../docs/formats/summary-card.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(page), "```python\n")
	script, _, closed := strings.Cut(rest, "\n```")
	if !ok || !closed {
		t.Fatal("docs/formats/summary-card.md has no python block")
	}
	return script + "\n"
}

// TestDiff: conclave diff, given the last signed claimed and the one a
// ceremony exported, prints what the documented Python script prints, and
// the card digest and ceremony digest the ceremony's log registered.
func TestDiff(t *testing.T) {
	a := newAuditFixture(t)
	old := filepath.Join(a.dir, "claimed.json")
	if err := os.WriteFile(old, a.generation(t, "gen-000001").Delegators["claimed"].Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	next := filepath.Join(a.out, "8.claimed.json")
	code, stdout, stderr := run(t, "diff", old, next)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var built session.Built
	for _, l := range a.lines(t) {
		var e struct {
			Type string
			Body json.RawMessage
		}
		if json.Unmarshal(l, &e) == nil && e.Type == "built" {
			if err := json.Unmarshal(e.Body, &built); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := built.Payloads[0]
	want := "claimed version 8 expires " + p.Expires + "\n  added 1 rotated 1 removed 1\n  digest " + p.CardDigest + "\nceremony digest " + built.Digest + "\n"
	if stdout != want {
		t.Errorf("conclave diff printed\n%s\nthe log registered\n%s", stdout, want)
	}
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("no %s to run the documented script with: %v", python, err)
	}
	script := filepath.Join(a.dir, "summary-card.py")
	if err := os.WriteFile(script, []byte(summaryCardScript(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, script, "claimed", old, next).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", python, err, out)
	}
	if string(out) != stdout {
		t.Errorf("the documented script printed\n%s\nconclave diff\n%s", out, stdout)
	}

	code, js, stderr := run(t, "diff", "--json", old, next)
	if code != 0 {
		t.Fatalf("--json: exit %d\n%s", code, stderr)
	}
	checkSchema(t, "diff-report.schema.json", []byte(js))
	var r diffReport
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	if r.Digest != built.Digest || len(r.Cards) != 1 || r.Cards[0].Digest != p.CardDigest || r.Cards[0].PayloadSHA256 != p.PayloadSHA256 || len(r.Cards[0].Changes) != 3 {
		t.Errorf("--json: %s", js)
	}
}

// TestDiffRefuses: a new file that changes more than a card shows has no
// card; files not given in pairs of one role are a usage error.
func TestDiffRefuses(t *testing.T) {
	a := newAuditFixture(t)
	old := filepath.Join(a.dir, "claimed.json")
	if err := os.WriteFile(old, a.generation(t, "gen-000001").Delegators["claimed"].Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	signed, err := os.ReadFile(filepath.Join(a.out, "8.claimed.json"))
	if err != nil {
		t.Fatal(err)
	}
	hidden := filepath.Join(a.dir, "9.claimed.json")
	if err := os.WriteFile(hidden, editJSON(t, signed, func(m map[string]any) {
		m["signed"].(map[string]any)["targets"] = map[string]any{"evil.tar.gz": map[string]any{"length": 1, "hashes": map[string]any{"sha256": strings.Repeat("0", 64)}}}
	}), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "diff", old, hidden)
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "error: summarize claimed: ") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, args := range [][]string{{"diff", old}, {"diff", old, filepath.Join(a.dir, "8.shard-a.json")}} {
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%q: exit %d, %s", args, code, stderr)
		}
	}
}
