//go:build !cgo

package main

import (
	"context"
	"errors"

	"github.com/conclave-keys/conclave/ceremony/enrolment"
)

// errEnrollNoCgo: token work needs cgo (piv-go links libpcsclite,
// miekg/pkcs11 loads the module).
var errEnrollNoCgo = withHint(errors.New("this conclave was built without cgo, so it cannot reach YubiKeys or PKCS#11 tokens"),
	"build it with CGO_ENABLED=1 (and gcc) to enrol a token")

func runEnrollYubikey(context.Context, *environment, []string) error { return errEnrollNoCgo }

func runEnrollPKCS11(context.Context, *environment, []string) error { return errEnrollNoCgo }

// enrolmentAttestationChecker is nil without cgo: YubiKey attestation is
// checked by the YubiKey backend, which this build lacks, and records say
// so ("not checked"); a policy requiring attestation then refuses them.
func enrolmentAttestationChecker(rootsDir string) (enrolment.AttestationChecker, error) {
	if rootsDir != "" {
		return nil, errEnrollNoCgo
	}
	return nil, nil
}
