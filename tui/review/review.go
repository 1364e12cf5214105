// Package review is the review screen of the terminal program: a table of
// every request of the imported bundle, filters that combine and stay in
// sight, a detail pane that shows each change against the trusted current
// delegation, single decisions with reasons and the bulk approval of the
// rule-approvable requests with proof of attention.
//
// # What decides
//
// The screen presents what the session decided and records what people
// decide; it holds no policy. Every decision is a call to the session,
// which appends an event to the ceremony's log (and fsyncs it), so it runs
// in a tea.Cmd and comes back as a [Decided] or [BulkApproved] message:
// Update never waits on the disk. One call is in flight at a time, so the
// session, which is not safe for concurrent use, is never called twice at
// once. After each answer the screen reads the decision back from the
// session rather than assuming it.
//
// # 100,000 rows
//
// What a row shows is computed once when the screen opens (every string
// from the bundle through termtext.Safe); a filter keeps an index of the
// rows that pass, rebuilt on each keystroke by plain string comparison,
// or narrowed when a character is added to a prefix pattern. A regular
// expression (RE2, its length bounded) is compiled once per keystroke and
// matched against every row in a command, so that typing never waits for
// it. A frame formats only the rows on screen. There is no fuzzy match:
// a near miss would be read as a hit.
package review

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/tui/theme"
)

// Session is what the review asks of a ceremony; *session.Session has it.
type Session interface {
	Report() *verdict.Report
	Decision(requestID string) (session.Decided, bool)
	Decide(requestID, decision, reason, by string) error
	BulkApprove(confirmed int, by string) error
}

// Trusted is the delegating metadata a project's current delegation comes
// from: what a request's change is shown against.
type Trusted struct {
	Role    string
	Version int64
	Expires time.Time
}

// TrustedIn returns, for each project, the vault's current metadata of the
// role that delegates it (the delegating role, or its shard).
func TrustedIn(v *vault.Vault) func(project string) (Trusted, bool) {
	return func(project string) (Trusted, bool) {
		role := v.Policy.ShardFor(project)
		f := v.Delegators[role]
		if f == nil {
			return Trusted{}, false
		}
		return Trusted{Role: role, Version: f.Version(), Expires: f.Expires().Time}, true
	}
}

// Options open a review screen.
type Options struct {
	// Session is the ceremony, in the review state.
	Session Session
	// By is who records the decisions: a participant or witness named
	// when the ceremony was opened.
	By string
	// Trusted names the metadata each project's current delegation is
	// read from; nil leaves it out of the detail pane.
	Trusted func(project string) (Trusted, bool)
	// Theme styles the screen.
	Theme *theme.Theme
	// Size is the screen's size in cells.
	Size theme.Size
}

// Decided answers a decision about one request: Err is the session's
// refusal, or nil once the decision is in the log.
type Decided struct {
	RequestID, Decision, Reason string
	Err                         error
}

// BulkApproved answers a bulk approval: Err is the session's refusal
// (a *session.BulkCountError when the count is not the one undecided), or
// nil once the approval is in the log.
type BulkApproved struct {
	Count int
	Err   error
}

// Finished says the people asked to end the review: every valid request
// is decided, and the ceremony may build.
type Finished struct{}

// decide is the command that records one decision.
func decide(s Session, id, decision, reason, by string) tea.Cmd {
	return func() tea.Msg {
		return Decided{RequestID: id, Decision: decision, Reason: reason, Err: s.Decide(id, decision, reason, by)}
	}
}

// bulk is the command that records a bulk approval.
func bulk(s Session, confirmed int, by string) tea.Cmd {
	return func() tea.Msg {
		return BulkApproved{Count: confirmed, Err: s.BulkApprove(confirmed, by)}
	}
}

func finished() tea.Msg { return Finished{} }
