// Package session is the ceremony: a state machine that opens on a
// verified vault, runs the preflight checks, takes the confirmed time,
// imports one bundle, records the review, builds the next version of each
// changed role, collects the holders' signatures and exports the result.
//
// # One log
//
// Every action is an event appended to the ceremony's log (package
// transcript) before it takes effect, and the session's state is the fold
// of those events: step is the only place that decides what an event does,
// live or replayed. Replay rebuilds a session from a log through the same
// steps, so a ceremony interrupted at any line (a crash, a power cut, a
// pulled token) continues with the same approvals, the same payload bytes
// (rebuilt, and compared with what the log registered) and the signatures
// already made; no holder is asked twice and no version is bumped twice.
//
// Large bytes live beside the log as blobs (transcript.Blobs): the copy of
// the bundle (see Copy) and each built payload's signed part.
//
// # No terminal, no devices
//
// The session never prompts, prints or opens a file or a device. It asks
// for signatures through Tokens, which the caller implements; the caller
// reads the bundle, writes the export and confirms the clock with people.
//
// # States
//
//	preflight → import → review → build → sign → export → closed
//	    (any open state) → abandoned
//
// A call in the wrong state returns a *StateError.
package session

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// State is where a ceremony stands.
type State string

// The states, in order.
const (
	// StatePreflight: opened; the machine's checks and the clock come next.
	StatePreflight State = "preflight"
	// StateImport: the clock is confirmed; a bundle may be imported.
	StateImport State = "import"
	// StateReview: the bundle is judged; people decide each request.
	StateReview State = "review"
	// StateBuild: the payloads are built and registered; no signature yet.
	StateBuild State = "build"
	// StateSign: at least one signature is made.
	StateSign State = "sign"
	// StateExport: the export is written and read back.
	StateExport State = "export"
	// StateClosed and StateAbandoned end a ceremony.
	StateClosed    State = "closed"
	StateAbandoned State = "abandoned"
)

// StateError refuses a call made in the wrong state. Want is the state the
// call needs (the first of them when several would do), Have the state the
// ceremony is in.
type StateError struct {
	Action string
	Want   State
	Have   State
}

func (e *StateError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("%s: the ceremony is %s", e.Action, e.Have)
	}
	return fmt.Sprintf("%s: the ceremony is in state %s, not %s", e.Action, e.Have, e.Want)
}

// Errors a caller acts on.
var (
	// ErrRehearsalVault: a production ceremony was opened on a vault whose
	// policy is a rehearsal's.
	ErrRehearsalVault = errors.New("the vault's policy is a rehearsal policy; a production ceremony refuses it")
	// ErrProductionVault: a rehearsal was opened on a production vault.
	ErrProductionVault = errors.New("the vault's policy is a production policy; a rehearsal cannot run on it")
	// ErrClockNotLater: the confirmed time is not after the vault's last
	// ceremony.
	ErrClockNotLater = errors.New("the confirmed time is not later than the vault's last ceremony")
	// ErrPreflightBlocked: a required check neither passed nor was
	// overridden, in a production ceremony.
	ErrPreflightBlocked = errors.New("a required preflight check did not pass")
	// ErrBulkCount: the count people confirmed is not the number of
	// rule-approvable requests still undecided.
	ErrBulkCount = errors.New("the confirmed count is not the number of rule-approvable requests undecided")
	// ErrInvalidRequest: an invalid request is never open to a decision.
	ErrInvalidRequest = errors.New("the request is invalid and cannot be decided")
	// ErrUndecided: the build needs a decision on every valid request.
	ErrUndecided = errors.New("some valid requests are not decided")
	// ErrPayloadRegistered: the vault's register holds another payload
	// for a (role, version): one payload per (role, version), ever.
	ErrPayloadRegistered = errors.New("another payload is registered for this role and version")
	// ErrPayloadMismatch: a payload rebuilt from the log is not the one
	// the log registered.
	ErrPayloadMismatch = errors.New("the rebuilt payload is not the one the log registered")
	// ErrNotHolder: no holder of that name, or the holder holds no key of
	// any role built.
	ErrNotHolder = errors.New("not a holder of any role to sign")
	// ErrIncomplete: a role's signatures do not meet its threshold.
	ErrIncomplete = errors.New("a role's signatures do not meet its threshold")
	// ErrNotPresent: a name given as who acted is not a participant or
	// witness named when the ceremony was opened.
	ErrNotPresent = errors.New("not a participant or witness of this ceremony")
	// ErrReplay: the log does not replay on this vault (see ReplayError).
	ErrReplay = errors.New("the log does not replay")
)

