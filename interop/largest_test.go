package interop

// The largest delegation set Conclave's rules allow, loaded by go-tuf's
// client (and by tuf-js's, in tufjs_test.go): every edge project with the
// most keys the default rules allow, of every key type; the
// longest project name; the shortest; the names closest to the names
// Conclave refuses (request.CheckNotRole); and a thousand projects beside
// them, all in one claimed role built by ceremony/delegation.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// bulkProjects is how many ordinary projects sit beside the edge cases.
const bulkProjects = 1000

// edgeNames are the legal project names at the edges of the rule: each is
// a normalised name that CheckNotRole accepts, next to one it refuses.
func edgeNames(maxLen int) []string {
	long := strings.Repeat("a1-", maxLen)[:maxLen-1] + "z"
	return []string{
		"a", "0", long,
		"1-root", "root-a", "rooted", "targets2", "snapshots", "timestamp-js",
		"claimed-a", "unclaimed", "bin-0a",
	}
}

// largestSet is the repository: metadata files by name as a client fetches
// them with consistent snapshots, and one target path in each edge
// project with its hash.
type largestSet struct {
	files   map[string][]byte // "1.root.json", "1.claimed.json", "timestamp.json", …
	root    []byte            // the trusted root, 1.root.json
	targets map[string]string // target path → hex sha256
	claimed *tuf.Targets
}

var (
	largestOnce sync.Once
	largestVal  *largestSet
)

func largest(t *testing.T) *largestSet {
	t.Helper()
	largestOnce.Do(func() { largestVal = buildLargest(t) })
	if largestVal == nil {
		t.Fatal("the largest delegation set failed to build in an earlier test")
	}
	return largestVal
}

