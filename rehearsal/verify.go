//go:build cgo

package rehearsal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/ceremony/verify"
)

// Result is what the verification of a rehearsal's export found.
type Result struct {
	// Phases are the verification's timed steps.
	Phases []Phase
	// Signed are the paths of the exported metadata files, verified.
	Signed []string
	// Version is the delegating role's version exported.
	Version int64
	// Projects is how many projects it delegates.
	Projects int
}

// Verify checks what the ceremony exported, as someone who trusts only
// the repository's root would: the exported delegating metadata verified
// by conclave verify's walk (ceremony/verify) from the generated root and
// targets, signed by exactly the holders the script names; then its
// delegations compared with the plan (every approved request applied,
// nothing else) and its decision report too (each request's decision as
// the script took it); then every file the rehearsal wrote searched for
// the holders' PINs.
func (s *Setup) Verify(ctx context.Context) (*Result, error) {
	res := &Result{}
	var claimed *tuf.File
	timed := func(name string, f func() error) error {
		ph, err := runPhase(ctx, s.Options.Log, name, f)
		if err != nil {
			return err
		}
		res.Phases = append(res.Phases, ph)
		return nil
	}
	if err := timed("verify the export as a TUF client would (conclave verify)", func() (err error) {
		claimed, err = s.verifyExport(ctx, res)
		return err
	}); err != nil {
		return nil, err
	}
	if err := timed("compare the export with the planned decisions", func() error {
		if err := s.compare(claimed, res); err != nil {
			return err
		}
		data, err := os.ReadFile(s.Path(ExportDir, export.DecisionsName))
		if err != nil {
			return fmt.Errorf("read the decision report: %w", err)
		}
		return s.compareDecisions(data)
	}); err != nil {
		return nil, err
	}
	if err := timed("search every file written for a PIN (none found)", s.searchPINs); err != nil {
		return nil, err
	}
	return res, nil
}

// verifyExport finds the delegating role's metadata in the export and
// walks it from the trusted root.
func (s *Setup) verifyExport(ctx context.Context, res *Result) (*tuf.File, error) {
	names, err := os.ReadDir(s.Path(ExportDir))
	if err != nil {
		return nil, fmt.Errorf("read the export: %w", err)
	}
	var found []string
	for _, e := range names {
		if role, v := verify.RoleFromName(e.Name()); role == DelegatingRole && v > 0 && !strings.HasSuffix(e.Name(), ".partial.json") {
			found = append(found, s.Path(ExportDir, e.Name()))
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("the export %s holds %d signed %s files, want 1", s.Path(ExportDir), len(found), DelegatingRole)
	}
	res.Signed = found
	read := func(p string) verify.Input {
		b, err := os.ReadFile(p)
		return verify.Input{Name: p, Data: b, Err: err}
	}
	report, err := verify.Walk(ctx, verify.Options{
		Trusted: read(s.Path(RepositoryDir, "root.json")),
		Files:   []verify.Input{read(s.Path(RepositoryDir, "targets.json")), read(found[0])},
		Now:     s.Options.Now,
	})
	if err != nil {
		return nil, err
	}
	for _, f := range report.Files {
		if f.Verdict != verify.Valid {
			return nil, fmt.Errorf("conclave verify: %s is %s: %s", f.Name, f.Verdict, f.Reason())
		}
	}
	if report.Rehearsal == nil {
		return nil, fmt.Errorf("conclave verify: the export does not read as a rehearsal's: %s carries no %s", s.Path(RepositoryDir, "root.json"), tuf.RehearsalMark)
	}
	data, err := os.ReadFile(found[0])
	if err != nil {
		return nil, err
	}
	claimed, err := tuf.Parse(found[0], data)
	if err != nil {
		return nil, err
	}
	signed, err := claimed.VerifyDelegated(s.Genesis.Targets.Targets, DelegatingRole)
	if err != nil {
		return nil, err
	}
	var want []string
	for _, name := range Signing {
		for _, h := range s.Tokens.Holders {
			if h.Name == name {
				want = append(want, h.Key.ID())
			}
		}
	}
	slices.Sort(want)
	if !slices.Equal(signed.Signers, want) {
		return nil, fmt.Errorf("%s is signed by keys %v, want %v (%s)", found[0], signed.Signers, want, strings.Join(Signing, ", "))
	}
	res.Version = claimed.Version()
	if want := s.Genesis.Claimed.Version() + 1; res.Version != want {
		return nil, fmt.Errorf("%s is version %d, want %d", found[0], res.Version, want)
	}
	return claimed, nil
}

// compare checks the exported delegations against the plan: the existing
// projects with every approved request applied, and nothing else.
func (s *Setup) compare(claimed *tuf.File, res *Result) error {
	want := s.Bundle.Delegations(s.Genesis)
	got := map[string]request.Keyset{}
	for _, r := range claimed.Targets.Delegations.Roles {
		got[r.Name] = request.NewKeyset(r.KeyIDs, r.Threshold)
	}
	res.Projects = len(got)
	var diff []string
	for name, ks := range want {
		g, ok := got[name]
		switch {
		case !ok:
			diff = append(diff, name+" is missing")
		case !g.Equal(ks):
			diff = append(diff, name+" has other keys than planned")
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diff = append(diff, name+" is delegated but was not planned")
		}
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		return fmt.Errorf("the exported %s differs from the plan: %s", DelegatingRole, strings.Join(diff[:min(len(diff), 5)], "; "))
	}
	return nil
}

// planned is the decision the rehearsal's script takes on a request, as
// the decision report names it.
func (e Expect) planned() export.Decision {
	switch {
	case e.Class == verdict.Invalid:
		return export.Invalid
	case e.Approved():
		return export.Approved
	}
	return export.Rejected
}

// compareDecisions checks the export's decision report
// (docs/formats/export.md) against the plan: one entry per request of the
// bundle, each with the decision the script took.
func (s *Setup) compareDecisions(data []byte) error {
	var report struct {
		BundleID string `json:"bundle_id"`
		Requests map[string]struct {
			Decision export.Decision `json:"decision"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(data, &report); err != nil {
		return fmt.Errorf("the decision report: %w", err)
	}
	if report.BundleID != s.Bundle.ID || len(report.Requests) != len(s.Bundle.Expect) {
		return fmt.Errorf("the decision report is about bundle %q with %d requests, want %q with %d", report.BundleID, len(report.Requests), s.Bundle.ID, len(s.Bundle.Expect))
	}
	var diff []string
	for _, id := range slices.Sorted(maps.Keys(s.Bundle.Expect)) {
		if got, want := report.Requests[id].Decision, s.Bundle.Expect[id].planned(); got != want {
			diff = append(diff, fmt.Sprintf("%s is %q, want %q", id, got, want))
		}
	}
	if len(diff) > 0 {
		return fmt.Errorf("the decision report differs from the plan: %s", strings.Join(diff[:min(len(diff), 5)], "; "))
	}
	return nil
}

// ErrPINWritten is returned when a holder's PIN is found in a file.
var ErrPINWritten = errors.New("a holder's PIN is in a file the rehearsal wrote")

// searchPINs reads every file under the output directory and refuses
// one that holds a holder's PIN.
func (s *Setup) searchPINs() error {
	pins := s.PINs()
	return filepath.WalkDir(s.Options.Out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for holder, pin := range pins {
			if len(pin) > 0 && bytes.Contains(b, pin) {
				return fmt.Errorf("%w: %s's, in %s", ErrPINWritten, holder, p)
			}
		}
		return nil
	})
}
