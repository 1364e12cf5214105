package session

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// Report is the import report of the bundle, requests in review order:
// needs judgement first, then rule-approvable, then invalid (which can
// only be read). Nil before the import.
func (s *Session) Report() *verdict.Report {
	if s.imp == nil {
		return nil
	}
	m := s.imp.bundle.Manifest
	r := &verdict.Report{Format: verdict.ReportFormat, BundleID: m.BundleID, Source: m.Source, Requests: append([]verdict.Verdict(nil), s.imp.verdicts...)}
	verdict.Order(r.Requests)
	r.Tally()
	return r
}

// Decision returns what was decided about a request, if anything.
func (s *Session) Decision(requestID string) (Decided, bool) {
	d, ok := s.decisions[requestID]
	return d, ok
}

// Undecided counts the valid requests of each class not decided yet.
func (s *Session) Undecided() (needsJudgement, ruleApprovable int) {
	if s.imp == nil {
		return 0, 0
	}
	for _, v := range s.imp.verdicts {
		if _, done := s.decisions[v.RequestID]; done {
			continue
		}
		switch v.Class {
		case verdict.NeedsJudgement:
			needsJudgement++
		case verdict.RuleApprovable:
			ruleApprovable++
		}
	}
	return needsJudgement, ruleApprovable
}

// Decide records one decision (Approve, Reject or Defer) about one
// request, by a person present; a rejection or deferral needs a reason,
// which the decision report carries back to the repository. A later
// decision about the same request replaces an earlier one until the
// build. An invalid request is never open to a decision.
func (s *Session) Decide(requestID, decision, reason, by string) error {
	if err := s.need("decide", StateReview); err != nil {
		return err
	}
	if err := s.commit(&Decided{RequestID: requestID, Decision: decision, Reason: strings.TrimSpace(reason), By: by}); err != nil {
		return fmt.Errorf("decide request %s: %w", requestID, err)
	}
	return nil
}

func (s *Session) stepDecided(e *Decided) (func(), error) {
	if err := s.need("decide", StateReview); err != nil {
		return nil, err
	}
	if s.site != nil {
		return nil, ErrJoinedDecisions
	}
	if err := s.checkPresent(e.By); err != nil {
		return nil, err
	}
	if err := s.checkDecision(e); err != nil {
		return nil, err
	}
	return func() { s.decisions[e.RequestID] = *e }, nil
}

// checkDecision checks what a decision says against the bundle: a
// decision Conclave knows, a reason where one is needed, a valid request
// of the bundle.
func (s *Session) checkDecision(e *Decided) error {
	switch e.Decision {
	case Approve:
	case Reject, Defer:
		if e.Reason == "" {
			return fmt.Errorf("a decision to %s needs a reason, for the repository", e.Decision)
		}
	default:
		return fmt.Errorf("the decision %q is not %s, %s or %s", e.Decision, Approve, Reject, Defer)
	}
	i, ok := s.imp.byID[e.RequestID]
	if !ok {
		return fmt.Errorf("the bundle holds no request %q", e.RequestID)
	}
	if i < 0 || s.imp.verdicts[i].Class == verdict.Invalid {
		return ErrInvalidRequest
	}
	return nil
}

// BulkCountError refuses a bulk approval whose confirmed count is not the
// number of rule-approvable requests undecided. It wraps ErrBulkCount.
type BulkCountError struct {
	Confirmed, Undecided int
}

func (e *BulkCountError) Error() string {
	return fmt.Sprintf("%d rule-approvable requests are undecided, not the %d confirmed: count again", e.Undecided, e.Confirmed)
}

func (e *BulkCountError) Unwrap() error { return ErrBulkCount }

// BulkApprove approves every rule-approvable request not yet decided, as
// one event. confirmed is the count the people in the room read and
// confirmed: a count that differs is refused, so that nobody approves a
// list they did not look at. Requests that need judgement are never
// approved this way; invalid ones never at all.
func (s *Session) BulkApprove(confirmed int, by string) error {
	if err := s.need("approve in bulk", StateReview); err != nil {
		return err
	}
	ids := s.bulkIDs()
	if err := s.commit(&BulkApproved{Count: confirmed, IDsSHA256: idsHash(ids), By: by}); err != nil {
		return fmt.Errorf("approve in bulk: %w", err)
	}
	return nil
}

// bulkIDs lists the rule-approvable requests not yet decided, sorted.
func (s *Session) bulkIDs() []string {
	var ids []string
	for _, v := range s.imp.verdicts {
		if _, done := s.decisions[v.RequestID]; !done && v.Class == verdict.RuleApprovable {
			ids = append(ids, v.RequestID)
		}
	}
	sort.Strings(ids)
	return ids
}

// idsHash is the hex SHA-256 of the ids, each followed by a newline.
func idsHash(ids []string) string {
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Session) stepBulk(e *BulkApproved) (func(), error) {
	if err := s.need("approve in bulk", StateReview); err != nil {
		return nil, err
	}
	if s.site != nil {
		return nil, ErrJoinedDecisions
	}
	if err := s.checkPresent(e.By); err != nil {
		return nil, err
	}
	ids := s.bulkIDs()
	if e.Count != len(ids) {
		return nil, &BulkCountError{Confirmed: e.Count, Undecided: len(ids)}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no rule-approvable request is undecided")
	}
	if e.IDsSHA256 != idsHash(ids) {
		return nil, fmt.Errorf("the requests approved in bulk are not the ones the log lists (ids SHA-256 %s, the log says %s)", idsHash(ids), e.IDsSHA256)
	}
	return func() {
		for _, id := range ids {
			s.decisions[id] = Decided{RequestID: id, Decision: Approve, By: e.By}
		}
	}, nil
}
