package session

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// IncompleteError refuses an export while a role's signatures do not meet
// its threshold. It wraps ErrIncomplete.
type IncompleteError struct {
	Progress []Progress // the roles not complete
}

func (e *IncompleteError) Error() string {
	parts := make([]string, len(e.Progress))
	for i, p := range e.Progress {
		parts[i] = p.String()
	}
	return "not every role is signed: " + strings.Join(parts, "; ")
}

func (e *IncompleteError) Unwrap() error { return ErrIncomplete }

// ExportFiles plans the export (package export): the signed metadata of
// each role built, the decision report and the export manifest. Every
// role's signatures must meet its threshold. The caller writes the files
// to the transfer medium, reads them back, verifies them, and then
// reports their hashes with Exported.
func (s *Session) ExportFiles() ([]export.File, error) {
	if err := s.need("export", StateSign, StateBuild); err != nil {
		return nil, err
	}
	files, err := s.planExport()
	if err != nil {
		return nil, err
	}
	s.planned, s.plannedSeq = plannedSums(files), s.lastSeq
	return files, nil
}

func plannedSums(files []export.File) map[string]string {
	sums := make(map[string]string, len(files))
	for _, f := range files {
		sums[f.Name] = bundle.SumHex(f.Data)
	}
	return sums
}

func (s *Session) planExport() ([]export.File, error) {
	var missing []Progress
	for _, p := range s.Progress() {
		if !p.Complete() {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return nil, &IncompleteError{Progress: missing}
	}
	report := s.decisionReport()
	metas := make([]export.Metadata, len(s.built.payloads))
	for i, p := range s.built.payloads {
		metas[i] = export.Metadata{Role: p.Role, File: p.File, Complete: true}
	}
	files, err := export.PlanSet(metas, report)
	if err != nil {
		return nil, err
	}
	return files, nil
}

// decisionReport is what the holders decided about every request.
func (s *Session) decisionReport() *export.Report {
	r := &export.Report{BundleID: s.imp.bundle.Manifest.BundleID, Requests: map[string]export.Outcome{}}
	for _, v := range s.imp.verdicts {
		o := export.Outcome{Codes: v.Codes(), Decision: export.Invalid}
		if v.Class != verdict.Invalid {
			d := s.decisions[v.RequestID]
			o.Reason = d.Reason
			switch d.Decision {
			case Approve:
				o.Decision = export.Approved
			case Reject:
				o.Decision = export.Rejected
			case Defer:
				o.Decision = export.Deferred
			}
		}
		r.Requests[v.RequestID] = o
	}
	return r
}

// Exported records the export, once the caller has written every file
// ExportFiles planned and read each back: files maps each name to the hex
// SHA-256 read back, and must be exactly the plan.
func (s *Session) Exported(files map[string]string) error {
	if err := s.need("record the export", StateSign, StateBuild); err != nil {
		return err
	}
	if err := s.commit(&Exported{Files: maps.Clone(files)}); err != nil {
		return fmt.Errorf("record the export: %w", err)
	}
	return nil
}

func (s *Session) stepExported(e *Exported) (func(), error) {
	if err := s.need("record the export", StateSign, StateBuild); err != nil {
		return nil, err
	}
	if e.Partial {
		return s.stepExportedPartial(e)
	}
	if s.site != nil && !s.site.merged {
		return nil, ErrNotMerged
	}
	// The plan ExportFiles made, unless a line was appended since (or
	// this is a replay): the export of a 100,000-project role is 60 MB
	// to encode and hash again.
	want := s.planned
	if want == nil || s.plannedSeq != s.lastSeq {
		planned, err := s.planExport()
		if err != nil {
			return nil, err
		}
		want = plannedSums(planned)
	}
	if !maps.Equal(want, e.Files) {
		names := slices.Sorted(maps.Keys(want))
		return nil, fmt.Errorf("the files read back are not the export planned (%s with their hashes)", strings.Join(names, ", "))
	}
	return func() { s.state = StateExport }, nil
}
