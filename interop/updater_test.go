package interop

// go-tuf's real client, updater.Updater, resolving a target through
// Conclave's delegation chain: root (rotated) → targets → claimed →
// project, exactly as a package installer would, over an in-memory
// repository instead of the network.

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

const repoURL = "https://repo.invalid/metadata"

// memFetcher serves files from a map and records every URL asked for; a
// missing file is an HTTP 404, which the updater reads as "no newer root".
type memFetcher struct {
	files map[string][]byte
	asked []string
}

func (m *memFetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	m.asked = append(m.asked, strings.TrimPrefix(url, "https://repo.invalid/"))
	b, ok := m.files[url]
	if !ok {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: url}
	}
	if int64(len(b)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is %d bytes, more than %d", url, len(b), maxLength)}
	}
	return b, nil
}

// repository is Conclave's output plus go-tuf-made snapshot and timestamp.
type repository struct {
	v1Root  []byte
	fetcher *memFetcher
	target  string
	content []byte
}

func newRepository(t *testing.T, projectSigners ...testKey) *repository {
	ks := keys(t)
	rot := newRotation(t)
	v2 := newRootFile(t, rot.v2)
	signRotation(t, v2, rot.v1, rot.v2, []testKey{ks.p256a, ks.rsa1}, []testKey{ks.p384a, ks.ed2})

	// targets delegates everything ("*/*") to claimed, which Conclave's
	// delegation package builds: one terminating role per project.
	holders := []testKey{ks.ed1, ks.p384a, ks.ed2}
	top := conclaveTargets(1)
	top.Delegations = &tuf.Delegations{Keys: keyMap(holders...), Roles: []*tuf.DelegatedRole{{
		Name: "claimed", KeyIDs: ids(holders...), Threshold: 2, Terminating: false, Paths: []string{"*/*"},
	}}}
	topFile := newTargetsFile(t, top)
	signConclave(t, topFile, rot.v2.Keys, ks.ed1, ks.p384a)

	claimed, err := delegation.Build([]delegation.Project{
		{Name: "project-b", Keys: []*tuf.Key{ks.projB1.key}, Threshold: 1},
		{Name: "project-a", Keys: []*tuf.Key{ks.projA1.key, ks.projA2.key}, Threshold: 2},
	}, "{name}/*", []string{"claimed"}, 1, expires)
	if err != nil {
		t.Fatal(err)
	}
	claimedFile := newTargetsFile(t, claimed)
	signConclave(t, claimedFile, top.Delegations.Keys, ks.ed2, ks.p384a)

	r := &repository{target: "project-a/project-a-1.0.tar.gz", content: []byte("project-a 1.0\n")}
	sum := sha256.Sum256(r.content)
	proj := conclaveTargets(1)
	proj.Targets[r.target] = &tuf.TargetFile{Length: int64(len(r.content)), Hashes: map[string]string{"sha256": fmt.Sprintf("%x", sum)}}
	projFile := newTargetsFile(t, proj)
	signConclave(t, projFile, claimed.Delegations.Keys, projectSigners...)

	topBytes, claimedBytes, projBytes := topFile.Bytes(), claimedFile.Bytes(), projFile.Bytes()
	snapBytes, tsBytes := onlineMetadata(t, ks.online, map[string]*metadata.MetaFiles{
		"targets.json":   metaFor(topBytes, 1),
		"claimed.json":   metaFor(claimedBytes, 1),
		"project-a.json": metaFor(projBytes, 1),
	})

	r.v1Root = rot.v1Bytes
	r.fetcher = &memFetcher{files: map[string][]byte{
		repoURL + "/2.root.json":      v2.Bytes(),
		repoURL + "/timestamp.json":   tsBytes,
		repoURL + "/1.snapshot.json":  snapBytes,
		repoURL + "/1.targets.json":   topBytes,
		repoURL + "/1.claimed.json":   claimedBytes,
		repoURL + "/1.project-a.json": projBytes,
		fmt.Sprintf("https://repo.invalid/metadata/targets/project-a/%x.project-a-1.0.tar.gz", sum): r.content,
	}}
	return r
}

