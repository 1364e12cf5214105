package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// TestReadBackGeneration: the new generation is read back from the medium
// and compared byte for byte with what was written; one byte changed on
// the medium is refused, naming the file.
func TestReadBackGeneration(t *testing.T) {
	fx := newCeremonyFixture(t)
	vd, err := vaultdir.Open(fx.vault)
	if err != nil {
		t.Fatal(err)
	}
	defer vd.Close()
	v, err := vd.OpenCurrent()
	if err != nil {
		t.Fatal(err)
	}
	files := v.Files()
	if err := readBackGeneration(vd, v.Generation, files); err != nil {
		t.Fatalf("the generation as written: %v", err)
	}
	if err := readBackGeneration(vd, "gen-000002", files); err == nil || err.Error() != "reading the vault's new generation back: the current generation is gen-000001, not gen-000002, which was just written" {
		t.Errorf("another generation's name: %v", err)
	}
	p := filepath.Join(fx.vault, v.Generation, "history.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-2] ^= 1
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := "reading the vault's new generation back: gen-000001/history.json is not what was written"
	if err := readBackGeneration(vd, v.Generation, files); err == nil || err.Error() != want {
		t.Errorf("a changed byte on the medium: %v, want %s", err, want)
	}
}

// TestReadBackExport: each file of the export read back from the medium
// (once, by export.CheckRead) is compared byte for byte with what the
// ceremony wrote; an export that checks by its own manifest but is not
// what was written is refused, naming the file.
func TestReadBackExport(t *testing.T) {
	f := intaketest.New(t)
	files, err := export.Plan("claimed", f.Delegator, true, &export.Report{BundleID: "b1", Role: "claimed", Version: f.Delegator.Version()})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	want := map[string][]byte{}
	var ex []safefile.Export
	for _, f := range files {
		want[f.Name] = f.Data
		ex = append(ex, safefile.Export{Name: f.Name, Data: f.Data})
	}
	if err := safefile.ExportFiles(dir, ex); err != nil {
		t.Fatal(err)
	}
	r := &ceremonyRun{o: ceremonyOptions{Out: dir}}
	name := files[0].Name
	changed := bytes.Clone(want[name])
	changed[len(changed)-2] ^= 1
	want[name] = changed
	msg := "reading the export back: " + name + " is not what was written"
	if _, err := r.readBack(context.Background(), want); err == nil || err.Error() != msg {
		t.Errorf("an export other than the one written: %v, want %s", err, msg)
	}
}
