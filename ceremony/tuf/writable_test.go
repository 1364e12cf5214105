package tuf

import (
	"testing"
)

// TestNewFileRefuses: Conclave reads some metadata it never writes.
func TestNewFileRefuses(t *testing.T) {
	a, b := edSigner(1), edSigner(2)
	ka, kb := mustKey(t, a.Public()), mustKey(t, b.Public())
	for _, tc := range []struct {
		name   string
		root   func(r *Root)
		want   string
		target error
	}{
		{"consistent_snapshot unset", func(r *Root) { r.ConsistentSnapshot = nil },
			"encode root metadata: signed.consistent_snapshot: must be set (true or false)", nil},
		{"version 0", func(r *Root) { r.Version = 0 },
			"encode root metadata: signed.version: must be at least 1, not 0", nil},
		{"keyid mismatch", func(r *Root) { r.Keys["00ff"] = kb },
			"encode root metadata: signed.keys.00ff: keyid does not match its key: the key hashes to " + kb.ID(), ErrKeyIDMismatch},
		{"role missing", func(r *Root) { delete(r.Roles, TypeTimestamp) },
			"encode root metadata: signed.roles.timestamp: is missing (root must name the timestamp role)", nil},
		{"undefined key", func(r *Root) { r.Roles[TypeSnapshot].KeyIDs = []string{kb.ID()} },
			"encode root metadata: signed.roles.snapshot.keyids: role lists a key that is not defined: " + kb.ID(), ErrMissingKey},
		{"keyid twice", func(r *Root) { r.Roles[TypeRoot].KeyIDs = []string{ka.ID(), ka.ID()} },
			"encode root metadata: signed.roles.root.keyids: keyid " + ka.ID() + " is listed twice", nil},
		{"threshold 0", func(r *Root) { r.Roles[TypeTargets].Threshold = 0 },
			"encode root metadata: signed.roles.targets.threshold: must be at least 1, not 0", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoot(1, 1, ka)
			tc.root(r)
			_, err := NewRootFile(r)
			wantErr(t, err, tc.target, tc.want)
		})
	}

	for _, tc := range []struct {
		name    string
		targets func(tg *Targets)
		want    string
		target  error
	}{
		{"no hashes", func(tg *Targets) { tg.Targets["a b"] = &TargetFile{Length: 1} },
			`encode targets metadata: signed.targets["a b"].hashes: must list at least one hash`, nil},
		{"roles and succinct", func(tg *Targets) {
			tg.Delegations.SuccinctRoles = &SuccinctRoles{KeyIDs: []string{ka.ID()}, Threshold: 1, BitLength: 1, NamePrefix: "b"}
		}, "encode targets metadata: signed.delegations: must have exactly one of roles and succinct_roles", nil},
		{"neither roles nor succinct", func(tg *Targets) { tg.Delegations.Roles = nil },
			"encode targets metadata: signed.delegations: must have exactly one of roles and succinct_roles", nil},
		{"paths and prefixes", func(tg *Targets) { tg.Delegations.Roles[0].PathHashPrefixes = []string{"00"} },
			"encode targets metadata: signed.delegations.roles[0]: must have exactly one of paths and path_hash_prefixes", nil},
		{"delegated threshold 0", func(tg *Targets) { tg.Delegations.Roles[0].Threshold = 0 },
			"encode targets metadata: signed.delegations.roles[0].threshold: must be at least 1, not 0", nil},
		{"delegated keyid twice", func(tg *Targets) {
			tg.Delegations.Roles[0].KeyIDs = append(tg.Delegations.Roles[0].KeyIDs, tg.Delegations.Roles[0].KeyIDs[0])
		},
			"encode targets metadata: signed.delegations.roles[0].keyids: keyid " + ka.ID() + " is listed twice", nil},
		{"delegated undefined key", func(tg *Targets) { tg.Delegations.Roles[0].KeyIDs = []string{kb.ID()} },
			"encode targets metadata: signed.delegations.roles[0].keyids: role lists a key that is not defined: " + kb.ID(), ErrMissingKey},
		{"delegated keyid mismatch", func(tg *Targets) { tg.Delegations.Keys["00"] = ka },
			"encode targets metadata: signed.delegations.keys.00: keyid does not match its key: the key hashes to " + ka.ID(), ErrKeyIDMismatch},
		{"succinct threshold 0", func(tg *Targets) {
			tg.Delegations.Roles = nil
			tg.Delegations.SuccinctRoles = &SuccinctRoles{KeyIDs: []string{ka.ID()}, Threshold: 0, BitLength: 1, NamePrefix: "b"}
		}, "encode targets metadata: signed.delegations.succinct_roles.threshold: must be at least 1, not 0", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := delegator(t, ka)
			tg.Delegations.Roles = []*DelegatedRole{{Name: "p", KeyIDs: []string{ka.ID()}, Threshold: 1, Paths: []string{"p/*"}}}
			if _, err := NewTargetsFile(tg); err != nil {
				t.Fatalf("base case: %v", err)
			}
			tc.targets(tg)
			_, err := NewTargetsFile(tg)
			wantErr(t, err, tc.target, tc.want)
		})
	}
}
