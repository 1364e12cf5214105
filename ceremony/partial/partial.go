// Package partial is the partly signed ceremony that travels between
// air-gapped sites (docs/formats/partial.md): what the first site built
// and decided, and the signatures its holders made, so that the next
// site rebuilds the same payload from its own vault and adds its
// holders' signatures.
//
// A partial directory on the transfer medium holds exactly:
//
//   - "partial.json" (Name), this package's document, format
//     "conclave-partial/1": the ceremony id and time, the vault it was
//     built on, the bundle, every decision, and for each role built its
//     version, the SHA-256 of its payload and the file holding it;
//   - one "N.ROLE.partial.json" per role (export.MetadataName): the TUF
//     metadata with the signatures made so far, a name no repository
//     publishes by mistake;
//   - "bundle.copy" (CopyName): the bundle exactly as the first site
//     judged it.
//
// Everything on the medium is hostile: Parse reads partial.json
// strictly and in its one exact form, and the receiving site trusts
// none of it — it rebuilds the payload from its own vault and compares
// bytes, and checks every signature against its own holders' keys.
package partial

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/export"
)

// Names and format.
const (
	// Format is partial.json's "format".
	Format = "conclave-partial/1"
	// Name is the partial document's file name in a partial directory.
	Name = "partial.json"
	// CopyName is the bundle copy's file name.
	CopyName = "bundle.copy"
	// MaxSize bounds partial.json: a decision per request, 100,000
	// requests with reasons fit in far less.
	MaxSize = 256 << 20
	// MaxRoles bounds the roles of one partial (a delegating role's
	// shards).
	MaxRoles = 4096
)

// Partial is partial.json.
type Partial struct {
	Format string `json:"format"`
	// Ceremony is the ceremony id: every site's log carries it, so an
	// audit joins the sites' logs by it.
	Ceremony string `json:"ceremony"`
	// CeremonyTime is the time the first site confirmed (RFC 3339 UTC, to
	// the second): the bundle is judged and the expiry computed at it, at
	// every site, so that every site builds the same bytes.
	CeremonyTime string `json:"ceremony_time"`
	Rehearsal    bool   `json:"rehearsal"`
	Vault        Vault  `json:"vault"`
	Bundle       Bundle `json:"bundle"`
	// Decisions are every decision taken, by request id in byte order.
	Decisions []Decision `json:"decisions"`
	// Digest is the digest over the summary cards (build.Digest) that
	// the holders compare over an independent channel.
	Digest string `json:"digest"`
	// Roles are the roles built, by name in byte order.
	Roles []Role `json:"roles"`
}

// Vault names the vault state a partial was built on: the sites' vaults
// must agree on it, or they would build different payloads.
type Vault struct {
	RootVersion   int64  `json:"root_version"`
	RootSHA256    string `json:"root_sha256"`
	TargetsSHA256 string `json:"targets_sha256"`
	PolicySHA256  string `json:"policy_sha256"`
}

// Bundle names the bundle judged and the copy of it carried.
type Bundle struct {
	ID             string `json:"id"`
	ManifestSHA256 string `json:"manifest_sha256"`
	// CopySHA256 is the SHA-256 of the file CopyName.
	CopySHA256 string `json:"copy_sha256"`
}

// Decision is one decision about one request, as the first site's log
// records it.
type Decision struct {
	RequestID string `json:"request_id"`
	Decision  string `json:"decision"`
	Reason    string `json:"reason"`
	By        string `json:"by"`
}

// Role is one role built.
type Role struct {
	Role    string `json:"role"`
	Version int64  `json:"version"`
	// PayloadSHA256 is the SHA-256 of the metadata's signed part: the
	// bytes every holder signs.
	PayloadSHA256 string `json:"payload_sha256"`
	// Metadata names the file holding the metadata with the signatures so
	// far (export.MetadataName, not complete), MetadataSHA256 its SHA-256.
	Metadata       string `json:"metadata"`
	MetadataSHA256 string `json:"metadata_sha256"`
}

// Time is the ceremony time.
func (p *Partial) Time() time.Time {
	t, _ := time.Parse(time.RFC3339, p.CeremonyTime)
	return t
}

// Files are the names of the other files the partial lists, in byte
// order: the metadata of each role and the bundle copy.
func (p *Partial) Files() []string {
	names := []string{CopyName}
	for _, r := range p.Roles {
		names = append(names, r.Metadata)
	}
	return names
}

// Encode writes partial.json in its one exact form: members in the
// order of the types above, indented by two spaces, a final newline.
func (p *Partial) Encode() []byte {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		panic("partial: " + err.Error())
	}
	return append(b, '\n')
}

