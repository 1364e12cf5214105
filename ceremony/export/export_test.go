package export_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/export"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// dirReader reads an export with plain os calls (the online side uses
// airgap/safefile; see cmd/conclave).
type dirReader struct{ dir string }

func (r dirReader) ReadManifest() ([]byte, error) {
	return os.ReadFile(filepath.Join(r.dir, export.ManifestName))
}

func (r dirReader) Listed(names []string) (export.Files, error) { return dirFiles{r.dir, names}, nil }

type dirFiles struct {
	dir   string
	names []string
}

func (f dirFiles) ReadFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(f.dir, name))
}

func (f dirFiles) Extra() ([]string, error) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, err
	}
	var extra []string
outer:
	for _, e := range entries {
		if e.Name() == export.ManifestName {
			continue
		}
		for _, n := range f.names {
			if n == e.Name() {
				continue outer
			}
		}
		extra = append(extra, fmt.Sprintf("%q", e.Name()))
	}
	return extra, nil
}

func write(t *testing.T, dir string, files []export.File) {
	t.Helper()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func plan(t *testing.T, complete bool) []export.File {
	f := it.New(t)
	files, err := export.Plan("claimed", f.Delegator, complete, &export.Report{BundleID: "b1", Role: "claimed", Version: 7, Requests: map[string]export.Outcome{
		"r1": {Decision: export.Approved},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestPlan(t *testing.T) {
	files := plan(t, true)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if strings.Join(names, " ") != "7.claimed.json decisions.json export-manifest.json" {
		t.Fatalf("names %v", names)
	}
	if got := export.MetadataName("claimed", 8, false); got != "8.claimed.partial.json" {
		t.Fatalf("partial name %s", got)
	}
	f := it.New(t)
	_, err := export.Plan("claimed", f.Delegator, true, &export.Report{Role: "claimed", Version: 8})
	if err == nil || err.Error() != "export: the decision report is for claimed version 8, the metadata is claimed version 7" {
		t.Fatalf("mismatched report: %v", err)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, plan(t, true))
	listing, err := export.Check(dirReader{dir})
	if err != nil || len(listing) != 2 {
		t.Fatalf("check: %v %v", listing, err)
	}
	// CheckRead returns the bytes read and the metadata parsed from them.
	read, err := export.CheckRead(dirReader{dir})
	if err != nil || len(read) != 2 {
		t.Fatalf("check: %v %v", read, err)
	}
	for i, f := range read {
		b, _ := os.ReadFile(filepath.Join(dir, f.Name))
		if f.Listing != listing[i] || string(f.Data) != string(b) {
			t.Errorf("%s: listed %+v, read %d bytes; want %+v, %d bytes", f.Name, f.Listing, len(f.Data), listing[i], len(b))
		}
		if metadata := f.Name == "7.claimed.json"; metadata != (f.Parsed != nil) || metadata && string(f.Parsed.Bytes()) != string(b) {
			t.Errorf("%s: parsed %v", f.Name, f.Parsed != nil)
		}
	}
}

// TestCheckNotCanonical: a file whose listed hash matches but whose bytes
// are not canonical (a manifest made to fit) is still refused.
func TestCheckNotCanonical(t *testing.T) {
	dir := t.TempDir()
	files := plan(t, true)
	decisions := []byte(strings.Replace(string(files[1].Data), `{"bundle_id"`, `{ "bundle_id"`, 1))
	sum := sha256.Sum256(decisions)
	meta := files[0]
	msum := sha256.Sum256(meta.Data)
	manifest := fmt.Sprintf(`{"files":[{"path":"7.claimed.json","sha256":"%s","size":%d},{"path":"decisions.json","sha256":"%s","size":%d}],"format":"conclave-export/1"}`,
		hex.EncodeToString(msum[:]), len(meta.Data), hex.EncodeToString(sum[:]), len(decisions))
	write(t, dir, []export.File{meta, {Name: "decisions.json", Data: decisions}, {Name: export.ManifestName, Data: []byte(manifest)}})
	_, err := export.Check(dirReader{dir})
	if err == nil || err.Error() != "decisions.json: not in exact canonical form" {
		t.Fatalf("got %v", err)
	}
}

func TestCheckRefusesOtherNames(t *testing.T) {
	dir := t.TempDir()
	manifest := `{"files":[{"path":"../root.json","sha256":"00","size":0}],"format":"conclave-export/1"}`
	write(t, dir, []export.File{{Name: export.ManifestName, Data: []byte(manifest)}})
	_, err := export.Check(dirReader{dir})
	if err == nil || err.Error() != `export-manifest.json: files[0]: "../root.json" is not a file an export may hold (or is listed twice)` {
		t.Fatalf("got %v", err)
	}
}

// An export of several roles (shards) holds each under its own name, one
// decision report listing every role's version, and passes Check.
func TestPlanSet(t *testing.T) {
	f := it.New(t)
	rep := &export.Report{BundleID: "b1", Requests: map[string]export.Outcome{"r1": {Decision: export.Approved}}}
	files, err := export.PlanSet([]export.Metadata{
		{Role: "claimed-b", File: f.Delegator, Complete: true},
		{Role: "claimed-a", File: f.Delegator, Complete: false},
	}, rep)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range files {
		names = append(names, x.Name)
	}
	if strings.Join(names, " ") != "7.claimed-a.partial.json 7.claimed-b.json decisions.json export-manifest.json" {
		t.Fatalf("names %v", names)
	}
	if d := string(files[2].Data); !strings.HasSuffix(d, `"requests":{"r1":{"codes":[],"decision":"approved","reason":""}},"roles":{"claimed-a":7,"claimed-b":7}}`) {
		t.Errorf("decisions %s", d)
	}
	if rep.Versions != nil {
		t.Error("PlanSet changed the caller's report")
	}
	dir := t.TempDir()
	write(t, dir, files)
	if listing, err := export.Check(dirReader{dir}); err != nil || len(listing) != 3 {
		t.Fatalf("check: %v %v", listing, err)
	}

	// One role is planned as Plan plans it.
	one, err := export.PlanSet([]export.Metadata{{Role: "claimed", File: f.Delegator, Complete: true}}, rep)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range plan(t, true) {
		if one[i].Name != x.Name || string(one[i].Data) != string(x.Data) {
			t.Errorf("file %d: %s differs from Plan's", i, one[i].Name)
		}
	}
	if _, err := export.PlanSet([]export.Metadata{{Role: "a", File: f.Delegator}, {Role: "a", File: f.Delegator}}, rep); err == nil || err.Error() != "export: role a is listed twice" {
		t.Errorf("a role twice: %v", err)
	}
}
