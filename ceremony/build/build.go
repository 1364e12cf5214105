// Package build makes the next version of each delegating role from the
// approved requests, and derives what changed from the built bytes — never
// from the requests — as a summary card that a second machine recomputes.
package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// Payload is one built, unsigned metadata file.
type Payload struct {
	Role    string
	Version int64
	File    *tuf.File
	// SHA256 is the hex SHA-256 of the canonical signed part (the bytes
	// every signature covers).
	SHA256 string
}

// Card is what a role's new version changes, derived from bytes.
type Card struct {
	Role    string
	Version int64
	Expires time.Time
	Added   int
	Rotated int
	Removed int
	// Changes lists each changed project, sorted by name.
	Changes []Change
	// Digest is the hex SHA-256 over the canonical encoding of Changes.
	Digest string
}

// Change is one project's delegation before and after (nil for none).
type Change struct {
	Project string
	Before  *Delegation
	After   *Delegation
}

// Delegation is a project's keys (keyids, sorted), threshold and paths.
type Delegation struct {
	KeyIDs    []string
	Threshold int64
	Paths     []string
}

// Input is what a build applies, and to what.
type Input struct {
	// Current is the current signed metadata of each role ceremonies sign
	// that delegates projects (the delegating role, or each shard), by
	// role name.
	Current map[string]*tuf.File
	// Approved are the approved requests' verdicts, in any order.
	Approved []verdict.Verdict
	// Keys are the public keys the approved requests list, by keyid: a
	// verdict names keys only by keyid, fingerprint and scheme. A key
	// the current delegations already hold need not be here.
	Keys map[string]*tuf.Key
	// RoleFor names the role that delegates a project (the policy's
	// shard for it). A project's role is fixed by its name.
	RoleFor func(project string) string
	// Versions is the version to give each role that changes; the caller
	// chooses it, knowing which versions are burned.
	Versions map[string]int64
	// Expires is the expiry of every built role.
	Expires time.Time
	// PathTemplate derives a project's paths (delegation.Paths).
	PathTemplate string
	// RoleNames are the roles that are not projects
	// (rules.Rules.RoleNames).
	RoleNames []string
}

// ErrStale is wrapped when an approved request was judged against other
// delegations than the current ones: the metadata changed since the
// import, and the request must be judged again.
var ErrStale = errors.New("the project's delegation is not the one the request was judged against")

