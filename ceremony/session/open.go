package session

import (
	"errors"
	"fmt"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/bundle"
)

// Opening is what starts a ceremony.
type Opening struct {
	// ConclaveVersion and BinarySHA256 name the program that runs it.
	ConclaveVersion string
	BinarySHA256    string
	// Rehearsal marks a ceremony whose output is never published, and
	// RehearsalReason says why it is run; a rehearsal needs a reason.
	Rehearsal       bool
	RehearsalReason string
	// Participants are the holders and operators in the room, Witnesses
	// those who watch; every decision and note names one of them.
	Participants []string
	Witnesses    []string
}

// Open starts a ceremony on an empty log: it appends the opened event.
// A production ceremony refuses a vault whose policy is a rehearsal's.
func Open(deps Deps, o Opening) (*Session, error) {
	if deps.Vault == nil || deps.Vault.Policy == nil {
		return nil, errors.New("open the ceremony: no opened vault with a policy")
	}
	if deps.Log == nil || deps.Log.Len() != 0 {
		return nil, errors.New("open the ceremony: the log must be new and empty (to continue a ceremony, Replay its log)")
	}
	if deps.Blobs == nil {
		return nil, errors.New("open the ceremony: no blob store beside the log")
	}
	s := newSession(deps)
	v := deps.Vault
	ev := &Opened{
		ConclaveVersion: o.ConclaveVersion,
		BinarySHA256:    o.BinarySHA256,
		VaultGeneration: v.Generation,
		VaultHash:       v.Hash,
		PolicySHA256:    bundle.SumHex(v.PolicyBytes),
		Rehearsal:       o.Rehearsal,
		RehearsalReason: strings.TrimSpace(o.RehearsalReason),
		Participants:    nonNil(o.Participants),
		Witnesses:       nonNil(o.Witnesses),
	}
	if err := s.commit(ev); err != nil {
		return nil, fmt.Errorf("open the ceremony: %w", err)
	}
	return s, nil
}

func (s *Session) stepOpened(e *Opened) (func(), error) {
	v := s.d.Vault
	switch {
	case e.VaultHash != v.Hash || e.VaultGeneration != v.Generation:
		return nil, fmt.Errorf("the ceremony was opened on vault generation %s (hash %s), not on %s (hash %s)", e.VaultGeneration, e.VaultHash, v.Generation, v.Hash)
	case e.PolicySHA256 != bundle.SumHex(v.PolicyBytes):
		return nil, fmt.Errorf("the ceremony was opened with policy SHA-256 %s, the vault's policy is %s", e.PolicySHA256, bundle.SumHex(v.PolicyBytes))
	case !e.Rehearsal && v.Policy.Rehearsal:
		return nil, ErrRehearsalVault
	case e.Rehearsal && !v.Policy.Rehearsal:
		// A rehearsal goes on past failed preflight checks; on a
		// production vault its signatures would be publishable.
		return nil, ErrProductionVault
	case e.Rehearsal && e.RehearsalReason == "":
		return nil, errors.New("a rehearsal needs a reason, recorded in the log")
	case len(e.Participants) == 0:
		return nil, errors.New("a ceremony needs at least one participant")
	case e.ConclaveVersion == "" || e.BinarySHA256 == "":
		return nil, errors.New("the Conclave version and the binary's SHA-256 must be recorded")
	}
	present := map[string]bool{}
	for _, names := range [][]string{e.Participants, e.Witnesses} {
		for _, n := range names {
			if strings.TrimSpace(n) == "" || n != strings.TrimSpace(n) {
				return nil, fmt.Errorf("participant or witness %q: a name must be non-empty, without leading or trailing spaces", n)
			}
			if present[n] {
				return nil, fmt.Errorf("participant or witness %q is named twice", n)
			}
			present[n] = true
		}
	}
	return func() {
		s.opened = e
		s.present = present
		s.state = StatePreflight
	}, nil
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
