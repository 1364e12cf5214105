// Package delegation builds the delegating targets metadata (PEP 480's
// "claimed" role) that hands each project to its own developer keys.
//
// Project delegations are always terminating and their paths are derived
// from the project name by the policy's path template, never chosen by the
// requester (docs/design.md, "Formats").
package delegation

import (
	"fmt"
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
	if !strings.Contains(pathTemplate, "{name}") {
		return nil, fmt.Errorf("path template %q does not contain {name}, so projects would share paths", pathTemplate)
	}
	sorted := make([]Project, len(projects))
	copy(sorted, projects)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })

	t := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	t.SpecVersion = tuf.SpecVersion
	t.Version = version
	t.Expires = tuf.NewExpiry(expires)
	d := &tuf.Delegations{Keys: make(map[string]*tuf.Key, len(projects)*2), Roles: make([]*tuf.DelegatedRole, 0, len(projects))}
	for i, p := range sorted {
		if i > 0 && sorted[i-1].Name == p.Name {
			return nil, fmt.Errorf("project %s is listed twice", p.Name)
		}
		if err := check(p, roles); err != nil {
			return nil, err
		}
		role := &tuf.DelegatedRole{
			Name:        p.Name,
			KeyIDs:      make([]string, 0, len(p.Keys)),
			Threshold:   p.Threshold,
			Terminating: true,
			Paths:       Paths(pathTemplate, p.Name),
		}
		for _, k := range p.Keys {
			d.Keys[k.ID()] = k
			role.KeyIDs = append(role.KeyIDs, k.ID())
		}
		sort.Strings(role.KeyIDs)
		d.Roles = append(d.Roles, role)
	}
	t.Delegations = d
	return t, nil
}

// check refuses a project Conclave must never write: a name that is not
// a normalised PEP 503 name or that names a role that is not a project, no
// keys, a threshold outside 1..(distinct public keys), one public key
// twice, or a key in a legacy form.
func check(p Project, roles []string) error {
	if p.Name == "" {
		return fmt.Errorf("a project has no name")
	}
	// Only a normalised name (a–z, 0–9, "-") is written: it holds no "."
	// and no upper case, which is what lets CheckNotRole compare names
	// rather than file names.
	if n, err := request.Normalize(p.Name, len(p.Name)); err != nil || n != p.Name {
		return fmt.Errorf("project %q: the name is not a normalised project name (PEP 503)", p.Name)
	}
	if err := request.CheckNotRole(p.Name, roles); err != nil {
		return fmt.Errorf("project %s: %w", p.Name, err)
	}
	seen := map[string]bool{}
	for _, k := range p.Keys {
		if k.Legacy() != "" {
			return fmt.Errorf("project %s: key %s is in a legacy form Conclave does not write: %s", p.Name, k.ID(), k.Legacy())
		}
		if seen[k.Fingerprint()] {
			return fmt.Errorf("project %s: the same public key is listed twice", p.Name)
		}
		seen[k.Fingerprint()] = true
	}
	if p.Threshold < 1 || p.Threshold > int64(len(seen)) {
		return fmt.Errorf("project %s: threshold %d must be between 1 and the number of distinct keys (%d)", p.Name, p.Threshold, len(seen))
	}
	return nil
}
