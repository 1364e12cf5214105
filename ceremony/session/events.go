package session

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// Event types, as the log names them (docs/formats/transcript.md, "Events").
const (
	TypeOpened       = "opened"
	TypePreflight    = "preflight"
	TypeClock        = "clock"
	TypeImported     = "imported"
	TypeDecided      = "decided"
	TypeBulkApproved = "bulk-approved"
	TypeWaived       = "waived" // waiver.go
	TypeBuilt        = "built"
	TypeSigned       = "signed"
	TypeExported     = "exported"
	TypeNoted        = "noted"
	TypeAbandoned    = "abandoned"
	TypeClosed       = "closed"
)

// event is the body of one line of the log.
type event interface{ eventType() string }

// Opened starts the log: what ran the ceremony, on which vault, for whom.
type Opened struct {
	// Format and Ceremony are added by the log to its first line
	// (package transcript); they are read back here and not written.
	Format   string `json:"format,omitempty"`
	Ceremony string `json:"ceremony,omitempty"`

	ConclaveVersion string `json:"conclave_version"`
	// BinarySHA256 is the hex SHA-256 of the program that ran.
	BinarySHA256 string `json:"binary_sha256"`
	// VaultGeneration and VaultHash name the vault generation opened;
	// PolicySHA256 is the hash of its policy file.
	VaultGeneration string `json:"vault_generation"`
	VaultHash       string `json:"vault_hash"`
	PolicySHA256    string `json:"policy_sha256"`
	// Rehearsal marks a ceremony whose output must never be published;
	// RehearsalReason says why it was run.
	Rehearsal       bool   `json:"rehearsal"`
	RehearsalReason string `json:"rehearsal_reason,omitempty"`
	// Participants are the key holders and operators present; Witnesses
	// watch and keep the paper log.
	Participants []string `json:"participants"`
	Witnesses    []string `json:"witnesses"`
}

// PreflightEvent records the machine's checks and what people did about
// those that could not pass.
type PreflightEvent struct {
	Checks    []Check    `json:"checks"`
	Overrides []Override `json:"overrides"`
	// Blocking lists the ids of required checks that neither passed nor
	// were overridden. A production ceremony does not go on past them; a
	// rehearsal does, and says so here.
	Blocking []string `json:"blocking"`
}

// Override is a written reason for going on although a check could not
// look (docs/preflight.md). Used is false for an override given for a
// check that did not need one: it changed nothing.
type Override struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Used   bool   `json:"used"`
}

// ClockEvent records the ceremony time the people in the room confirmed
// against a clock kept outside it.
type ClockEvent struct {
	// Confirmed is RFC 3339 UTC, to the second.
	Confirmed string `json:"confirmed"`
	By        string `json:"by"`
}

// Imported records the bundle: its identity, the blob holding a copy of
// its files (format in docs/formats/transcript.md, "The bundle copy") and
// the verdict counts a replay must find again.
type Imported struct {
	BundleID       string         `json:"bundle_id"`
	Source         string         `json:"source"`
	ManifestSHA256 string         `json:"manifest_sha256"`
	BundleBlob     string         `json:"bundle_blob"`
	Files          int            `json:"files"`
	Counts         verdict.Counts `json:"counts"`
}

// Decisions a person makes about one request.
const (
	Approve = "approve"
	Reject  = "reject"
	Defer   = "defer"
)

// Decided records one decision about one request.
type Decided struct {
	RequestID string `json:"request_id"`
	Decision  string `json:"decision"`
	Reason    string `json:"reason"`
	By        string `json:"by"`
}

// BulkApproved records the approval of every rule-approvable request not
// yet decided, at once: the count the people confirmed and the hex SHA-256
// of the sorted ids, one per line, each followed by a newline.
type BulkApproved struct {
	Count     int    `json:"count"`
	IDsSHA256 string `json:"ids_sha256"`
	By        string `json:"by"`
}

// Built registers the payloads of a build, before any signature: one per
// changed role, each the only payload that (role, version) will ever have.
type Built struct {
	Payloads []BuiltPayload `json:"payloads"`
	// Digest is build.Digest over the cards: what the holders compare with
	// a second machine's.
	Digest string `json:"digest"`
	// Approved counts the requests applied.
	Approved int `json:"approved"`
}

