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

	"github.com/conclave-keys/conclave/internal/parallel"
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
)

// Flags: the request is valid but needs judgement.
const (
	NoDwell        Code = "no-dwell"        // an add whose keyset was not published unchanged before
	Recovery       Code = "recovery"        // a rotation or removal without the current keys' authority
	KeyShared      Code = "key-shared"      // a key already used by another project
	KeyMisverified Code = "key-misverified" // a scheme some clients verify wrongly
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
	// Path is the JSON path in the request file, when it is about a field.
	Path string `json:"path,omitempty"`
}

// Verdict is what import decided about one request.
type Verdict struct {
	RequestID string    `json:"request_id"`
	File      string    `json:"file"`
	Kind      string    `json:"kind,omitempty"`
	Project   string    `json:"project,omitempty"` // normalised
	Class     Class     `json:"class"`
	Findings  []Finding `json:"findings"`
}

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

// WriteText writes the report for people: the refusal, or the counts and
// then each request that is not rule-approvable with its reasons, then
// the rule-approvable ones in one line each.
func (r *Report) WriteText(w io.Writer) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	if r.BundleID != "" {
		p("bundle %s from %s\n", r.BundleID, orDash(r.Source))
	}
	if r.Refused != nil {
		p("BUNDLE REFUSED [%s]: %s\nNo request in it was judged.\n", r.Refused.Code, r.Refused.Sentence)
		return nil
	}
	for _, n := range r.Notes {
		p("note [%s]: %s\n", n.Code, n.Sentence)
	}
	p("%d requests: %d need judgement, %d rule-approvable, %d invalid\n",
		len(r.Requests), r.Counts.NeedsJudgement, r.Counts.RuleApprovable, r.Counts.Invalid)
	for _, v := range r.Requests {
		p("\n%-16s %s %s %s (%s)\n", classLabel(v.Class), v.RequestID, orDash(v.Kind), orDash(v.Project), v.File)
		for _, f := range v.Findings {
			mark := "!"
			if f.Severity == Error {
				mark = "x"
			}
			p("  %s [%s] %s\n", mark, f.Code, f.Sentence)
		}
	}
	return nil
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
