package build

import (
	"fmt"
	"hash/fnv"
	"sync"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// benchKeys are made once: 200,000 keys take a while to derive.
var benchKeys = sync.OnceValue(func() []*tuf.Key {
	ks := make([]*tuf.Key, 200_000)
	for i := range ks {
		ks[i] = key(i)
	}
	return ks
})

// benchName is project i's name; even ones are delegated, odd ones added,
// so that the adds merge in between.
func benchName(i int) string { return fmt.Sprintf("project-%06d", i) }

// BenchmarkBuild100k: claimed delegates 100,000 projects and 100,000 adds
// are approved; Build, and Summarize the built file against the current
// version.
func BenchmarkBuild100k(b *testing.B) {
	ks := benchKeys()
	const n = 100_000
	projects := make([]delegation.Project, n)
	vs := make([]verdict.Verdict, n)
	for i := range n {
		projects[i] = project(benchName(2*i), 1, ks[2*i])
		vs[i] = add(fmt.Sprintf("r%06d", i), benchName(2*i+1), 1, ks[2*i+1])
	}
	cur := signed(b, projects...)
	in := one(cur, keyMap(ks...), vs...)
	ps, err := Build(in)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Build(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("summarize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			card, err := Summarize("claimed", cur, ps[0].File)
			if err != nil {
				b.Fatal(err)
			}
			if card.Added != n {
				b.Fatalf("%d added", card.Added)
			}
		}
	})
}

// BenchmarkBuildShards: claimed in 32 shards holding 100,000 projects;
// 500 changes (400 adds, 50 rotations, 50 removals) spread over them.
func BenchmarkBuildShards(b *testing.B) {
	ks := benchKeys()
	const shards, n, changes = 32, 100_000, 500
	shardOf := func(p string) string {
		h := fnv.New32a()
		h.Write([]byte(p))
		return fmt.Sprintf("shard-%02d", h.Sum32()%shards)
	}
	byShard := map[string][]delegation.Project{}
	for i := range n {
		name := benchName(2 * i)
		byShard[shardOf(name)] = append(byShard[shardOf(name)], project(name, 1, ks[2*i]))
	}
	in := Input{
		Current: map[string]*tuf.File{}, Keys: keyMap(ks...), RoleFor: shardOf, Versions: map[string]int64{},
		Expires: expires, PathTemplate: template, RoleNames: roleNames,
	}
	for s, ps := range byShard {
		in.Current[s] = signed(b, ps...)
		in.Versions[s] = 6
	}
	step := n / changes
	for c := range changes {
		i := c * step
		id := fmt.Sprintf("r%03d", c)
		switch {
		case c < 400:
			in.Approved = append(in.Approved, add(id, benchName(2*i+1), 1, ks[2*i+1]))
		case c < 450:
			in.Approved = append(in.Approved, rotate(b, in.Current[shardOf(benchName(2*i))], id, benchName(2*i), 1, ks[2*i+1]))
		default:
			in.Approved = append(in.Approved, remove(b, in.Current[shardOf(benchName(2*i))], id, benchName(2*i)))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ps, err := Build(in)
		if err != nil {
			b.Fatal(err)
		}
		total := 0
		for _, p := range ps {
			card, err := Summarize(p.Role, in.Current[p.Role], p.File)
			if err != nil {
				b.Fatal(err)
			}
			total += len(card.Changes)
		}
		if total != changes {
			b.Fatalf("%d changes on the cards", total)
		}
	}
	b.ReportMetric(float64(len(in.Current)), "shards")
}
