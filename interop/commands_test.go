package interop

// go-tuf's client through the trust root that Conclave's commands made
// with real tokens: cmd/conclave's TestEndToEndGenesisCeremonyRotation
// (enrolment on virtual YubiKeys and SoftHSM, conclave init, a
// delegation ceremony, conclave rotate) run in the main module, and what
// it publishes read here.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// commandsOnlineSeed is the byte whose 32 repetitions seed the online key
// the main module's test gives init for snapshot and timestamp
// (endToEndOnlineSeed in cmd/conclave).
const commandsOnlineSeed = 0x70

// commandsRecentSeed seeds the online key of recently-claimed
// (endToEndRecentSeed in cmd/conclave).
const commandsRecentSeed = 0x72

// TestGoTUFUpdaterThroughConclaveCommands: go-tuf's updater, trusting
// root 1 as conclave init wrote it, updates to root 2 of conclave rotate,
// accepts targets 2 and claimed 3 (signed by the keys that came in), and
// finds and downloads a target of the project the delegation ceremony
// delegated, signed by the project's key. A file under that project's
// path that its metadata does not list is not found, though the online
// role recently-claimed (delegated after claimed) lists it: the
// project's delegation is terminating.
func TestGoTUFUpdaterThroughConclaveCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the main module's end-to-end test; run without -short")
	}
	pub := t.TempDir()
	cmd := exec.Command("go", "test", "-count=1", "-v", "-run", "^TestEndToEndGenesisCeremonyRotation$", "./cmd/conclave")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CONCLAVE_TEST_PUBLISH_DIR="+pub)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -run TestEndToEndGenesisCeremonyRotation ./cmd/conclave (in the main module): %v\n%s", err, out)
	}
	// Without pcscd, vsmartcard-vpcd or SoftHSM the test skips (CI
	// installs them, and there it fails instead).
	if bytes.Contains(out, []byte("--- SKIP: TestEndToEndGenesisCeremonyRotation")) {
		t.Skipf("the main module's end-to-end test skipped:\n%s", out)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(pub, name))
		if err != nil {
			t.Fatalf("the end-to-end test published no %s (was it skipped?): %v\n%s", name, err, out)
		}
		return b
	}
	root1, root2, top, claimed := read("1.root.json"), read("2.root.json"), read("targets.json"), read("claimed.json")

	online, recent := seededKey(t, commandsOnlineSeed), seededKey(t, commandsRecentSeed)

	// The project's own metadata, signed by the key its add request gave.
	n1 := intaketest.Key("n1")
	content := []byte("fresh 1.0\n")
	target := "fresh/fresh-1.0.tar.gz"
	sum := sha256.Sum256(content)
	proj := conclaveTargets(1)
	proj.Targets[target] = &tuf.TargetFile{Length: int64(len(content)), Hashes: map[string]string{"sha256": fmt.Sprintf("%x", sum)}}
	projFile := newTargetsFile(t, proj)
	signConclave(t, projFile, map[string]*tuf.Key{n1.Key.ID(): n1.Key}, testKey{name: "n1", signer: n1.Signer, key: n1.Key})
	projBytes := projFile.Bytes()

	// The online role recently-claimed, signed by its online key, lists
	// a file under the path of fresh (which fresh's metadata does not
	// list) and a file of a project no signed role delegates.
	evil, other := []byte("not fresh's\n"), []byte("other 1.0\n")
	rc := conclaveTargets(1)
	for name, data := range map[string][]byte{"fresh/evil-1.0.tar.gz": evil, "other/other-1.0.tar.gz": other} {
		h := sha256.Sum256(data)
		rc.Targets[name] = &tuf.TargetFile{Length: int64(len(data)), Hashes: map[string]string{"sha256": fmt.Sprintf("%x", h)}}
	}
	rcFile := newTargetsFile(t, rc)
	signConclave(t, rcFile, map[string]*tuf.Key{recent.id(): recent.key}, recent)
	rcBytes := rcFile.Bytes()

	snapBytes, tsBytes := onlineMetadata(t, online, map[string]*metadata.MetaFiles{
		"targets.json":          metaFor(top, 2),
		"claimed.json":          metaFor(claimed, 3),
		"fresh.json":            metaFor(projBytes, 1),
		"recently-claimed.json": metaFor(rcBytes, 1),
	})
	r := &repository{v1Root: root1, target: target, content: content, fetcher: &memFetcher{files: map[string][]byte{
		repoURL + "/2.root.json":             root2,
		repoURL + "/timestamp.json":          tsBytes,
		repoURL + "/1.snapshot.json":         snapBytes,
		repoURL + "/2.targets.json":          top,
		repoURL + "/3.claimed.json":          claimed,
		repoURL + "/1.fresh.json":            projBytes,
		repoURL + "/1.recently-claimed.json": rcBytes,
		fmt.Sprintf("https://repo.invalid/metadata/targets/fresh/%x.fresh-1.0.tar.gz", sum): content,
	}}}
	up := r.updater(t)
	// Within the metadata's validity: claimed expires 90 days after the
	// rotation (2026-11-25).
	up.UnsafeSetRefTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err := up.Refresh(); err != nil {
		t.Fatalf("go-tuf Refresh: %v", err)
	}
	if v := up.GetTrustedMetadataSet().Root.Signed.Version; v != 2 {
		t.Errorf("trusted root version %d, want 2", v)
	}
	tf, err := up.GetTargetInfo(target)
	if err != nil {
		t.Fatalf("go-tuf GetTargetInfo(%s): %v", target, err)
	}
	if _, data, err := up.DownloadTarget(tf, "", ""); err != nil || string(data) != string(content) {
		t.Fatalf("go-tuf DownloadTarget: %q, %v", data, err)
	}
	if want := "metadata/3.claimed.json"; !strings.Contains(strings.Join(r.fetcher.asked, "\n"), want) {
		t.Errorf("go-tuf fetched %v, not %s", r.fetcher.asked, want)
	}

	// A file missing from fresh's metadata does not fall through to the
	// online role: fresh's delegation in claimed is terminating.
	if _, err := up.GetTargetInfo("fresh/evil-1.0.tar.gz"); err == nil || err.Error() != "target fresh/evil-1.0.tar.gz not found" {
		t.Errorf("GetTargetInfo(fresh/evil-1.0.tar.gz) = %v, want not found", err)
	}
	if strings.Contains(strings.Join(r.fetcher.asked, "\n"), "recently-claimed") {
		t.Errorf("go-tuf asked the online role about fresh's path: %v", r.fetcher.asked)
	}
	// A project no signed role delegates is served by the online role,
	// which targets delegates after claimed.
	if _, err := up.GetTargetInfo("other/other-1.0.tar.gz"); err != nil {
		t.Errorf("GetTargetInfo(other/other-1.0.tar.gz) through recently-claimed: %v", err)
	}
}

// seededKey is the ed25519 key whose seed is 32 times the byte.
func seededKey(t *testing.T, seed byte) testKey {
	t.Helper()
	s := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	k, err := tuf.KeyFromPublic(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return testKey{name: fmt.Sprintf("seed %#x", seed), signer: s, key: k}
}