func buildLargest(t *testing.T) *largestSet {
	ks := keys(t)
	r := rules.Default()

	// MaxKeys distinct keys, every type Conclave's default rules allow.
	maxKeys := []testKey{ks.p256a, ks.p256b, ks.p384a, ks.p384b, ks.rsa1}
	for i := len(maxKeys); i < r.MaxKeys; i++ {
		seed := sha256.Sum256([]byte(fmt.Sprintf("interop largest set key %d", i)))
		s := ed25519.NewKeyFromSeed(seed[:])
		k, err := tuf.KeyFromPublic(s.Public())
		if err != nil {
			t.Fatal(err)
		}
		maxKeys = append(maxKeys, testKey{name: fmt.Sprintf("ed25519-%d", i), signer: s, key: k})
	}
	var maxTUF []*tuf.Key
	for _, k := range maxKeys {
		maxTUF = append(maxTUF, k.key)
	}

	edges := edgeNames(r.MaxProjectName)
	var projects []delegation.Project
	for _, n := range edges {
		if got, err := request.Normalize(n, r.MaxProjectName); err != nil || got != n {
			t.Fatalf("edge name %q is not a normalised project name: %q %v", n, got, err)
		}
		if err := request.CheckNotRole(n, r.RoleNames()); err != nil {
			t.Fatalf("edge name %q: %v", n, err)
		}
		// tuf-js (3.1 and 4.1) verifies ecdsa-sha2-nistp384 with SHA-256, so P-384
		// signatures never count there (Conclave warns: key-misverified);
		// the threshold is every other key, which both clients reach.
		projects = append(projects, delegation.Project{Name: n, Keys: maxTUF, Threshold: int64(len(maxTUF) - 2)})
	}
	for i := 0; i < bulkProjects; i++ {
		k, err := projectKey(i)
		if err != nil {
			t.Fatal(err)
		}
		projects = append(projects, delegation.Project{Name: fmt.Sprintf("project-%04d", i), Keys: []*tuf.Key{k}, Threshold: 1})
	}
	claimed, err := delegation.Build(projects, r.PathTemplate, r.RoleNames(), 1, expires)
	if err != nil {
		t.Fatal(err)
	}

	holders := []testKey{ks.ed1, ks.p384a, ks.ed2}
	// The root carries the rehearsal mark, as `conclave rehearse` writes
	// it: a member clients do not know, in the signed part, which every
	// client must ignore (TUF §4.2) while checking the signatures over it.
	rootRole := conclaveRoot(1, holders, 2, ks.online)
	rootRole.MarkRehearsal(tuf.RehearsalNotice)
	root := newRootFile(t, rootRole)
	signConclave(t, root, root.Root.Keys, ks.ed1, ks.ed2)
	top := conclaveTargets(1)
	top.Delegations = &tuf.Delegations{Keys: keyMap(holders...), Roles: []*tuf.DelegatedRole{{
		Name: r.DelegatingRole, KeyIDs: ids(holders...), Threshold: 2, Terminating: false, Paths: []string{"*/*"},
	}}}
	topFile := newTargetsFile(t, top)
	signConclave(t, topFile, root.Root.Keys, ks.ed1, ks.ed2)
	claimedFile := newTargetsFile(t, claimed)
	signConclave(t, claimedFile, top.Delegations.Keys, ks.ed1, ks.ed2)

	set := &largestSet{files: map[string][]byte{}, root: root.Bytes(), targets: map[string]string{}, claimed: claimed}
	set.files["1.root.json"] = root.Bytes()
	set.files["1.targets.json"] = topFile.Bytes()
	set.files["1.claimed.json"] = claimedFile.Bytes()
	snap := metadata.Snapshot(expires)
	snap.Signed.Meta = map[string]*metadata.MetaFiles{
		"targets.json": metaFor(topFile.Bytes(), 1),
		"claimed.json": metaFor(claimedFile.Bytes(), 1),
	}
	// Each edge project publishes one target, signed by all its keys.
	for _, n := range edges {
		content := []byte(n + " 1.0\n")
		sum := sha256.Sum256(content)
		path := strings.ReplaceAll(r.PathTemplate, "{name}", n)
		path = strings.Replace(path, "*", n+"-1.0.tar.gz", 1)
		proj := conclaveTargets(1)
		proj.Targets[path] = &tuf.TargetFile{Length: int64(len(content)), Hashes: map[string]string{"sha256": fmt.Sprintf("%x", sum)}}
		projFile := newTargetsFile(t, proj)
		signConclave(t, projFile, claimed.Delegations.Keys, maxKeys...)
		set.files["1."+n+".json"] = projFile.Bytes()
		snap.Signed.Meta[n+".json"] = metaFor(projFile.Bytes(), 1)
		set.targets[path] = fmt.Sprintf("%x", sum)
	}
	signGoTUF(t, snap, ks.online)
	snapBytes := toBytes(t, snap, false)
	ts := metadata.Timestamp(expires)
	ts.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metaFor(snapBytes, 1)}
	signGoTUF(t, ts, ks.online)
	set.files["1.snapshot.json"] = snapBytes
	set.files["timestamp.json"] = toBytes(t, ts, false)
	return set
}

// TestGoTUFLoadsLargestDelegationSet: go-tuf's updater walks root →
// timestamp → snapshot → targets → claimed → each edge project and finds
// its target, every signature threshold checked (16 keys of four types
// on each project file).
func TestGoTUFLoadsLargestDelegationSet(t *testing.T) {
	set := largest(t)
	if n := len(set.claimed.Delegations.Roles); n != bulkProjects+len(edgeNames(rules.Default().MaxProjectName)) {
		t.Fatalf("claimed delegates %d roles", n)
	}
	files := map[string][]byte{}
	for name, b := range set.files {
		files[repoURL+"/"+name] = b
	}
	r := &repository{v1Root: set.root, fetcher: &memFetcher{files: files}}
	up := r.updater(t)
	if err := up.Refresh(); err != nil {
		t.Fatalf("go-tuf Refresh: %v", err)
	}
	for path, sum := range set.targets {
		tf, err := up.GetTargetInfo(path)
		if err != nil {
			t.Errorf("go-tuf GetTargetInfo(%s): %v", path, err)
			continue
		}
		if got := tf.Hashes["sha256"].String(); got != sum {
			t.Errorf("%s: sha256 %s, want %s", path, got, sum)
		}
	}
}