// BuiltPayload is one built role: the hex SHA-256 of its signed part
// (also the blob holding those bytes) and its summary card.
type BuiltPayload struct {
	Role          string `json:"role"`
	Version       int64  `json:"version"`
	PayloadSHA256 string `json:"payload_sha256"`
	Expires       string `json:"expires"`
	CardDigest    string `json:"card_digest"`
	Added         int    `json:"added"`
	Rotated       int    `json:"rotated"`
	Removed       int    `json:"removed"`
}

// Signed records one signature over one payload. It never holds a PIN:
// only what the token says about the tries left, before and after (-1
// when the token does not say).
type Signed struct {
	Role           string `json:"role"`
	Version        int64  `json:"version"`
	Holder         string `json:"holder"`
	KeyID          string `json:"keyid"`
	Token          string `json:"token"`
	PINTriesBefore int    `json:"pin_tries_before"`
	PINTriesAfter  int    `json:"pin_tries_after"`
	// Signature is the signature as the metadata holds it: lowercase hex.
	Signature string `json:"signature"`
}

// Exported records the files written to the transfer medium and read
// back: name → hex SHA-256. Partial marks a partial export (package
// partial), which a later site continues.
type Exported struct {
	Files   map[string]string `json:"files"`
	Partial bool              `json:"partial,omitempty"`
}

// Noted records an exception a witness wrote down.
type Noted struct {
	By   string `json:"by"`
	Text string `json:"text"`
}

// Abandoned ends a ceremony without export; its built versions stay
// burned.
type Abandoned struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// Closed ends a ceremony: the log's head before this line (what the
// witness writes on the paper log, with Lines) and what the next vault
// generation takes from it.
type Closed struct {
	Head  string `json:"head"`
	Lines int64  `json:"lines"`
	// Register lists the payloads built, "ROLE VERSION SHA256" each.
	Register []RegisterEntry `json:"register"`
	// LastCeremony is the confirmed time, the next ceremony's lower bound.
	LastCeremony string `json:"last_ceremony"`
	BundleID     string `json:"bundle_id"`
}

// RegisterEntry is one (role, version) → payload of the vault's register.
type RegisterEntry struct {
	Role          string `json:"role"`
	Version       int64  `json:"version"`
	PayloadSHA256 string `json:"payload_sha256"`
}

func (*Opened) eventType() string         { return TypeOpened }
func (*PreflightEvent) eventType() string { return TypePreflight }
func (*ClockEvent) eventType() string     { return TypeClock }
func (*Imported) eventType() string       { return TypeImported }
func (*Decided) eventType() string        { return TypeDecided }
func (*BulkApproved) eventType() string   { return TypeBulkApproved }
func (*Built) eventType() string          { return TypeBuilt }
func (*Signed) eventType() string         { return TypeSigned }
func (*Exported) eventType() string       { return TypeExported }
func (*Noted) eventType() string          { return TypeNoted }
func (*Abandoned) eventType() string      { return TypeAbandoned }
func (*Closed) eventType() string         { return TypeClosed }

// decodeEvent reads a line's body strictly: a member this version does not
// know, or trailing bytes, are refused rather than skipped.
func decodeEvent(typ string, body []byte) (event, error) {
	var ev event
	switch typ {
	case TypeOpened:
		ev = new(Opened)
	case TypePreflight:
		ev = new(PreflightEvent)
	case TypeClock:
		ev = new(ClockEvent)
	case TypeImported:
		ev = new(Imported)
	case TypeDecided:
		ev = new(Decided)
	case TypeBulkApproved:
		ev = new(BulkApproved)
	case TypeWaived:
		ev = new(Waived)
	case TypeBuilt:
		ev = new(Built)
	case TypeSigned:
		ev = new(Signed)
	case TypeExported:
		ev = new(Exported)
	case TypeNoted:
		ev = new(Noted)
	case TypeAbandoned:
		ev = new(Abandoned)
	case TypeClosed:
		ev = new(Closed)
	case TypeJoined:
		ev = new(Joined)
	case TypeAdopted:
		ev = new(Adopted)
	case TypeMerged:
		ev = new(Merged)
	default:
		return nil, fmt.Errorf("unknown event type %q", typ)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ev); err != nil {
		return nil, fmt.Errorf("%s body: %w", typ, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s body: bytes after the object", typ)
	}
	return ev, nil
}
