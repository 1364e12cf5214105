package validate

import (
	"strconv"
	"time"

	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Waiver is a recovery's notice period waived in the ceremony: a
// threshold of the holders of the role that delegates the project signed
// a typed statement naming the request and its change (package session
// checks the signatures and records them in the log). The request is then
// judged as one whose notice period has run, with a finding that says
// who waived it and why, so that it needs judgement like any recovery.
type Waiver struct {
	// ChangeDigest is request.Request.ChangeDigest of the request waived:
	// a waiver for one change never covers another under the same id.
	ChangeDigest string
	// Role is the role whose holders waived it; Threshold is its
	// threshold, Holders the holders who signed, sorted.
	Role      string
	Threshold int64
	Holders   []string
	// Reason is the typed reason, as the holders signed it. The finding
	// quotes it whole, in Go syntax, so that a control or invisible
	// character shows as an escape: the session bounds its length.
	Reason string
}

// waived records the waiver of r's notice period, if the ceremony holds
// one for exactly this change, and reports whether it did.
func (st *state) waived(v *verdict.Verdict, r *request.Request, first, due time.Time) bool {
	w, ok := st.in.Waivers[r.ID]
	if !ok || w.ChangeDigest != r.ChangeDigest() {
		return false
	}
	v.Add(verdict.Warning, verdict.NoticeWaived, "kind", "Conclave first saw this recovery on %s; its notice period of %s would end on %s. %s, holders of %s (threshold %d), waived it in this ceremony, giving the reason %s.",
		first.UTC().Format(request.TimeLayout), fmtDuration(st.in.Rules.RecoveryNotice), due.UTC().Format(request.TimeLayout),
		termtext.List(w.Holders, len(w.Holders)), termtext.Safe(w.Role), w.Threshold, strconv.Quote(w.Reason))
	return true
}
