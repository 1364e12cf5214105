package rehearsal

import (
	"context"
	"crypto"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/conclave-keys/conclave/intake"
)

// The generated repository's names.
const (
	// Repository is the rehearsal repository's name: a bundle's source.
	Repository = "rehearsal.invalid"
	// DelegatingRole is the role the rehearsal's ceremony signs.
	DelegatingRole = "claimed"
	// PathTemplate gives each project its own top-level directory.
	PathTemplate = "{name}/*"
	// Threshold is the holders' threshold for root, targets and claimed.
	Threshold = 2
)

// HolderSigner is a holder's key and a signer for it (a token's).
type HolderSigner struct {
	Name   string
	Key    *tuf.Key
	Signer crypto.Signer
}

// Genesis is the existing repository a rehearsal adopts: root version 1,
// the top-level targets delegating claimed to the holders, and claimed
// version 1 delegating the existing projects, each signed by every holder
// (all were in the room when the repository was made).
type Genesis struct {
	Root, Targets, Claimed *tuf.File
	// Projects are the existing projects, with their developers' keys:
	// the generated rotations and removals are authorised by them.
	Projects []*devProject
}

// devProject is a project and its developers' software keys (thrown away).
type devProject struct {
	name      string
	keys      []intake.Signer
	threshold int64
	role      *tuf.DelegatedRole // in claimed version 1
}

// makeGenesis builds and signs the existing repository. Root and claimed
// are held by the same three holders' keys: a rehearsal has one set of
// tokens; a real repository may give root its own holders. Snapshot and
// timestamp, which Conclave never signs, go to an online key made here
// and thrown away.
func makeGenesis(ctx context.Context, holders []HolderSigner, existing int, now time.Time) (*Genesis, error) {
	online, err := devKey(hsm.Ed25519)
	if err != nil {
		return nil, fmt.Errorf("generate the rehearsal's online key: %w", err)
	}
	keys := map[string]*tuf.Key{}
	var ids []string
	for _, h := range holders {
		keys[h.Key.ID()] = h.Key
		ids = append(ids, h.Key.ID())
	}
	root := &tuf.Root{Keys: map[string]*tuf.Key{online.Key.ID(): online.Key}, Roles: map[string]*tuf.RoleKeys{}}
	for id, k := range keys {
		root.Keys[id] = k
	}
	consistent := true
	root.ConsistentSnapshot = &consistent
	root.Version, root.Expires = 1, tuf.NewExpiry(now.AddDate(1, 0, 0))
	root.Roles[tuf.TypeRoot] = &tuf.RoleKeys{KeyIDs: ids, Threshold: Threshold}
	root.Roles[tuf.TypeTargets] = &tuf.RoleKeys{KeyIDs: ids, Threshold: Threshold}
	root.Roles[tuf.TypeSnapshot] = &tuf.RoleKeys{KeyIDs: []string{online.Key.ID()}, Threshold: 1}
	root.Roles[tuf.TypeTimestamp] = &tuf.RoleKeys{KeyIDs: []string{online.Key.ID()}, Threshold: 1}
	// The mark in root's signed part makes everything trusted through it
	// a rehearsal's: verify says so, and a vault opens it only under a
	// rehearsal policy, which a production ceremony refuses.
	root.MarkRehearsal(tuf.RehearsalNotice)

	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 1, tuf.NewExpiry(now.AddDate(1, 0, 0))
	top.Delegations = &tuf.Delegations{Keys: keys, Roles: []*tuf.DelegatedRole{{
		Name: DelegatingRole, KeyIDs: ids, Threshold: Threshold, Paths: []string{"*/*"},
	}}}

	g := &Genesis{}
	projects := make([]delegation.Project, existing)
	for i := range existing {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := &devProject{name: fmt.Sprintf("existing-project-%04d", i+1), threshold: int64(1 + i%2)}
		for range 2 {
			k, err := devKey(hsm.Ed25519)
			if err != nil {
				return nil, err
			}
			p.keys = append(p.keys, k)
		}
		projects[i] = delegation.Project{Name: p.name, Keys: signerKeys(p.keys), Threshold: p.threshold}
		g.Projects = append(g.Projects, p)
	}
	claimed, err := delegation.Build(projects, PathTemplate, []string{DelegatingRole}, 1, now.AddDate(0, 0, 90))
	if err != nil {
		return nil, fmt.Errorf("build claimed version 1: %w", err)
	}
	for _, p := range g.Projects {
		for _, r := range claimed.Delegations.Roles {
			if r.Name == p.name {
				p.role = r
			}
		}
	}
	if g.Root, err = tuf.NewRootFile(root); err != nil {
		return nil, err
	}
	if g.Targets, err = tuf.NewTargetsFile(top); err != nil {
		return nil, err
	}
	if g.Claimed, err = tuf.NewTargetsFile(claimed); err != nil {
		return nil, err
	}
	for _, h := range holders {
		for _, f := range []struct {
			file *tuf.File
			keys map[string]*tuf.Key
		}{{g.Root, root.Keys}, {g.Targets, root.Keys}, {g.Claimed, keys}} {
			if err := f.file.Sign(f.keys, h.Key.ID(), h.Signer); err != nil {
				return nil, fmt.Errorf("%s signs the rehearsal's %s version 1: %w", h.Name, f.file.Type(), err)
			}
		}
	}
	return g, nil
}

