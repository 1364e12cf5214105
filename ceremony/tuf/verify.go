package tuf

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/conclave-keys/conclave/internal/parallel"
)

// Verification errors. Each failure wraps one of them, so callers (and
// auditors reading the output) can tell an expired file from a forged one.
var (
	ErrThreshold     = errors.New("not enough valid signatures")
	ErrExpired       = errors.New("metadata has expired")
	ErrVersion       = errors.New("unexpected version")
	ErrWrongType     = errors.New("wrong metadata type")
	ErrNotDelegated  = errors.New("role is not delegated")
	ErrKeyIDMismatch = errors.New("keyid does not match its key")
	ErrMissingKey    = errors.New("role lists a key that is not defined")
	// ErrNoTrustedRoot refuses a check against no root at all: a caller
	// whose trusted root failed must not go on as if it had one.
	ErrNoTrustedRoot = errors.New("there is no trusted root to check against")
)

// SigStatus says what became of one signature entry when counting: a
// short code, stable for machine reading; Sentence says it in words.
type SigStatus string

// The fates of a signature entry.
const (
	SigCounted      SigStatus = "counted"
	SigDuplicateKey SigStatus = "duplicate-key"
	SigUnknownKey   SigStatus = "unknown-key"
	SigBadSignature SigStatus = "bad-signature"
	SigMalformed    SigStatus = "malformed"
)

// Sentence says what became of the signature, for people.
func (s SigStatus) Sentence() string {
	switch s {
	case SigCounted:
		return "counted"
	case SigDuplicateKey:
		return "valid, but the same public key already counted under another keyid"
	case SigUnknownKey:
		return "ignored: keyid is not one of the role's keys"
	case SigBadSignature:
		return "ignored: signature does not verify"
	case SigMalformed:
		return "ignored: signature is not hex"
	}
	return string(s)
}

// SigCheck is the verdict on one signature entry.
type SigCheck struct {
	KeyID  string
	Status SigStatus
}

// ThresholdResult is the outcome of counting signatures for one role.
type ThresholdResult struct {
	Role      string
	Threshold int64
	// Signers are the keyids whose signatures counted, one per distinct
	// public key, sorted.
	Signers []string
	Checks  []SigCheck
	// MissingKeys are keyids the role lists but the delegator has no key for.
	MissingKeys []string
	// MismatchedKeyIDs are the role's keyids whose key hashes to another
	// keyid. Real repositories carry some; verification still counts them
	// (clients do), but Conclave never builds on them.
	MismatchedKeyIDs []string
}

// Met reports whether the threshold is reached (see Err for the whole verdict).
// A threshold below 1 is never met: Parse rejects one, and a role built in
// code with one must not verify with no signatures at all.
func (r *ThresholdResult) Met() bool {
	return r.Threshold >= 1 && int64(len(r.Signers)) >= r.Threshold
}

// Err is nil when the threshold is met and the role is well formed. A
// role listing a keyid its delegator does not define fails even when the
// threshold is met: go-tuf refuses such metadata outright, and what
// Conclave accepts must be what every client accepts.
func (r *ThresholdResult) Err() error {
	if len(r.MissingKeys) > 0 {
		return fmt.Errorf("%w: role %s lists keyid %s, which the delegating metadata does not define", ErrMissingKey, r.Role, r.MissingKeys[0])
	}
	if r.Met() {
		return nil
	}
	if r.Threshold < 1 {
		return fmt.Errorf("%w for role %s: threshold %d is below 1", ErrThreshold, r.Role, r.Threshold)
	}
	return fmt.Errorf("%w for role %s: %d of %d distinct keys signed", ErrThreshold, r.Role, len(r.Signers), r.Threshold)
}

// CountSignatures counts the signatures over signed made by the role's keys.
// The threshold counts distinct public keys (TUF §5.4 and the go-tuf v2
// rule): one key listed under two keyids counts once, and two signature
// entries by one key count once. Signatures by keys outside the role and
// signatures that do not verify are ignored, not fatal.
func CountSignatures(role string, signed []byte, sigs []Signature, keys map[string]*Key, keyids []string, threshold int64) *ThresholdResult {
	res := &ThresholdResult{Role: role, Threshold: threshold}
	inRole := make(map[string]bool, len(keyids))
	for _, id := range keyids {
		inRole[id] = true
		k, ok := keys[id]
		switch {
		case !ok:
			res.MissingKeys = append(res.MissingKeys, id)
		case k.ID() != id:
			res.MismatchedKeyIDs = append(res.MismatchedKeyIDs, id)
		}
	}
	// Each signature is checked on its own, so they are checked on all
	// cores: over a large role, hashing the signed bytes dominates. The
	// counting below stays in signature order.
	verdicts := make([]SigStatus, len(sigs))
	parallel.For(len(sigs), 1, func(i int) {
		s := sigs[i]
		key, ok := keys[s.KeyID]
		if !inRole[s.KeyID] || !ok {
			verdicts[i] = SigUnknownKey
		} else if raw, err := hex.DecodeString(s.Sig); err != nil {
			verdicts[i] = SigMalformed
		} else if key.Verify(signed, raw) != nil {
			verdicts[i] = SigBadSignature
		}
	})
	counted := make(map[string]bool) // by fingerprint
	for i, s := range sigs {
		check := SigCheck{KeyID: s.KeyID, Status: verdicts[i]}
		key := keys[s.KeyID]
		switch {
		case check.Status != "":
			// decided above: unknown key, malformed or bad signature
		case counted[key.Fingerprint()]:
			check.Status = SigDuplicateKey
		default:
			counted[key.Fingerprint()] = true
			res.Signers = append(res.Signers, s.KeyID)
			check.Status = SigCounted
		}
		res.Checks = append(res.Checks, check)
	}
	sort.Strings(res.Signers)
	return res
}

