//go:build !cgo

package main

import (
	"context"
	"errors"
)

// errNoPKCS11 is why a build without cgo lists no module:
// github.com/miekg/pkcs11 needs cgo.
var errNoPKCS11 = withHint(errors.New("this conclave was built without cgo, so it has no PKCS#11 support"),
	"build it with CGO_ENABLED=1 (and gcc) to use HSMs")

// listTokens fails: this build cannot reach PKCS#11 modules.
func listTokens(context.Context, tokensAllowList, []string) (*tokensReport, error) {
	return nil, errNoPKCS11
}
