package genesis

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// Errors a caller or test branches on.
var (
	// ErrNoSpare: a role's threshold equals its number of keys, so one
	// lost key would lock the role for good.
	ErrNoSpare = errors.New("the threshold equals the number of keys: losing one key would lock the role")
	// ErrRecord: the enrolment records and the policy's holder keys do
	// not agree.
	ErrRecord = errors.New("the enrolment records do not match the policy")
	// ErrNoLayout: the policy places no key in any role.
	ErrNoLayout = errors.New("the policy places no holder key in a role (holders[].keys[].roles)")
	// ErrOnline: the online keys of snapshot and timestamp are missing or
	// are holders' keys.
	ErrOnline = errors.New("the online keys are not as they must be")
)

// Input is what a first root is made from.
type Input struct {
	// Policy is the policy parsed from PolicyBytes; its layout places
	// the holders' keys.
	Policy      *policy.Policy
	PolicyBytes []byte
	// Records are the enrolment records of every key the layout places.
	Records []Record
	// Online holds the online public keys of snapshot and timestamp, by
	// role.
	Online map[string]*tuf.Key
	// OnlineDelegated holds the public keys of each of the policy's
	// online roles (policy.OnlineRoles), by role.
	OnlineDelegated map[string][]*tuf.Key
	// Now is the confirmed time: expiries count from it.
	Now time.Time
	// ForceThreshold, when not empty, is the written reason to accept a
	// threshold equal to the number of keys.
	ForceThreshold string
}

// OnlineRoles are the roles whose keys the online repository holds.
var OnlineRoles = []string{tuf.TypeSnapshot, tuf.TypeTimestamp}

// Init plans the first root: root version 1 with the holders' keys and
// thresholds the policy's layout gives and the online keys; targets
// version 1 delegating each signed role (claimed, or each shard) to its
// keys, in the policy's order, none terminating, then each of the
// policy's online roles to its online keys, which so serve what the
// signed roles do not list;
// and version 1 of each signed role, delegating no project yet (every
// project delegation Conclave writes is terminating: package delegation).
// Each is signed by its own keys, and the binding by the root keys.
func Init(in Input) (*Plan, error) {
	p := in.Policy
	if !p.Placed() {
		return nil, ErrNoLayout
	}
	keys, err := matchRecords(p, in.Records, nil)
	if err != nil {
		return nil, err
	}
	if err := checkSpare(p, in.ForceThreshold); err != nil {
		return nil, err
	}
	if err := checkOnline(in.Online, keys); err != nil {
		return nil, err
	}
	if err := checkOnlineDelegated(p, in.OnlineDelegated, keys); err != nil {
		return nil, err
	}
	root := &tuf.Root{Keys: map[string]*tuf.Key{}, Roles: map[string]*tuf.RoleKeys{}}
	consistent := true
	root.ConsistentSnapshot = &consistent
	root.Version, root.Expires = 1, Expires(in.Now, p.Expiry(tuf.TypeRoot).Expiry)
	placeTop(root, p, keys)
	for _, role := range OnlineRoles {
		k := in.Online[role]
		root.Keys[k.ID()] = k
		root.Roles[role] = &tuf.RoleKeys{KeyIDs: []string{k.ID()}, Threshold: 1}
	}
	if p.Rehearsal {
		// A rehearsal's root carries the mark a vault under a rehearsal
		// policy demands (vault.Open), so its metadata can never pass as
		// production metadata.
		root.MarkRehearsal(tuf.RehearsalNotice)
	}
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 1, Expires(in.Now, p.Expiry(tuf.TypeTargets).Expiry)
	top.Delegations = &tuf.Delegations{Keys: map[string]*tuf.Key{}}
	for _, role := range policyOrder(p) {
		top.Delegations.Roles = append(top.Delegations.Roles, &tuf.DelegatedRole{
			Name: role, KeyIDs: p.RoleKeyIDs(role), Threshold: p.Expiry(role).Threshold, Paths: rolePaths(p, role),
		})
		for _, id := range p.RoleKeyIDs(role) {
			top.Delegations.Keys[id] = keys[id]
		}
	}
	// The online roles come after every signed role: a client asks the
	// delegations in order (TUF specification §5.6.7.2), and a project's
	// path stops at its terminating delegation in a signed role, so an
	// online key never answers for a project the signed roles delegate.
	for _, r := range p.OnlineRoles {
		var ids []string
		for _, k := range in.OnlineDelegated[r.Name] {
			ids = append(ids, k.ID())
			top.Delegations.Keys[k.ID()] = k
		}
		top.Delegations.Roles = append(top.Delegations.Roles, &tuf.DelegatedRole{
			Name: r.Name, KeyIDs: ids, Threshold: r.Threshold, Paths: slices.Clone(r.Paths),
		})
	}
	rf, err := tuf.NewRootFile(root)
	if err != nil {
		return nil, err
	}
	tf, err := tuf.NewTargetsFile(top)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Policy: in.PolicyBytes, Docs: []*Doc{
		{Name: vault.RootFile(1), Role: tuf.TypeRoot, File: rf, Groups: []Group{rootGroup("root version 1's root keys", root, tuf.TypeRoot)}},
		{Name: vault.TargetsFile, Role: tuf.TypeTargets, File: tf, Groups: []Group{rootGroup("root version 1's targets keys", root, tuf.TypeTargets)}},
	}}
	for _, role := range p.SignedRoles() {
		t, err := delegation.Build(nil, p.Rules.PathTemplate, p.Rules.RoleNames(), 1, in.Now.Add(p.Expiry(role).Expiry).UTC().Truncate(time.Second))
		if err != nil {
			return nil, fmt.Errorf("build %s version 1: %w", role, err)
		}
		f, err := tuf.NewTargetsFile(t)
		if err != nil {
			return nil, err
		}
		plan.Docs = append(plan.Docs, &Doc{Name: vault.RoleFile(role), Role: role, File: f, Groups: []Group{delegationGroup(top, role)}})
	}
	if plan.Binding, plan.BindingGroup, err = bindingFor(in.PolicyBytes, rf); err != nil {
		return nil, err
	}
	if err := plan.checkExpiries(); err != nil {
		return nil, err
	}
	return plan, nil
}