// onlineMetadata is snapshot version 1 listing meta and timestamp
// listing it, both made and signed by go-tuf with the online key, as the
// online repository would: their bytes.
func onlineMetadata(t *testing.T, online testKey, meta map[string]*metadata.MetaFiles) (snapshot, timestamp []byte) {
	t.Helper()
	snap := metadata.Snapshot(expires)
	snap.Signed.Meta = meta
	signGoTUF(t, snap, online)
	snapshot = toBytes(t, snap, false)
	ts := metadata.Timestamp(expires)
	ts.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metaFor(snapshot, 1)}
	signGoTUF(t, ts, online)
	return snapshot, toBytes(t, ts, false)
}

func (r *repository) updater(t *testing.T) *updater.Updater {
	t.Helper()
	cfg, err := config.New(repoURL, r.v1Root)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Fetcher = r.fetcher
	cfg.DisableLocalCache = true
	up, err := updater.New(cfg)
	if err != nil {
		t.Fatalf("go-tuf updater.New with Conclave's root v1: %v", err)
	}
	up.UnsafeSetRefTime(refTime)
	return up
}

// TestGoTUFUpdaterFindsTargetThroughConclaveDelegations: the updater
// rotates to root v2, loads timestamp, snapshot and targets, walks targets
// → claimed → project-a, verifying each signature threshold, and
// downloads the target with its hash checked.
func TestGoTUFUpdaterFindsTargetThroughConclaveDelegations(t *testing.T) {
	ks := keys(t)
	r := newRepository(t, ks.projA1, ks.projA2)
	up := r.updater(t)
	if err := up.Refresh(); err != nil {
		t.Fatalf("go-tuf Refresh: %v", err)
	}
	if v := up.GetTrustedMetadataSet().Root.Signed.Version; v != 2 {
		t.Errorf("trusted root version %d, want 2", v)
	}
	tf, err := up.GetTargetInfo(r.target)
	if err != nil {
		t.Fatalf("go-tuf GetTargetInfo(%s): %v", r.target, err)
	}
	_, data, err := up.DownloadTarget(tf, "", "")
	if err != nil {
		t.Fatalf("go-tuf DownloadTarget: %v", err)
	}
	if string(data) != string(r.content) {
		t.Errorf("downloaded %q", data)
	}
	want := []string{
		"metadata/2.root.json", "metadata/3.root.json", "metadata/timestamp.json",
		"metadata/1.snapshot.json", "metadata/1.targets.json",
		"metadata/1.claimed.json", "metadata/1.project-a.json",
		fmt.Sprintf("metadata/targets/project-a/%x.project-a-1.0.tar.gz", sha256.Sum256(r.content)),
	}
	if !reflect.DeepEqual(r.fetcher.asked, want) {
		t.Errorf("go-tuf fetched\n%s\nwant\n%s", strings.Join(r.fetcher.asked, "\n"), strings.Join(want, "\n"))
	}

	// A path no project owns: claimed delegates it to nobody.
	if _, err := up.GetTargetInfo("project-c/project-c-1.0.tar.gz"); err == nil || err.Error() != "target project-c/project-c-1.0.tar.gz not found" {
		t.Errorf("GetTargetInfo(project-c/...) = %v", err)
	}
}

// TestGoTUFUpdaterRefusesProjectBelowThreshold: the same repository with
// project-a's metadata signed by one of its two keys: the updater stops at
// project-a with go-tuf's exact threshold error.
func TestGoTUFUpdaterRefusesProjectBelowThreshold(t *testing.T) {
	ks := keys(t)
	r := newRepository(t, ks.projA2)
	up := r.updater(t)
	if err := up.Refresh(); err != nil {
		t.Fatalf("go-tuf Refresh: %v", err)
	}
	_, err := up.GetTargetInfo(r.target)
	var unsigned *metadata.ErrUnsignedMetadata
	want := "unsigned metadata error: Verifying project-a failed, not enough signatures, got 1, want 2"
	if !errors.As(err, &unsigned) || err.Error() != want {
		t.Errorf("GetTargetInfo error = %v, want %q", err, want)
	}
}
