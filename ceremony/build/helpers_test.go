package build

import (
	"crypto/ed25519"
	"encoding/binary"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

const template = "{name}/*"

var (
	expires   = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	roleNames = []string{"claimed", "shard-a", "shard-b", "shard-c"}
)

// key is the ed25519 key made from seed n.
func key(n int) *tuf.Key {
	seed := make([]byte, ed25519.SeedSize)
	binary.BigEndian.PutUint64(seed, uint64(n)+1)
	k, err := tuf.KeyFromPublic(ed25519.NewKeyFromSeed(seed).Public())
	if err != nil {
		panic(err) // an ed25519 key always converts
	}
	return k
}

// keyMap holds keys by keyid, as Input.Keys does.
func keyMap(keys ...*tuf.Key) map[string]*tuf.Key {
	m := make(map[string]*tuf.Key, len(keys))
	for _, k := range keys {
		m[k.ID()] = k
	}
	return m
}

// signed makes a role's current metadata at version 5.
func signed(tb testing.TB, projects ...delegation.Project) *tuf.File {
	tb.Helper()
	t, err := delegation.Build(projects, template, roleNames, 5, expires.AddDate(0, -3, 0))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := tuf.NewTargetsFile(t)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func project(name string, threshold int64, keys ...*tuf.Key) delegation.Project {
	return delegation.Project{Name: name, Keys: keys, Threshold: threshold}
}

// described is a delegation as a verdict describes it (validate's
// describe): keys in the order given.
func described(keys []*tuf.Key, threshold int64, paths []string) *verdict.Delegation {
	d := &verdict.Delegation{Keys: []verdict.Key{}, Threshold: threshold, Paths: paths}
	for _, k := range keys {
		d.Keys = append(d.Keys, verdict.Key{KeyID: k.ID(), Fingerprint: k.Fingerprint(), Scheme: k.Scheme})
	}
	return d
}

// beforeOf describes project's current delegation in f.
func beforeOf(tb testing.TB, f *tuf.File, name string) *verdict.Delegation {
	tb.Helper()
	d := f.Targets.Delegations
	for _, r := range d.Roles {
		if r.Name == name {
			keys := make([]*tuf.Key, len(r.KeyIDs))
			for i, id := range r.KeyIDs {
				keys[i] = d.Keys[id]
			}
			return described(keys, r.Threshold, r.Paths)
		}
	}
	tb.Fatalf("%s is not delegated", name)
	return nil
}

func approved(id, name string, before, after *verdict.Delegation) verdict.Verdict {
	return verdict.Verdict{RequestID: id, Project: name, Class: verdict.RuleApprovable, Change: &verdict.Change{Before: before, After: after}}
}

func add(id, name string, threshold int64, keys ...*tuf.Key) verdict.Verdict {
	return approved(id, name, nil, described(keys, threshold, delegation.Paths(template, name)))
}

func rotate(tb testing.TB, cur *tuf.File, id, name string, threshold int64, keys ...*tuf.Key) verdict.Verdict {
	return approved(id, name, beforeOf(tb, cur, name), described(keys, threshold, delegation.Paths(template, name)))
}

func remove(tb testing.TB, cur *tuf.File, id, name string) verdict.Verdict {
	return approved(id, name, beforeOf(tb, cur, name), nil)
}

// one is the Input for the single delegating role "claimed".
func one(cur *tuf.File, keys map[string]*tuf.Key, vs ...verdict.Verdict) Input {
	return Input{
		Current:      map[string]*tuf.File{"claimed": cur},
		Approved:     vs,
		Keys:         keys,
		RoleFor:      func(string) string { return "claimed" },
		Versions:     map[string]int64{"claimed": 6},
		Expires:      expires,
		PathTemplate: template,
		RoleNames:    roleNames,
	}
}
