// Package vaulttest makes vaults for tests: three root holders with fixed
// ed25519 keys (threshold 2 for root, targets and the delegated role
// "claimed"), root versions 1 and 2, targets and claimed version 1, a
// policy naming the holders, and the binding signed by holders 1 and 3.
// NewSharded makes the same vault with claimed split into shards.
package vaulttest

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// T is what the fixture needs of a test: testing.TB has it, and a
// testscript command can wrap its script in it.
type T interface {
	Helper()
	Fatal(args ...any)
}

// Now is the fixture's clock: metadata expires a few months after it.
var Now = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// Holder is one key of a root holder.
type Holder struct {
	Signer ed25519.PrivateKey
	Key    *tuf.Key
}

// Key is the holder key with seed byte n.
func Key(t T, n byte) Holder {
	t.Helper()
	s := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
	k, err := tuf.KeyFromPublic(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return Holder{s, k}
}

// Fixture is the metadata, policy and holders of a vault.
type Fixture struct {
	Holders []Holder
	Roots   []*tuf.File
	Targets *tuf.File
	Claimed *tuf.File
	// Shards, in a sharded fixture, are the shards' metadata by role
	// name (Claimed is then nil).
	Shards map[string]*tuf.File
	Policy []byte
}

// IDs are the holders' keyids, sorted.
func IDs(hs []Holder) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Key.ID())
	}
	sort.Strings(out)
	return out
}

// Keys are the holders' keys by keyid.
func Keys(hs []Holder) map[string]*tuf.Key {
	m := map[string]*tuf.Key{}
	for _, h := range hs {
		m[h.Key.ID()] = h.Key
	}
	return m
}

// Sign signs f by each holder, keys being its delegator's keys.
func Sign(t T, f *tuf.File, keys map[string]*tuf.Key, hs ...Holder) {
	t.Helper()
	for _, h := range hs {
		if err := f.Sign(keys, h.Key.ID(), h.Signer); err != nil {
			t.Fatal(err)
		}
	}
}

