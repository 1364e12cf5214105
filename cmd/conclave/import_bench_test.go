package main

import (
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// BenchmarkImportMedia is the import as the binary does it: the bundle
// read through airgap/safefile, every request parsed and validated, the
// 2 proof-of-possession signatures of each checked on every core, and the
// JSON report written. 100,000 requests unless CONCLAVE_BENCH_REQUESTS
// says otherwise; the bundle goes where CONCLAVE_BENCH_DIR says (e.g.
// /dev/shm):
//
//	CONCLAVE_BENCH_DIR=/dev/shm go test -run '^$' -bench ImportMedia -benchtime 3x ./cmd/conclave/
func BenchmarkImportMedia(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CONCLAVE_BENCH_REQUESTS")); err == nil && v > 0 {
		n = v
	}
	bb, err := it.WriteBench(b, os.Getenv("CONCLAVE_BENCH_DIR"), n)
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(bb.Dir)
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
