package session

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// buildResult is the build: one payload per changed role, by role.
type buildResult struct {
	payloads []*payload
	byRole   map[string]*payload
	cards    []*build.Card
	digest   string
	approved int
}

// payload is one built role, the delegation that says who signs it, and
// the holders who did.
type payload struct {
	*build.Payload
	card      *build.Card
	expires   time.Time
	keyids    []string
	threshold int64
	keys      map[string]*tuf.Key
	signed    map[string]string // holder name → keyid
}

// UndecidedError refuses a build while valid requests are undecided. It
// wraps ErrUndecided.
type UndecidedError struct {
	NeedsJudgement, RuleApprovable int
}

func (e *UndecidedError) Error() string {
	return fmt.Sprintf("%d requests needing judgement and %d rule-approvable ones are undecided; decide each (defer what cannot be decided today)", e.NeedsJudgement, e.RuleApprovable)
}

func (e *UndecidedError) Unwrap() error { return ErrUndecided }

// RegisteredError refuses a payload for a (role, version) the vault's
// register holds with another payload. It wraps ErrPayloadRegistered.
type RegisteredError struct {
	Role       string
	Version    int64
	Registered string
	Built      string
}

func (e *RegisteredError) Error() string {
	return fmt.Sprintf("%s version %d: the register holds payload %s, this build made %s; a version is signed with one payload only, ever", e.Role, e.Version, e.Registered, e.Built)
}

func (e *RegisteredError) Unwrap() error { return ErrPayloadRegistered }

// Build applies the approved requests to the vault's current metadata and
// makes the next version of each changed role, then registers each
// payload (its signed part kept as a blob, its hash and summary card in
// the built event) before any signature. Every valid request must be
// decided first. Versions follow the highest of the current version and
// every version the register holds, burned ones included; expiry is the
// confirmed time plus the policy's period for the role.
func (s *Session) Build() error {
	if err := s.need("build", StateReview); err != nil {
		return err
	}
	if nj, ra := s.Undecided(); nj+ra > 0 {
		return &UndecidedError{NeedsJudgement: nj, RuleApprovable: ra}
	}
	res, err := s.deriveBuild(nil)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	ev := &Built{Payloads: []BuiltPayload{}, Digest: res.digest, Approved: res.approved}
	for _, p := range res.payloads {
		sum, err := s.d.Blobs.Put(p.File.SignedBytes())
		if err != nil {
			return fmt.Errorf("build: keep the %s payload: %w", p.Role, err)
		}
		if sum != p.SHA256 {
			return fmt.Errorf("build: the %s payload was kept as %s, its hash is %s", p.Role, sum, p.SHA256)
		}
		ev.Payloads = append(ev.Payloads, BuiltPayload{
			Role:          p.Role,
			Version:       p.Version,
			PayloadSHA256: p.SHA256,
			Expires:       p.expires.Format(time.RFC3339),
			CardDigest:    p.card.Digest,
			Added:         p.card.Added,
			Rotated:       p.card.Rotated,
			Removed:       p.card.Removed,
		})
	}
	s.derivedBuild = res
	if err := s.commit(ev); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return nil
}

// deriveBuild builds from the approvals. The same log and vault give the
// same bytes: build.Build is deterministic whatever the order of its
// input. logged holds the versions a built event gave the roles: a replay
// builds those versions again, never the next ones, so that no version is
// bumped twice whatever the register says now.
func (s *Session) deriveBuild(logged map[string]int64) (*buildResult, error) {
	v := s.d.Vault
	p := v.Policy
	roles := p.SignedRoles()
	in := build.Input{
		Current:      map[string]*tuf.File{},
		Keys:         map[string]*tuf.Key{},
		Versions:     map[string]int64{},
		PathTemplate: p.Rules.PathTemplate,
		RoleNames:    p.Rules.RoleNames(),
		RoleFor:      p.ShardFor,
	}
	expires := map[string]time.Time{}
	for _, role := range roles {
		cur := v.Delegators[role]
		if cur == nil {
			return nil, fmt.Errorf("the vault holds no metadata for %s", role)
		}
		in.Current[role] = cur
		in.Versions[role] = nextVersion(cur.Version(), v.Register[role])
		if n, ok := logged[role]; ok {
			in.Versions[role] = n
		}
		expires[role] = tuf.NewExpiry(s.CeremonyTime().Add(p.Expiry(role).Expiry)).Time
	}
	res := &buildResult{byRole: map[string]*payload{}}
	for id, d := range s.decisions {
		if d.Decision != Approve {
			continue
		}
		i := s.imp.byID[id]
		in.Approved = append(in.Approved, s.imp.verdicts[i])
		if r := s.imp.bundle.Items[i].Request; r != nil {
			for _, e := range r.Keys {
				if e.Key != nil {
					in.Keys[e.Key.ID()] = e.Key
				}
			}
		}
		res.approved++
	}
	// One build gives every role one expiry: the roles a policy signs
	// share their period unless it says otherwise, and then each role is
	// built on its own.
	built, err := s.buildByExpiry(in, expires)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, b := range built {
		reg, ok := v.Register[b.Role][b.Version]
		if ok && reg != b.SHA256 {
			return nil, &RegisteredError{Role: b.Role, Version: b.Version, Registered: reg, Built: b.SHA256}
		}
		// Summarize parses the built file from its bytes (and the
		// vault's, unless its values are still exactly its bytes): the
		// card says what the bytes say. The same bytes parsed already
		// (Deps.Parsed) are the same values.
		next := b.File
		if s.d.Parsed != nil {
			if f := s.d.Parsed(b.SHA256); f != nil && bytes.Equal(f.SignedBytes(), b.File.SignedBytes()) {
				next = f
			}
		}
		card, err := build.Summarize(b.Role, v.Delegators[b.Role], next)
		if err != nil {
			return nil, err
		}
		pl := &payload{Payload: b, card: card, expires: expires[b.Role], signed: map[string]string{}}
		if err := s.delegationOf(pl); err != nil {
			return nil, err
		}
		res.payloads = append(res.payloads, pl)
		res.byRole[b.Role] = pl
		res.cards = append(res.cards, card)
		sums[b.Role] = b.SHA256
	}
	sort.Slice(res.payloads, func(i, j int) bool { return res.payloads[i].Role < res.payloads[j].Role })
	res.digest = build.Digest(res.cards, sums)
	return res, nil
}

