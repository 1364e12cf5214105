package genesis

import (
	"slices"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// Change is what a rotation changes, for the holders to read before they
// sign: who comes and goes, and each role's keys and threshold before and
// after.
type Change struct {
	// HoldersIn and HoldersOut are the holders the new policy adds and
	// drops, in the policies' order.
	HoldersIn  []string `json:"holders_in"`
	HoldersOut []string `json:"holders_out"`
	// Roles are root, targets, the signed roles, snapshot and timestamp,
	// in that order, each with its keys before and after.
	Roles []RoleChange `json:"roles"`
}

// RoleChange is one role's keys and threshold before and after.
type RoleChange struct {
	Role            string   `json:"role"`
	ThresholdBefore int64    `json:"threshold_before"`
	ThresholdAfter  int64    `json:"threshold_after"`
	Added           []KeyRef `json:"added"`
	Removed         []KeyRef `json:"removed"`
	Kept            []KeyRef `json:"kept"`
}

// KeyRef is a key and whose it is: a holder's name, or "" for an online
// key or one no policy names.
type KeyRef struct {
	KeyID  string `json:"keyid"`
	Holder string `json:"holder"`
}

// Changed reports whether the role's keys or threshold change.
func (r RoleChange) Changed() bool {
	return r.ThresholdBefore != r.ThresholdAfter || len(r.Added) > 0 || len(r.Removed) > 0
}

// Empty reports whether nothing changes.
func (c *Change) Empty() bool {
	if len(c.HoldersIn) > 0 || len(c.HoldersOut) > 0 {
		return false
	}
	for _, r := range c.Roles {
		if r.Changed() {
			return false
		}
	}
	return true
}

// diff compares the vault's root, targets and policy with the next root
// and the new policy's layout.
func diff(v *vault.Vault, p *policy.Policy, next *tuf.Root) *Change {
	c := &Change{HoldersIn: []string{}, HoldersOut: []string{}}
	for _, h := range p.Holders {
		if !hasHolder(v.Policy, h.Name) {
			c.HoldersIn = append(c.HoldersIn, h.Name)
		}
	}
	for _, h := range v.Policy.Holders {
		if !hasHolder(p, h.Name) {
			c.HoldersOut = append(c.HoldersOut, h.Name)
		}
	}
	name := func(id string) string {
		if h, ok := p.Holder(id); ok {
			return h.Name
		}
		if h, ok := v.Policy.Holder(id); ok {
			return h.Name
		}
		return ""
	}
	add := func(role string, before []string, tb int64, after []string, ta int64) {
		rc := RoleChange{Role: role, ThresholdBefore: tb, ThresholdAfter: ta, Added: []KeyRef{}, Removed: []KeyRef{}, Kept: []KeyRef{}}
		for _, id := range after {
			if slices.Contains(before, id) {
				rc.Kept = append(rc.Kept, KeyRef{id, name(id)})
			} else {
				rc.Added = append(rc.Added, KeyRef{id, name(id)})
			}
		}
		for _, id := range before {
			if !slices.Contains(after, id) {
				rc.Removed = append(rc.Removed, KeyRef{id, name(id)})
			}
		}
		c.Roles = append(c.Roles, rc)
	}
	old := v.Root.Root
	for _, role := range []string{tuf.TypeRoot, tuf.TypeTargets} {
		add(role, old.Roles[role].KeyIDs, old.Roles[role].Threshold, next.Roles[role].KeyIDs, next.Roles[role].Threshold)
	}
	for _, role := range p.SignedRoles() {
		ids, t, _ := v.Targets.Targets.Delegation(role)
		add(role, ids, t, p.RoleKeyIDs(role), p.Expiry(role).Threshold)
	}
	for _, role := range OnlineRoles {
		add(role, old.Roles[role].KeyIDs, old.Roles[role].Threshold, next.Roles[role].KeyIDs, next.Roles[role].Threshold)
	}
	return c
}

func hasHolder(p *policy.Policy, name string) bool {
	for _, h := range p.Holders {
		if h.Name == name {
			return true
		}
	}
	return false
}