// Error is a refused partial.json: the field at fault and why.
type Error struct {
	Field string
	Err   error
}

func (e *Error) Error() string {
	if e.Field == "" {
		return Name + ": " + e.Err.Error()
	}
	return Name + ": " + e.Field + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotExact: partial.json is not in the one form Encode writes.
var ErrNotExact = errors.New("not in the exact form Conclave writes (a member added, repeated or reordered, or other spacing)")

func refuse(field, format string, a ...any) error {
	return &Error{Field: field, Err: fmt.Errorf(format, a...)}
}

// Parse reads partial.json: strictly (no unknown member, nothing after
// the document), only in the exact form Encode writes, and checked
// (Check).
func Parse(data []byte) (*Partial, error) {
	if len(data) > MaxSize {
		return nil, refuse("", "%d bytes; at most %d are read", len(data), MaxSize)
	}
	var p Partial
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, &Error{Err: err}
	}
	if !bytes.Equal(p.Encode(), data) {
		return nil, &Error{Err: ErrNotExact}
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// ceremonyID is what a ceremony id may be: it names a directory of every
// site's vault and is read aloud.
var ceremonyID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// roleName is what a policy accepts as a signed role's name (package
// policy): it also names a file on the medium.
var roleName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Check checks what the fields may hold, naming the first at fault.
func (p *Partial) Check() error {
	switch {
	case p.Format != Format:
		return refuse("format", "%q is not %s", p.Format, Format)
	case !ceremonyID.MatchString(p.Ceremony) || strings.Contains(p.Ceremony, ".."):
		return refuse("ceremony", "%q is not a ceremony id", p.Ceremony)
	}
	t, err := time.Parse(time.RFC3339, p.CeremonyTime)
	if err != nil || t.UTC().Format(time.RFC3339) != p.CeremonyTime {
		return refuse("ceremony_time", "%q is not an RFC 3339 UTC time to the second", p.CeremonyTime)
	}
	for _, h := range []struct{ field, v string }{
		{"vault.root_sha256", p.Vault.RootSHA256},
		{"vault.targets_sha256", p.Vault.TargetsSHA256},
		{"vault.policy_sha256", p.Vault.PolicySHA256},
		{"bundle.manifest_sha256", p.Bundle.ManifestSHA256},
		{"bundle.copy_sha256", p.Bundle.CopySHA256},
		{"digest", p.Digest},
	} {
		if !hexSHA256.MatchString(h.v) {
			return refuse(h.field, "%q is not a lowercase hex SHA-256", h.v)
		}
	}
	if p.Vault.RootVersion < 1 {
		return refuse("vault.root_version", "%d: versions count from 1", p.Vault.RootVersion)
	}
	if p.Bundle.ID == "" {
		return refuse("bundle.id", "is empty")
	}
	for i, d := range p.Decisions {
		f := fmt.Sprintf("decisions[%d]", i)
		switch {
		case d.RequestID == "":
			return refuse(f+".request_id", "is empty")
		case i > 0 && d.RequestID <= p.Decisions[i-1].RequestID:
			return refuse(f+".request_id", "%q is not after %q in byte order: one decision per request, sorted", d.RequestID, p.Decisions[i-1].RequestID)
		case d.By == "":
			return refuse(f+".by", "is empty")
		}
	}
	if len(p.Roles) == 0 || len(p.Roles) > MaxRoles {
		return refuse("roles", "%d roles; a partial carries 1 to %d", len(p.Roles), MaxRoles)
	}
	for i, r := range p.Roles {
		f := fmt.Sprintf("roles[%d]", i)
		switch {
		case !roleName.MatchString(r.Role):
			return refuse(f+".role", "%q is not a role name a policy signs (a–z, 0–9 and \"-\" inside)", r.Role)
		case i > 0 && r.Role <= p.Roles[i-1].Role:
			return refuse(f+".role", "%q is not after %q in byte order: one entry per role, sorted", r.Role, p.Roles[i-1].Role)
		case r.Version < 1:
			return refuse(f+".version", "%d: versions count from 1", r.Version)
		case !hexSHA256.MatchString(r.PayloadSHA256):
			return refuse(f+".payload_sha256", "%q is not a lowercase hex SHA-256", r.PayloadSHA256)
		case !hexSHA256.MatchString(r.MetadataSHA256):
			return refuse(f+".metadata_sha256", "%q is not a lowercase hex SHA-256", r.MetadataSHA256)
		case r.Metadata != export.MetadataName(r.Role, r.Version, false):
			return refuse(f+".metadata", "%q is not %q", r.Metadata, export.MetadataName(r.Role, r.Version, false))
		}
	}
	return nil
}
