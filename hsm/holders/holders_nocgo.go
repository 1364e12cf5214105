//go:build !cgo

package holders

import (
	"context"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
)

// openYubiKey fails: piv-go needs cgo.
func openYubiKey(_ context.Context, holder policy.Holder, _ policy.HolderKey, _ *tuf.Key, _ hsm.Prompts) (*openedKey, error) {
	return nil, fmt.Errorf("holder %s: this conclave was built without cgo, so it cannot reach YubiKeys", holder.Name)
}

// openPKCS11 fails: github.com/miekg/pkcs11 needs cgo.
func openPKCS11(_ context.Context, holder policy.Holder, _ policy.HolderKey, _ *tuf.Key, _ *policy.Policy, _ hsm.Prompts) (*openedKey, error) {
	return nil, fmt.Errorf("holder %s: this conclave was built without cgo, so it has no PKCS#11 support", holder.Name)
}
