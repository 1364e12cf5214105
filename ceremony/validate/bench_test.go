package validate

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// The import benchmark: import and validate a bundle of 100,000 add
// requests with 2 developer keys each (hashing, parsing, validation), with
// and without the 200,000 proof-of-possession signature checks, and those
// checks alone spread over every core for comparison. Run with
//
//	CONCLAVE_BENCH_DIR=/dev/shm go test -run '^$' -bench . -benchtime 3x ./ceremony/validate/
//
// CONCLAVE_BENCH_REQUESTS sets another size. Memory is not measured here
// (the test process also holds the set-up data): run the binary on the
// kept bundle (CONCLAVE_BENCH_KEEP=1) under /usr/bin/time -v instead.
// Files are read with plain os calls here; the binary reads them through
// airgap/safefile.

var (
	benchOnce sync.Once
	bench     *it.Bench
	benchErr  error
)

func benchSize() int {
	if n, err := strconv.Atoi(os.Getenv("CONCLAVE_BENCH_REQUESTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench != nil {
		if os.Getenv("CONCLAVE_BENCH_KEEP") != "" {
			// For measuring the binary: conclave import --dry-run
			// --delegator DIR/7.claimed.json --intake-key DIR/intake.json
			// --repository example.org DIR/bundle
			fmt.Fprintf(os.Stderr, "benchmark bundle kept in %s\n", bench.Dir)
		} else {
			os.RemoveAll(bench.Dir)
		}
	}
	os.Exit(code)
}

// makeBench writes the bundle once, where CONCLAVE_BENCH_DIR says (e.g.
// /dev/shm, to measure Conclave rather than a slow disk).
func makeBench(b *testing.B) *it.Bench {
	benchOnce.Do(func() {
		bench, benchErr = it.WriteBench(b, os.Getenv("CONCLAVE_BENCH_DIR"), benchSize())
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

func runImport(b *testing.B, bb *it.Bench, skipSigs bool) {
	f := bb.Fixture
	loaded, err := bundle.Load(it.DirSource{Dir: bb.BundleDir()}, bundle.Trust{
		IntakeKeys: map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key},
		Bases:      f.Bases,
		Rules:      f.Rules,
	})
	if err != nil {
		b.Fatal(err)
	}
	vs := Validate(Input{Bundle: loaded, Delegators: map[string]*tuf.Targets{"claimed": f.Delegator.Targets}, Rules: f.Rules, Now: it.Now, skipSignatures: skipSigs})
	if len(vs) != benchSize() {
		b.Fatalf("%d verdicts", len(vs))
	}
	for _, v := range vs[:10] {
		// No dwell (no history), nothing else.
		if codes := v.Codes(); len(codes) != 1 || codes[0] != "no-dwell" {
			b.Fatalf("unexpected verdict %+v", v)
		}
	}
}

func benchImport(b *testing.B, skipSigs bool) {
	bb := makeBench(b)
	runtime.GC()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runImport(b, bb, skipSigs)
	}
}

// BenchmarkImportNoSignatures: hashing, parsing and validation, without
// the proof-of-possession signature checks.
func BenchmarkImportNoSignatures(b *testing.B) { benchImport(b, true) }

// BenchmarkImportWithSignatures: everything, 200,000 signature checks
// spread over every core.
func BenchmarkImportWithSignatures(b *testing.B) { benchImport(b, false) }

// BenchmarkSignatureChecksAlone is the baseline: the same 200,000
// verifications, spread over every core, and nothing else.
func BenchmarkSignatureChecksAlone(b *testing.B) {
	bb := makeBench(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bb.CheckSignaturesAlone()
	}
}