// ReplayError says which line of a log could not be replayed, and why.
type ReplayError struct {
	Seq  int64
	Type string
	Err  error
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("replay line %d (%s): %v", e.Seq, e.Type, e.Err)
}

func (e *ReplayError) Unwrap() []error { return []error{ErrReplay, e.Err} }

// Deps is what a session works with.
type Deps struct {
	// Vault is the opened, verified vault generation.
	Vault *vault.Vault
	// Log is the ceremony's log: empty for Open, resumed from the entries
	// for Replay (transcript.Resume).
	Log *transcript.Log
	// Blobs keeps the bundle copy and the payloads beside the log.
	Blobs transcript.Blobs
	// Tokens reaches the holders' keys.
	Tokens Tokens
	// Now is the machine's clock, which stamps each line; time.Now when
	// nil. The ceremony time is the confirmed clock, never this.
	Now func() time.Time
	// Parsed, when set, may return metadata already read strictly by
	// tuf.Parse whose signed part is the payload of this SHA-256 (an
	// audit's reading of the exported files): a replayed build's card
	// reads it rather than parse the same bytes again. A file whose signed
	// bytes are not exactly the payload's is not used.
	Parsed func(payloadSHA256 string) *tuf.File
}

// Session is one ceremony. Its methods are not safe for concurrent use.
type Session struct {
	d     Deps
	state State

	opened      *Opened
	present     map[string]bool
	preflightOK bool
	confirmed   time.Time

	imp *imported // nil until a bundle is imported

	decisions map[string]Decided // by request id

	// notes are the notes recorded, in the log's order.
	notes []Noted

	built *buildResult // nil until built

	// site is the partial a ceremony at a second site continues (nil
	// for a ceremony that joined none); partialExported is set once a
	// partial is exported instead of the metadata.
	site            *site
	partialExported bool

	// lastHash and lastSeq are the hash and seq of the last line stepped:
	// what the closing line names.
	lastHash string
	lastSeq  int64

	// derived holds work a live call did before its event was appended
	// (judging the bundle, building), so that the step does not do it
	// twice; a replay finds it empty and derives the same from the blobs.
	derivedImport *imported
	derivedBuild  *buildResult
	// planned is the export ExportFiles planned, by file name and hex
	// SHA-256, and the line after which it was planned: the plan of a
	// state, which changes only by a line appended.
	planned    map[string]string
	plannedSeq int64
}

// imported is the judged bundle.
type imported struct {
	blob     string
	bundle   *bundle.Bundle
	manifest string // hex SHA-256 of the manifest file
	files    int
	verdicts []verdict.Verdict // in the bundle's order
	byID     map[string]int    // request id → index in verdicts; -1 for an id listed twice
	counts   verdict.Counts
	waivers  map[string]validate.Waiver // by request id: the notice periods waived (waiver.go)
}

// State is where the ceremony stands.
func (s *Session) State() State { return s.state }

// Rehearsal reports whether the ceremony is a rehearsal.
func (s *Session) Rehearsal() bool { return s.opened != nil && s.opened.Rehearsal }

// Confirmed is the confirmed ceremony time (zero before the clock event).
func (s *Session) Confirmed() time.Time { return s.confirmed }

// Head is the hex SHA-256 of the log's last line: with Lines, what the
// witness writes on the paper log.
func (s *Session) Head() string { return s.d.Log.Head() }

// Lines is the number of lines in the log.
func (s *Session) Lines() int64 { return s.d.Log.Len() }

// Notes are the notes recorded so far, in the log's order (a resumed
// ceremony's included).
func (s *Session) Notes() []Noted { return slices.Clone(s.notes) }

// Vault is the vault generation the ceremony works on.
func (s *Session) Vault() *vault.Vault { return s.d.Vault }

