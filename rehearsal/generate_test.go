package rehearsal

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
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
	if _, err := g.Claimed.VerifyDelegated(g.Targets.Targets, DelegatingRole); err != nil {
		t.Fatal(err)
	}
	b, err := makeBundle(context.Background(), g, n, now, rand.New(rand.NewPCG(1, 2)))
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
		Base:       b.Pack.Base,
		Rules:      r,
	})
	if err != nil {
		t.Fatal(err)
	}
	vs := validate.Validate(validate.Input{Bundle: loaded, Delegator: g.Claimed.Targets, Rules: r, History: b.History, Now: now})
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