// devKey makes a throwaway software key: the rehearsal's developer,
// online and intake keys, generated in memory and never written.
func devKey(alg hsm.Algorithm) (intake.Signer, error) {
	s, err := softkey.Generate(alg)
	if err != nil {
		return intake.Signer{}, err
	}
	return intake.NewSigner(s)
}

func signerKeys(ss []intake.Signer) []*tuf.Key {
	out := make([]*tuf.Key, len(ss))
	for i, s := range ss {
		out[i] = s.Key
	}
	return out
}

// Expect is what the import must find in a generated request.
type Expect struct {
	Class verdict.Class
	// Code is the finding that decides the class: the error of an
	// invalid request, the warning of one that needs judgement; empty
	// for a rule-approvable one.
	Code verdict.Code
	// Approve is the rehearsal's decision on a request that needs
	// judgement; Reason says why, for the log.
	Approve bool
	Reason  string
	// Kind, Project and Keyset are what the request asks: the project's
	// new keys and threshold (none for a removal).
	Kind    request.Kind
	Project string
	Keyset  request.Keyset
}

// Approved reports whether the rehearsal's ceremony approves the request.
func (e Expect) Approved() bool {
	return e.Class == verdict.RuleApprovable || e.Class == verdict.NeedsJudgement && e.Approve
}

// Bundle is a generated bundle and what each of its requests should be.
type Bundle struct {
	ID     string
	Intake intake.Signer
	Pack   *intake.Pack
	// Expect maps request id → what the import must find.
	Expect map[string]Expect
	// keys are the public keys of every request and of claimed version
	// 1, by keyid.
	keys map[string]*tuf.Key
	// History is what earlier imports would have remembered: the
	// published keysets of most adds (a month old, so they are
	// rule-approvable) and when the seasoned recoveries were first seen.
	History *history.History
}

// Counts returns how many requests the import must find in each class.
func (b *Bundle) Counts() map[verdict.Class]int {
	c := map[verdict.Class]int{}
	for _, e := range b.Expect {
		c[e.Class]++
	}
	return c
}

// MinRequests is the smallest bundle that shows every kind of request.
const MinRequests = 20

// mix is how a bundle of n requests is made up: a realistic share of
// invalid requests (about one in ten) and of requests that need a
// person's judgement, the rest rule-approvable adds.
type mix struct {
	rotations, removals, noDwell, seasonedRecoveries, freshRecoveries int
	invalidEach                                                       int // of each invalid kind
	adds                                                              int
}

// invalidKinds are the ways the generated requests are wrong, each
// refused by import with its own code.
var invalidKinds = []verdict.Code{
	verdict.TakeoverAdd, verdict.PossessionInvalid, verdict.PossessionBase,
	verdict.KeyChangeBelow, verdict.NotDelegated, verdict.DuplicateProject,
}

func mixFor(n int) mix {
	m := mix{
		rotations:          max(1, n/50),
		removals:           max(1, n/200),
		noDwell:            max(2, n/50),
		seasonedRecoveries: max(1, n/400),
		freshRecoveries:    max(1, n/400),
		invalidEach:        max(1, n/60),
	}
	// A duplicate project is two requests.
	used := m.rotations + m.removals + m.noDwell + m.seasonedRecoveries + m.freshRecoveries + m.invalidEach*(len(invalidKinds)+1)
	m.adds = n - used
	return m
}

