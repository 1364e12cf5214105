package session

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Check is the outcome of one preflight check, as `conclave preflight`
// reports it (docs/preflight.md): its stable id, its status and its
// message.
type Check struct {
	ID string `json:"id"`
	// Status is "pass", "fail", "confirm", "info" or "unchecked".
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Check statuses (docs/preflight.md).
const (
	CheckPass      = "pass"
	CheckFail      = "fail"
	CheckConfirm   = "confirm"
	CheckInfo      = "info"
	CheckUnchecked = "unchecked"
)

// PreflightError lists the required checks that stop a production
// ceremony. It wraps ErrPreflightBlocked.
type PreflightError struct {
	Blocking []string
}

func (e *PreflightError) Error() string {
	return fmt.Sprintf("preflight: required checks %s neither passed nor were overridden; a failed check must be fixed, one that could not look needs a written reason", strings.Join(e.Blocking, ", "))
}

func (e *PreflightError) Unwrap() error { return ErrPreflightBlocked }

// Preflight records the machine's checks and the overrides people wrote
// (check id → reason). It appends the record in every case; then a
// production ceremony refuses to go on (a *PreflightError) while a check
// the policy requires failed, was not run, or could not look and has no
// override. An override never passes a check that looked and failed
// (docs/preflight.md): that must be fixed, and Preflight run again. A
// rehearsal goes on, and its record says what would have stopped it.
func (s *Session) Preflight(results []Check, overrides map[string]string) error {
	if err := s.need("preflight", StatePreflight); err != nil {
		return err
	}
	checks := append([]Check{}, results...)
	var ovs []Override
	for id, reason := range overrides {
		ovs = append(ovs, Override{ID: id, Reason: strings.TrimSpace(reason)})
	}
	sort.Slice(ovs, func(i, j int) bool { return ovs[i].ID < ovs[j].ID })
	if ovs == nil {
		ovs = []Override{}
	}
	blocking, err := s.judgePreflight(checks, ovs)
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	if err := s.commit(&PreflightEvent{Checks: checks, Overrides: ovs, Blocking: blocking}); err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	if !s.preflightOK {
		return &PreflightError{Blocking: blocking}
	}
	return nil
}

// judgePreflight returns the required checks that block, and sets each
// override's Used. It refuses checks named twice, unknown statuses and
// empty reasons.
func (s *Session) judgePreflight(checks []Check, ovs []Override) ([]string, error) {
	byID := map[string]Check{}
	for _, c := range checks {
		switch c.Status {
		case CheckPass, CheckFail, CheckConfirm, CheckInfo, CheckUnchecked:
		default:
			return nil, fmt.Errorf("check %q has status %q, not pass, fail, confirm, info or unchecked", c.ID, c.Status)
		}
		if _, dup := byID[c.ID]; dup || c.ID == "" {
			return nil, fmt.Errorf("check %q is empty or listed twice", c.ID)
		}
		byID[c.ID] = c
	}
	reasons := map[string]string{}
	for i := range ovs {
		o := &ovs[i]
		if o.Reason == "" {
			return nil, fmt.Errorf("the override of check %q has no reason; say why it is safe to go on without it", o.ID)
		}
		if i > 0 && ovs[i-1].ID == o.ID {
			return nil, fmt.Errorf("check %q is overridden twice", o.ID)
		}
		// Only a check that could not look takes an override.
		o.Used = byID[o.ID].Status == CheckUnchecked
		reasons[o.ID] = o.Reason
	}
	blocking := []string{}
	for _, id := range s.d.Vault.Policy.Preflight.Required {
		c, ran := byID[id]
		switch {
		case !ran, c.Status == CheckFail:
			blocking = append(blocking, id)
		case c.Status == CheckUnchecked && reasons[id] == "":
			blocking = append(blocking, id)
		}
	}
	sort.Strings(blocking)
	return slices.Compact(blocking), nil
}

func (s *Session) stepPreflight(e *PreflightEvent) (func(), error) {
	if err := s.need("preflight", StatePreflight); err != nil {
		return nil, err
	}
	ovs := append([]Override{}, e.Overrides...)
	blocking, err := s.judgePreflight(e.Checks, ovs)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(blocking, e.Blocking) || !slices.Equal(ovs, e.Overrides) {
		return nil, fmt.Errorf("the record says checks %v block, the policy says %v", e.Blocking, blocking)
	}
	ok := len(blocking) == 0 || s.opened.Rehearsal
	return func() { s.preflightOK = ok }, nil
}

// ClockError refuses a confirmed time not after the vault's last
// ceremony. It wraps ErrClockNotLater.
type ClockError struct {
	Confirmed, Last time.Time
}

func (e *ClockError) Error() string {
	return fmt.Sprintf("the confirmed time %s is not later than the vault's last ceremony, %s: check the clock against one kept outside the room",
		e.Confirmed.Format(time.RFC3339), e.Last.UTC().Format(time.RFC3339))
}

func (e *ClockError) Unwrap() error { return ErrClockNotLater }

// ConfirmClock records the ceremony time, confirmed by a person against a
// clock kept outside the room, to the second. It must be later than the
// vault's last ceremony: expiry dates count from it, and a clock set back
// could make a replayed or stale state look fresh.
func (s *Session) ConfirmClock(t time.Time, by string) error {
	if err := s.need("confirm the clock", StatePreflight); err != nil {
		return err
	}
	if err := s.commit(&ClockEvent{Confirmed: t.UTC().Truncate(time.Second).Format(time.RFC3339), By: by}); err != nil {
		return fmt.Errorf("confirm the clock: %w", err)
	}
	return nil
}

func (s *Session) stepClock(e *ClockEvent) (func(), error) {
	if err := s.need("confirm the clock", StatePreflight); err != nil {
		return nil, err
	}
	if !s.preflightOK {
		return nil, errors.New("the preflight checks have not been run, or a required one blocks")
	}
	if err := s.checkPresent(e.By); err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339, e.Confirmed)
	if err != nil || t.Location() != time.UTC || t.Format(time.RFC3339) != e.Confirmed {
		return nil, fmt.Errorf("the confirmed time %q is not RFC 3339 UTC to the second", e.Confirmed)
	}
	if last := s.d.Vault.LastCeremony; !t.After(last) {
		return nil, &ClockError{Confirmed: t, Last: last}
	}
	return func() {
		s.confirmed = t
		s.state = StateImport
	}, nil
}