// VerifyRole counts the file's signatures against a role definition.
func (f *File) VerifyRole(role string, keys map[string]*Key, keyids []string, threshold int64) *ThresholdResult {
	return CountSignatures(role, f.signed, f.Signatures, keys, keyids, threshold)
}

// VerifyWithRoot checks a top-level file (root, targets, snapshot,
// timestamp) against trusted root metadata: the role's threshold of the
// root's keys for that role.
func (f *File) VerifyWithRoot(root *Root) (*ThresholdResult, error) {
	if root == nil {
		return nil, ErrNoTrustedRoot
	}
	rk := root.Roles[f.Type()]
	if rk == nil {
		return nil, fmt.Errorf("%w: root names no %s role", ErrNotDelegated, f.Type())
	}
	res := f.VerifyRole(f.Type(), root.Keys, rk.KeyIDs, rk.Threshold)
	return res, res.Err()
}

// RootUpdate is the outcome of checking a new root against the trusted one.
type RootUpdate struct {
	// ByTrusted counts the new root's signatures against the trusted
	// root's root role; BySelf against the new root's own.
	ByTrusted, BySelf *ThresholdResult
}

// VerifyRootUpdate checks that next may replace trusted (TUF §5.3.4–5.3.5):
// next is root metadata of version trusted+1, signed by a threshold of the
// trusted root's root keys and by a threshold of its own. Expiry is not
// checked here: only the final root of a chain must be unexpired (§5.3.10).
func VerifyRootUpdate(trusted *Root, next *File) (*RootUpdate, error) {
	if trusted == nil {
		return nil, ErrNoTrustedRoot
	}
	if next.Root == nil {
		return nil, fmt.Errorf("%w: expected root metadata, found %s", ErrWrongType, next.Type())
	}
	up := &RootUpdate{}
	old, own := trusted.Roles[TypeRoot], next.Root.Roles[TypeRoot]
	if old == nil || own == nil {
		return nil, fmt.Errorf("%w: both roots must define the root role", ErrNotDelegated)
	}
	up.ByTrusted = next.VerifyRole("root (keys of version "+versionString(trusted.Version)+")", trusted.Keys, old.KeyIDs, old.Threshold)
	up.BySelf = next.VerifyRole("root (its own keys)", next.Root.Keys, own.KeyIDs, own.Threshold)
	if err := up.ByTrusted.Err(); err != nil {
		return up, err
	}
	if err := up.BySelf.Err(); err != nil {
		return up, err
	}
	if next.Root.Version != trusted.Version+1 {
		return up, fmt.Errorf("%w: root version %d cannot follow version %d (expected %d)", ErrVersion, next.Root.Version, trusted.Version, trusted.Version+1)
	}
	return up, nil
}

// CheckExpiry reports ErrExpired when the file has expired at instant now.
// The clock is injected: auditors judge history at another instant.
func (f *File) CheckExpiry(now time.Time) error {
	x := f.Expires()
	if !now.Before(x.Time) {
		return fmt.Errorf("%w: %s metadata version %d expired at %s (checked at %s)", ErrExpired, f.Type(), f.Version(), x.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// Delegation finds the keys and threshold that targets delegates role to,
// listed in delegations.roles or as one of its succinct hash bins.
func (t *Targets) Delegation(role string) (keyids []string, threshold int64, ok bool) {
	if t.Delegations == nil {
		return nil, 0, false
	}
	for _, r := range t.Delegations.Roles {
		if r.Name == role {
			return r.KeyIDs, r.Threshold, true
		}
	}
	if s := t.Delegations.SuccinctRoles; s != nil && s.IsBin(role) {
		return s.KeyIDs, s.Threshold, true
	}
	return nil, 0, false
}

// VerifyDelegated checks a targets file for role against its delegator.
func (f *File) VerifyDelegated(delegator *Targets, role string) (*ThresholdResult, error) {
	if f.Targets == nil {
		return nil, fmt.Errorf("%w: delegated role %s must be targets metadata, found %s", ErrWrongType, role, f.Type())
	}
	keyids, threshold, ok := delegator.Delegation(role)
	if !ok {
		return nil, fmt.Errorf("%w: the delegator does not delegate a role named %s", ErrNotDelegated, quote(role))
	}
	res := f.VerifyRole(role, delegator.Delegations.Keys, keyids, threshold)
	return res, res.Err()
}

// KeyIDMismatches lists keyids in a key map whose key hashes to another
// keyid, sorted.
func KeyIDMismatches(keys map[string]*Key) []string {
	var out []string
	for id, k := range keys {
		if k.ID() != id {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
