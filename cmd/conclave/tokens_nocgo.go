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

// pkcs11Support reports why this build cannot reach PKCS#11 modules.
func pkcs11Support() error { return errNoPKCS11 }

// listTokens lists every module as one that cannot be read.
func listTokens(ctx context.Context, allow tokensAllowList, extra []string) *tokensReport {
	report := &tokensReport{Format: tokensFormat, AllowList: allow, Modules: []tokensModule{}}
	for _, p := range append(allow.paths(), extra...) {
		report.Modules = append(report.Modules, tokensModule{Path: p, Slots: []tokensSlot{}, Error: errNoPKCS11.Error()})
	}
	return report
}
