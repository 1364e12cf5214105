//go:build cgo

package pkcs11

import (
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
)

// TUFKey returns the TUF key object (and so the keyid) of a key on a token,
// for enrolment records and listings.
func TUFKey(k hsm.KeyInfo) (*tuf.Key, error) {
	key, err := tuf.KeyFromPublic(k.Public)
	if err != nil {
		return nil, fmt.Errorf("key %q (id %s): %w", k.Label, hexID(k.ID), err)
	}
	return key, nil
}
