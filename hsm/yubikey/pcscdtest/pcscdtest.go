//go:build cgo

// Package pcscdtest starts a private pcscd (package pcscd) for one test
// binary: [Main] is the TestMain of packages whose tests talk to virtual
// YubiKeys. The daemon itself lives in package pcscd, which the rehearsal
// uses too; this package keeps what only tests need, so that the conclave
// binary never links package testing.
package pcscdtest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/hsm/yubikey/pcscd"
)

// Daemon is a running private pcscd.
type Daemon = pcscd.Daemon

// Start and StartNamed start a private pcscd (see package pcscd).
var (
	Start      = pcscd.Start
	StartNamed = pcscd.StartNamed
)

// Main is TestMain for packages that need pcscd: it starts one with readers
// virtual readers, exports PCSCLITE_CSOCK_NAME, runs the tests and stops it.
// When pcscd cannot be started, the tests are skipped with the reason
// (*d is left nil and skip is set) — unless CI=true, where it fails.
func Main(m *testing.M, readers int, list func() ([]string, error), d **Daemon, skip *string) int {
	dm, err := pcscd.Start(readers)
	if err == nil {
		os.Setenv("PCSCLITE_CSOCK_NAME", dm.Socket)
		err = dm.WaitReaders(len(dm.Ports), list, 10*time.Second)
		if err != nil {
			dm.Stop()
		}
	}
	if err != nil {
		reason := fmt.Sprintf("cannot start a private pcscd with vsmartcard-vpcd: %v", err)
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL (CI=true, these tests must not be skipped):", reason)
			return 1
		}
		*skip = reason
		return m.Run()
	}
	*d = dm
	code := m.Run()
	dm.Stop()
	return code
}
