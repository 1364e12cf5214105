package interop

// tuf-js (the TUF client of npm and sigstore-js), run by node on the files
// Conclave writes: tufjs/load.mjs drives its Updater over a directory, no
// network. scripts/setup.sh installs it (npm ci in interop/tufjs, the
// versions pinned by package-lock.json); without it these tests skip,
// unless CONCLAVE_INTEROP_TUFJS=1 (set by scripts/test.sh) makes its
// absence a failure.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

type tufjsResult struct {
	Targets map[string]*string `json:"targets"`
	Roles   int                `json:"roles"`
	Error   string             `json:"error"`
}

// tufjs runs tufjs/load.mjs with args and decodes what it printed.
func tufjs(t *testing.T, args ...string) tufjsResult {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("tufjs", "node_modules", "tuf-js", "package.json"))
	}
	if err != nil {
		if os.Getenv("CONCLAVE_INTEROP_TUFJS") == "1" {
			t.Fatalf("tuf-js is required (CONCLAVE_INTEROP_TUFJS=1) but cannot run: %v", err)
		}
		t.Skipf("tuf-js cannot run (%v); install it with scripts/setup.sh (npm ci in interop/tufjs, Node.js 20.17 or newer)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join("tufjs", "load.mjs")}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var res tufjsResult
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		t.Fatalf("node load.mjs %v: %v; output %q", args, errors.Join(err, jerr), out)
	}
	if err != nil && res.Error == "" {
		t.Fatalf("node load.mjs %v: %v", args, err)
	}
	return res
}

// writeRepo writes the repository's files into a new directory.
func writeRepo(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTufJSLoadsLargestDelegationSet: tuf-js's Updater walks root →
// timestamp → snapshot → targets → claimed → each edge project of the
// largest set (largest_test.go) and finds each target with its hash.
func TestTufJSLoadsLargestDelegationSet(t *testing.T) {
	set := largest(t)
	repo := writeRepo(t, set.files)
	root := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(root, set.root, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"walk", repo, root, t.TempDir()}
	for path := range set.targets {
		args = append(args, path)
	}
	res := tufjs(t, args...)
	if res.Error != "" {
		t.Fatalf("tuf-js: %s", res.Error)
	}
	for path, sum := range set.targets {
		if got := res.Targets[path]; got == nil || *got != sum {
			t.Errorf("tuf-js found %s with sha256 %v, want %s", path, got, sum)
		}
	}
}

// TestTopLevelRoleDelegation: claimed delegating a project named "root",
// as Conclave's builder never writes it. tuf-js refuses the whole file
// (so every project in it would be unreachable), Conclave's reader refuses
// it the same way, and go-tuf v2.4.2 reads it.
func TestTopLevelRoleDelegation(t *testing.T) {
	set := largest(t)
	ks := keys(t)
	bad := *set.claimed
	d := *bad.Delegations
	d.Roles = append([]*tuf.DelegatedRole{{Name: "root", KeyIDs: []string{ks.projA1.id()}, Threshold: 1, Terminating: true, Paths: []string{"root/*"}}}, d.Roles...)
	d.Keys = keyMap(ks.projA1)
	for id, k := range set.claimed.Delegations.Keys {
		d.Keys[id] = k
	}
	bad.Delegations = &d
	f := newTargetsFile(t, &bad)
	data := f.Bytes()

	path := filepath.Join(t.TempDir(), "1.claimed.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := tufjs(t, "parse-targets", path); res.Error != "Error: Delegated role name conflicts with top-level role name" {
		t.Errorf("tuf-js: %+v", res)
	}
	_, err := tuf.Parse("1.claimed.json", data)
	if want := `1.claimed.json: malformed metadata: signed.delegations.roles[0].name: "root" is a top-level role; a delegation may not name it`; err == nil || err.Error() != want {
		t.Errorf("Conclave: %v, want %s", err, want)
	}
	if _, err := metadata.Targets().FromBytes(data); err != nil {
		t.Errorf("go-tuf v2.4.2 now refuses it (%v): update interop/README.md", err)
	}
}
