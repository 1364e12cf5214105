//go:build cgo

package signing

import (
	"errors"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey"
)

// isTouchTimeout: a YubiKey's touch wait ran out; a PKCS#11 token that
// says nobody is logged in after a login may mean the same.
func isTouchTimeout(err error) bool {
	return errors.Is(err, yubikey.ErrTouchTimeout) || errors.Is(err, hsm.ErrNotLoggedIn)
}

// isCardBusy: another program holds the card (PC/SC sharing violation).
func isCardBusy(err error) bool { return errors.Is(err, yubikey.ErrCardBusy) }
