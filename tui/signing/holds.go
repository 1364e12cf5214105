package signing

import "github.com/conclave-keys/conclave/ceremony/policy"

// Holds reports whether a present token is the one a holder's key names:
// the preflight's root-token check asks it of every root key, the roster
// of every key of the roles to sign.
func (p *Present) Holds(k policy.HolderKey) bool { return p.matches(k) }
