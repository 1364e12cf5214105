package main

import (
	"io"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
	"github.com/conclave-keys/conclave/internal/parallel"
)

// The import as the binary does it, on a bundle of 100,000 add requests
// with 2 developer keys each (CONCLAVE_BENCH_REQUESTS sets another size),
// written where CONCLAVE_BENCH_DIR says (e.g. /dev/shm, to measure
// Conclave rather than a slow disk):
//
//	CONCLAVE_BENCH_DIR=/dev/shm go test -run '^$' -bench ImportMedia -benchtime 3x ./cmd/conclave/
//
// BenchmarkImportMedia is the whole import; BenchmarkImportMediaSignaturesAlone
// is its yardstick: the same 200,000 proof-of-possession signature checks,
// spread over every core, and nothing else. The bar is the first
// at most 1.3 times the second.

var (
	mediaOnce  sync.Once
	mediaBench *it.Bench
	mediaErr   error
)

func mediaBundle(b *testing.B) *it.Bench {
	mediaOnce.Do(func() {
		n := 100_000
		if v, err := strconv.Atoi(os.Getenv("CONCLAVE_BENCH_REQUESTS")); err == nil && v > 0 {
			n = v
		}
		mediaBench, mediaErr = it.WriteBench(b, os.Getenv("CONCLAVE_BENCH_DIR"), n)
	})
	if mediaErr != nil {
		b.Fatal(mediaErr)
	}
	return mediaBench
}

func TestMain(m *testing.M) {
	code := m.Run()
	if mediaBench != nil {
		os.RemoveAll(mediaBench.Dir)
	}
	os.Exit(code)
}

// BenchmarkImportMedia: the bundle read through airgap/safefile, every
// request parsed and validated with its 2 possession signatures checked on
// every core, the verdicts ordered and the JSON report written.
func BenchmarkImportMedia(b *testing.B) {
	bb := mediaBundle(b)
	n := len(bb.Msgs) / 2
	f := bb.Fixture
	trust := bundle.Trust{
		IntakeKeys: map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key},
		Base:       f.Base,
		Rules:      f.Rules,
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		report, _ := importBundle(bb.BundleDir(), trust, f.Delegator.Targets, nil, it.Now)
		if report.Refused != nil || report.Counts != (verdict.Counts{NeedsJudgement: n}) {
			b.Fatalf("unexpected report: %+v %+v", report.Refused, report.Counts)
		}
		if err := report.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImportMediaSignaturesAlone: the yardstick for the above.
func BenchmarkImportMediaSignaturesAlone(b *testing.B) {
	bb := mediaBundle(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parallel.For(len(bb.Msgs), 32, func(j int) {
			if err := bb.Keys[j].Verify(bb.Msgs[j], bb.Sigs[j]); err != nil {
				panic(err)
			}
		})
	}
}
