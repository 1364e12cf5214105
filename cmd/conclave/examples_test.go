package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The worked examples in docs/formats are the contract with repositories
// written in other languages, so they must stay true: the bundle judges as
// its printed report says, and the export checks as exact.
const examples = "../../docs/formats/examples"

// exampleImportArgs judges the example bundle against a vault holding
// the example's 7.claimed.json, intake key and history.
func exampleImportArgs(t *testing.T, extra ...string) []string {
	args := []string{"import", "--dry-run", "--vault", exampleVault(t), "--now", "2026-11-24T12:00:00Z"}
	args = append(args, extra...)
	return append(args, filepath.Join(examples, "bundle"))
}

func TestDocsExampleBundleReport(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(examples, "import-report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, exampleImportArgs(t)...)
	if code != 0 || out != string(want) {
		t.Errorf("exit %d, stderr %q\noutput:\n%s\nwant (docs/formats/examples/import-report.txt):\n%s", code, errOut, out, want)
	}
}

func TestDocsExampleBundleJSONReport(t *testing.T) {
	wantBytes, err := os.ReadFile(filepath.Join(examples, "import-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, exampleImportArgs(t, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got, want any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	if err := json.Unmarshal(wantBytes, &want); err != nil {
		t.Fatalf("docs example is not JSON: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report differs from docs/formats/examples/import-report.json:\n%s", out)
	}
}

func TestDocsExampleExportIsExact(t *testing.T) {
	code, out, errOut := run(t, "intake", "check-export", filepath.Join(examples, "export"))
	if code != 0 {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestDocsExampleError: the JSON error in docs/formats/examples is what a
// command given --json prints for a command-line mistake.
func TestDocsExampleError(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(examples, "error.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "import", "--dry-run", "--json", filepath.Join(examples, "bundle"))
	if code != 2 || errOut != "" || out != string(want) {
		t.Errorf("exit %d, stderr %q\noutput:\n%s\nwant (docs/formats/examples/error.json):\n%s", code, errOut, out, want)
	}
}
