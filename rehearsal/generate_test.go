package rehearsal

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// softHolders are three holders on software keys, for the tests of the
// generated metadata alone.
func softHolders(t *testing.T) []HolderSigner {
	t.Helper()
	var out []HolderSigner
	for _, name := range []string{"Alice", "Bob", "Carol"} {
		k, err := devKey(hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, HolderSigner{Name: name, Key: k.Key, Signer: k.Signer})
	}
	return out
}

// TestGeneratedBundleJudgedAsPlanned writes a generated bundle and imports
// it as a ceremony does (bundle.Load, validate.Validate, against claimed
// version 1 and the generated history): every request gets the class the
// generator meant, and the finding that decides it.
func TestGeneratedBundleJudgedAsPlanned(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	const n = 250
	m := mixFor(n)
	g, err := makeGenesis(context.Background(), softHolders(t), existingFor(m), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Root.VerifyWithRoot(g.Root.Root); err != nil {
		t.Fatal(err)
	}
	if text, marked := g.Root.Root.Rehearsal(); !marked || text != tuf.RehearsalNotice {
		t.Errorf("the rehearsal's root is marked %q, %v; want %q", text, marked, tuf.RehearsalNotice)
	}
	if _, err := g.Claimed.VerifyDelegated(g.Targets.Targets, DelegatingRole); err != nil {
		t.Fatal(err)
	}
	in, err := devKey(hsm.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	b, err := makeBundle(context.Background(), g, in, n, now, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Expect) != n {
		t.Fatalf("%d requests planned, want %d", len(b.Expect), n)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := b.Pack.Write(dir); err != nil {
		t.Fatal(err)
	}
	r := rules.Default()
	r.Repository = Repository
	loaded, err := bundle.Load(intaketest.DirSource{Dir: dir}, bundle.Trust{
		IntakeKeys: map[string]*tuf.Key{b.Intake.Key.ID(): b.Intake.Key},
		Bases:      b.Pack.Bases,
		Rules:      r,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The repository's published state names every delegated project
	// with the keys claimed delegates to it: nothing to remark on.
	if len(loaded.Published) != len(g.Projects) {
		t.Errorf("the published state names %d projects, want the %d delegated", len(loaded.Published), len(g.Projects))
	}
	for _, p := range g.Projects {
		if ks, ok := loaded.Published[p.name]; !ok || ks.Hash() != request.NewKeyset(p.role.KeyIDs, p.role.Threshold).Hash() {
			t.Errorf("published %s: %v, %v", p.name, ks, ok)
		}
	}
	if notes := validate.PublishedNotes(loaded, map[string]*tuf.Targets{DelegatingRole: g.Claimed.Targets}); len(notes) != 0 {
		t.Errorf("published-state notes: %+v", notes)
	}
	vs := validate.Validate(validate.Input{Bundle: loaded, Delegators: map[string]*tuf.Targets{DelegatingRole: g.Claimed.Targets}, Rules: r, History: b.History, Now: now})
	if len(vs) != n {
		t.Fatalf("%d verdicts, want %d", len(vs), n)
	}
	for _, v := range vs {
		want := b.Expect[v.RequestID]
		var codes []verdict.Code
		has := false
		for _, f := range v.Findings {
			codes = append(codes, f.Code)
			has = has || f.Code == want.Code
		}
		if v.Class != want.Class || (want.Code != "" && !has) || (want.Code == "" && len(codes) > 0) {
			t.Errorf("%s (%s %s): class %s, findings %v; want %s with %q", v.RequestID, v.Kind, v.Project, v.Class, codes, want.Class, want.Code)
		}
	}
	c := b.Counts()
	if c[verdict.RuleApprovable] < n*3/4 || c[verdict.Invalid] < n/10 || c[verdict.NeedsJudgement] < 4 {
		t.Errorf("mix %v: want about three in four rule-approvable, one in ten invalid, a few needing judgement", c)
	}
}

// TestRehearsalPolicy: the policy the rehearsal writes parses strictly,
// is marked rehearsal, lists every holder, and fits the generated root
// and targets (policy.CheckRoles: no holder alone meets a threshold).
func TestRehearsalPolicy(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	hs := softHolders(t)
	g, err := makeGenesis(context.Background(), hs, 4, now)
	if err != nil {
		t.Fatal(err)
	}
	in, err := devKey(hsm.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	ph := []PolicyHolder{
		{"Alice", policy.HolderKey{KeyID: hs[0].Key.ID(), Token: policy.TokenYubiKey, Serial: 91000001, Slot: "9c"}},
		{"Bob", policy.HolderKey{KeyID: hs[1].Key.ID(), Token: policy.TokenYubiKey, Serial: 91000002, Slot: "9c"}},
		{"Carol", policy.HolderKey{KeyID: hs[2].Key.ID(), Token: policy.TokenPKCS11, URI: "pkcs11:token=rehearsal-Carol;object=Carol?module-path=/usr/lib/softhsm/libsofthsm2.so"}},
	}
	data := policyYAML(ph, in.Key, policy.Module{Path: "/usr/lib/softhsm/libsofthsm2.so", SHA256: strings.Repeat("ab", 32)})
	p, err := policy.Parse("rehearsal-policy.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !p.Rehearsal || p.Repository != Repository || len(p.Holders) != 3 || p.DelegatingRole != DelegatingRole {
		t.Errorf("policy %+v", p)
	}
	for i, h := range p.Holders {
		if h.Name != ph[i].Name || len(h.Keys) != 1 || h.Keys[0] != ph[i].Enrolled {
			t.Errorf("holder %d: %+v, want %s %+v", i, h, ph[i].Name, ph[i].Enrolled)
		}
	}
	if err := p.CheckRoles(g.Root.Root, g.Targets.Targets); err != nil {
		t.Error(err)
	}
}
