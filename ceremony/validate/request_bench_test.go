package validate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// What one request costs to judge, from its bytes to its verdict (parse,
// key checks, signatures, judgement), on one core. "Typical" is what the
// import benchmark's bundle holds: an add with 2 ed25519 keys. The others
// have the most keys the default policy allows (16), of one kind each; the
// costliest of them is the worst legal request (with Go's crypto, P-384,
// then RSA-4096). Run with
//
//	go test -run '^$' -bench 'Request' ./ceremony/validate/
//
// BenchmarkWorstLegalRequestRatio times them back to back in every
// iteration and reports each as a multiple of the typical one, per
// request and per listed key.

var (
	costOnce, costFixtureOnce sync.Once
	costRequests              map[string][]byte
	costFixture               *it.Fixture
	costErr                   error
)

// costFix is the fixture's trusted state, made once.
func costFix(b *testing.B) *it.Fixture {
	costFixtureOnce.Do(func() { costFixture = it.New(b) })
	return costFixture
}

// costSigners makes n developer keys of a kind.
func costSigners(kind string, n int) ([]intake.Signer, error) {
	out := make([]intake.Signer, n)
	for i := range out {
		var s crypto.Signer
		var err error
		switch kind {
		case "ed25519":
			s = it.Key(fmt.Sprintf("cost-%d", i)).Signer
		case "p256":
			s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case "p384":
			s, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		case "rsa4096":
			s, err = rsa.GenerateKey(rand.Reader, 4096)
		}
		if err != nil {
			return nil, err
		}
		if out[i], err = intake.NewSigner(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func costSetUp(b *testing.B) {
	costFix(b)
	costOnce.Do(func() {
		costRequests = map[string][]byte{}
		for _, c := range []struct {
			name, kind string
			n          int
		}{
			{"typical-2-ed25519", "ed25519", 2},
			{"16-ed25519", "ed25519", 16},
			{"16-p256", "p256", 16},
			{"16-p384", "p384", 16},
			{"worst-16-rsa4096", "rsa4096", 16},
		} {
			ss, err := costSigners(c.kind, c.n)
			if err != nil {
				costErr = err
				return
			}
			keys := make([]*tuf.Key, len(ss))
			for i, s := range ss {
				keys[i] = s.Key
			}
			d, err := intake.NewDraft(intake.Request{ID: "r1", Kind: request.Add, Project: "new-project", Keys: keys, Threshold: int64(len(keys)), Made: it.Now.Add(-time.Hour), RequestedBy: "bench"})
			if err == nil {
				err = intake.SignPossession(d, ss)
			}
			if err != nil {
				costErr = err
				return
			}
			costRequests[c.name] = d.Encode()
		}
	})
	if costErr != nil {
		b.Fatal(costErr)
	}
}

// judgeOne parses and judges one request file: the work Validate does
// for each request of a bundle (parse, key checks, signatures,
// judgement), without what it does once per bundle (the index of the
// trusted delegations, the workers).
func judgeOne(b *testing.B, st *state, data []byte) {
	f := costFixture
	r, err := request.Parse(data, request.Limits{MaxDepth: f.Rules.MaxJSONDepth, MaxProjectName: f.Rules.MaxProjectName, MaxRequestedBy: f.Rules.MaxRequestedBy, MaxKeys: f.Rules.MaxKeys})
	if err != nil {
		b.Fatal(err)
	}
	kc := prepare(r, st.in, st.roles)
	v := st.judge(bundle.Item{Batch: "requests/0001.jsonl", Line: 1, Request: r}, kc)
	v.Settle()
	if v.Class == verdict.Invalid {
		b.Fatalf("unexpected verdict %+v", v)
	}
}

// costState is the index Validate builds, for a bundle of this request.
func costState(b *testing.B, data []byte) *state {
	f := costFixture
	r, err := request.Parse(data, request.Limits{MaxDepth: f.Rules.MaxJSONDepth, MaxProjectName: f.Rules.MaxProjectName, MaxRequestedBy: f.Rules.MaxRequestedBy, MaxKeys: f.Rules.MaxKeys})
	if err != nil {
		b.Fatal(err)
	}
	return index(&Input{Bundle: &bundle.Bundle{Items: []bundle.Item{{Batch: "requests/0001.jsonl", Line: 1, Request: r}}}, Delegators: map[string]*tuf.Targets{"claimed": f.Delegator.Targets}, Rules: f.Rules, Now: it.Now}, request.NewRoles(f.Rules.RoleNames()))
}

// BenchmarkRequestCost: one request of each shape, judged.
func BenchmarkRequestCost(b *testing.B) {
	costSetUp(b)
	for _, name := range []string{"typical-2-ed25519", "16-ed25519", "16-p256", "16-p384", "worst-16-rsa4096"} {
		b.Run(name, func(b *testing.B) {
			data := costRequests[name]
			st := costState(b, data)
			b.ResetTimer()
			for range b.N {
				judgeOne(b, st, data)
			}
		})
	}
}

// BenchmarkWorstLegalRequestRatio: the typical request and each request
// of 16 keys back to back in every iteration, so that a machine's drift
// affects both alike; reports each as a multiple of the typical one, per
// request (x-typical) and per listed key (x-typical-per-key).
func BenchmarkWorstLegalRequestRatio(b *testing.B) {
	costSetUp(b)
	names := []string{"typical-2-ed25519", "16-ed25519", "16-p256", "16-p384", "worst-16-rsa4096"}
	states := make([]*state, len(names))
	for i, n := range names {
		states[i] = costState(b, costRequests[n])
	}
	spent := make([]time.Duration, len(names))
	b.ResetTimer()
	for range b.N {
		for i, n := range names {
			start := time.Now()
			judgeOne(b, states[i], costRequests[n])
			spent[i] += time.Since(start)
		}
	}
	b.ReportMetric(float64(spent[0].Microseconds())/float64(b.N), "typical-µs")
	for i, n := range names[1:] {
		ratio := float64(spent[i+1]) / float64(spent[0])
		b.ReportMetric(ratio, n+"-x-typical")
		b.ReportMetric(ratio*2/16, n+"-x-typical-per-key")
	}
}

// BenchmarkHostileRSARequest: the hostile corpus's request of a
// 16384-bit RSA key with 300 signatures of its size under its keyid, which
// took seconds of CPU to judge before keys were bounded and judged before
// signatures; now refused without a verification.
func BenchmarkHostileRSARequest(b *testing.B) {
	f := costFix(b)
	data, err := os.ReadFile(filepath.Join("testdata", "hostile", "huge-rsa-key-with-hundreds-of-signatures-under-its-keyid", "bundle", "requests", "r1.json"))
	if err != nil {
		b.Fatal(err)
	}
	st := costState(b, data)
	b.ResetTimer()
	for range b.N {
		r, err := request.Parse(data, request.Limits{MaxDepth: f.Rules.MaxJSONDepth, MaxProjectName: f.Rules.MaxProjectName, MaxRequestedBy: f.Rules.MaxRequestedBy, MaxKeys: f.Rules.MaxKeys})
		if err != nil {
			b.Fatal(err)
		}
		kc := checkKeys(r, f.Rules)
		if kc.ok {
			b.Fatal("the hostile request's keys passed")
		}
		v := st.judge(bundle.Item{Batch: "requests/0001.jsonl", Line: 1, Request: r}, kc)
		if !v.Has(verdict.KeyRSALarge) {
			b.Fatalf("unexpected verdict %+v", v)
		}
	}
}
