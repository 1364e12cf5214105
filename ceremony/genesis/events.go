package genesis

import (
	"time"

	"github.com/conclave-keys/conclave/ceremony/vault"
)

// Event types of a root ceremony's log (docs/formats/transcript.md): the
// same hash-chained log as a delegation ceremony's, with events of its
// own.
const (
	TypeRootOpened = "root-opened"
	TypeRootBuilt  = "root-built"
	TypeRootSigned = "root-signed"
	TypeRootClosed = "root-closed"
	// TypeRootAbandoned ends a root ceremony that stopped before its
	// generation was written: the vault is unchanged.
	TypeRootAbandoned = "root-abandoned"
)

// The kinds of root ceremony.
const (
	KindInit    = "init"
	KindRotate  = "rotate"
	KindRefresh = "refresh"
)

// Opened starts a root ceremony's log.
type Opened struct {
	Kind            string `json:"kind"`
	ConclaveVersion string `json:"conclave_version"`
	BinarySHA256    string `json:"binary_sha256"`
	// VaultGeneration and VaultHash name the vault generation the
	// ceremony starts from; empty for init.
	VaultGeneration string `json:"vault_generation"`
	VaultHash       string `json:"vault_hash"`
	// PolicySHA256 is the hash of the policy the new generation binds.
	PolicySHA256 string `json:"policy_sha256"`
	Rehearsal    bool   `json:"rehearsal"`
	// Confirmed is the ceremony's confirmed time: expiries count from it.
	Confirmed string `json:"confirmed"`
	// Records are the enrolment records given (holder and keyid).
	Records []KeyRef `json:"records"`
	// Online are the online keys given, by role.
	Online map[string]string `json:"online"`
	// ForceThreshold is the written reason a threshold may equal its
	// number of keys; empty when none was given.
	ForceThreshold string `json:"force_threshold"`
	// Roles are the roles a refresh was asked for.
	Roles []string `json:"roles"`
}

// BuiltFile is one file of the plan, unsigned.
type BuiltFile struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Version int64  `json:"version"`
	Expires string `json:"expires"`
	// SignedSHA256 is the hex SHA-256 of the signed part: what every
	// signature is over.
	SignedSHA256 string `json:"signed_sha256"`
}

// Built records what the holders are asked to sign.
type Built struct {
	Files []BuiltFile `json:"files"`
	// BindingSHA256 is the hex SHA-256 of the binding's payload; empty
	// when root does not change.
	BindingSHA256 string `json:"binding_sha256"`
	// Change is what a rotation changes; nil for init and refresh.
	Change *Change `json:"change,omitempty"`
}

// SignedEvent records one key's signatures.
type SignedEvent struct {
	Holder string   `json:"holder"`
	KeyID  string   `json:"keyid"`
	Signed []Signed `json:"signed"`
}

// Closed records the signed files written to the vault, each by the
// SHA-256 of the whole file.
type Closed struct {
	Files []ClosedFile `json:"files"`
}

// Abandoned says why a root ceremony stopped.
type Abandoned struct {
	Reason string `json:"reason"`
}

// ClosedFile is one file written.
type ClosedFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// BuiltEvent describes the plan.
func (p *Plan) BuiltEvent(c *Change) Built {
	b := Built{Files: []BuiltFile{}, Change: c}
	for _, d := range p.Docs {
		b.Files = append(b.Files, BuiltFile{d.Name, d.Role, d.File.Version(), d.File.Expires().String(), vault.SHA256Hex(d.File.SignedBytes())})
	}
	if p.Binding != nil {
		b.BindingSHA256 = vault.SHA256Hex(p.Binding.Payload)
	}
	return b
}

// ClosedEvent lists the signed files.
func (p *Plan) ClosedEvent() Closed {
	c := Closed{Files: []ClosedFile{}}
	for _, d := range p.Docs {
		c.Files = append(c.Files, ClosedFile{d.Name, vault.SHA256Hex(d.File.Bytes())})
	}
	if p.Binding != nil {
		c.Files = append(c.Files, ClosedFile{vault.BindingFile, vault.SHA256Hex(p.Binding.Marshal())})
	}
	return c
}

// ConfirmedString is how the log writes the confirmed time.
func ConfirmedString(t time.Time) string { return t.UTC().Format(time.RFC3339) }