// policyOrder is the signed roles in the order the policy writes them:
// the delegating role, or the shards as listed.
func policyOrder(p *policy.Policy) []string {
	if len(p.Shards) == 0 {
		return p.SignedRoles()
	}
	out := make([]string, len(p.Shards))
	for i, s := range p.Shards {
		out[i] = s.Role
	}
	return out
}

// placeTop sets root's root and targets roles to the layout's keys.
func placeTop(root *tuf.Root, p *policy.Policy, keys map[string]*tuf.Key) {
	for _, role := range []string{tuf.TypeRoot, tuf.TypeTargets} {
		ids := p.RoleKeyIDs(role)
		for _, id := range ids {
			root.Keys[id] = keys[id]
		}
		root.Roles[role] = &tuf.RoleKeys{KeyIDs: ids, Threshold: p.Expiry(role).Threshold}
	}
}

// rolePaths are a signed role's delegated paths: a shard's, written out
// in the policy, or for the one delegating role every path the template
// can give a project.
func rolePaths(p *policy.Policy, role string) []string {
	for _, s := range p.Shards {
		if s.Role == role {
			return slices.Clone(s.Paths)
		}
	}
	return []string{strings.ReplaceAll(p.Rules.PathTemplate, "{name}", "*")}
}

// matchRecords returns the public key of every key the layout places, by
// keyid: from known (the keys of the current metadata) or from a record.
// Each record must be a key the policy enrols, for the same holder, on
// the same token, and every placed key not in known needs a record.
func matchRecords(p *policy.Policy, records []Record, known map[string]*tuf.Key) (map[string]*tuf.Key, error) {
	byID := map[string]Record{}
	for i, r := range records {
		if r.Key == nil {
			return nil, fmt.Errorf("%w: record %d holds no key", ErrRecord, i+1)
		}
		id := r.Key.ID()
		if _, dup := byID[id]; dup {
			return nil, fmt.Errorf("%w: key %s is given in two records", ErrRecord, id)
		}
		h, ok := p.Holder(id)
		if !ok {
			return nil, fmt.Errorf("%w: %s's record is of key %s, which the policy enrols for no holder", ErrRecord, r.Holder, id)
		}
		if h.Name != r.Holder {
			return nil, fmt.Errorf("%w: key %s is %s's in the record and %s's in the policy", ErrRecord, id, r.Holder, h.Name)
		}
		for _, k := range h.Keys {
			if k.KeyID == id && (k.Token != r.Token || k.Serial != r.Serial || k.Slot != r.Slot || k.URI != r.URI) {
				return nil, fmt.Errorf("%w: %s's key %s is on %s in the record and on %s in the policy", ErrRecord, h.Name, id, where(r.Token, r.Serial, r.Slot, r.URI), where(k.Token, k.Serial, k.Slot, k.URI))
			}
		}
		byID[id] = r
	}
	out := map[string]*tuf.Key{}
	for _, h := range p.Holders {
		for _, k := range h.Keys {
			roles := p.KeyRoles[k.KeyID]
			if len(roles) == 0 {
				continue
			}
			if r, ok := byID[k.KeyID]; ok {
				out[k.KeyID] = r.Key
			} else if pk, ok := known[k.KeyID]; ok {
				out[k.KeyID] = pk
			} else {
				return nil, fmt.Errorf("%w: %s's key %s (roles %s) has no enrolment record among those given", ErrRecord, h.Name, k.KeyID, strings.Join(roles, ", "))
			}
		}
	}
	return out, nil
}

