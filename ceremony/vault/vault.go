// Package vault is the ceremony's trusted state, kept on its own medium in a
// safe between ceremonies: the root history, the current metadata of every
// role Conclave signs, the policy with its holders (bound to the root by a
// root-threshold signature), what earlier imports remembered, the register
// of payloads ever built, and the logs of past ceremonies.
//
// The vault is trusted but must prove itself each time it is opened: Open
// verifies all of it. It is only read during a ceremony; closing one writes
// a new generation beside the old ones.
package vault

import (
	"time"

	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Reader reads one generation of a vault. Names are slash-separated and
// relative to the generation.
type Reader interface {
	ReadFile(name string) ([]byte, error)
	// ReadDir lists the names in a directory of the generation, sorted.
	ReadDir(name string) ([]string, error)
}

// File is one file of a generation.
type File struct {
	Name string
	Data []byte
}

// Vault is an opened, verified generation.
type Vault struct {
	// Generation names the generation opened; Hash is the hex SHA-256 of its
	// manifest, the value written on the paper log.
	Generation string
	Hash       string

	// Roots is the root history from version 1; Root is the last.
	Roots []*tuf.File
	Root  *tuf.File
	// Targets is the current top-level targets metadata.
	Targets *tuf.File
	// Delegators is the current metadata of each role ceremonies sign
	// (the delegating role, or each shard), by role name.
	Delegators map[string]*tuf.File

	// Policy is the bound policy, PolicyBytes the file it was read from.
	Policy      *policy.Policy
	PolicyBytes []byte

	// History is what earlier imports remembered.
	History *history.History
	// Register holds every payload ever built.
	Register Register
	// LastCeremony is the confirmed time of the last ceremony closed (zero
	// for a vault that held none); a new ceremony's clock must be later.
	LastCeremony time.Time
}

// Register maps role → version → the hex SHA-256 of the one payload
// built for it. A version built and never exported (an abandoned ceremony)
// stays registered: it is burned.
type Register map[string]map[int64]string
