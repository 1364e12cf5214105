package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkAudit audits a ceremony of n approved add requests (the
// fixture of BenchmarkCeremony, run once before the timer): `conclave
// audit` as a user runs it — the export, the vault and the log read from
// disk, the log's chain, the replay (the bundle judged again, n
// possession-free requests; the build made again), every signature, every
// file hash, the changes read from the bytes against the decisions, the
// client walk — and `conclave diff` of the last signed claimed against
// the new one, each n delegations.
//
//	go test -run '^$' -bench Audit -benchtime 1x ./cmd/conclave/
//
// CONCLAVE_BENCH_SIZES sets the sizes (default 100000), as for
// BenchmarkCeremony. CONCLAVE_BENCH_PROFILE=DIR writes a CPU profile of
// each audit and each diff there (audit-0.pprof, diff-0.pprof, …), the
// fixture's ceremony left out, for `go tool pprof`.
func BenchmarkAudit(b *testing.B) {
	sizes := []int{100_000}
	if v := os.Getenv("CONCLAVE_BENCH_SIZES"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				b.Fatalf("CONCLAVE_BENCH_SIZES=%q: %q is not a size", v, s)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("requests=%d", n), func(b *testing.B) {
			fx := newCeremonyBench(b, n, "")
			vaultDir, out := fx.fresh(b, 0)
			fx.engine(b, vaultDir, out)
			last := filepath.Join(fx.dir, "claimed.json")
			if err := os.WriteFile(last, fx.openTemplate(b).Delegators["claimed"].Bytes(), 0o600); err != nil {
				b.Fatal(err)
			}
			next := filepath.Join(out, "8.claimed.json")
			var audit, diff cost
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				stop := benchProfile(b, "audit", i)
				c, _ := measure(func() map[string]time.Duration {
					var stdout strings.Builder
					env := &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: io.Discard}
					if code := runMain(context.Background(), env, []string{"audit", out, "--vault", vaultDir, "--json"}); code != 0 || !strings.Contains(stdout.String(), `"verdict": "pass"`) {
						b.Fatalf("audit: exit %d\n%.2000s", code, stdout.String())
					}
					return nil
				})
				stop()
				audit.add(c)
				stop = benchProfile(b, "diff", i)
				c, _ = measure(func() map[string]time.Duration {
					env := &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
					if code := runMain(context.Background(), env, []string{"diff", last, next}); code != 0 {
						b.Fatalf("diff: exit %d", code)
					}
					return nil
				})
				stop()
				diff.add(c)
			}
			b.ReportMetric(audit.wall.Seconds()/float64(b.N), "s-audit")
			b.ReportMetric(audit.cpu.Seconds()/float64(b.N), "cpu-s-audit")
			b.ReportMetric(diff.wall.Seconds()/float64(b.N), "s-diff")
			b.ReportMetric(diff.cpu.Seconds()/float64(b.N), "cpu-s-diff")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchProfile starts a CPU profile of one timed step when
// CONCLAVE_BENCH_PROFILE names a directory, and returns what stops it.
func benchProfile(b *testing.B, name string, i int) (stop func()) {
	dir := os.Getenv("CONCLAVE_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, i)))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
