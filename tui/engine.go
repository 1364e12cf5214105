package tui

import (
	"context"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/tui/closing"
)

// Engine is the ceremony the program walks through: the session, and the
// steps that touch the machine (the checks, the bundle on the medium, the
// export, the vault), which the program shares with the headless driver
// (conclave ceremony --script). The program calls it only from commands,
// one call at a time, never from Update.
type Engine interface {
	// CeremonyID names the ceremony; Journal is its log's directory.
	CeremonyID() string
	Journal() string
	// Vault is the vault generation the ceremony works on.
	Vault() *vault.Vault
	// Session is the ceremony; nil until Start for a new one.
	Session() *session.Session
	// Start opens a new ceremony's log with the people named (the
	// program's version and hash are filled in).
	Start(o session.Opening) error
	// Checks runs the machine's air-gap checks, as a report for people and
	// as the session records them.
	Checks() (*preflight.Report, []session.Check)
	// Import reads the bundle from the medium and has the session judge
	// it; a refused bundle is a *verdict.BundleError.
	Import() error
	// Export writes the signed files, reads them back, verifies them and
	// records their hashes.
	Export(ctx context.Context) ([]closing.File, error)
	// Finish closes an exported ceremony, writes the vault's next
	// generation after it ended (closed or abandoned), reads it back, and
	// says what it left.
	Finish(ctx context.Context) (*closing.Summary, error)
	// Resume is the command that continues the ceremony, for the quit
	// dialog.
	Resume() string
}
