//go:build cgo

package signing

import (
	"fmt"
	"testing"

	"github.com/conclave-keys/conclave/hsm/yubikey"
)

// The YubiKey backend's own errors (it needs cgo).
func TestGoldenYubiKeyErrors(t *testing.T) {
	scene(t, "error-touch-timeout", newRoom(), failed(fmt.Errorf("sign targets as Bob with YubiKey 5 NFC, serial 23456789: %w", yubikey.ErrTouchTimeout)))
	scene(t, "error-card-busy", newRoom(), failed(fmt.Errorf("sign targets as Bob: holder Bob: %w", yubikey.ErrCardBusy)))
}
