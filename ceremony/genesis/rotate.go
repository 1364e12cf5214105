package genesis

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// ErrNoChange: a rotation that changes no key, threshold or holder.
var ErrNoChange = errors.New("nothing changes: the new policy places the same keys with the same thresholds, and no online key is replaced")

// RotateInput is what root N+1 is made from.
type RotateInput struct {
	// Vault is the opened vault holding root N.
	Vault *vault.Vault
	// Policy is the new policy (parsed from PolicyBytes): its layout
	// places the keys of root N+1, targets and the signed roles. It may
	// be the vault's own when only online keys change.
	Policy      *policy.Policy
	PolicyBytes []byte
	// Records are the enrolment records of keys the vault's metadata
	// does not hold yet.
	Records []Record
	// Online replaces the online key of snapshot or timestamp; a role not
	// named keeps its key.
	Online map[string]*tuf.Key
	// Now is the confirmed time; ForceThreshold as in Input.
	Now            time.Time
	ForceThreshold string
}

// Rotate plans root N+1 from the vault's root N: root and targets keys
// and thresholds as the new policy places them, online keys as given or
// kept. Root N+1 is signed by a threshold of root N's root keys and by a
// threshold of its own (TUF §5.3.4); a holder replacing a token signs
// with the old key (when it still exists) and with the new one. When
// targets' keys or a signed role's keys change, targets is re-signed, by
// the new targets keys, with the new delegations; a signed role whose
// keys change gets a new version signed by its new keys, so that every
// file verifies against the new root.
func Rotate(in RotateInput) (*Plan, *Change, error) {
	v, p := in.Vault, in.Policy
	if !p.Placed() {
		return nil, nil, ErrNoLayout
	}
	if p.Rehearsal != v.Policy.Rehearsal {
		return nil, nil, fmt.Errorf("the new policy's rehearsal field (%t) differs from the vault's (%t): a rotation does not turn a rehearsal into production or back", p.Rehearsal, v.Policy.Rehearsal)
	}
	if !slices.Equal(p.SignedRoles(), v.Policy.SignedRoles()) {
		return nil, nil, fmt.Errorf("the new policy signs %v, the vault's %v: a rotation changes keys, not the roles signed", p.SignedRoles(), v.Policy.SignedRoles())
	}
	if !slices.EqualFunc(p.OnlineRoles, v.Policy.OnlineRoles, func(a, b policy.OnlineRole) bool {
		return a.Name == b.Name && a.Threshold == b.Threshold && slices.Equal(a.Paths, b.Paths)
	}) {
		return nil, nil, fmt.Errorf("the new policy's online_roles differ from the vault's: a rotation keeps targets' delegations of online roles as they are")
	}
	known := map[string]*tuf.Key{}
	maps.Copy(known, v.Root.Root.Keys)
	if d := v.Targets.Targets.Delegations; d != nil {
		maps.Copy(known, d.Keys)
	}
	keys, err := matchRecords(p, in.Records, known)
	if err != nil {
		return nil, nil, err
	}
	if err := checkSpare(p, in.ForceThreshold); err != nil {
		return nil, nil, err
	}
	old := v.Root.Root
	online := map[string]*tuf.Key{}
	for _, role := range OnlineRoles {
		if k, ok := in.Online[role]; ok {
			online[role] = k
			continue
		}
		rk := old.Roles[role]
		if len(rk.KeyIDs) != 1 || rk.Threshold != 1 {
			return nil, nil, fmt.Errorf("%w: root version %d gives %s %d keys with threshold %d; name its new online key", ErrOnline, old.Version, role, len(rk.KeyIDs), rk.Threshold)
		}
		online[role] = old.Keys[rk.KeyIDs[0]]
	}
	if err := checkOnline(online, keys); err != nil {
		return nil, nil, err
	}

	// Root N+1: a copy of root N (its fields Conclave does not know,
	// the rehearsal mark among them, stay) with new keys and roles.
	next := *old
	next.Version, next.Expires = old.Version+1, Expires(in.Now, p.Expiry(tuf.TypeRoot).Expiry)
	next.Keys, next.Roles = map[string]*tuf.Key{}, map[string]*tuf.RoleKeys{}
	placeTop(&next, p, keys)
	for _, role := range OnlineRoles {
		k := online[role]
		next.Keys[k.ID()] = k
		next.Roles[role] = &tuf.RoleKeys{KeyIDs: []string{k.ID()}, Threshold: 1}
	}
	change := diff(v, p, &next)
	if change.Empty() {
		return nil, nil, ErrNoChange
	}
	rf, err := tuf.NewRootFile(&next)
	if err != nil {
		return nil, nil, err
	}
	plan := &Plan{Policy: in.PolicyBytes, Docs: []*Doc{{
		Name: vault.RootFile(next.Version), Role: tuf.TypeRoot, File: rf,
		Groups: []Group{
			rootGroup(fmt.Sprintf("root version %d's root keys", old.Version), old, tuf.TypeRoot),
			rootGroup(fmt.Sprintf("root version %d's root keys", next.Version), &next, tuf.TypeRoot),
		},
	}}}

	// Targets with the new delegations, when they or its keys change.
	top := *v.Targets.Targets
	d := *top.Delegations
	d.Keys, d.Roles = map[string]*tuf.Key{}, nil
	var changedRoles []string
	for _, r := range v.Targets.Targets.Delegations.Roles {
		nr := *r
		if slices.Contains(p.SignedRoles(), r.Name) {
			nr.KeyIDs, nr.Threshold = p.RoleKeyIDs(r.Name), p.Expiry(r.Name).Threshold
			if !slices.Equal(nr.KeyIDs, r.KeyIDs) || nr.Threshold != r.Threshold {
				changedRoles = append(changedRoles, r.Name)
			}
		}
		for _, id := range nr.KeyIDs {
			if k, ok := keys[id]; ok {
				d.Keys[id] = k
			} else {
				d.Keys[id] = v.Targets.Targets.Delegations.Keys[id]
			}
		}
		d.Roles = append(d.Roles, &nr)
	}
	top.Delegations = &d
	if len(changedRoles) > 0 || !sameRole(old.Roles[tuf.TypeTargets], next.Roles[tuf.TypeTargets]) {
		top.Version, top.Expires = v.Targets.Version()+1, Expires(in.Now, p.Expiry(tuf.TypeTargets).Expiry)
		tf, err := tuf.NewTargetsFile(&top)
		if err != nil {
			return nil, nil, err
		}
		plan.Docs = append(plan.Docs, &Doc{Name: vault.TargetsFile, Role: tuf.TypeTargets, File: tf,
			Groups: []Group{rootGroup(fmt.Sprintf("root version %d's targets keys", next.Version), &next, tuf.TypeTargets)}})
	}
	slices.Sort(changedRoles)
	for _, role := range changedRoles {
		f, err := nextVersion(v.Delegators[role], in.Now, p.Expiry(role).Expiry)
		if err != nil {
			return nil, nil, err
		}
		plan.Docs = append(plan.Docs, &Doc{Name: vault.RoleFile(role), Role: role, File: f, Groups: []Group{delegationGroup(&top, role)}})
	}
	if plan.Binding, plan.BindingGroup, err = bindingFor(in.PolicyBytes, rf); err != nil {
		return nil, nil, err
	}
	if err := plan.checkExpiries(); err != nil {
		return nil, nil, err
	}
	return plan, change, nil
}

// nextVersion is a targets-type file's next version with a new expiry and
// nothing else changed.
func nextVersion(f *tuf.File, now time.Time, period time.Duration) (*tuf.File, error) {
	t := *f.Targets
	t.Version, t.Expires = f.Version()+1, Expires(now, period)
	return tuf.NewTargetsFile(&t)
}

func sameRole(a, b *tuf.RoleKeys) bool {
	return a != nil && b != nil && a.Threshold == b.Threshold && slices.Equal(sorted(a.KeyIDs), sorted(b.KeyIDs))
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}
