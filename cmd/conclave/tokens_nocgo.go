//go:build !cgo

package main

import (
	"context"
	"errors"
)

// Without cgo there is no PKCS#11 backend (github.com/miekg/pkcs11 needs
// it): the command exists and says so, so that the binary still builds.
var tokensCommand = &command{
	name:    "tokens",
	summary: "list PKCS#11 modules, their slots and tokens, PIN state and the keys on each, and whether the module allow-list allows each module",
	usage:   "tokens [--allow-list FILE] [--module PATH]... [--json]",
}

func init() {
	tokensCommand.run = runTokens
	register(tokensCommand)
}

// runTokens says that this build cannot reach PKCS#11 modules.
func runTokens(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, tokensCommand)
	var modules multiFlag
	fs.Var(&modules, "module", "also list this PKCS#11 library (absolute path), whether or not the allow-list names it; repeatable")
	fs.String("allow-list", "/etc/conclave/pkcs11-modules.sha256", `the module allow-list: one line per module, "SHA256  PATH" as sha256sum prints it`)
	fs.Bool("json", false, "print a JSON report instead of text")
	if err := parseFlags(env, tokensCommand, fs, args); err != nil {
		return err
	}
	return withHint(errors.New("this conclave was built without cgo, so it has no PKCS#11 support"),
		"build it with CGO_ENABLED=1 (and gcc) to use HSMs")
}
