package policy

import (
	"fmt"
	"maps"
	"slices"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// CheckRoles checks the holders against the metadata they sign: every
// holder keyid (but a spare's that names no roles) is a key of root or of the targets delegation of a signed
// role, and no holder's keys alone meet the threshold of any role — root's
// roles, and targets' delegation of each signed role. The threshold is
// there so that no one person can sign alone (TUF specification §2.1.1,
// "Threshold signatures"); a holder with two keys in a role of threshold
// two would defeat it.
func (p *Policy) CheckRoles(root *tuf.Root, targets *tuf.Targets) error {
	if root == nil {
		return fmt.Errorf("policy %s: no root metadata to check the holders against", p.name)
	}
	type role struct {
		name      string
		keyids    []string
		threshold int64
	}
	var roles []role
	for _, name := range slices.Sorted(maps.Keys(root.Roles)) {
		rk := root.Roles[name]
		roles = append(roles, role{name, rk.KeyIDs, rk.Threshold})
	}
	listed := map[string]bool{}
	for id := range root.Keys {
		listed[id] = true
	}
	for _, name := range p.SignedRoles() {
		if targets == nil {
			return fmt.Errorf("policy %s: no targets metadata to check role %s against", p.name, name)
		}
		keyids, threshold, ok := targets.Delegation(name)
		if !ok {
			return fmt.Errorf("policy %s: targets does not delegate role %s, which the policy signs", p.name, name)
		}
		roles = append(roles, role{name, keyids, threshold})
		for _, id := range keyids {
			listed[id] = true
		}
	}
	for i, h := range p.Holders {
		for j, k := range h.Keys {
			// A spare in reserve (no roles) is in no metadata until a
			// rotation places it.
			if !listed[k.KeyID] && !(k.Spare && len(p.KeyRoles[k.KeyID]) == 0) {
				return p.errAt(fmt.Sprintf("holders[%d].keys[%d].keyid", i, j), "holder %s's key %s is not a key of root or of any role the policy signs", h.Name, k.KeyID)
			}
		}
	}
	for _, r := range roles {
		for i, h := range p.Holders {
			var mine []string
			for _, k := range h.Keys {
				for _, id := range r.keyids {
					if id == k.KeyID {
						mine = append(mine, id)
					}
				}
			}
			if len(mine) > 0 && int64(len(mine)) >= r.threshold {
				return p.errAt(index("holders", i), "holder %s alone holds %d of role %s's keys, enough for its threshold of %d: no one person may sign a role alone",
					h.Name, len(mine), r.name, r.threshold)
			}
		}
	}
	return p.CheckLayout(root, targets)
}
