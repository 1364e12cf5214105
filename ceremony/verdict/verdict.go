// Package verdict is what import decides about a bundle and each request
// in it: stable codes, one plain sentence each, and the class that tells
// the review which requests may be approved together.
//
// Codes are part of the contract with repositories (the decision report
// carries them) and with auditors: they never change meaning. Sentences
// are read aloud by key holders and may be reworded.
package verdict

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Code identifies one reason, stable across versions.
type Code string

// Bundle-level codes: the whole bundle is refused and no request is judged.
const (
	BundleUnreadable     Code = "bundle-unreadable"      // a file could not be read safely (link, device, "..", limit)
	BundleExtraFile      Code = "bundle-extra-file"      // something on the medium the manifest does not list
	ManifestUnsigned     Code = "manifest-unsigned"      // no intake signature
	ManifestBadSignature Code = "manifest-bad-signature" // no signature by a trusted intake key verifies
	ManifestInvalid      Code = "manifest-invalid"       // the manifest breaks the format
	FileHashMismatch     Code = "file-hash-mismatch"     // a file's size or SHA-256 differs from the manifest
	BundleLimit          Code = "bundle-limit"           // too many files, a file or the bundle too large
	BundleReplayed       Code = "bundle-replayed"        // this bundle id was imported before
	BundleBaseMismatch   Code = "bundle-base-mismatch"   // built against other delegating metadata
	BundleSourceMismatch Code = "bundle-source-mismatch" // from another repository
	PublishedInvalid     Code = "published-invalid"      // the published-state file breaks the format
)

// Request-level codes that make a request invalid.
const (
	JSONInvalid       Code = "json-invalid"   // not strict JSON: syntax, duplicate names, depth, UTF-8
	FormatInvalid     Code = "format-invalid" // a field missing, unknown or of the wrong type
	ProjectName       Code = "project-name-invalid"
	TakeoverAdd       Code = "takeover-add"    // add for a project already delegated
	NotDelegated      Code = "not-delegated"   // rotate/remove/recover for a project not delegated
	KeyInvalid        Code = "key-invalid"     // not a usable public key (off the curve, bad encoding)
	KeyLegacy         Code = "key-legacy-form" // a key form Conclave reads but never writes
	KeyScheme         Code = "key-scheme-not-allowed"
	KeyRSASize        Code = "key-rsa-too-small"
	KeyRSALarge       Code = "key-rsa-too-large"
	KeyDuplicate      Code = "key-duplicate" // the same public key twice, under any keyids
	TooManyKeys       Code = "too-many-keys"
	RequestTooLarge   Code = "request-too-large" // a line longer than the policy allows, or a container of too many entries
	ThresholdRange    Code = "threshold-out-of-range"
	PossessionMissing Code = "possession-missing"
	PossessionInvalid Code = "possession-invalid"  // a key did not sign the typed possession statement
	PossessionWrong   Code = "possession-mismatch" // the statement signed is about something else
	KeyChangeMissing  Code = "keychange-missing"
	KeyChangeNotEnv   Code = "keychange-not-envelope" // not a typed conclave.keychange.v1 envelope
	KeyChangeMismatch Code = "keychange-mismatch"     // bound to another project, change or request
	KeyChangeKeyset   Code = "keychange-wrong-keyset" // bound to a keyset other than the current one
	KeyChangeBase     Code = "keychange-wrong-base"   // bound to another version of the delegating metadata
	KeyChangeBelow    Code = "keychange-below-threshold"
	KeyChangeBadSig   Code = "keychange-bad-signature" // a signature on the authorisation does not verify
	SignatureExtra    Code = "signature-extra"         // an envelope signed by a key not listed, or twice by one key
	RecoverNotice     Code = "recover-notice-period"
	PathOverlap       Code = "path-overlap"
	DuplicateID       Code = "duplicate-request-id"
	DuplicateProject  Code = "duplicate-project"
	NoChange          Code = "no-change" // a rotation to exactly the current keys and threshold
)

