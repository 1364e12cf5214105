package session

import "github.com/conclave-keys/conclave/ceremony/partial"

// DecisionsSHA256 is the hash an adopted line records of the decisions a
// site took from the partial (decisionsHash): an auditor recomputes it
// from the first site's own decisions to check the sites decided alike.
func DecisionsSHA256(ds []partial.Decision) string { return decisionsHash(ds) }