// RequestError refuses a build because of one approved request.
type RequestError struct {
	RequestID string
	Project   string
	Err       error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("request %s (project %s): %v", e.RequestID, e.Project, e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }

func refuse(v *verdict.Verdict, format string, a ...any) error {
	return &RequestError{RequestID: v.RequestID, Project: v.Project, Err: fmt.Errorf(format, a...)}
}

// edits is what the approved requests change in one role.
type edits struct {
	set    []delegation.Project
	remove []string
}

// Build applies the approved requests to the current delegations and
// returns the next version of each role with at least one change, in role
// name order; an unchanged role gets no payload. What is not changed is
// kept byte for byte (delegation.Apply). The same input, in any order,
// gives the same bytes.
//
// Build refuses, naming the request: a verdict with no change (an invalid
// request), two approved requests for one project, an add for a project
// already delegated, a change whose "before" is not the current
// delegation (ErrStale), a key not given or not the one judged, and paths
// other than the template's.
func Build(in Input) ([]*Payload, error) {
	if in.Expires.IsZero() {
		return nil, errors.New("build: no expiry was given")
	}
	approved := make([]*verdict.Verdict, len(in.Approved))
	for i := range in.Approved {
		approved[i] = &in.Approved[i]
	}
	// Sorted, so that the first refusal is the same whatever the order.
	sort.Slice(approved, func(i, j int) bool {
		a, b := approved[i], approved[j]
		if a.Project != b.Project {
			return a.Project < b.Project
		}
		return a.RequestID < b.RequestID
	})
	indexes := map[string]*index{}
	changes := map[string]*edits{}
	for i, v := range approved {
		if v.Change == nil || v.Class == verdict.Invalid || v.Project == "" {
			return nil, refuse(v, "the request is invalid and cannot be approved")
		}
		if i > 0 && approved[i-1].Project == v.Project {
			return nil, refuse(v, "request %s also changes this project; a ceremony changes a project once", approved[i-1].RequestID)
		}
		role := in.RoleFor(v.Project)
		ix := indexes[role]
		if ix == nil {
			f := in.Current[role]
			if f == nil || f.Targets == nil {
				return nil, refuse(v, "the project belongs to role %q, whose current targets metadata is not given", role)
			}
			ix = newIndex(f.Targets)
			indexes[role] = ix
		}
		e := changes[role]
		if e == nil {
			e = &edits{}
			changes[role] = e
		}
		if err := ix.apply(v, e, &in); err != nil {
			return nil, err
		}
	}

	roles := make([]string, 0, len(changes))
	for r := range changes {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	out := make([]*Payload, 0, len(roles))
	for _, role := range roles {
		cur := in.Current[role]
		version, ok := in.Versions[role]
		if !ok {
			return nil, fmt.Errorf("build %s: no version was given for it", role)
		}
		if version <= cur.Version() {
			return nil, fmt.Errorf("build %s: version %d is not after the current version %d", role, version, cur.Version())
		}
		e := changes[role]
		t, err := delegation.Apply(cur.Targets, e.set, e.remove, in.PathTemplate, in.RoleNames, version, in.Expires)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", role, err)
		}
		f, err := tuf.NewTargetsFile(t)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", role, err)
		}
		out = append(out, &Payload{Role: role, Version: version, File: f, SHA256: hashHex(f.SignedBytes())})
	}
	return out, nil
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// index is one role's current delegations by project name, folded as
// validate folds them (PEP 503), so that a change finds the delegation
// the request was judged against.
type index struct {
	roles map[string]*tuf.DelegatedRole
	// twice holds folded names two delegations share: a change to one of
	// them is ambiguous.
	twice map[string]bool
	keys  map[string]*tuf.Key
}

func newIndex(t *tuf.Targets) *index {
	ix := &index{twice: map[string]bool{}}
	if t.Delegations == nil {
		ix.roles = map[string]*tuf.DelegatedRole{}
		return ix
	}
	ix.roles = make(map[string]*tuf.DelegatedRole, len(t.Delegations.Roles))
	ix.keys = t.Delegations.Keys
	for _, r := range t.Delegations.Roles {
		name, err := request.Normalize(r.Name, 1<<10)
		if err != nil {
			name = r.Name
		}
		if ix.roles[name] != nil {
			ix.twice[name] = true
		}
		ix.roles[name] = r
	}
	return ix
}

// apply checks one approved request against the current delegation and
// records its edit.
func (ix *index) apply(v *verdict.Verdict, e *edits, in *Input) error {
	c := v.Change
	cur := ix.roles[v.Project]
	if ix.twice[v.Project] {
		return refuse(v, "the current metadata delegates the project under two names")
	}
	switch {
	case c.Before == nil && cur != nil:
		return refuse(v, "an add for a project already delegated (as %q)", cur.Name)
	case c.Before != nil && cur == nil:
		return refuse(v, "%w: it is not delegated now", ErrStale)
	case c.Before != nil && !ix.same(cur, c.Before):
		return refuse(v, "%w: it is delegated now to keyids %v, threshold %d, paths %q", ErrStale, cur.KeyIDs, cur.Threshold, cur.Paths)
	case c.Before == nil && c.After == nil:
		return refuse(v, "the change neither had nor gives a delegation")
	}
	if c.After == nil {
		e.remove = append(e.remove, cur.Name)
		return nil
	}
	if want := delegation.Paths(in.PathTemplate, v.Project); !slices.Equal(c.After.Paths, want) {
		return refuse(v, "the paths approved, %q, are not the ones the path template gives, %q", c.After.Paths, want)
	}
	p := delegation.Project{Name: v.Project, Threshold: c.After.Threshold, Keys: make([]*tuf.Key, len(c.After.Keys))}
	for i, vk := range c.After.Keys {
		k := in.Keys[vk.KeyID]
		if k == nil {
			k = ix.keys[vk.KeyID]
		}
		switch {
		case k == nil:
			return refuse(v, "key %s is not among the keys given", vk.KeyID)
		case k.ID() != vk.KeyID || k.Fingerprint() != vk.Fingerprint || k.Scheme != vk.Scheme:
			return refuse(v, "the key given under keyid %s is not the key the request was judged with", vk.KeyID)
		}
		p.Keys[i] = k
	}
	if cur != nil && cur.Name != v.Project {
		// Delegated under a name that is not normalised: that delegation
		// ends, and the project is delegated under its normalised name.
		e.remove = append(e.remove, cur.Name)
	}
	e.set = append(e.set, p)
	return nil
}

// same reports whether the current delegation is the one a verdict saw:
// the same keyids in the same order, each the same key, the same
// threshold and paths.
func (ix *index) same(cur *tuf.DelegatedRole, before *verdict.Delegation) bool {
	if cur.Threshold != before.Threshold || len(cur.KeyIDs) != len(before.Keys) || !slices.Equal(pathsOf(cur), before.Paths) {
		return false
	}
	for i, id := range cur.KeyIDs {
		vk := before.Keys[i]
		if vk.KeyID != id {
			return false
		}
		if k := ix.keys[id]; k != nil && k.Fingerprint() != vk.Fingerprint {
			return false
		}
	}
	return true
}

// pathsOf is a delegation's paths, never nil (a verdict writes none as []).
func pathsOf(r *tuf.DelegatedRole) []string {
	if r.Paths == nil {
		return []string{}
	}
	return r.Paths
}
