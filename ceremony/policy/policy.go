// Package policy is the ceremony policy: which roles ceremonies sign, how
// long what they sign is valid, what a developer key may be, the limits on
// bundles, what tokens may sign, and the holders — each a person with the
// keys they enrolled. It is a YAML file, decoded strictly, and bound to the
// root by a threshold signature in the vault (package vault).
package policy

import (
	"time"

	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Policy is a decoded, checked policy file.
type Policy struct {
	// Repository is the name of the online repository whose bundles are
	// accepted (a bundle manifest's "source").
	Repository string
	// IntakeKeys are the repository's intake public keys.
	IntakeKeys []*tuf.Key
	// DelegatingRole is the role that delegates projects ("claimed"). With
	// Shards, projects are delegated by the shards instead, and
	// DelegatingRole names none of them.
	DelegatingRole string
	// Shards split the delegating role by project-name prefix; empty for
	// one role.
	Shards []Shard
	// OnlineRoles are roles the online repository signs (such as
	// recently-claimed, unclaimed), delegated by targets after every
	// signed role, in this order; conclave init takes their public keys
	// as it takes snapshot's and timestamp's.
	OnlineRoles []OnlineRole
	// Roles holds the expiry rule of every role ceremonies sign, by name.
	Roles map[string]RolePolicy
	// Rules are the validation rules (path template, key schemes and sizes,
	// notice period, dwell, bundle limits), built from the file.
	Rules rules.Rules
	// RequirePossession refuses adds and rotations without proofs of
	// possession (the default); Rules.PossessionOptional is its opposite.
	RequirePossession bool
	// Attestation says what a YubiKey's attestation must show.
	Attestation Attestation
	// PKCS11Modules lists the PKCS#11 modules that may sign, by hash.
	PKCS11Modules []Module
	// Preflight names the checks that must pass.
	Preflight Preflight
	// Holders are the people who hold the keys of the roles.
	Holders []Holder
	// KeyRoles names, by keyid, the roles a holder key is placed in when
	// conclave init or rotate builds root and targets (the key's "roles"
	// field): "root", "targets", or roles the policy signs. A root key is
	// in no other role and on no token that holds a key of another role
	// (see checkLayout).
	KeyRoles map[string][]string
	// LostTokenDeadline is how long after a token is reported lost or
	// stolen its keys must be rotated out of the metadata.
	LostTokenDeadline time.Duration
	// VaultCopies is how many media the vault is copied to after every
	// ceremony (custody.vault_copies): at least two, since one copy is
	// lost to one fire or one theft.
	VaultCopies int
	// Rehearsal marks a policy made for a rehearsal: a production ceremony
	// refuses it.
	Rehearsal bool

	// SHA256 is the hex SHA-256 of the file as read: what the vault's
	// binding signs and what the ceremony log records.
	SHA256 string

	// name is the file name errors start with; lines maps a field path
	// to the line it was read from, so that Check can point at it.
	name  string
	lines map[string]int
}

// Shard is one delegated role holding the projects whose normalised names
// start with one of its prefixes.
type Shard struct {
	Role     string
	Prefixes []string
	// Paths are the shard's delegated paths in targets, written out.
	Paths []string
}

// OnlineRole is a role delegated by targets whose key the online
// repository holds.
type OnlineRole struct {
	Name string
	// Paths are its delegated paths in targets.
	Paths []string
	// Threshold is how many of its keys must sign (1 unless given).
	Threshold int64
}

// Default role policy: what a signed role gets when the policy's roles
// section does not name it.
const (
	DefaultExpiry  = 90 * 24 * time.Hour
	DefaultWarning = 14 * 24 * time.Hour
	// DefaultTopExpiry and DefaultTopWarning are root's and targets':
	// they change rarely, and each change needs the holders of root.
	DefaultTopExpiry  = 365 * 24 * time.Hour
	DefaultTopWarning = 30 * 24 * time.Hour
	// DefaultLostTokenDeadline is the default LostTokenDeadline.
	DefaultLostTokenDeadline = 7 * 24 * time.Hour
	// MinVaultCopies is the fewest vault copies a policy may ask for, and
	// the default.
	MinVaultCopies = 2
	// MaxVaultCopies bounds custody.vault_copies.
	MaxVaultCopies = 16
	// MaxThreshold bounds a threshold in the policy.
	MaxThreshold = 255
)

// RolePolicy is how long a role's metadata is valid.
type RolePolicy struct {
	// Expiry is added to the confirmed ceremony time.
	Expiry time.Duration
	// Warning is how long before expiry the role is reported as expiring.
	Warning time.Duration
	// Threshold is how many of the role's keys must sign: root's and
	// targets' in root metadata, a signed role's in its delegation by
	// targets. Zero when the policy does not say; conclave init and
	// rotate need it for every role whose keys they place.
	Threshold int64
}

// Attestation is what a YubiKey's attestation must show.
type Attestation struct {
	Required    bool
	MinFirmware string
	PINPolicy   []string // allowed PIN policies ("once", "always")
	TouchPolicy []string // allowed touch policies ("always", "cached")
}

// Module is one allowed PKCS#11 module.
type Module struct {
	Path   string
	SHA256 string
}

// Preflight names the checks that must pass (ids as conclave preflight
// prints them); a check not named still runs and is recorded.
type Preflight struct {
	Required []string
}

// Holder is one person.
type Holder struct {
	Name    string
	Contact string
	Keys    []HolderKey
}

// Token kinds.
const (
	TokenYubiKey = "yubikey"
	TokenPKCS11  = "pkcs11"
	// TokenSoftkey is a software key file: rehearsal policies only.
	TokenSoftkey = "softkey"
)

// HolderKey is one enrolled key of a holder.
type HolderKey struct {
	KeyID string
	Token string // TokenYubiKey, TokenPKCS11 or TokenSoftkey
	// Serial and Slot select a YubiKey; URI a PKCS#11 key (RFC 7512) or a
	// software key file ("softkey:path=…").
	Serial uint32
	Slot   string
	URI    string
	// Spare marks a second token of the holder, kept for when the first
	// is lost or broken. A spare that names no roles is in no metadata
	// until a rotation places it; one that names roles is in the
	// metadata like any key. Either way the holder is one person: one
	// vote in a ceremony (package session counts signatures by holder).
	Spare bool
}
