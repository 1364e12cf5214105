package session

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// benchFixture is a vault and a bundle of n adds whose keys the
// repository published a month before: all rule-approvable.
func benchFixture(b *testing.B, n int) *fixture {
	bench, err := intaketest.WriteBench(b, "", n)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(bench.Dir) })
	fx := newVault(b, bench.Fixture, softkeys)
	fx.bundle = bench.BundleDir()
	d, _, _ := fx.deps()
	s := fx.open(d)
	trust, _, err := ImportTrust(s.d.Vault)
	if err != nil {
		b.Fatal(err)
	}
	bd, err := bundle.Load(intaketest.DirSource{Dir: fx.bundle}, trust)
	if err != nil {
		b.Fatal(err)
	}
	h := &history.History{Published: map[string]map[string]time.Time{}}
	for _, it := range bd.Items {
		h.Published[it.Request.Name] = map[string]time.Time{it.Request.Keyset().Hash(): fx.now.AddDate(0, -1, 0)}
	}
	fx.vault.History = h
	return fx
}

// BenchmarkCeremony runs a whole ceremony through the session — open,
// preflight, clock, import (with the bundle copy), one bulk approval,
// build, two holders signing, the export planned and recorded, close —
// on storage fakes in memory. BenchmarkWorkAlone does the same work
// without the session: the difference is the session's bookkeeping.
func BenchmarkCeremony(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			fx := benchFixture(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, _, _ := fx.deps()
				s := fx.open(d)
				fx.run(s)
				if s.built.approved != n {
					b.Fatalf("%d approved", s.built.approved)
				}
			}
		})
	}
}

func BenchmarkWorkAlone(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			fx := benchFixture(b, n)
			d, _, _ := fx.deps()
			s := fx.open(d)
			trust, delegators, err := ImportTrust(s.d.Vault)
			if err != nil {
				b.Fatal(err)
			}
			p := fx.vault.Policy
			cur := fx.vault.Delegators["claimed"]
			keys := fx.vault.Targets.Targets.Delegations.Keys
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bd, err := bundle.Load(intaketest.DirSource{Dir: fx.bundle}, trust)
				if err != nil {
					b.Fatal(err)
				}
				vs := validate.Validate(validate.Input{Bundle: bd, Delegators: delegators, Rules: p.Rules, History: fx.vault.History, Now: fx.now})
				in := build.Input{Current: map[string]*tuf.File{"claimed": cur}, Approved: vs, Keys: map[string]*tuf.Key{},
					RoleFor: p.ShardFor, Versions: map[string]int64{"claimed": cur.Version() + 1}, Expires: fx.now.AddDate(0, 0, 90),
					PathTemplate: p.Rules.PathTemplate, RoleNames: p.Rules.RoleNames()}
				for _, it := range bd.Items {
					for _, e := range it.Request.Keys {
						in.Keys[e.Key.ID()] = e.Key
					}
				}
				built, err := build.Build(in)
				if err != nil {
					b.Fatal(err)
				}
				f := built[0].File
				reparsed, err := tuf.Parse("claimed", f.Bytes())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := build.Summarize("claimed", cur, reparsed); err != nil {
					b.Fatal(err)
				}
				for _, id := range fx.vault.Targets.Targets.Delegations.Roles[0].KeyIDs[:2] {
					if err := f.Sign(keys, id, fx.tokens.keys[id]); err != nil {
						b.Fatal(err)
					}
				}
				files, err := export.Plan("claimed", f, true, &export.Report{Role: "claimed", Version: f.Version()})
				if err != nil {
					b.Fatal(err)
				}
				for _, x := range files {
					bundle.SumHex(x.Data)
				}
			}
		})
	}
}