// Request-level codes about names and replays that make a request invalid.
const (
	ProjectRoleName Code = "project-name-reserved" // the name of a role that is not a project, or of its file
	PossessionBase  Code = "possession-wrong-base" // bound to another version of the delegating metadata
)

// Bundle-level notes: shown to the holders, refuse nothing.
const (
	PublishedDiffers Code = "published-differs" // the published state disagrees with the trusted delegations
	AnyRepository    Code = "any-repository"    // the bundle's source was not checked: any repository was accepted
	DelegatorExpired Code = "delegator-expired" // judged against trusted delegating metadata that has expired
)

// AnyRepositoryNote says that the bundle's source was not checked, so
// that no one reading the report believes it was.
func AnyRepositoryNote(source string) Finding {
	return Finding{Code: AnyRepository, Severity: Warning, Sentence: fmt.Sprintf(
		"The bundle's source was not checked: this import was told to accept a bundle from any repository (--any-repository). The bundle says it comes from %q; only the intake key vouches for that.", source)}
}

// DelegatorExpiredNote says that the requests were judged against
// delegating metadata that had expired at the ceremony time (the TUF
// specification, 5.6.4, has clients refuse it: it may be stale).
func DelegatorExpiredNote(role string, version int64, expires, now time.Time) Finding {
	return Finding{Code: DelegatorExpired, Severity: Warning, Sentence: fmt.Sprintf(
		"The trusted %s metadata, version %d, expired on %s, before the ceremony time %s; the requests were judged against it only because --allow-expired-delegator was given. Make sure no newer version exists: a newer one may delegate other keys.",
		role, version, expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
}

// Flags: the request is valid but needs judgement.
const (
	NoDwell        Code = "no-dwell"              // an add whose keyset was not published unchanged before
	Recovery       Code = "recovery"              // a rotation or removal without the current keys' authority
	NoticeWaived   Code = "recover-notice-waived" // a recovery's notice period, waived by a threshold of holders
	KeyShared      Code = "key-shared"            // a key already used by another project
	KeyMisverified Code = "key-misverified"       // a scheme some clients verify wrongly
)

// Class is where a request goes in the review.
type Class string

const (
	// RuleApprovable requests may be approved together, the count
	// confirmed.
	RuleApprovable Class = "rule-approvable"
	// NeedsJudgement requests are valid but must be decided one by one:
	// recoveries, adds without dwell, anything with a warning.
	NeedsJudgement Class = "needs-judgement"
	// Invalid requests cannot be approved.
	Invalid Class = "invalid"
)

// Severity says whether a finding invalidates the request.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one reason about one request.
type Finding struct {
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	// Sentence says, for a key holder, what is wrong or worth a look.
	Sentence string `json:"sentence"`
	// Path is the JSON path in the request, when it is about a field.
	Path string `json:"path,omitempty"`
}

// Verdict is what import decided about one request.
type Verdict struct {
	// RequestID is the request's id; "" when the line could not be read
	// as a request.
	RequestID string `json:"request_id"`
	// Batch and Line are where the request is in the bundle: the batch
	// file's path and its line, counted from 1.
	Batch   string `json:"batch"`
	Line    int    `json:"line"`
	Kind    string `json:"kind,omitempty"`
	Project string `json:"project,omitempty"` // normalised
	Class   Class  `json:"class"`
	// RequestedBy and Made are what the request says about who asked and
	// when, as written: the repository's words, not facts Conclave checked.
	RequestedBy string `json:"requested_by,omitempty"`
	Made        string `json:"made,omitempty"`
	// Change is what approving the request would trust; nil for an
	// invalid request, which cannot be approved.
	Change   *Change   `json:"change,omitempty"`
	Findings []Finding `json:"findings"`
}

// Change is a project's delegation before and after the request: Before
// is nil for a project not delegated (an add), After is nil when the
// delegation would end (a removal).
type Change struct {
	Before *Delegation `json:"before"`
	After  *Delegation `json:"after"`
}

// Delegation is one project's delegation: the keys that may sign for it,
// how many of them must, and the paths it may sign for.
type Delegation struct {
	Keys      []Key    `json:"keys"`
	Threshold int64    `json:"threshold"`
	Paths     []string `json:"paths"`
}

// Key is one key of a delegation.
type Key struct {
	// KeyID is the TUF keyid the metadata lists.
	KeyID string `json:"keyid"`
	// Fingerprint is the SHA-256 of the public key's DER
	// SubjectPublicKeyInfo: the key itself, whatever keyid it is listed
	// under, and what a developer can compute from their own key.
	Fingerprint string `json:"fingerprint"`
	Scheme      string `json:"scheme"`
}

// At names where the request is: "requests/0001.jsonl:17".
func (v *Verdict) At() string { return At(v.Batch, v.Line) }

// At names a line of a batch file, for people: the path, a colon and the
// line's number, as editors and grep -n write it.
func At(batch string, line int) string { return batch + ":" + strconv.Itoa(line) }

// Add records a finding.
func (v *Verdict) Add(sev Severity, code Code, path, format string, a ...any) {
	v.Findings = append(v.Findings, Finding{Code: code, Severity: sev, Sentence: fmt.Sprintf(format, a...), Path: path})
}

// Has reports whether the verdict has a finding with code.
func (v *Verdict) Has(code Code) bool {
	for _, f := range v.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// Codes lists the verdict's codes in the order found.
func (v *Verdict) Codes() []Code {
	out := make([]Code, len(v.Findings))
	for i, f := range v.Findings {
		out[i] = f.Code
	}
	return out
}

// Settle sets the class from the findings: any error makes the request
// invalid, and its warnings are dropped (they matter only for a request
// that could be approved); a warning makes it need judgement. Recoveries
// and no-dwell adds are warnings.
func (v *Verdict) Settle() {
	v.Class = RuleApprovable
	errs := v.Findings[:0:0]
	for _, f := range v.Findings {
		if f.Severity == Error {
			errs = append(errs, f)
		}
	}
	switch {
	case len(errs) > 0:
		v.Class = Invalid
		v.Findings = errs
	case len(v.Findings) > 0:
		v.Class = NeedsJudgement
	default:
		v.Findings = []Finding{}
	}
}

// BundleError refuses a whole bundle.
type BundleError struct {
	Code     Code
	Sentence string
	Err      error // the underlying cause, when there is one
}

func (e *BundleError) Error() string { return string(e.Code) + ": " + e.Sentence }
func (e *BundleError) Unwrap() error { return e.Err }

// Refuse builds a BundleError.
func Refuse(code Code, cause error, format string, a ...any) *BundleError {
	return &BundleError{Code: code, Sentence: fmt.Sprintf(format, a...), Err: cause}
}

// Report is the outcome of importing one bundle.
type Report struct {
	Format   string `json:"format"`
	BundleID string `json:"bundle_id,omitempty"`
	Source   string `json:"source,omitempty"`
	// Refused is set when the whole bundle was refused; Requests is then
	// empty.
	Refused *Refusal `json:"refused,omitempty"`
	// Notes are about the bundle as a whole and refuse nothing.
	Notes    []Finding `json:"notes,omitempty"`
	Counts   Counts    `json:"counts"`
	Requests []Verdict `json:"requests"`
	// Width is the column WriteText wraps at; 0 means termtext.Width.
	Width int `json:"-"`
}

// ReportFormat is the format name of the machine-readable import report.
const ReportFormat = "conclave-import-report/1"

// Refusal is a refused bundle in a report.
type Refusal struct {
	Code     Code   `json:"code"`
	Sentence string `json:"sentence"`
}

// Counts sums the classes.
type Counts struct {
	RuleApprovable int `json:"rule_approvable"`
	NeedsJudgement int `json:"needs_judgement"`
	Invalid        int `json:"invalid"`
}

// Order sorts verdicts the way the review shows them: needs judgement
// first, then rule-approvable, then invalid; by request id within each.
func Order(vs []Verdict) {
	rank := map[Class]int{NeedsJudgement: 0, RuleApprovable: 1, Invalid: 2}
	sort.SliceStable(vs, func(i, j int) bool {
		if rank[vs[i].Class] != rank[vs[j].Class] {
			return rank[vs[i].Class] < rank[vs[j].Class]
		}
		return vs[i].RequestID < vs[j].RequestID
	})
}

// Tally fills the counts.
func (r *Report) Tally() {
	r.Counts = Counts{}
	for _, v := range r.Requests {
		switch v.Class {
		case RuleApprovable:
			r.Counts.RuleApprovable++
		case NeedsJudgement:
			r.Counts.NeedsJudgement++
		default:
			r.Counts.Invalid++
		}
	}
}

// WriteJSON writes the report as JSON, one verdict per line, streaming:
// a report of 100,000 verdicts is never held twice in memory.
func (r *Report) WriteJSON(w io.Writer) error {
	head := *r
	head.Requests = nil
	b, err := json.Marshal(struct {
		Format   string    `json:"format"`
		BundleID string    `json:"bundle_id,omitempty"`
		Source   string    `json:"source,omitempty"`
		Refused  *Refusal  `json:"refused,omitempty"`
		Notes    []Finding `json:"notes,omitempty"`
		Counts   Counts    `json:"counts"`
	}{head.Format, head.BundleID, head.Source, head.Refused, head.Notes, head.Counts})
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(b[:len(b)-1]) // without the closing brace
	bw.WriteString(`,"requests":[`)
	// Verdicts are encoded a batch at a time on every core, then written
	// in order: the writing is what the key holders wait for at the end of
	// an import, and one batch bounds what is held twice.
	const batch = 4096
	enc := make([][]byte, min(batch, len(r.Requests)))
	for start := 0; start < len(r.Requests); start += batch {
		n := min(batch, len(r.Requests)-start)
		err := parallel.FirstError(n, 64, func(i int) error {
			var err error
			enc[i], err = json.Marshal(&r.Requests[start+i])
			return err
		})
		if err != nil {
			return err
		}
		for i, v := range enc[:n] {
			if start+i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n  ")
			bw.Write(v)
		}
	}
	if len(r.Requests) > 0 {
		bw.WriteByte('\n')
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// maxSentence caps a sentence shown as text: sentences quote what they
// are about, and one from a hostile file must not fill the screen.
const maxSentence = 1000

// WriteText writes the report for people: the refusal, or the counts and
// then each request with its reasons, and for one that could be approved
// what it would trust. Every string that came from the bundle is shown
// through termtext.Safe; lines are wrapped at Width columns.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	width := r.Width
	if width <= 0 {
		width = termtext.Width
	}
	line := func(text, first, rest string) {
		bw.WriteString(termtext.Wrap(text, width, first, rest))
		bw.WriteByte('\n')
	}
	sentence := func(s string) string { return termtext.Cap(s, maxSentence) }
	if r.BundleID != "" {
		line(fmt.Sprintf("bundle %s from %s", termtext.Safe(r.BundleID), orDash(termtext.Safe(r.Source))), "", "  ")
	}
	if r.Refused != nil {
		line(fmt.Sprintf("BUNDLE REFUSED [%s]: %s", termtext.Safe(string(r.Refused.Code)), sentence(r.Refused.Sentence)), "", "  ")
		line("No request in it was judged.", "", "")
		return bw.Flush()
	}
	for _, n := range r.Notes {
		line(fmt.Sprintf("NOTE [%s]: %s", termtext.Safe(string(n.Code)), sentence(n.Sentence)), "", "  ")
	}
	needs := fmt.Sprintf("%d need judgement", r.Counts.NeedsJudgement)
	if r.Counts.NeedsJudgement == 1 {
		needs = "1 needs judgement"
	}
	line(fmt.Sprintf("%s: %s, %d rule-approvable, %d invalid", termtext.Plural(len(r.Requests), "request"), needs, r.Counts.RuleApprovable, r.Counts.Invalid), "", "  ")
	// Each request's lines are made a batch at a time on every core, then
	// written in order, as WriteJSON does: the text is the same, and one
	// batch bounds what is held twice.
	const batch = 4096
	text := make([][]byte, min(batch, len(r.Requests)))
	for start := 0; start < len(r.Requests); start += batch {
		n := min(batch, len(r.Requests)-start)
		parallel.For(n, 64, func(i int) {
			text[i] = appendRequestText(text[i][:0], &r.Requests[start+i], width)
		})
		for _, t := range text[:n] {
			bw.Write(t)
		}
	}
	return bw.Flush()
}

// appendRequestText appends one request's part of the text report to b:
// a blank line, its class, id and place, who made it, the change approval
// would make, and its findings.
func appendRequestText(b []byte, v *Verdict, width int) []byte {
	line := func(text, first, rest string) {
		b = append(b, termtext.Wrap(text, width, first, rest)...)
		b = append(b, '\n')
	}
	sentence := func(s string) string { return termtext.Cap(s, maxSentence) }
	b = append(b, '\n')
	line(fmt.Sprintf("%-16s %s %s %s (%s)", classLabel(v.Class), orDash(termtext.Safe(v.RequestID)), orDash(termtext.Safe(v.Kind)), orDash(termtext.Safe(v.Project)), termtext.Safe(v.At())), "", "    ")
	if v.RequestedBy != "" || v.Made != "" {
		line(fmt.Sprintf("requested by %s, made %s (as the request says)", termtext.Quote(v.RequestedBy), orDash(termtext.Safe(v.Made))), "  ", "    ")
	}
	if v.Change != nil {
		writeChange(line, v.Change)
	}
	for _, f := range v.Findings {
		mark := "!"
		if f.Severity == Error {
			mark = "x"
		}
		line(fmt.Sprintf("%s [%s] %s", mark, termtext.Safe(string(f.Code)), sentence(f.Sentence)), "  ", "      ")
	}
	return b
}

// writeChange shows a delegation now and after approval. Keys are shown
// by fingerprint, shortened (the JSON report has them whole); a key that
// approval would add is marked "new", one it would drop "removed".
func writeChange(line func(text, first, rest string), c *Change) {
	in := func(d *Delegation, fp string) bool {
		if d == nil {
			return false
		}
		for _, k := range d.Keys {
			if k.Fingerprint == fp {
				return true
			}
		}
		return false
	}
	show := func(label string, d, other *Delegation, mark string, none string) {
		if d == nil {
			line(label+none, "  ", "         ")
			return
		}
		paths := make([]string, len(d.Paths))
		for i, p := range d.Paths {
			paths[i] = termtext.Safe(p)
		}
		line(fmt.Sprintf("%s%s, threshold %d, paths %s", label, termtext.Plural(len(d.Keys), "key"), d.Threshold, strings.Join(paths, ", ")), "  ", "         ")
		for _, k := range d.Keys {
			fp := "(no such key in the metadata)"
			if k.Fingerprint != "" {
				fp = "fingerprint " + termtext.ShortHex(k.Fingerprint)
			}
			text := orDash(termtext.Safe(k.Scheme)) + " " + fp
			if c.Before != nil && c.After != nil && !in(other, k.Fingerprint) {
				text += " (" + mark + ")"
			}
			line(text, "           ", "             ")
		}
	}
	show("now:   ", c.Before, c.After, "removed", "not delegated")
	show("after: ", c.After, c.Before, "new", "not delegated (the delegation ends)")
}

func classLabel(c Class) string {
	switch c {
	case NeedsJudgement:
		return "NEEDS JUDGEMENT"
	case RuleApprovable:
		return "rule-approvable"
	}
	return "INVALID"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