// Root is an unsigned root of the version, the holders holding every
// top-level role with threshold 2, marked as a rehearsal's
// (tuf.RehearsalMark): the fixture's policies are rehearsal policies, and
// a vault opens only when its roots and its policy agree.
func Root(t T, version int64, hs []Holder) *tuf.File {
	t.Helper()
	r := &tuf.Root{Keys: Keys(hs), Roles: map[string]*tuf.RoleKeys{}}
	r.Version, r.Expires = version, tuf.NewExpiry(Now.AddDate(1, 0, 0))
	r.MarkRehearsal(tuf.RehearsalNotice)
	consistent := true
	r.ConsistentSnapshot = &consistent
	for _, role := range []string{tuf.TypeRoot, tuf.TypeTargets, tuf.TypeSnapshot, tuf.TypeTimestamp} {
		r.Roles[role] = &tuf.RoleKeys{KeyIDs: IDs(hs), Threshold: 2}
	}
	f, err := tuf.NewRootFile(r)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Targets is unsigned top-level targets delegating "claimed" to the
// holders, threshold 2.
func Targets(t T, version int64, hs []Holder) *tuf.File {
	t.Helper()
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = version, tuf.NewExpiry(Now.AddDate(0, 6, 0))
	top.Delegations = &tuf.Delegations{Keys: Keys(hs), Roles: []*tuf.DelegatedRole{{
		Name: "claimed", KeyIDs: IDs(hs), Threshold: 2, Paths: []string{"*/*"},
	}}}
	f, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Claimed is an unsigned, empty claimed role of the version.
func Claimed(t T, version int64) *tuf.File {
	t.Helper()
	c := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	c.Version, c.Expires = version, tuf.NewExpiry(Now.AddDate(0, 3, 0))
	f, err := tuf.NewTargetsFile(c)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// New makes the fixture.
func New(t T) *Fixture {
	t.Helper()
	hs := []Holder{Key(t, 1), Key(t, 2), Key(t, 3)}
	fx := &Fixture{Holders: hs, Policy: Policy(hs)}
	r1 := Root(t, 1, hs)
	Sign(t, r1, r1.Root.Keys, hs[0], hs[1])
	r2 := Root(t, 2, hs)
	Sign(t, r2, r2.Root.Keys, hs[1], hs[2])
	fx.Roots = []*tuf.File{r1, r2}
	fx.Targets = Targets(t, 1, hs)
	Sign(t, fx.Targets, r2.Root.Keys, hs[0], hs[2])
	fx.Claimed = Claimed(t, 1)
	Sign(t, fx.Claimed, fx.Targets.Targets.Delegations.Keys, hs[0], hs[1])
	return fx
}

// Binding is the binding of policy to the fixture's last root signed by
// the holders given.
func (fx *Fixture) Binding(t T, policy []byte, hs ...Holder) []byte {
	t.Helper()
	env, err := vault.NewBinding(policy, fx.Roots[len(fx.Roots)-1])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if err := env.Sign(h.Signer, h.Key); err != nil {
			t.Fatal(err)
		}
	}
	return env.Marshal()
}

// Input is what the fixture's vault is adopted from, the binding signed
// by holders 1 and 3.
func (fx *Fixture) Input(t T) vault.AdoptInput {
	t.Helper()
	var roots [][]byte
	for _, r := range fx.Roots {
		roots = append(roots, r.Bytes())
	}
	roles := map[string][]byte{}
	if fx.Shards == nil {
		roles["claimed"] = fx.Claimed.Bytes()
	}
	for role, f := range fx.Shards {
		roles[role] = f.Bytes()
	}
	return vault.AdoptInput{
		Roots:   roots,
		Targets: fx.Targets.Bytes(),
		Roles:   roles,
		Policy:  fx.Policy,
		Binding: fx.Binding(t, fx.Policy, fx.Holders[0], fx.Holders[2]),
	}
}

// Adopted is the fixture's first generation.
func (fx *Fixture) Adopted(t T) []vault.File {
	t.Helper()
	files, err := vault.Adopt(fx.Input(t))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Policy is a rehearsal policy for repository "example" naming each
// holder's key as a software key.
func Policy(hs []Holder) []byte {
	var b strings.Builder
	b.WriteString(`format: conclave-policy/1
rehearsal: true
repository: example
intake_keys:
  - keytype: ed25519
    scheme: ed25519
    keyval:
      public: d943401082d79304938763c96058aca8268d73886fcb8e34ba01169fc7113b3b
delegating_role: claimed
holders:
`)
	for i, h := range hs {
		fmt.Fprintf(&b, "  - name: Holder %d\n    keys:\n      - keyid: %s\n        token: softkey\n        uri: softkey:name=holder%d\n", i+1, h.Key.ID(), i+1)
	}
	return []byte(b.String())
}

// Shard is one shard of a sharded fixture: its role, its project-name
// prefixes, its current version (1 when zero) and the projects that
// version delegates.
type Shard struct {
	Role     string
	Prefixes []string
	Version  int64
	Projects []delegation.Project
}

// ShardPaths are the paths targets delegates to a shard, and the policy
// names: "P*" for each prefix P ("*" for the prefix ""), which covers the
// default path template's "{name}/*" of every project under it.
func ShardPaths(prefixes []string) []string {
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p + "*"
	}
	return out
}

// NewSharded makes the fixture with claimed split into shards: targets
// version 1 delegates each shard to the holders (threshold 2, the shard's
// paths), each shard's current version delegates its projects (path
// template "{name}/*") and is signed by holders 1 and 2, and the policy names the
// shards and intake as the repository's intake key.
func NewSharded(t T, intake *tuf.Key, shards []Shard) *Fixture {
	t.Helper()
	hs := []Holder{Key(t, 1), Key(t, 2), Key(t, 3)}
	fx := &Fixture{Holders: hs, Policy: ShardedPolicy(hs, intake, shards), Shards: map[string]*tuf.File{}}
	r1 := Root(t, 1, hs)
	Sign(t, r1, r1.Root.Keys, hs[0], hs[1])
	r2 := Root(t, 2, hs)
	Sign(t, r2, r2.Root.Keys, hs[1], hs[2])
	fx.Roots = []*tuf.File{r1, r2}
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 1, tuf.NewExpiry(Now.AddDate(0, 6, 0))
	top.Delegations = &tuf.Delegations{Keys: Keys(hs)}
	var names []string
	for _, s := range shards {
		names = append(names, s.Role)
		top.Delegations.Roles = append(top.Delegations.Roles, &tuf.DelegatedRole{Name: s.Role, KeyIDs: IDs(hs), Threshold: 2, Paths: ShardPaths(s.Prefixes)})
	}
	f, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	fx.Targets = f
	Sign(t, fx.Targets, r2.Root.Keys, hs[0], hs[2])
	for _, s := range shards {
		c, err := delegation.Build(s.Projects, "{name}/*", names, max(s.Version, 1), Now.AddDate(0, 3, 0))
		if err != nil {
			t.Fatal(err)
		}
		cf, err := tuf.NewTargetsFile(c)
		if err != nil {
			t.Fatal(err)
		}
		Sign(t, cf, top.Delegations.Keys, hs[0], hs[1])
		fx.Shards[s.Role] = cf
	}
	return fx
}

// ShardedPolicy is the rehearsal policy of Policy with the shards instead
// of delegating_role, and intake as the intake key.
func ShardedPolicy(hs []Holder, intake *tuf.Key, shards []Shard) []byte {
	var b strings.Builder
	// A TUF key object in canonical JSON is a YAML flow mapping.
	fmt.Fprintf(&b, "format: conclave-policy/1\nrehearsal: true\nrepository: example\nintake_keys:\n  - %s\nshards:\n", intake.Canonical())
	for _, s := range shards {
		fmt.Fprintf(&b, "  - role: %s\n    prefixes: [%s]\n    paths: [%s]\n", s.Role, quoted(s.Prefixes), quoted(ShardPaths(s.Prefixes)))
	}
	b.WriteString("holders:\n")
	for i, h := range hs {
		fmt.Fprintf(&b, "  - name: Holder %d\n    keys:\n      - keyid: %s\n        token: softkey\n        uri: softkey:name=holder%d\n", i+1, h.Key.ID(), i+1)
	}
	return []byte(b.String())
}

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
