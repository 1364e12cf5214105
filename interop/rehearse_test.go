package interop

// The rehearsal's output, verified by go-tuf: what a trainee produces on a
// fresh machine must be metadata any TUF client accepts.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

const rehearsalRequests = 50

// buildConclave builds cmd/conclave from the main module (the parent
// directory), with the main module's own go.mod: the interop module's
// dependency graph (go-tuf) never touches the binary.
func buildConclave(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "conclave")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/conclave")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/conclave (in the main module): %v\n%s", err, out)
	}
	return bin
}

// TestGoTUFVerifiesRehearsal runs `conclave rehearse --out DIR --requests
// 50` — a whole ceremony on virtual YubiKeys and SoftHSM — and verifies
// with go-tuf what it wrote: the generated repository's root.json signed
// by its own root threshold (and 1.root.json the same bytes), targets.json
// by root's targets role, and the exported claimed metadata (version 2,
// signed by two of the three holders in the ceremony) by the claimed
// delegation in targets.json.
func TestGoTUFVerifiesRehearsal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the conclave binary; run without -short")
	}
	bin := buildConclave(t)
	dir := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(bin, "rehearse", "--out", dir, "--requests", fmt.Sprint(rehearsalRequests))
	out, err := cmd.CombinedOutput()
	if err != nil {
		if missing := "the rehearsal's tokens need the Debian package"; strings.Contains(string(out), missing) && os.Getenv("CI") != "true" {
			t.Skipf("%s", bytes.TrimSpace(out))
		}
		t.Fatalf("conclave rehearse --out DIR --requests %d: %v\noutput:\n%s", rehearsalRequests, err, out)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("the rehearsal did not write %s: %v\noutput:\n%s", name, err, out)
		}
		return b
	}
	exported, err := filepath.Glob(filepath.Join(dir, "export", "*.claimed.json"))
	if err != nil || len(exported) != 1 {
		t.Fatalf("the export holds %v (%v), want one N.claimed.json\noutput:\n%s", exported, err, out)
	}
	rootBytes, root1Bytes := read("repository/root.json"), read("repository/1.root.json")
	targetsBytes := read("repository/targets.json")
	claimedBytes := read(strings.TrimPrefix(exported[0], dir+"/"))
	if !bytes.Equal(rootBytes, root1Bytes) {
		t.Error("root.json and 1.root.json differ")
	}
	// The rehearsal mark is in root's signed part; go-tuf must ignore it
	// while checking the signatures over it.
	if !bytes.Contains(rootBytes, []byte(`"x-conclave-rehearsal":"made by a Conclave rehearsal with throwaway keys; never publish"`)) {
		t.Errorf("root.json carries no rehearsal mark:\n%s", rootBytes)
	}

	// go-tuf: the client's view.
	root := gotufRoot(t, rootBytes)
	if err := root.VerifyDelegate("root", root); err != nil {
		t.Fatalf("go-tuf: root.json is not signed by its root threshold: %v", err)
	}
	if _, err := trustedmetadata.New(rootBytes); err != nil {
		t.Fatalf("go-tuf trustedmetadata.New(root.json): %v", err)
	}
	if root.Signed.Version != 1 {
		t.Errorf("root version %d, want 1", root.Signed.Version)
	}
	targets := gotufTargets(t, targetsBytes)
	if err := root.VerifyDelegate("targets", targets); err != nil {
		t.Fatalf("go-tuf: targets.json is not signed by root's targets role: %v", err)
	}
	claimed := gotufTargets(t, claimedBytes)
	if err := targets.VerifyDelegate("claimed", claimed); err != nil {
		t.Fatalf("go-tuf: claimed.json is not signed by the claimed delegation: %v", err)
	}

	// The signed bytes go-tuf recomputes are the ones Conclave signed.
	for name, c := range map[string]struct {
		data   []byte
		signed any
	}{
		"root.json":    {rootBytes, root.Signed},
		"targets.json": {targetsBytes, targets.Signed},
		"claimed.json": {claimedBytes, claimed.Signed},
	} {
		f := parseConclave(t, name, c.data)
		if got := gotufCanonical(t, c.signed); !bytes.Equal(got, f.SignedBytes()) {
			t.Errorf("%s: go-tuf's canonical signed part differs from Conclave's", name)
		}
		if !bytes.Equal(f.Bytes(), c.data) {
			t.Errorf("%s: the file is not what Conclave's Bytes writes for it", name)
		}
	}

	if claimed.Signed.Version != 2 {
		t.Errorf("exported claimed version %d, want 2", claimed.Signed.Version)
	}
	// claimed delegates each project, terminating, to its own paths.
	d := claimed.Signed.Delegations
	if d == nil || d.SuccinctRoles != nil || len(d.Roles) == 0 {
		t.Fatalf("claimed.json delegations: %+v", d)
	}
	for i, r := range d.Roles {
		if !r.Terminating || len(r.Paths) == 0 || len(r.PathHashPrefixes) != 0 {
			t.Errorf("claimed role %d %s: terminating=%v paths=%v prefixes=%v", i, r.Name, r.Terminating, r.Paths, r.PathHashPrefixes)
		}
		if r.Threshold < 1 || r.Threshold > len(r.KeyIDs) {
			t.Errorf("claimed role %s: threshold %d of %d keys", r.Name, r.Threshold, len(r.KeyIDs))
		}
		for _, id := range r.KeyIDs {
			k := d.Keys[id]
			if k == nil {
				t.Errorf("claimed role %s: keyid %s not in delegations.keys", r.Name, id)
			} else if gotufID(t, k) != id {
				t.Errorf("claimed role %s: key listed under keyid %s hashes to %s", r.Name, id, gotufID(t, k))
			}
		}
		// Each project's path routes to that project, and to it alone.
		target := strings.ReplaceAll(r.Paths[0], "*", "pkg-1.0.tar.gz")
		got := d.GetRolesForTarget(target)
		if len(got) != 1 || got[0] != (metadata.RoleResult{Name: r.Name, Terminating: true}) {
			t.Errorf("go-tuf routes %s to %v, want [%s]", target, got, r.Name)
		}
	}

	// Conclave's own verdict agrees.
	croot := parseConclave(t, "root.json", rootBytes)
	if res, err := croot.VerifyWithRoot(croot.Root); err != nil {
		t.Errorf("conclave root: %v (%+v)", err, res)
	}
	ctargets := parseConclave(t, "targets.json", targetsBytes)
	if res, err := ctargets.VerifyWithRoot(croot.Root); err != nil {
		t.Errorf("conclave targets: %v (%+v)", err, res)
	}
	if res, err := parseConclave(t, "claimed.json", claimedBytes).VerifyDelegated(ctargets.Targets, "claimed"); err != nil {
		t.Errorf("conclave claimed: %v (%+v)", err, res)
	}
}
