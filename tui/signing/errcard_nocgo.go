//go:build !cgo

package signing

import (
	"errors"

	"github.com/conclave-keys/conclave/hsm"
)

// Without cgo there is no YubiKey backend: a touch timeout can only be a
// token saying nobody is logged in, and no card can be busy.
func isTouchTimeout(err error) bool { return errors.Is(err, hsm.ErrNotLoggedIn) }

func isCardBusy(error) bool { return false }
