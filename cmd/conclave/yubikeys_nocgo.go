//go:build !cgo

package main

import (
	"context"
	"errors"
)

// Without cgo there is no YubiKey backend (piv-go links libpcsclite): the
// command exists and says so, so that every build has the same commands.
var yubikeysCommand = &command{
	name:    "yubikeys",
	summary: "list YubiKeys: serial, firmware, PIN and PUK tries left, factory credentials, and the keys in their PIV slots",
	usage:   "yubikeys [--json]",
}

func init() {
	yubikeysCommand.run = runYubikeys
	register(yubikeysCommand)
}

// runYubikeys says that this build cannot reach YubiKeys.
func runYubikeys(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, yubikeysCommand)
	fs.Bool("json", false, "print a JSON report instead of text")
	if err := parseFlags(env, yubikeysCommand, fs, args); err != nil {
		return err
	}
	return withHint(errors.New("this conclave was built without cgo, so it has no YubiKey support"),
		"build it with CGO_ENABLED=1 (and gcc) to use YubiKeys")
}
