// Package delegation builds the delegating targets metadata (PEP 480's
// "claimed" role) that hands each project to its own developer keys.
//
// Project delegations are always terminating and their paths are derived
// from the project name by the policy's path template, never chosen by the
// requester (docs/design.md, "Formats").
package delegation

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Project is one project delegated to its developers' keys.
type Project struct {
	Name      string
	Keys      []*tuf.Key
	Threshold int64
}

// Paths derives a project's delegated paths from the path template: every
// "{name}" is replaced by the project name. "{name}/*" gives the project
// its own top-level directory.
func Paths(template, project string) []string {
	return []string{strings.ReplaceAll(template, "{name}", project)}
}

// Build makes the delegating targets role: no targets of its own, one
// terminating delegation per project in name order, and each key once in
// delegations.keys under its keyid (keys shared between projects are
// stored once). roles names the roles that are not projects besides the
// top-level ones (rules.Rules.RoleNames): as a last guard, Build refuses a
// project that request.CheckNotRole refuses.
func Build(projects []Project, pathTemplate string, roles []string, version int64, expires time.Time) (*tuf.Targets, error) {
	empty := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	empty.SpecVersion = tuf.SpecVersion
	return Apply(empty, projects, nil, pathTemplate, roles, version, expires)
}

// Apply makes the next version of a delegating role from its current
// signed part. Each project in set is delegated as Build writes it — in
// the place of the current delegation of that name, or, for a new one,
// merged in name order (a role whose delegations are in name order stays
// so). Each name in remove stops being delegated. Every other delegation
// is kept exactly as it is, fields Conclave does not know included, and so
// are the role's own targets and unknown fields: only the version, the
// expiry and the delegations that change differ.
//
// delegations.keys then holds exactly the keys the delegations list, each
// under its keyid: a kept delegation's keys are the current objects, so
// their keyids do not change; keys no delegation lists any more are
// dropped. The delegations must be listed by name (roles), not by hash
// bins (succinct_roles).
func Apply(current *tuf.Targets, set []Project, remove []string, pathTemplate string, roles []string, version int64, expires time.Time) (*tuf.Targets, error) {
	if !strings.Contains(pathTemplate, "{name}") {
		return nil, fmt.Errorf("path template %q does not contain {name}, so projects would share paths", pathTemplate)
	}
	var d tuf.Delegations
	if current.Delegations != nil {
		if current.Delegations.SuccinctRoles != nil {
			return nil, fmt.Errorf("the delegations are hash bins (succinct_roles), not projects by name")
		}
		d = *current.Delegations // keeps its unknown fields
	}
	old := d.Roles
	at := make(map[string]int, len(old))
	for i, r := range old {
		at[r.Name] = i
	}
	sorted := make([]Project, len(set))
	copy(sorted, set)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	folded := request.NewRoles(roles)
	replace := make(map[int]*tuf.DelegatedRole, len(sorted))
	added := make([]*tuf.DelegatedRole, 0, len(sorted))
	for i, p := range sorted {
		if i > 0 && sorted[i-1].Name == p.Name {
			return nil, fmt.Errorf("project %s is listed twice", p.Name)
		}
		if err := check(p, folded); err != nil {
			return nil, err
		}
		role := newRole(p, pathTemplate)
		if j, ok := at[p.Name]; ok {
			replace[j] = role
		} else {
			added = append(added, role)
		}
	}
	drop := make(map[int]bool, len(remove))
	for _, name := range remove {
		j, ok := at[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("project %s is not delegated, so its delegation cannot end", name)
		case drop[j]:
			return nil, fmt.Errorf("project %s is removed twice", name)
		case replace[j] != nil:
			return nil, fmt.Errorf("project %s is both changed and removed", name)
		}
		drop[j] = true
	}

	// Kept and replaced delegations in their places, new ones merged in
	// by name.
	d.Roles = make([]*tuf.DelegatedRole, 0, len(old)-len(drop)+len(added))
	for j, r := range old {
		if drop[j] {
			continue
		}
		if nr := replace[j]; nr != nil {
			r = nr
		}
		for len(added) > 0 && added[0].Name < r.Name {
			d.Roles, added = append(d.Roles, added[0]), added[1:]
		}
		d.Roles = append(d.Roles, r)
	}
	d.Roles = append(d.Roles, added...)

	newKeys := make(map[string]*tuf.Key, len(sorted)*2)
	for _, p := range sorted {
		for _, k := range p.Keys {
			newKeys[k.ID()] = k
		}
	}
	oldKeys := d.Keys
	d.Keys = make(map[string]*tuf.Key, len(d.Roles)*2)
	for _, r := range d.Roles {
		for _, id := range r.KeyIDs {
			if k := newKeys[id]; k != nil {
				d.Keys[id] = k
			} else if k := oldKeys[id]; k != nil {
				d.Keys[id] = k
			}
			// A keyid no key is stored under stays undefined; writing
			// the file refuses it (tuf.ErrMissingKey).
		}
	}

	t := *current // keeps the targets and unknown fields
	t.Version = version
	t.Expires = tuf.NewExpiry(expires)
	t.Delegations = &d
	return &t, nil
}

