//go:build cgo

package rehearsal

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
)

// plannedSetup is a Setup of software keys with its genesis and bundle,
// and the claimed metadata the plan says the ceremony must export.
func plannedSetup(t *testing.T) (*Setup, []delegation.Project) {
	t.Helper()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	m := mixFor(MinRequests)
	g, err := makeGenesis(context.Background(), softHolders(t), existingFor(m), now)
	if err != nil {
		t.Fatal(err)
	}
	in, err := devKey(hsm.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	b, err := makeBundle(context.Background(), g, in, MinRequests, now, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	s := &Setup{Genesis: g, Bundle: b}
	var projects []delegation.Project
	for name, ks := range b.Delegations(g) {
		p := delegation.Project{Name: name, Threshold: ks.Threshold}
		for _, id := range ks.KeyIDs {
			p.Keys = append(p.Keys, b.keys[id])
		}
		projects = append(projects, p)
	}
	return s, projects
}

// TestCompareWithPlan: an export delegating exactly the planned projects
// passes; one missing a planned project, or with a project's keys other
// than planned, is refused with the project named.
func TestCompareWithPlan(t *testing.T) {
	s, projects := plannedSetup(t)
	build := func(ps []delegation.Project) *tuf.File {
		t.Helper()
		targets, err := delegation.Build(ps, PathTemplate, []string{DelegatingRole}, 2, time.Now().AddDate(0, 0, 90))
		if err != nil {
			t.Fatal(err)
		}
		f, err := tuf.NewTargetsFile(targets)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if err := s.compare(build(projects), &Result{}); err != nil {
		t.Fatalf("the planned delegations: %v", err)
	}
	missing := projects[0].Name
	err := s.compare(build(projects[1:]), &Result{})
	if want := "the exported claimed differs from the plan: " + missing + " is missing"; err == nil || err.Error() != want {
		t.Errorf("one project left out: %v\nwant %s", err, want)
	}
	changed := append([]delegation.Project(nil), projects...)
	changed[0].Threshold = int64(len(changed[0].Keys)) + 1
	changed[0].Keys = append(changed[0].Keys, changed[1].Keys[0])
	err = s.compare(build(changed), &Result{})
	if want := "the exported claimed differs from the plan: " + missing + " has other keys than planned"; err == nil || err.Error() != want {
		t.Errorf("one project's keys changed: %v\nwant %s", err, want)
	}
}

// TestSearchPINs: a holder's PIN in any file under the output directory
// is found and named.
func TestSearchPINs(t *testing.T) {
	out := t.TempDir()
	s := &Setup{Options: Options{Out: out}, Tokens: &Tokens{Holders: []*Holder{{Name: "Alice", pin: []byte("k3x9q2mz")}}}}
	if err := os.MkdirAll(filepath.Join(out, "vault", "journal"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "vault", "journal", "log.jsonl"), []byte(`{"signed":"tries left 3"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.searchPINs(); err != nil {
		t.Fatalf("no PIN written: %v", err)
	}
	leak := filepath.Join(out, "vault", "journal", "blob")
	if err := os.WriteFile(leak, []byte("pin=k3x9q2mz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.searchPINs()
	if want := "a holder's PIN is in a file the rehearsal wrote: Alice's, in " + leak; !errors.Is(err, ErrPINWritten) || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestCompareDecisions: a decision report (as export writes one) with the
// planned decision for every request passes; one that approved a request
// the script rejects is refused, naming it.
func TestCompareDecisions(t *testing.T) {
	s, _ := plannedSetup(t)
	report := &export.Report{BundleID: s.Bundle.ID, Role: DelegatingRole, Version: 2, Requests: map[string]export.Outcome{}}
	var rejected string
	for id, e := range s.Bundle.Expect {
		report.Requests[id] = export.Outcome{Decision: e.planned()}
		if e.planned() == export.Rejected {
			rejected = id
		}
	}
	if err := s.compareDecisions(report.Encode()); err != nil {
		t.Fatalf("the planned decisions: %v", err)
	}
	report.Requests[rejected] = export.Outcome{Decision: export.Approved}
	err := s.compareDecisions(report.Encode())
	if want := `the decision report differs from the plan: ` + rejected + ` is "approved", want "rejected"`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
