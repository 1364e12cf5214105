package session

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// Close ends an exported ceremony: it appends the closed event (the log's
// head and length before it, the payloads registered, the confirmed time)
// and returns what the next vault generation takes from the ceremony
// (vault.Next): the signed metadata of each role built, the register, the
// history with this bundle recorded, the confirmed time. The caller adds
// the log files (Update.Logs) and writes the generation. The head to read
// aloud and write on the paper log is Head after Close.
func (s *Session) Close() (*vault.Update, error) {
	if err := s.need("close", StateExport); err != nil {
		return nil, err
	}
	ev := &Closed{
		Head:         s.lastHash,
		Lines:        s.lastSeq,
		Register:     s.registered(),
		LastCeremony: s.confirmed.Format(time.RFC3339),
		BundleID:     s.imp.bundle.Manifest.BundleID,
	}
	if err := s.commit(ev); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}
	return s.Update()
}

// registered lists the payloads built, by role.
func (s *Session) registered() []RegisterEntry {
	out := []RegisterEntry{}
	if s.built == nil {
		return out
	}
	for _, p := range s.built.payloads {
		out = append(out, RegisterEntry{Role: p.Role, Version: p.Version, PayloadSHA256: p.SHA256})
	}
	return out
}

func (s *Session) stepClosed(e *Closed) (func(), error) {
	if err := s.need("close", StateExport); err != nil {
		return nil, err
	}
	switch {
	case e.Head != s.lastHash || e.Lines != s.lastSeq:
		return nil, fmt.Errorf("the closing line names head %s after %d lines; the log's head before it is %s after %d", e.Head, e.Lines, s.lastHash, s.lastSeq)
	case e.LastCeremony != s.confirmed.Format(time.RFC3339):
		return nil, fmt.Errorf("the closing line names the time %s, the confirmed time is %s", e.LastCeremony, s.confirmed.Format(time.RFC3339))
	case e.BundleID != s.imp.bundle.Manifest.BundleID:
		return nil, fmt.Errorf("the closing line names bundle %s, the ceremony imported %s", e.BundleID, s.imp.bundle.Manifest.BundleID)
	}
	reg := s.registered()
	if len(reg) != len(e.Register) {
		return nil, fmt.Errorf("the closing line registers %d payloads, the ceremony built %d", len(e.Register), len(reg))
	}
	for i := range reg {
		if reg[i] != e.Register[i] {
			return nil, fmt.Errorf("the closing line registers %s version %d as %s, the ceremony built %s", e.Register[i].Role, e.Register[i].Version, e.Register[i].PayloadSHA256, reg[i].PayloadSHA256)
		}
	}
	return func() { s.state = StateClosed }, nil
}

// Abandon ends a ceremony without export, for a reason a person present
// gives. The versions built stay registered, burned: the update returned
// registers them, so no later ceremony signs another payload under them.
// Before the clock is confirmed nothing was built, and the update is nil.
func (s *Session) Abandon(reason, by string) (*vault.Update, error) {
	if err := s.open("abandon"); err != nil {
		return nil, err
	}
	if err := s.commit(&Abandoned{Reason: strings.TrimSpace(reason), By: by}); err != nil {
		return nil, fmt.Errorf("abandon: %w", err)
	}
	return s.Update()
}

func (s *Session) stepAbandoned(e *Abandoned) (func(), error) {
	if err := s.open("abandon"); err != nil {
		return nil, err
	}
	if err := s.checkPresent(e.By); err != nil {
		return nil, err
	}
	if e.Reason == "" {
		return nil, errors.New("abandoning a ceremony needs a reason, for the log")
	}
	return func() { s.state = StateAbandoned }, nil
}

// Update is what a finished ceremony changes in the vault (vault.Next),
// also after a replay of a log that ended: closed, the signed roles, the
// history with this bundle recorded and the register; closed after a
// partial export, the history and the register (the roles keep their
// versions until the signed metadata comes back: vault sync); abandoned,
// the register only (the versions built are burned; the bundle may be
// imported again). It is nil for a ceremony abandoned before its clock
// was confirmed, which changes nothing.
//
// The history records the bundle at the ceremony time, which every site
// of a ceremony signed at several shares: their vaults remember the same
// instants.
func (s *Session) Update() (*vault.Update, error) {
	switch {
	case s.state == StateClosed && s.partialExported:
		u := s.registerUpdate()
		u.History = s.d.Vault.History.Clone()
		u.History.Record(s.imp.bundle, s.CeremonyTime())
		return u, nil
	case s.state == StateClosed:
		u := &vault.Update{CeremonyID: s.d.Log.CeremonyID(), Confirmed: s.confirmed, Roles: map[string]*tuf.File{}}
		for _, p := range s.built.payloads {
			u.Roles[p.Role] = p.File
		}
		h := s.d.Vault.History.Clone()
		h.Record(s.imp.bundle, s.CeremonyTime())
		u.History = h
		return u, nil
	case s.state == StateAbandoned:
		if s.confirmed.IsZero() {
			return nil, nil
		}
		return s.registerUpdate(), nil
	}
	return nil, &StateError{Action: "update the vault", Want: StateClosed, Have: s.state}
}

// registerUpdate is an update that only registers the payloads built.
func (s *Session) registerUpdate() *vault.Update {
	u := &vault.Update{CeremonyID: s.d.Log.CeremonyID(), Confirmed: s.confirmed, Register: vault.Register{}}
	for _, r := range s.registered() {
		if u.Register[r.Role] == nil {
			u.Register[r.Role] = map[int64]string{}
		}
		u.Register[r.Role][r.Version] = r.PayloadSHA256
	}
	return u
}

// Note records an exception a witness or participant writes down.
func (s *Session) Note(by, text string) error {
	if err := s.open("note"); err != nil {
		return err
	}
	if err := s.commit(&Noted{By: by, Text: strings.TrimSpace(text)}); err != nil {
		return fmt.Errorf("note: %w", err)
	}
	return nil
}

func (s *Session) stepNoted(e *Noted) (func(), error) {
	if err := s.open("note"); err != nil {
		return nil, err
	}
	if err := s.checkPresent(e.By); err != nil {
		return nil, err
	}
	if e.Text == "" {
		return nil, errors.New("a note needs text")
	}
	return func() { s.notes = append(s.notes, *e) }, nil
}
