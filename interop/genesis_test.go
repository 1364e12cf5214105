package interop

// go-tuf's client through a trust root Conclave made and rotated: the
// genesis plan (root 1, targets 1, claimed 1), a rotation that takes one
// holder out and another in (root 2 signed by a threshold of root 1's
// keys and of its own, targets 2 and claimed 2 re-signed by the new
// keys), then claimed 3 delegating a project, signed by the new keys.

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/genesis"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// genesisHolder is a holder with a root key and a key for targets and
// claimed.
type genesisHolder struct {
	name        string
	root, other testKey
}

func genesisHolders(t *testing.T, n int) []genesisHolder {
	t.Helper()
	var out []genesisHolder
	for i := range n {
		kinds := []string{"ed25519", "ecdsa-p256"}
		r, err := newTestKey(kinds[i%2])
		if err != nil {
			t.Fatal(err)
		}
		o, err := newTestKey(kinds[(i+1)%2])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, genesisHolder{fmt.Sprintf("holder%d", i+1), r, o})
	}
	return out
}

// genesisPolicy places each holder's root key in root and the other in
// targets and claimed, thresholds 2; the keys are named as a rehearsal's
// software keys (the plan does not open tokens).
func genesisPolicy(hs []genesisHolder) []byte {
	var b strings.Builder
	b.WriteString(`format: conclave-policy/1
rehearsal: true
repository: example
intake_keys:
  - keytype: ed25519
    scheme: ed25519
    keyval:
      public: d943401082d79304938763c96058aca8268d73886fcb8e34ba01169fc7113b3b
roles:
  root: {threshold: 2}
  targets: {threshold: 2}
  claimed: {threshold: 2}
holders:
`)
	for _, h := range hs {
		fmt.Fprintf(&b, "  - name: %s\n    keys:\n", h.name)
		fmt.Fprintf(&b, "      - {keyid: %s, token: softkey, uri: 'softkey:name=%s-root', roles: [root]}\n", h.root.id(), h.name)
		fmt.Fprintf(&b, "      - {keyid: %s, token: softkey, uri: 'softkey:name=%s', roles: [targets, claimed]}\n", h.other.id(), h.name)
	}
	return []byte(b.String())
}

func genesisRecords(hs []genesisHolder) []genesis.Record {
	var out []genesis.Record
	for _, h := range hs {
		out = append(out,
			genesis.Record{Holder: h.name, Key: h.root.key, Token: policy.TokenSoftkey, URI: "softkey:name=" + h.name + "-root"},
			genesis.Record{Holder: h.name, Key: h.other.key, Token: policy.TokenSoftkey, URI: "softkey:name=" + h.name})
	}
	return out
}

func signPlan(t *testing.T, plan *genesis.Plan, ks ...testKey) {
	t.Helper()
	for _, k := range ks {
		if _, err := plan.Sign(k.id(), k.signer); err != nil {
			t.Fatal(err)
		}
	}
	if err := plan.Complete(); err != nil {
		t.Fatal(err)
	}
}

// TestGoTUFUpdaterThroughConclaveRotation: go-tuf's updater, trusting
// root 1 as Conclave's genesis made it, updates to root 2 of Conclave's
// rotation, accepts targets 2 and the claimed that the new keys signed,
// and downloads a project's target through it.
func TestGoTUFUpdaterThroughConclaveRotation(t *testing.T) {
	ks := keys(t)
	hs := genesisHolders(t, 4)
	now := time.Date(2027, 1, 10, 9, 0, 0, 0, time.UTC)
	online := map[string]*tuf.Key{tuf.TypeSnapshot: ks.online.key, tuf.TypeTimestamp: ks.online.key}

	pb := genesisPolicy(hs[:3])
	pol, err := policy.Parse("policy.yaml", pb)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := genesis.Init(genesis.Input{Policy: pol, PolicyBytes: pb, Records: genesisRecords(hs[:3]), Online: online, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	signPlan(t, plan, hs[0].root, hs[1].root, hs[0].other, hs[1].other)
	files, err := vault.Create(plan.AdoptInput(), "genesis", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(vault.NewMemReader(files))
	if err != nil {
		t.Fatal(err)
	}
	root1 := v.Root.Bytes()

	// holder3 out, holder4 in.
	next := []genesisHolder{hs[0], hs[1], hs[3]}
	pb2 := genesisPolicy(next)
	pol2, err := policy.Parse("policy.yaml", pb2)
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(24 * time.Hour)
	rot, _, err := genesis.Rotate(genesis.RotateInput{Vault: v, Policy: pol2, PolicyBytes: pb2, Records: genesisRecords(hs[3:]), Now: later})
	if err != nil {
		t.Fatal(err)
	}
	signPlan(t, rot, hs[0].root, hs[1].root, hs[3].root, hs[1].other, hs[3].other)
	files, err = v.NextRoot(rot.RootUpdate("rotate", later))
	if err != nil {
		t.Fatal(err)
	}
	if v, err = vault.Open(vault.NewMemReader(files)); err != nil {
		t.Fatal(err)
	}

	// The next delegation ceremony: claimed 3 with project-a, signed by
	// the new claimed keys.
	claimed, err := delegation.Apply(v.Delegators["claimed"].Targets, []delegation.Project{
		{Name: "project-a", Keys: []*tuf.Key{ks.projA1.key, ks.projA2.key}, Threshold: 2},
	}, nil, "{name}/*", []string{"claimed"}, 3, expires)
	if err != nil {
		t.Fatal(err)
	}
	claimedFile := newTargetsFile(t, claimed)
	signConclave(t, claimedFile, v.Targets.Targets.Delegations.Keys, hs[3].other, hs[0].other)
	if _, err := claimedFile.VerifyDelegated(v.Targets.Targets, "claimed"); err != nil {
		t.Fatalf("Conclave refuses claimed 3: %v", err)
	}

	content := []byte("project-a 1.0\n")
	target := "project-a/project-a-1.0.tar.gz"
	sum := sha256.Sum256(content)
	proj := conclaveTargets(1)
	proj.Targets[target] = &tuf.TargetFile{Length: int64(len(content)), Hashes: map[string]string{"sha256": fmt.Sprintf("%x", sum)}}
	projFile := newTargetsFile(t, proj)
	signConclave(t, projFile, claimed.Delegations.Keys, ks.projA1, ks.projA2)

	topBytes, claimedBytes, projBytes := v.Targets.Bytes(), claimedFile.Bytes(), projFile.Bytes()
	snapBytes, tsBytes := onlineMetadata(t, ks.online, map[string]*metadata.MetaFiles{
		"targets.json":   metaFor(topBytes, 2),
		"claimed.json":   metaFor(claimedBytes, 3),
		"project-a.json": metaFor(projBytes, 1),
	})

	r := &repository{v1Root: root1, target: target, content: content, fetcher: &memFetcher{files: map[string][]byte{
		repoURL + "/2.root.json":      v.Root.Bytes(),
		repoURL + "/timestamp.json":   tsBytes,
		repoURL + "/1.snapshot.json":  snapBytes,
		repoURL + "/2.targets.json":   topBytes,
		repoURL + "/3.claimed.json":   claimedBytes,
		repoURL + "/1.project-a.json": projBytes,
		fmt.Sprintf("https://repo.invalid/metadata/targets/project-a/%x.project-a-1.0.tar.gz", sum): content,
	}}}
	up := r.updater(t)
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
}
