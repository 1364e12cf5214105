//go:build !cgo

package main

import (
	"context"
	"errors"
)

// errNoRehearsal is why a build without cgo cannot rehearse: the virtual
// YubiKeys are reached through libpcsclite and SoftHSM through PKCS#11,
// both C libraries.
var errNoRehearsal = withHint(errors.New("this conclave was built without cgo, so it cannot reach the rehearsal's virtual YubiKeys and SoftHSM"),
	"build it with CGO_ENABLED=1 (and gcc, pkg-config, libpcsclite-dev) to rehearse")

func checkRehearsalSoftware() error { return errNoRehearsal }

func rehearse(context.Context, *environment, string, int, bool) error { return errNoRehearsal }
