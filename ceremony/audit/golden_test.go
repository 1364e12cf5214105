package audit

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files from what the code writes")

// readExample reads a worked example of docs/formats/examples/: the
// report of a rehearsal ceremony of the cmd/conclave tests, audited.
func readExample(t *testing.T, name string) *Report {
	t.Helper()
	data, err := os.ReadFile("../../docs/formats/examples/" + name + ".json")
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
	for name, text := range map[string]string{
		"audit-report": "testdata/example.txt",
		// A ceremony signed at two sites (sites.go).
		"audit-report-two-sites": "testdata/two-sites.txt",
	} {
		t.Run(name, func(t *testing.T) { goldenReport(t, name, text) })
	}
}

func goldenReport(t *testing.T, name, textFile string) {
	r := readExample(t, name)
	var text, html bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, textFile, text.Bytes())
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	golden(t, "../../docs/formats/examples/"+name+".html", html.Bytes())
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	golden(t, "../../docs/formats/examples/"+name+".json", js.Bytes())
}
