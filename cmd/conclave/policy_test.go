package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyCheckJSON: the --json report of the example policy is the
// example in docs/formats/examples, and follows its schema.
func TestPolicyCheckJSON(t *testing.T) {
	dir := t.TempDir()
	example, err := os.ReadFile("../../docs/policy-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policy-example.yaml")
	if err := os.WriteFile(path, example, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "policy", "check", "--json", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want, err := os.ReadFile("../../docs/formats/examples/policy-check.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Replace(out, path, "policy-example.yaml", 1); got != string(want) {
		t.Errorf("got:\n%s\nwant (docs/formats/examples/policy-check.json):\n%s", got, want)
	}
	checkSchema(t, "policy-check.schema.json", []byte(out))
}

// TestPolicyCheckGuide: the summary shown in docs/policy.md is what the
// command prints for docs/policy-example.yaml, up to where the guide cuts
// it short.
func TestPolicyCheckGuide(t *testing.T) {
	example, err := os.ReadFile("../../docs/policy-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, example, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "policy", "check", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	out = strings.Replace(out, path, "policy.yaml", 1)
	guide, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	// The guide's block: the lines indented by four spaces after
	// "reads the file exactly as a ceremony does", up to "...".
	_, block, _ := strings.Cut(string(guide), "reads the file exactly as a ceremony does and prints what it says:\n\n")
	block, _, _ = strings.Cut(block, "        ...\n")
	var shown strings.Builder
	for _, line := range strings.SplitAfter(block, "\n") {
		shown.WriteString(strings.TrimPrefix(line, "    "))
	}
	if shown.Len() == 0 || !strings.HasPrefix(out, shown.String()) {
		t.Errorf("docs/policy.md shows:\n%s\nconclave policy check prints:\n%s", shown.String(), out)
	}
}