// existingFor is how many projects claimed version 1 delegates: enough
// for every rotation, removal, recovery and below-threshold authorisation
// to touch a project of its own.
// Half of them have threshold 2 (the below-threshold authorisations skip
// the others), hence twice the count, and a few spare.
func existingFor(m mix) int {
	return 4 + 2*(m.rotations+m.removals+m.seasonedRecoveries+m.freshRecoveries+2*m.invalidEach)
}

// recoveryAge is how long before the ceremony the seasoned recoveries
// were first seen: past the policy's notice period.
const recoveryAge = 21 * 24 * time.Hour

// publishedAge is how long before the ceremony the repository first
// published the keys of the rule-approvable adds.
const publishedAge = 30 * 24 * time.Hour

// makeBundle writes nothing: it generates n requests against g, signed
// with throwaway developer keys, packed for the intake key in.
func makeBundle(ctx context.Context, g *Genesis, in intake.Signer, n int, now time.Time, rng *rand.Rand) (*Bundle, error) {
	if n < MinRequests {
		return nil, fmt.Errorf("a rehearsal needs at least %d requests, to show every kind, not %d", MinRequests, n)
	}
	m := mixFor(n)
	b := &Bundle{
		ID:     fmt.Sprintf("rehearsal-%s", now.UTC().Format("20060102T150405Z")),
		Intake: in,
		Expect: map[string]Expect{},
		keys:   maps.Clone(g.Claimed.Targets.Delegations.Keys),
		History: &history.History{
			Bundles:   map[string]time.Time{},
			FirstSeen: map[string]time.Time{},
			Published: map[string]map[string]time.Time{},
			Removed:   map[string]time.Time{},
		},
	}
	gen := &generator{ctx: ctx, g: g, b: b, now: now, rng: rng}
	var lines [][]byte
	add := func(d *request.Draft, e Expect) {
		lines = append(lines, d.Encode())
		e.Kind, e.Project = d.Kind, d.Project
		for _, k := range d.Keys {
			b.keys[k.ID()] = k
		}
		if d.Keys != nil {
			e.Keyset = keysetOf(d)
		}
		b.Expect[d.ID] = e
	}
	approvable := Expect{Class: verdict.RuleApprovable}
	invalid := func(c verdict.Code) Expect { return Expect{Class: verdict.Invalid, Code: c} }

	for range m.adds {
		d, err := gen.add(gen.newName(), 1, false)
		if err != nil {
			return nil, err
		}
		gen.publish(d, now.Add(-publishedAge))
		add(d, approvable)
	}
	for i := range m.noDwell {
		d, err := gen.add(gen.newName(), 1, false)
		if err != nil {
			return nil, err
		}
		// Every other one is approved after a look: a new project of a
		// known team, say; the others wait until the keys have dwelt.
		e := Expect{Class: verdict.NeedsJudgement, Code: verdict.NoDwell, Approve: i%2 == 0,
			Reason: "rehearsal: keys seen in the repository's announcement, approved after checking with the project"}
		if !e.Approve {
			e.Reason = "rehearsal: keys not published long enough; wait for the next ceremony"
		}
		add(d, e)
	}
	for range m.rotations {
		d, err := gen.rotate(gen.existing(), len(gen.existing().keys))
		if err != nil {
			return nil, err
		}
		gen.next++
		add(d, approvable)
	}
	for range m.removals {
		d, err := gen.remove(gen.existing())
		if err != nil {
			return nil, err
		}
		gen.next++
		add(d, approvable)
	}
	for i := range m.seasonedRecoveries + m.freshRecoveries {
		p := gen.existing()
		gen.next++
		d, err := gen.recover(p)
		if err != nil {
			return nil, err
		}
		if i < m.seasonedRecoveries {
			// The notice period counts from when this change was first
			// seen, named by its digest over the parsed request.
			r, err := request.Parse(d.Encode(), request.Limits{MaxDepth: 16, MaxProjectName: 1 << 10, MaxRequestedBy: 1 << 10, MaxKeys: 16})
			if err != nil {
				return nil, err
			}
			b.History.FirstSeen[r.ChangeDigest()] = now.Add(-recoveryAge)
			add(d, Expect{Class: verdict.NeedsJudgement, Code: verdict.Recovery, Approve: true,
				Reason: "rehearsal: the project's owners confirmed the loss of their keys in person"})
		} else {
			add(d, invalid(verdict.RecoverNotice))
		}
	}
	for range m.invalidEach {
		// An add for a project that is delegated already.
		d, err := gen.add(gen.existing().name, 1, false)
		if err != nil {
			return nil, err
		}
		gen.next++
		add(d, invalid(verdict.TakeoverAdd))
		// Possession not signed by the request's own key.
		if d, err = gen.add(gen.newName(), 1, true); err != nil {
			return nil, err
		}
		add(d, invalid(verdict.PossessionInvalid))
		// Possession bound to another version of claimed.
		if d, err = gen.add(gen.newName(), 7, false); err != nil {
			return nil, err
		}
		add(d, invalid(verdict.PossessionBase))
		// A rotation authorised by one key of a project that needs two.
		p := gen.existingWithThreshold(2)
		if d, err = gen.rotate(p, 1); err != nil {
			return nil, err
		}
		gen.next++
		add(d, invalid(verdict.KeyChangeBelow))
		// A recovery of a project that does not exist.
		if d, err = gen.recover(&devProject{name: gen.newName()}); err != nil {
			return nil, err
		}
		add(d, invalid(verdict.NotDelegated))
		// Two adds for one new project.
		name := gen.newName()
		for range 2 {
			if d, err = gen.add(name, 1, false); err != nil {
				return nil, err
			}
			add(d, invalid(verdict.DuplicateProject))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if gen.next >= len(g.Projects) {
		return nil, fmt.Errorf("the rehearsal's %d existing projects are too few for its %d changes", len(g.Projects), gen.next)
	}
	// The repository publishes the keys it holds for every project it
	// delegates now; what it published a month ago (the bulk adds' keys)
	// is in the history already. The published state has its own limit
	// (bundle_limits.max_published_size), so a rehearsal of any size
	// sends it as a repository does.
	published := make(map[string]request.Keyset, len(g.Projects))
	for _, p := range g.Projects {
		published[p.name] = request.NewKeyset(p.role.KeyIDs, p.role.Threshold)
	}
	b.Pack = &intake.Pack{
		BundleID:  b.ID,
		Source:    Repository,
		Created:   now.Add(-30 * time.Minute),
		Bases:     []bundle.Base{{Role: DelegatingRole, Version: g.Claimed.Targets.Version, SHA256: bundle.SumHex(g.Claimed.Bytes())}},
		Requests:  lines,
		Published: published,
		Intake:    in,
	}
	return b, nil
}

// generator makes the requests of one bundle.
type generator struct {
	// ctx is checked before each request: where an interrupted rehearsal
	// stops while it generates.
	ctx   context.Context
	g     *Genesis
	b     *Bundle
	now   time.Time
	rng   *rand.Rand
	ids   int
	names int
	// next is the next existing project a change may touch: each is
	// touched by one request at most.
	next int
}

func (gen *generator) id() string {
	gen.ids++
	return fmt.Sprintf("r%06d", gen.ids)
}

func (gen *generator) newName() string {
	gen.names++
	return fmt.Sprintf("rehearsal-project-%06d", gen.names)
}

func (gen *generator) existing() *devProject {
	return gen.g.Projects[gen.next%len(gen.g.Projects)]
}

// existingWithThreshold is the next project not yet touched whose
// threshold is t.
func (gen *generator) existingWithThreshold(t int64) *devProject {
	for gen.existing().threshold != t {
		gen.next++
	}
	return gen.existing()
}

func (gen *generator) draft(kind request.Kind, project string, keys []*tuf.Key, threshold, base int64) (*request.Draft, error) {
	if err := gen.ctx.Err(); err != nil {
		return nil, err
	}
	return intake.NewDraft(intake.Request{
		ID: gen.id(), Kind: kind, Project: project, Keys: keys, Threshold: threshold,
		Made: gen.now.Add(-time.Hour), RequestedBy: "rehearsal generator", BaseVersion: base,
	})
}

// newKeys makes one or two developer keys (ed25519, one in four ECDSA
// P-256) and a threshold for them.
func (gen *generator) newKeys() ([]intake.Signer, int64, error) {
	n := 1 + gen.rng.IntN(2)
	var out []intake.Signer
	for range n {
		alg := hsm.Ed25519
		if gen.rng.IntN(4) == 0 {
			alg = hsm.ECDSAP256
		}
		k, err := devKey(alg)
		if err != nil {
			return nil, 0, fmt.Errorf("generate a developer key: %w", err)
		}
		out = append(out, k)
	}
	return out, int64(1 + gen.rng.IntN(n)), nil
}

// add writes an add of project against claimed version base, its
// possession signed by its own keys; with forged, the first signature is
// spoiled, as if another key had made it.
func (gen *generator) add(project string, base int64, forged bool) (*request.Draft, error) {
	ks, t, err := gen.newKeys()
	if err != nil {
		return nil, err
	}
	d, err := gen.draft(request.Add, project, signerKeys(ks), t, base)
	if err != nil {
		return nil, err
	}
	if err := intake.SignPossession(d, ks); err != nil {
		return nil, err
	}
	if forged {
		sig := d.Possession.Signatures[0].Sig
		sig[len(sig)-1] ^= 1
	}
	return d, nil
}

// keysetOf is the keys and threshold a request asks for.
func keysetOf(d *request.Draft) request.Keyset {
	ids := make([]string, len(d.Keys))
	for i, k := range d.Keys {
		ids[i] = k.ID()
	}
	return request.NewKeyset(ids, d.Threshold)
}

// publish records that the repository published d's keys at t. The
// generated names are already normalised (PEP 503).
func (gen *generator) publish(d *request.Draft, t time.Time) {
	gen.b.History.Published[d.Project] = map[string]time.Time{keysetOf(d).Hash(): t}
}

// Delegations returns what the delegating role must delegate after the
// rehearsal's ceremony: the existing projects with every approved request
// applied, by project name.
func (b *Bundle) Delegations(g *Genesis) map[string]request.Keyset {
	out := map[string]request.Keyset{}
	for _, p := range g.Projects {
		out[p.name] = request.NewKeyset(p.role.KeyIDs, p.role.Threshold)
	}
	for _, e := range b.Expect {
		if !e.Approved() {
			continue
		}
		if e.Kind == request.Remove {
			delete(out, e.Project)
			continue
		}
		out[e.Project] = e.Keyset
	}
	return out
}

// rotate writes a rotation of p to new keys, authorised by the first
// signers of p's current keys.
func (gen *generator) rotate(p *devProject, signers int) (*request.Draft, error) {
	ks, t, err := gen.newKeys()
	if err != nil {
		return nil, err
	}
	d, err := gen.draft(request.Rotate, p.name, signerKeys(ks), t, gen.g.Claimed.Targets.Version)
	if err != nil {
		return nil, err
	}
	if err := intake.SignPossession(d, ks); err != nil {
		return nil, err
	}
	if d.Authorisation, err = gen.authorise(p, signerKeys(ks), t, signers); err != nil {
		return nil, err
	}
	return d, nil
}

// remove writes a removal of p authorised by all its keys.
func (gen *generator) remove(p *devProject) (*request.Draft, error) {
	d, err := gen.draft(request.Remove, p.name, nil, 0, gen.g.Claimed.Targets.Version)
	if err != nil {
		return nil, err
	}
	if d.Authorisation, err = gen.authorise(p, nil, 0, len(p.keys)); err != nil {
		return nil, err
	}
	return d, nil
}

// recover writes a recovery of p to new keys, without its keys' consent.
func (gen *generator) recover(p *devProject) (*request.Draft, error) {
	ks, t, err := gen.newKeys()
	if err != nil {
		return nil, err
	}
	d, err := gen.draft(request.Recover, p.name, signerKeys(ks), t, gen.g.Claimed.Targets.Version)
	if err != nil {
		return nil, err
	}
	if err := intake.SignPossession(d, ks); err != nil {
		return nil, err
	}
	return d, nil
}

func (gen *generator) authorise(p *devProject, newKeys []*tuf.Key, t int64, signers int) (*envelope.Envelope, error) {
	env, err := intake.KeyChange(p.name, gen.g.Claimed.Targets.Version, p.role, newKeys, t)
	if err != nil {
		return nil, err
	}
	for _, s := range p.keys[:signers] {
		if err := intake.SignEnvelope(env, s); err != nil {
			return nil, err
		}
	}
	return env, nil
}
