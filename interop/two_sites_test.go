package interop

// A ceremony signed at two sites, verified by go-tuf: the metadata the
// second site exports carries one holder's signature made at the first
// site and one made at the second, over the payload the second site
// rebuilt; a TUF client must accept it as it accepts a ceremony of one
// site.

import (
	"context"
	"crypto"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// lines keeps a log's lines in memory; blobs its blobs.
type lines struct{ n int }

func (l *lines) Append([]byte) error { l.n++; return nil }

type blobs map[string][]byte

func (b blobs) Put(data []byte) (string, error) {
	sum := bundle.SumHex(data)
	b[sum] = append([]byte(nil), data...)
	return sum, nil
}

func (b blobs) Get(sum string) ([]byte, error) {
	data, ok := b[sum]
	if !ok {
		return nil, fmt.Errorf("no blob %s", sum)
	}
	return data, nil
}

// softTokens hands the session each holder's key.
type softTokens map[string]crypto.Signer

type softSigner struct{ crypto.Signer }

func (softSigner) Describe() string  { return "software key" }
func (softSigner) PINTriesLeft() int { return -1 }

func (s softTokens) Signer(_ context.Context, _ policy.Holder, k policy.HolderKey) (session.Signer, error) {
	return softSigner{s[k.KeyID]}, nil
}

func TestGoTUFVerifiesTwoSiteCeremony(t *testing.T) {
	ks := keys(t)
	holders := []testKey{ks.ed1, ks.ed2, ks.ed3}
	f := intaketest.New(t)
	top := conclaveTargets(1)
	top.Delegations = &tuf.Delegations{Keys: keyMap(holders...), Roles: []*tuf.DelegatedRole{
		{Name: "claimed", KeyIDs: sortedIDs(holders...), Threshold: 2, Paths: []string{"*/*"}},
	}}
	topFile := newTargetsFile(t, top)
	root := newRootFile(t, conclaveRoot(1, holders, 2, ks.online))
	pol := &policy.Policy{
		Repository:     f.Rules.Repository,
		IntakeKeys:     []*tuf.Key{f.Intake.Key},
		DelegatingRole: "claimed",
		Roles:          map[string]policy.RolePolicy{"claimed": {Expiry: 90 * 24 * time.Hour, Warning: 14 * 24 * time.Hour}},
		Rules:          f.Rules,
	}
	tokens := softTokens{}
	for i, h := range holders {
		tokens[h.id()] = h.signer
		pol.Holders = append(pol.Holders, policy.Holder{Name: fmt.Sprintf("holder %d", i+1), Keys: []policy.HolderKey{{KeyID: h.id(), Token: policy.TokenSoftkey, URI: "softkey:name=h"}}})
	}
	vaultAt := func(generation string) *vault.Vault {
		return &vault.Vault{
			Generation: generation, Hash: bundle.SumHex([]byte(generation)),
			Root: root, Targets: topFile,
			Delegators:   map[string]*tuf.File{"claimed": f.Delegator},
			Policy:       pol,
			PolicyBytes:  []byte("the policy"),
			Register:     vault.Register{"claimed": {intaketest.BaseVersion: bundle.SumHex(f.Delegator.SignedBytes())}},
			LastCeremony: intaketest.Now.AddDate(0, -1, 0),
		}
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	drafts := intaketest.Lines(
		f.Rotate(t, "r-rotate", "existing-b", []string{"b1"}, "b2"),
		f.Add(t, "r-add", "fresh", "n1"),
	)
	if err := f.Pack("bundle-0001", drafts...).Write(dir); err != nil {
		t.Fatal(err)
	}
	open := func(v *vault.Vault, who []string) *session.Session {
		s, err := session.Open(session.Deps{Vault: v, Log: transcript.New(&lines{}, "two-sites-1"), Blobs: blobs{}, Tokens: tokens},
			session.Opening{ConclaveVersion: "test", BinarySHA256: bundle.SumHex(nil), Rehearsal: false, Participants: who})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Preflight(nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.ConfirmClock(intaketest.Now, who[0]); err != nil {
			t.Fatal(err)
		}
		return s
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Site A: holder 1 decides and signs, and exports a partial.
	a := open(vaultAt("gen-000001"), []string{"holder 1"})
	must(a.Import(intaketest.DirSource{Dir: dir}))
	for _, v := range a.Report().Requests {
		if v.Class != verdict.Invalid {
			must(a.Decide(v.RequestID, session.Approve, "", "holder 1"))
		}
	}
	must(a.Build())
	_, err := a.SignAs(context.Background(), "holder 1")
	must(err)
	planned, err := a.PartialFiles()
	must(err)
	files := map[string][]byte{}
	for _, p := range planned {
		files[p.Name] = p.Data
	}

	// Site B: its own vault and log; holder 2 completes the threshold.
	b := open(vaultAt("gen-000005"), []string{"holder 2"})
	must(b.Join(files, "holder 2"))
	src, err := b.JoinedBundle()
	must(err)
	must(b.Import(src))
	must(b.Adopt("holder 2"))
	must(b.Build())
	_, err = b.Merge()
	must(err)
	_, err = b.SignAs(context.Background(), "holder 2")
	must(err)
	exported, err := b.ExportFiles()
	must(err)
	var claimedBytes []byte
	for _, e := range exported {
		if e.Name == fmt.Sprintf("%d.claimed.json", intaketest.BaseVersion+1) {
			claimedBytes = e.Data
		}
	}
	if claimedBytes == nil {
		t.Fatalf("site B exported no claimed metadata: %v", exported)
	}

	// go-tuf: the client's view.
	targets := gotufTargets(t, topFile.Bytes())
	claimed := gotufTargets(t, claimedBytes)
	if err := targets.VerifyDelegate("claimed", claimed); err != nil {
		t.Fatalf("go-tuf: the two sites' claimed is not signed by the claimed delegation: %v", err)
	}
	if len(claimed.Signatures) != 2 || claimed.Signatures[0].KeyID == claimed.Signatures[1].KeyID {
		t.Errorf("go-tuf reads %d signatures, want one by each of two holders: %+v", len(claimed.Signatures), claimed.Signatures)
	}
}
