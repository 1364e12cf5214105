package audit

import (
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// Format names the audit report's JSON form (docs/formats/audit-report.md).
const Format = "conclave-audit-report/1"

// Verdict is the audit's conclusion, the same in every form of the report.
type Verdict string

// The verdicts.
const (
	// Pass: every check ran and none failed.
	Pass Verdict = "pass"
	// Fail: at least one finding.
	Fail Verdict = "fail"
	// Incomplete: nothing failed, but without the vault the signatures,
	// thresholds, expiry and decisions could not be checked.
	Incomplete Verdict = "incomplete"
)

// Report is what an audit found. Its JSON form is the audit report
// (docs/formats/audit-report.md): every string exactly as read, which a
// caller printing text makes safe for a terminal first.
type Report struct {
	Format   string  `json:"format"`
	Verdict  Verdict `json:"verdict"`
	Ceremony string  `json:"ceremony"`
	// End is how the log ends: "closed", "abandoned", or "open" (neither).
	End string  `json:"end"`
	Log LogInfo `json:"log"`
	// Program is what the log says ran the ceremony: its own word, which
	// proves nothing about the binary (check it against a reproducible
	// build).
	Program Program  `json:"program"`
	Vault   VaultRef `json:"vault"`

	Rehearsal       bool     `json:"rehearsal"`
	RehearsalReason string   `json:"rehearsal_reason,omitempty"`
	Participants    []string `json:"participants"`
	Witnesses       []string `json:"witnesses"`

	Preflight []session.PreflightEvent `json:"preflight"`
	Clock     *session.ClockEvent      `json:"clock"`
	Bundle    *Bundle                  `json:"bundle"`
	Decisions []Decision               `json:"decisions"`
	Roles     []Role                   `json:"roles"`
	Files     []FileCheck              `json:"files"`
	Notes     []session.Noted          `json:"notes"`
	// Published is nil when no published metadata was given.
	Published *Published `json:"published"`
	Findings  []Finding  `json:"findings"`
}

// LogInfo is the log's chain: its length and head (what the witness wrote
// on the paper log), the holders' signatures over that head, and a cut
// torn last line.
type LogInfo struct {
	Lines int64  `json:"lines"`
	Head  string `json:"head"`
	// Torn is set when the log ends in a line without its newline, which
	// the check left out.
	Torn bool `json:"torn"`
	// HeadSignatures are the signatures in head.json, the envelope in
	// which holders signed the closed log's head.
	HeadSignatures []HeadSignature `json:"head_signatures"`
}

// HeadSignature is one holder's signature over the log's head.
type HeadSignature struct {
	KeyID  string `json:"keyid"`
	Holder string `json:"holder"`
	Valid  bool   `json:"valid"`
}

// Program is the program the log names.
type Program struct {
	ConclaveVersion string `json:"conclave_version"`
	BinarySHA256    string `json:"binary_sha256"`
}

// VaultRef is the vault generation the ceremony was opened on.
type VaultRef struct {
	Generation   string `json:"generation"`
	Hash         string `json:"hash"`
	PolicySHA256 string `json:"policy_sha256"`
	// Checked is false when no vault was given: the ceremony was then
	// checked for integrity only.
	Checked bool `json:"checked"`
}

// Bundle is the bundle imported.
type Bundle struct {
	ID             string         `json:"id"`
	Source         string         `json:"source"`
	ManifestSHA256 string         `json:"manifest_sha256"`
	Counts         verdict.Counts `json:"counts"`
}

// Decision is one request of the bundle: how it was judged, what people
// decided, and whether its change is in the built bytes.
type Decision struct {
	RequestID string `json:"request_id"`
	Kind      string `json:"kind"`
	Project   string `json:"project"`
	Class     string `json:"class"`
	// Decision is "approved", "rejected", "deferred", "invalid" or
	// "undecided".
	Decision string   `json:"decision"`
	Reason   string   `json:"reason"`
	By       string   `json:"by"`
	Codes    []string `json:"codes"`
	// Applied is set when the built bytes hold the request's change.
	Applied bool `json:"applied"`
}

// The decisions as the report names them.
const (
	DecisionApproved  = "approved"
	DecisionRejected  = "rejected"
	DecisionDeferred  = "deferred"
	DecisionInvalid   = "invalid"
	DecisionUndecided = "undecided"
)

// Role is one role the ceremony built and signed.
type Role struct {
	Role    string `json:"role"`
	Version int64  `json:"version"`
	// File is the exported file that holds it ("" when not exported).
	File          string `json:"file"`
	PayloadSHA256 string `json:"payload_sha256"`
	Expires       string `json:"expires"`
	// ExpectedExpires is the confirmed time plus the policy's period.
	ExpectedExpires string `json:"expected_expires"`
	// The summary card, recomputed from the exported bytes.
	Added      int    `json:"added"`
	Rotated    int    `json:"rotated"`
	Removed    int    `json:"removed"`
	CardDigest string `json:"card_digest"`
	Threshold  int64  `json:"threshold"`
	// Holders are the holders whose keys the role's delegation lists.
	Holders    []string    `json:"holders"`
	Signatures []Signature `json:"signatures"`
	// SignedBy are the holders with a valid signature, one vote each.
	SignedBy     []string `json:"signed_by"`
	ThresholdMet bool     `json:"threshold_met"`
}

// Signature is one signature of an exported file.
type Signature struct {
	KeyID string `json:"keyid"`
	// Holder is the holder whose enrolled key it is ("" for none).
	Holder string `json:"holder"`
	// Token is the token the log says made it ("" when the log has no
	// such signature).
	Token string `json:"token"`
	// Status is what counting it against the role's delegation gave
	// (tuf.SigStatus: counted, duplicate-key, unknown-key,
	// bad-signature, malformed).
	Status string `json:"status"`
	Logged bool   `json:"logged"`
}

// FileCheck is one exported file against the log's exported line.
type FileCheck struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	// Logged is the SHA-256 the log recorded ("" when it names none).
	Logged string `json:"logged"`
	Match  bool   `json:"match"`
}

// Published is the comparison of published metadata with what was
// signed.
type Published struct {
	Files         []string      `json:"files"`
	Discrepancies []Discrepancy `json:"discrepancies"`
}

// Discrepancy is one difference between published and signed metadata.
type Discrepancy struct {
	// Kind is one of the Published* codes.
	Kind    string `json:"kind"`
	Role    string `json:"role"`
	File    string `json:"file"`
	Message string `json:"message"`
}

// Finding is one thing the audit found wrong. Line is the log line it is
// about, when there is one (0 otherwise).
type Finding struct {
	Code    string `json:"code"`
	Line    int64  `json:"line,omitempty"`
	Role    string `json:"role,omitempty"`
	Message string `json:"message"`
}
