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
