package audit

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files from what the code writes")

// exampleReport is the report of the worked example
// (docs/formats/examples/audit-report.json): a rehearsal ceremony of the
// cmd/conclave tests, audited.
func exampleReport(t *testing.T) *Report {
	t.Helper()
	data, err := os.ReadFile("../../docs/formats/examples/audit-report.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("the example is not a report: %v", err)
	}
	return &r
}

// golden compares got with a golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what is written now (go test ./ceremony/audit -update rewrites it):\n%s", path, got)
	}
}

// TestGoldenReports: the example ceremony's report as text (golden in
// testdata/), as HTML (the worked example beside the JSON) and as JSON
// again (the example itself).
func TestGoldenReports(t *testing.T) {
	r := exampleReport(t)
	var text, html bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/example.txt", text.Bytes())
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	golden(t, "../../docs/formats/examples/audit-report.html", html.Bytes())
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	golden(t, "../../docs/formats/examples/audit-report.json", js.Bytes())
}
