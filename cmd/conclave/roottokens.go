package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/signing"
)

// idRootTokens is the preflight result of the tokens in the room that
// hold a root key (docs/preflight.md).
const idRootTokens = "tokens.root"

// roomTokens lists the tokens present for the policy. The tests replace
// it: libpcsclite reads the daemon's socket once per process, so nothing
// may reach PC/SC before the tests' own pcscd is started.
var roomTokens = signing.ListTokens

// ceremonyPreflightIDs are the ids a policy's preflight.required may
// name: the machine's checks, and tokens.root, which a ceremony's
// preflight adds. Required, it stops a production ceremony while a root
// token is in the room.
func ceremonyPreflightIDs() []string {
	return append(slices.Clone(preflight.IDs), idRootTokens)
}

// rootTokensCheck lists the YubiKeys and the PKCS#11 tokens of the
// policy's modules present, and fails naming each that holds a root key
// per the policy's layout: a delegation ceremony never needs one, and a
// root token in the room is one a mistake or a malicious script could
// sign a root with. The listing reads serials and labels, asks for no PIN
// and holds no card open (the signing roster opens them later).
func rootTokensCheck(ctx context.Context, pol *policy.Policy, list signing.Lister) preflight.Result {
	present, err := list(ctx)
	return rootTokensResult(pol, present, err)
}

// rootTokensResult judges the tokens present against the policy: Fail
// naming the holder, the token and where it is for each root token;
// Info when no root token was seen but some tokens could not be listed
// (no pcscd, a module that would not load, a build without cgo), since
// the check cannot say the room is clear; Pass otherwise.
func rootTokensResult(pol *policy.Policy, present []signing.Present, listErr error) preflight.Result {
	res := preflight.Result{ID: idRootTokens, Title: "Tokens holding a root key"}
	if listErr != nil {
		res.Status = preflight.Info
		res.Message = "Could not list the tokens present (" + termtext.Safe(listErr.Error()) +
			"). Make sure by sight that no token holding a root key is in the room: a delegation ceremony never needs root keys."
		return res
	}
	var found, unread []string
	for i := range present {
		p := &present[i]
		if p.Serial == "" && p.Label == "" && p.Err != nil {
			unread = append(unread, termtext.Safe(p.Where))
			res.Details = append(res.Details, fmt.Sprintf("%s: could not be listed (%s)", termtext.Safe(p.Where), termtext.Safe(p.Err.Error())))
			continue
		}
		if h, k, ok := rootKeyOn(pol, p); ok {
			found = append(found, fmt.Sprintf("%s's %s (%s)", termtext.Safe(h.Name), termtext.Safe(policy.TokenOf(k)), termtext.Safe(p.Where)))
			res.Details = append(res.Details, fmt.Sprintf("%s: holds root key %s of %s", termtext.Safe(p.Where), k.KeyID, termtext.Safe(h.Name)))
		}
	}
	switch {
	case len(found) > 0:
		res.Status = preflight.Fail
		res.Message = "A token holding a root key is in the room: " + strings.Join(found, ", ") +
			". Take it out of the room: a delegation ceremony never needs root keys."
	case len(unread) > 0:
		res.Status = preflight.Info
		res.Message = "No token holding a root key was seen, but " + strings.Join(unread, ", ") +
			" could not be listed: make sure by sight that no token holding a root key is in the room."
	default:
		res.Status = preflight.Pass
		res.Message = "No token present holds a root key."
	}
	return res
}

// rootKeyOn finds the holder's root key, per the policy's layout, that
// the present token carries.
func rootKeyOn(pol *policy.Policy, p *signing.Present) (policy.Holder, policy.HolderKey, bool) {
	for _, h := range pol.Holders {
		for _, k := range h.Keys {
			if slices.Contains(pol.KeyRoles[k.KeyID], tuf.TypeRoot) && p.Holds(k) {
				return h, k, true
			}
		}
	}
	return policy.Holder{}, policy.HolderKey{}, false
}
