//go:build !cgo

package main

import (
	"context"
	"errors"
)

// readYubikeys says that this build cannot reach YubiKeys: piv-go links
// libpcsclite through cgo.
func readYubikeys(ctx context.Context) (*yubikeysReport, error) {
	return nil, withHint(errors.New("this conclave was built without cgo, so it has no YubiKey support"),
		"build it with CGO_ENABLED=1 (and gcc) to use YubiKeys")
}