// buildByExpiry calls build.Build once per distinct expiry among the
// roles, each time with the current metadata of the roles that share it.
func (s *Session) buildByExpiry(in build.Input, expires map[string]time.Time) ([]*build.Payload, error) {
	groups := map[time.Time][]string{}
	for role, t := range expires {
		groups[t] = append(groups[t], role)
	}
	var out []*build.Payload
	for t, roles := range groups {
		part := in
		part.Expires = t
		if len(groups) > 1 {
			part.Current = map[string]*tuf.File{}
			part.Approved = nil
			for _, r := range roles {
				part.Current[r] = in.Current[r]
			}
			for _, v := range in.Approved {
				if _, mine := part.Current[in.RoleFor(v.Project)]; mine {
					part.Approved = append(part.Approved, v)
				}
			}
		}
		built, err := build.Build(part)
		if err != nil {
			return nil, err
		}
		out = append(out, built...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	return out, nil
}

// nextVersion is one more than the current version and than every
// version registered: a burned version is never used again.
func nextVersion(current int64, registered map[int64]string) int64 {
	n := current
	for v := range registered {
		n = max(n, v)
	}
	return n + 1
}

// delegationOf finds who signs a role: its entry in the top-level targets'
// delegations.
func (s *Session) delegationOf(p *payload) error {
	t := s.d.Vault.Targets
	if t == nil || t.Targets == nil || t.Targets.Delegations == nil {
		return fmt.Errorf("the vault's targets metadata delegates nothing, so nobody signs %s", p.Role)
	}
	for _, r := range t.Targets.Delegations.Roles {
		if r.Name == p.Role {
			p.keyids, p.threshold, p.keys = r.KeyIDs, r.Threshold, t.Targets.Delegations.Keys
			return nil
		}
	}
	return fmt.Errorf("the vault's targets metadata does not delegate %s", p.Role)
}

func (s *Session) stepBuilt(e *Built) (func(), error) {
	if err := s.need("build", StateReview); err != nil {
		return nil, err
	}
	if nj, ra := s.Undecided(); nj+ra > 0 {
		return nil, &UndecidedError{NeedsJudgement: nj, RuleApprovable: ra}
	}
	res := s.derivedBuild
	if res == nil {
		logged := map[string]int64{}
		for _, p := range e.Payloads {
			logged[p.Role] = p.Version
		}
		var err error
		if res, err = s.deriveBuild(logged); err != nil {
			return nil, err
		}
	}
	if len(res.payloads) != len(e.Payloads) || res.digest != e.Digest || res.approved != e.Approved {
		return nil, fmt.Errorf("%w: the build made %d payloads with digest %s from %d approvals; the log registered %d with digest %s from %d",
			ErrPayloadMismatch, len(res.payloads), res.digest, res.approved, len(e.Payloads), e.Digest, e.Approved)
	}
	for i, p := range res.payloads {
		want := e.Payloads[i]
		if p.Role != want.Role || p.Version != want.Version || p.SHA256 != want.PayloadSHA256 || p.card.Digest != want.CardDigest ||
			p.expires.Format(time.RFC3339) != want.Expires || p.card.Added != want.Added || p.card.Rotated != want.Rotated || p.card.Removed != want.Removed {
			return nil, fmt.Errorf("%w: %s version %d payload %s, the log registered %s version %d payload %s",
				ErrPayloadMismatch, p.Role, p.Version, p.SHA256, want.Role, want.Version, want.PayloadSHA256)
		}
	}
	if err := s.checkRebuilt(res); err != nil {
		return nil, err
	}
	return func() {
		s.built = res
		s.derivedBuild = nil
		s.state = StateBuild
	}, nil
}

// Cards are the summary cards of the build, by role, and the digest over
// them that the holders compare with a second machine's.
func (s *Session) Cards() ([]*build.Card, string) {
	if s.built == nil {
		return nil, ""
	}
	return s.built.cards, s.built.digest
}
