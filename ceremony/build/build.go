// Package build makes the next version of each delegating role from the
// approved requests, and derives what changed from the built bytes — never
// from the requests — as a summary card that a second machine recomputes.
package build

import (
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Payload is one built, unsigned metadata file.
type Payload struct {
	Role    string
	Version int64
	File    *tuf.File
	// SHA256 is the hex SHA-256 of the canonical signed part (the bytes
	// every signature covers).
	SHA256 string
}

// Card is what a role's new version changes, derived from bytes.
type Card struct {
	Role    string
	Version int64
	Expires time.Time
	Added   int
	Rotated int
	Removed int
	// Changes lists each changed project, sorted by name.
	Changes []Change
	// Digest is the hex SHA-256 over the canonical encoding of Changes.
	Digest string
}

// Change is one project's delegation before and after (nil for none).
type Change struct {
	Project string
	Before  *Delegation
	After   *Delegation
}

// Delegation is a project's keys (keyids, sorted), threshold and paths.
type Delegation struct {
	KeyIDs    []string
	Threshold int64
	Paths     []string
}
