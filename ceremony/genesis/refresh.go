package genesis

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// ErrNothingDue: a refresh named no role and none is in its warning
// period.
var ErrNothingDue = errors.New("no role is in its warning period")

// Refresh plans new versions of roles with nothing changed but the
// version and the expiry (the confirmed time plus the policy's period):
// the roles named, or, when none is named, every role within its warning
// period at now (Status). A new root version is signed by a threshold of
// the root keys (the same keys, old and new: TUF §5.3.4 still counts
// both) and bound to the policy again; targets by root's targets keys; a
// signed role by the keys targets delegates it to.
func Refresh(v *vault.Vault, roles []string, now time.Time) (*Plan, error) {
	if len(roles) == 0 {
		for _, s := range Status(v, now).Roles {
			if s.State == StateWarning || s.State == StateExpired {
				roles = append(roles, s.Role)
			}
		}
		if len(roles) == 0 {
			return nil, ErrNothingDue
		}
	}
	known := append([]string{tuf.TypeRoot, tuf.TypeTargets}, v.Policy.SignedRoles()...)
	for i, r := range roles {
		if !slices.Contains(known, r) {
			return nil, fmt.Errorf("%s is not a role of this vault (%v)", r, known)
		}
		if slices.Index(roles, r) != i {
			return nil, fmt.Errorf("role %s is named twice", r)
		}
	}
	plan := &Plan{Policy: v.PolicyBytes}
	root := v.Root.Root
	for _, role := range known {
		if !slices.Contains(roles, role) {
			continue
		}
		period := v.Policy.Expiry(role).Expiry
		switch role {
		case tuf.TypeRoot:
			next := *root
			next.Version, next.Expires = root.Version+1, Expires(now, period)
			f, err := tuf.NewRootFile(&next)
			if err != nil {
				return nil, err
			}
			plan.Docs = append(plan.Docs, &Doc{Name: vault.RootFile(next.Version), Role: role, File: f, Groups: []Group{
				rootGroup(fmt.Sprintf("root version %d's root keys", root.Version), root, tuf.TypeRoot),
				rootGroup(fmt.Sprintf("root version %d's root keys", next.Version), &next, tuf.TypeRoot),
			}})
			if plan.Binding, plan.BindingGroup, err = bindingFor(v.PolicyBytes, f); err != nil {
				return nil, err
			}
		case tuf.TypeTargets:
			f, err := nextVersion(v.Targets, now, period)
			if err != nil {
				return nil, err
			}
			plan.Docs = append(plan.Docs, &Doc{Name: vault.TargetsFile, Role: role, File: f, Groups: []Group{
				rootGroup(fmt.Sprintf("root version %d's targets keys", root.Version), root, tuf.TypeTargets),
			}})
		default:
			f, err := nextVersion(v.Delegators[role], now, period)
			if err != nil {
				return nil, err
			}
			plan.Docs = append(plan.Docs, &Doc{Name: vault.RoleFile(role), Role: role, File: f, Groups: []Group{delegationGroup(v.Targets.Targets, role)}})
		}
	}
	if err := plan.checkExpiries(); err != nil {
		return nil, err
	}
	return plan, nil
}