func where(token string, serial uint32, slot, uri string) string {
	if token == policy.TokenYubiKey {
		return fmt.Sprintf("YubiKey %d slot %s", serial, slot)
	}
	return token + " " + uri
}

// checkSpare refuses a role whose threshold equals its number of keys,
// unless a reason is written.
func checkSpare(p *policy.Policy, reason string) error {
	if strings.TrimSpace(reason) != "" {
		return nil
	}
	for _, role := range p.LayoutRoles() {
		n, t := len(p.RoleKeyIDs(role)), p.Expiry(role).Threshold
		if int64(n) == t {
			return fmt.Errorf("role %s: %w (threshold %d of %d keys); add a key, lower the threshold, or accept it with a written reason", role, ErrNoSpare, t, n)
		}
	}
	return nil
}

// checkOnline: snapshot and timestamp each have an online key, and no
// online key is a holder's: the online repository holds it.
func checkOnline(online map[string]*tuf.Key, holders map[string]*tuf.Key) error {
	for _, role := range OnlineRoles {
		k := online[role]
		if k == nil {
			return fmt.Errorf("%w: no online key for %s", ErrOnline, role)
		}
		if _, ok := holders[k.ID()]; ok {
			return fmt.Errorf("%w: %s's online key %s is a holder's key: the online repository would hold it", ErrOnline, role, k.ID())
		}
	}
	for role := range online {
		if !slices.Contains(OnlineRoles, role) {
			return fmt.Errorf("%w: %s is not an online role (snapshot, timestamp)", ErrOnline, role)
		}
	}
	return nil
}

// checkOnlineDelegated: each of the policy's online roles has keys
// enough for its threshold, each key once and none a holder's; no keys
// are given for a role the policy does not name online.
func checkOnlineDelegated(p *policy.Policy, online map[string][]*tuf.Key, holders map[string]*tuf.Key) error {
	for role := range online {
		if _, ok := p.OnlineRole(role); !ok {
			return fmt.Errorf("%w: the policy names no online role %s (online_roles)", ErrOnline, role)
		}
	}
	for _, r := range p.OnlineRoles {
		seen := map[string]bool{}
		for _, k := range online[r.Name] {
			if _, ok := holders[k.ID()]; ok {
				return fmt.Errorf("%w: %s's online key %s is a holder's key: the online repository would hold it", ErrOnline, r.Name, k.ID())
			}
			if seen[k.ID()] {
				return fmt.Errorf("%w: %s's online key %s is given twice", ErrOnline, r.Name, k.ID())
			}
			seen[k.ID()] = true
		}
		if n := int64(len(seen)); n < r.Threshold {
			return fmt.Errorf("%w: online role %s has threshold %d and %d keys", ErrOnline, r.Name, r.Threshold, n)
		}
	}
	return nil
}
