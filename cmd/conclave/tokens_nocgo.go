//go:build !cgo

package main

import (
	"context"
	"errors"
)

// Without cgo there is no PKCS#11 backend (github.com/miekg/pkcs11 needs
// it): the command exists and says so, so that the binary still builds.
func init() {
	c := &command{
		name:    "tokens",
		summary: "list PKCS#11 modules, their slots and tokens, PIN state and the keys on each",
		usage:   "tokens [--module PATH]...",
	}
	c.run = func(ctx context.Context, env *environment, args []string) error {
		return withHint(errors.New("this conclave was built without cgo, so it has no PKCS#11 support"),
			"build it with CGO_ENABLED=1 (and gcc) to use HSMs")
	}
	register(c)
}