// newRole is the one way a project's delegation is written: terminating,
// its paths from the template, its keyids sorted.
func newRole(p Project, pathTemplate string) *tuf.DelegatedRole {
	role := &tuf.DelegatedRole{
		Name:        p.Name,
		KeyIDs:      make([]string, 0, len(p.Keys)),
		Threshold:   p.Threshold,
		Terminating: true,
		Paths:       Paths(pathTemplate, p.Name),
	}
	for _, k := range p.Keys {
		role.KeyIDs = append(role.KeyIDs, k.ID())
	}
	sort.Strings(role.KeyIDs)
	return role
}

// check refuses a project Conclave must never write: a name that is not
// a normalised PEP 503 name or that names a role that is not a project, no
// keys, a threshold outside 1..(distinct public keys), one public key
// twice, or a key in a legacy form.
func check(p Project, roles *request.Roles) error {
	if p.Name == "" {
		return fmt.Errorf("a project has no name")
	}
	// Only a normalised name (a–z, 0–9, "-") is written: it holds no "."
	// and no upper case, which is what lets CheckNotRole compare names
	// rather than file names.
	if n, err := request.Normalize(p.Name, len(p.Name)); err != nil || n != p.Name {
		return fmt.Errorf("project %q: the name is not a normalised project name (PEP 503)", p.Name)
	}
	if err := roles.Check(p.Name); err != nil {
		return fmt.Errorf("project %s: %w", p.Name, err)
	}
	// A project has a few keys (rules.Rules.MaxKeys): a list is searched
	// faster than a map is made, and a build checks 100,000 projects. A
	// map still bounds the work for a role written elsewhere.
	seen := make([]string, 0, len(p.Keys))
	var many map[string]bool
	if len(p.Keys) > 16 {
		many = make(map[string]bool, len(p.Keys))
	}
	for _, k := range p.Keys {
		if k.Legacy() != "" {
			return fmt.Errorf("project %s: key %s is in a legacy form Conclave does not write: %s", p.Name, k.ID(), k.Legacy())
		}
		fp := k.Fingerprint()
		var twice bool
		if many != nil {
			twice = many[fp]
			many[fp] = true
		} else {
			twice = slices.Contains(seen, fp)
		}
		if twice {
			return fmt.Errorf("project %s: the same public key is listed twice", p.Name)
		}
		seen = append(seen, fp)
	}
	if p.Threshold < 1 || p.Threshold > int64(len(seen)) {
		return fmt.Errorf("project %s: threshold %d must be between 1 and the number of distinct keys (%d)", p.Name, p.Threshold, len(seen))
	}
	return nil
}
