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
	"fmt"
	"time"

	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Reader reads one generation of a vault. Names are slash-separated and
// relative to the generation.
type Reader interface {
	ReadFile(name string) ([]byte, error)
	// ReadDir lists the names in a directory of the generation ("" or "."
	// for its top), sorted; the name of a subdirectory ends in "/", so that
	// Open can walk the whole generation and find what the manifest does
	// not list.
	ReadDir(name string) ([]string, error)
}

// File is one file of a generation.
type File struct {
	Name string
	Data []byte
	// Link, when set, is the path of a file holding exactly Data that
	// is never changed (a ceremony's journal blob, named by its
	// SHA-256), which a writer on the same file system may hard-link
	// into the generation instead of writing Data a second time. The
	// generation's manifest lists Data's hash either way, and every open
	// checks the file against it.
	Link string
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
	// LastCeremonyID is that ceremony's id.
	LastCeremonyID string

	// Manifest is the generation's manifest (its number, the previous
	// generation's hash, the files).
	Manifest *Manifest
	// BindingSigners are the root keyids whose signatures on the binding
	// verified, sorted.
	BindingSigners []string

	// files holds every file of the generation but the manifest, by name;
	// manifest is the manifest's bytes.
	files    map[string][]byte
	manifest []byte
}

// Register maps role → version → the hex SHA-256 of the one payload
// built for it. A version built and never exported (an abandoned ceremony)
// stays registered: it is burned.
type Register map[string]map[int64]string

// The files of a generation (docs/formats/vault.md). Names are
// slash-separated and relative to the generation.
const (
	// ManifestFile lists every other file of the generation with its size
	// and SHA-256; its own SHA-256 is the generation hash.
	ManifestFile = "generation.json"
	// RootDir holds the root history, RootDir/N.root.json for N from 1.
	RootDir = "root"
	// MetadataDir holds targets.json and one file per signed role.
	MetadataDir = "metadata"
	// TargetsFile is the top-level targets metadata.
	TargetsFile = MetadataDir + "/targets.json"
	// PolicyFile is the policy, as bound.
	PolicyFile = "policy.yaml"
	// BindingFile is the envelope binding the policy to the root.
	BindingFile = "binding.json"
	// HistoryFile is what earlier imports remembered (package history).
	HistoryFile = "history.json"
	// RegisterFile is the register of payloads built.
	RegisterFile = "register.json"
	// CeremoniesDir holds the logs of past ceremonies, one directory per
	// ceremony id; the vault keeps them, hashed, without reading them.
	CeremoniesDir = "ceremonies"
)

// RootFile is the name of version v of the root in a generation.
func RootFile(v int64) string { return fmt.Sprintf("%s/%d.root.json", RootDir, v) }

// RoleFile is the name of a signed role's metadata in a generation.
func RoleFile(role string) string { return MetadataDir + "/" + role + ".json" }

// GenerationName is the directory name of generation n in a vault
// directory: "gen-000001" for the first. Six digits sort by name up to
// generation 999,999, one ceremony a day for over two thousand years.
func GenerationName(n int64) string { return fmt.Sprintf("gen-%06d", n) }

// OpenError is a refusal of Open: the file of the generation at fault
// (ManifestFile when the manifest itself, or what it lists, is wrong) and
// the reason.
type OpenError struct {
	File string
	Err  error
}

func (e *OpenError) Error() string { return "vault file " + e.File + ": " + e.Err.Error() }

func (e *OpenError) Unwrap() error { return e.Err }

func refuse(file string, err error) error { return &OpenError{File: file, Err: err} }

func refusef(file, format string, a ...any) error {
	return &OpenError{File: file, Err: fmt.Errorf(format, a...)}
}
