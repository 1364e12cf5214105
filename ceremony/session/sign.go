package session

import (
	"context"
	"crypto"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Tokens reaches the holders' keys. The implementation asks for the
// holder's token, and checks that the token inserted is the one enrolled
// for the key (serial, slot, URI, public key) BEFORE any PIN is asked, so
// that a wrong token costs no PIN try. Every error is taken as one the
// holder can retry (a token pulled out, a PIN mistyped): nothing is
// recorded and the ceremony stays as it was.
type Tokens interface {
	Signer(ctx context.Context, holder policy.Holder, key policy.HolderKey) (Signer, error)
}

// Signer is one holder's key on its token.
type Signer interface {
	crypto.Signer
	// Describe names the token for the log ("YubiKey 5 NFC, serial
	// 12345678"): never a PIN.
	Describe() string
	// PINTriesLeft is what the token says about the PIN tries left, -1
	// when it does not say.
	PINTriesLeft() int
}

// SignAs has one holder sign every built payload whose delegation lists
// one of the holder's keys and that the holder has not signed yet: one
// signature per payload, with the first of the holder's enrolled keys the
// delegation lists (a holder is one vote however many keys). Each
// signature is verified against the enrolled key at once and recorded
// before it is added. It returns the roles signed now; a holder who has
// signed everything is not asked again.
func (s *Session) SignAs(ctx context.Context, holderName string) ([]string, error) {
	if err := s.need("sign", StateBuild, StateSign); err != nil {
		return nil, err
	}
	if s.site != nil && !s.site.merged {
		return nil, fmt.Errorf("sign as %s: %w", holderName, ErrNotMerged)
	}
	h, ok := s.holder(holderName)
	if !ok {
		return nil, fmt.Errorf("sign as %q: %w", holderName, ErrNotHolder)
	}
	type job struct {
		p   *payload
		key policy.HolderKey
	}
	var jobs []job
	listed := false
	for _, p := range s.built.payloads {
		k, ok := holderKeyFor(h, p)
		if !ok {
			continue
		}
		listed = true
		if _, done := p.signed[h.Name]; !done {
			jobs = append(jobs, job{p, k})
		}
	}
	if !listed {
		return nil, fmt.Errorf("sign as %s: %w: no role built lists their keys", holderName, ErrNotHolder)
	}
	signers := map[string]Signer{}
	var roles []string
	for _, j := range jobs {
		signer := signers[j.key.KeyID]
		if signer == nil {
			var err error
			if signer, err = s.d.Tokens.Signer(ctx, *h, j.key); err != nil {
				return roles, fmt.Errorf("sign %s as %s: %w", j.p.Role, holderName, err)
			}
			signers[j.key.KeyID] = signer
		}
		key := j.p.keys[j.key.KeyID]
		if key == nil {
			return roles, fmt.Errorf("sign %s as %s: the delegation lists key %s without defining it", j.p.Role, holderName, j.key.KeyID)
		}
		before := signer.PINTriesLeft()
		// Checked once, by the step (stepSigned), which verifies the
		// signature over the payload's bytes before the line is appended,
		// live and on replay.
		sig, err := tuf.SignMessageUnverified(signer, key, j.p.File.SignedBytes())
		if err != nil {
			return roles, fmt.Errorf("sign %s as %s with %s: %w", j.p.Role, holderName, signer.Describe(), err)
		}
		ev := &Signed{
			Role:           j.p.Role,
			Version:        j.p.Version,
			Holder:         h.Name,
			KeyID:          j.key.KeyID,
			Token:          signer.Describe(),
			PINTriesBefore: before,
			PINTriesAfter:  signer.PINTriesLeft(),
			Signature:      hex.EncodeToString(sig),
		}
		if err := s.commit(ev); err != nil {
			return roles, fmt.Errorf("sign %s as %s: %w", j.p.Role, holderName, err)
		}
		roles = append(roles, j.p.Role)
	}
	return roles, nil
}

// holder finds a holder of the policy by name.
func (s *Session) holder(name string) (*policy.Holder, bool) {
	for i := range s.d.Vault.Policy.Holders {
		if h := &s.d.Vault.Policy.Holders[i]; h.Name == name {
			return h, true
		}
	}
	return nil, false
}

// holderKeyFor is the first of the holder's keys that the payload's
// delegation lists.
func holderKeyFor(h *policy.Holder, p *payload) (policy.HolderKey, bool) {
	for _, k := range h.Keys {
		if slices.Contains(p.keyids, k.KeyID) {
			return k, true
		}
	}
	return policy.HolderKey{}, false
}

func (s *Session) stepSigned(e *Signed) (func(), error) {
	if err := s.need("sign", StateBuild, StateSign); err != nil {
		return nil, err
	}
	if s.site != nil && !s.site.merged {
		return nil, ErrNotMerged
	}
	p := s.built.byRole[e.Role]
	if p == nil || p.Version != e.Version {
		return nil, fmt.Errorf("no payload was built for %s version %d", e.Role, e.Version)
	}
	if err := s.checkSignature(p, e.Holder, e.KeyID, e.Signature); err != nil {
		return nil, err
	}
	return func() {
		p.File.Signatures = append(p.File.Signatures, tuf.Signature{KeyID: e.KeyID, Sig: e.Signature})
		p.signed[e.Holder] = e.KeyID
		s.state = StateSign
	}, nil
}

// checkSignature checks one holder's signature over a payload, before
// it is added: the key is the holder's, the payload's delegation lists
// it, neither the holder nor the key has signed the payload yet, and the
// signature (lowercase hex) verifies over the payload's bytes.
func (s *Session) checkSignature(p *payload, holder, keyid, signature string) error {
	h, ok := s.holder(holder)
	if !ok {
		return fmt.Errorf("%q: %w", holder, ErrNotHolder)
	}
	mine := slices.ContainsFunc(h.Keys, func(k policy.HolderKey) bool { return k.KeyID == keyid })
	if !mine || !slices.Contains(p.keyids, keyid) {
		return fmt.Errorf("key %s is not one of %s's keys that %s's delegation lists", keyid, holder, p.Role)
	}
	if _, done := p.signed[holder]; done {
		return fmt.Errorf("%s has already signed %s version %d", holder, p.Role, p.Version)
	}
	key := p.keys[keyid]
	if key == nil || key.ID() != keyid {
		return fmt.Errorf("the delegation of %s lists key %s under another keyid, or does not define it", p.Role, keyid)
	}
	for _, sig := range p.File.Signatures {
		if sig.KeyID == keyid {
			return fmt.Errorf("key %s has already signed %s version %d", keyid, p.Role, p.Version)
		}
	}
	raw, err := hex.DecodeString(signature)
	if err != nil || hex.EncodeToString(raw) != signature {
		return fmt.Errorf("the signature of %s by %s is not lowercase hex", p.Role, holder)
	}
	if err := key.Verify(p.File.SignedBytes(), raw); err != nil {
		return fmt.Errorf("the signature of %s version %d by %s (key %s) does not verify: %w", p.Role, p.Version, holder, keyid, err)
	}
	return nil
}

// Progress is how far one role's signing is: the holders who signed, of
// those whose keys its delegation lists, against its threshold.
type Progress struct {
	Role      string
	Version   int64
	Signed    []string // holder names, sorted
	Holders   []string // every holder the delegation lists, sorted
	Threshold int64
}

// Complete reports whether the signatures meet the threshold: one vote
// per holder, however many of their keys the delegation lists.
func (p Progress) Complete() bool { return int64(len(p.Signed)) >= p.Threshold }

// String is what the room is shown: "claimed: 2 of 3 holders signed,
// threshold 2 met".
func (p Progress) String() string {
	met := "met"
	if !p.Complete() {
		met = "not met"
	}
	return fmt.Sprintf("%s: %d of %d holders signed, threshold %d %s", p.Role, len(p.Signed), len(p.Holders), p.Threshold, met)
}

// Progress returns the signing progress of each built role, by role.
func (s *Session) Progress() []Progress {
	if s.built == nil {
		return nil
	}
	out := make([]Progress, 0, len(s.built.payloads))
	for _, p := range s.built.payloads {
		pr := Progress{Role: p.Role, Version: p.Version, Threshold: p.threshold, Signed: []string{}, Holders: []string{}}
		for h := range p.signed {
			pr.Signed = append(pr.Signed, h)
		}
		for i := range s.d.Vault.Policy.Holders {
			h := &s.d.Vault.Policy.Holders[i]
			if _, ok := holderKeyFor(h, p); ok {
				pr.Holders = append(pr.Holders, h.Name)
			}
		}
		sort.Strings(pr.Signed)
		sort.Strings(pr.Holders)
		out = append(out, pr)
	}
	return out
}
