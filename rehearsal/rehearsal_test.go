package rehearsal

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

func TestRunWritesVerifiableMetadata(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var log bytes.Buffer
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	res, err := Run(Options{Out: dir, Projects: 25, Now: now, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(log.String(), "REHEARSAL — software keys generated in memory: INSECURE") {
		t.Errorf("the output must start by saying the keys are insecure:\n%s", log.String())
	}
	names := []string{"1.root.json", "root.json", "targets.json", "claimed.json"}
	for i, f := range res.Files {
		if filepath.Base(f) != names[i] {
			t.Errorf("file %d is %s, want %s", i, f, names[i])
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != len(names) {
		t.Fatalf("output directory holds %d entries (%v), want exactly %v", len(entries), err, names)
	}
	read := func(name string) *tuf.File {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := tuf.Parse(name, b)
		if err != nil {
			t.Fatal(err)
		}
		// Every file is exactly the bytes Conclave writes for it.
		if !bytes.Equal(f.Bytes(), b) {
			t.Errorf("%s is not in Conclave's exact file form", name)
		}
		return f
	}
	root, top, claimed := read("root.json"), read("targets.json"), read("claimed.json")
	if r1 := read("1.root.json"); !bytes.Equal(r1.SignedBytes(), root.SignedBytes()) {
		t.Error("1.root.json and root.json differ")
	}
	if _, err := root.VerifyWithRoot(root.Root); err != nil {
		t.Error(err)
	}
	if _, err := top.VerifyWithRoot(root.Root); err != nil {
		t.Error(err)
	}
	res2, err := claimed.VerifyDelegated(top.Targets, "claimed")
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Signers) != 2 || res2.Threshold != 2 {
		t.Errorf("claimed signed by %v with threshold %d, want 2 of 2", res2.Signers, res2.Threshold)
	}
	roles := claimed.Targets.Delegations.Roles
	if len(roles) != 25 {
		t.Fatalf("claimed delegates %d projects, want 25", len(roles))
	}
	for _, r := range roles {
		if !r.Terminating || len(r.Paths) != 1 || r.Paths[0] != r.Name+"/*" {
			t.Errorf("role %s: terminating %v, paths %v; want terminating with [%s/*]", r.Name, r.Terminating, r.Paths, r.Name)
		}
	}
	if got, want := claimed.Expires().String(), "2027-02-24T10:00:00Z"; got != want {
		t.Errorf("claimed expires %s, want %s", got, want)
	}
}

func TestRunRefusesNonEmptyOutput(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "root.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(Options{Out: dir, Projects: 1, Now: time.Now()})
	want := "output directory " + dir + " is not empty; a rehearsal never overwrites files"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}