func (s *Session) now() time.Time {
	if s.d.Now != nil {
		return s.d.Now()
	}
	return time.Now()
}

// commit appends an event and then applies it: step checks it against
// the state first, so an event the session would refuse is never written.
// After a failed append the log refuses every later one
// (transcript.ErrBroken): its tail is unknown, and the only way on is to
// read it again and Replay it.
func (s *Session) commit(ev event) error {
	apply, err := s.step(ev)
	if err != nil {
		return err
	}
	entry, err := s.d.Log.Append(ev.eventType(), s.now(), ev)
	if err != nil {
		return err
	}
	apply()
	s.lastHash, s.lastSeq = entry.Hash, entry.Seq
	return nil
}

// step checks an event against the state and returns what it does. It is
// the only code that changes a session's state, live or replayed.
func (s *Session) step(ev event) (func(), error) {
	if s.opened == nil {
		o, ok := ev.(*Opened)
		if !ok {
			return nil, fmt.Errorf("the first event must be %s, not %s", TypeOpened, ev.eventType())
		}
		return s.stepOpened(o)
	}
	switch e := ev.(type) {
	case *Opened:
		return nil, errors.New("the ceremony is already opened")
	case *PreflightEvent:
		return s.stepPreflight(e)
	case *ClockEvent:
		return s.stepClock(e)
	case *Imported:
		return s.stepImported(e)
	case *Decided:
		return s.stepDecided(e)
	case *BulkApproved:
		return s.stepBulk(e)
	case *Built:
		return s.stepBuilt(e)
	case *Signed:
		return s.stepSigned(e)
	case *Exported:
		return s.stepExported(e)
	case *Waived:
		return s.stepWaived(e)
	case *Noted:
		return s.stepNoted(e)
	case *Joined:
		return s.stepJoined(e)
	case *Adopted:
		return s.stepAdopted(e)
	case *Merged:
		return s.stepMerged(e)
	case *Abandoned:
		return s.stepAbandoned(e)
	case *Closed:
		return s.stepClosed(e)
	}
	return nil, fmt.Errorf("unknown event %T", ev)
}

// need refuses an action unless the ceremony is in one of the states.
func (s *Session) need(action string, states ...State) error {
	for _, st := range states {
		if s.state == st {
			return nil
		}
	}
	return &StateError{Action: action, Want: states[0], Have: s.state}
}

// open refuses an action once the ceremony ended.
func (s *Session) open(action string) error {
	if s.state == StateClosed || s.state == StateAbandoned {
		return &StateError{Action: action, Have: s.state}
	}
	return nil
}

// checkPresent refuses a name that was not given when the ceremony was
// opened: every decision and note names someone in the room.
func (s *Session) checkPresent(by string) error {
	if !s.present[by] {
		return fmt.Errorf("%q: %w", by, ErrNotPresent)
	}
	return nil
}

// Replay rebuilds a session from the entries of its log (transcript.Parse,
// torn tail cut) and the same vault generation: each event goes through
// the step it went through when it was written. The bundle is judged again
// from its copy and the payloads are built again; a verdict count or a
// payload that differs from the log is refused. deps.Log must be the log
// resumed from these entries (transcript.Resume), so that the ceremony
// continues where it stopped.
func Replay(entries []transcript.Entry, deps Deps) (*Session, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: the log has no line", ErrReplay)
	}
	last := entries[len(entries)-1]
	if deps.Log == nil || deps.Log.Len() != last.Seq || deps.Log.Head() != last.Hash {
		return nil, fmt.Errorf("%w: the log given to continue is not the one replayed (resume it from these entries)", ErrReplay)
	}
	s := newSession(deps)
	for _, e := range entries {
		ev, err := decodeEvent(e.Type, e.Body)
		if err != nil {
			return nil, &ReplayError{Seq: e.Seq, Type: e.Type, Err: err}
		}
		apply, err := s.step(ev)
		if err != nil {
			return nil, &ReplayError{Seq: e.Seq, Type: e.Type, Err: err}
		}
		apply()
		s.lastHash, s.lastSeq = e.Hash, e.Seq
	}
	return s, nil
}

func newSession(deps Deps) *Session {
	return &Session{d: deps, decisions: map[string]Decided{}}
}
