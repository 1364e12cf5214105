package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/ceremony/verify"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// BenchmarkCeremony is a whole headless ceremony with software keys, as
// `conclave ceremony` runs it (runHeadless): the vault opened and
// verified, preflight, the bundle of n add requests without proofs of
// possession read from disk and judged, the bundle copy and every event
// appended to the fsync'd journal, one bulk approval of all n, the build
// and its summary card, 2 of 3 holders signing, the export written, read
// back and verified as a TUF client would, the close and the vault's next
// generation. In the same iteration, right after, it does the same work
// without the engine ("parts"): the import as `conclave import` does it,
// then build, summary card, the two signatures (through the same software
// key tokens), the export written, read back and verified. The engine's
// time as a multiple of the parts' is "x-parts": what the session's
// bookkeeping adds. Times are wall clock ("s-…") and CPU, user and
// system ("cpu-s-…"): the machines are shared, and CPU time drifts less.
//
//	go test -run '^$' -bench Ceremony -benchtime 1x ./cmd/conclave/
//
// CONCLAVE_BENCH_DIR sets where the vault, bundle and export go (the
// system's temporary directory by default: on disk, so every fsync is a
// real one); CONCLAVE_BENCH_SIZES a comma-separated list of sizes
// (default 1000,10000,100000).
//
// The binary's soft memory limit (softMemoryLimit) is set as main sets
// it, unless GOMEMLIMIT is. "MB-peak-rss" is the process's peak resident memory during the engine's
// run (VmHWM, reset before it): an upper bound, since the benchmark's own
// fixture stays in memory. For the binary alone, CONCLAVE_BENCH_KEEP=1
// keeps the fixture and prints a command line for /usr/bin/time -v.
func BenchmarkCeremony(b *testing.B) {
	sizes := []int{1000, 10_000, 100_000}
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
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			fx := newCeremonyBench(b, n, "")
			// The binary's soft memory limit (main), unless GOMEMLIMIT
			// says otherwise.
			if os.Getenv("GOMEMLIMIT") == "" {
				defer debug.SetMemoryLimit(debug.SetMemoryLimit(softMemoryLimit()))
			}
			var engine, parts cost
			var peak int64
			phases := map[string]time.Duration{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				vaultDir, out := fx.fresh(b, i)
				b.StartTimer()
				resetPeakRSS()
				var ph map[string]time.Duration
				c, _ := measure(func() map[string]time.Duration {
					// Labelled, for go tool pprof -tagfocus part=engine.
					pprof.Do(context.Background(), pprof.Labels("part", "engine"), func(context.Context) { ph = fx.engine(b, vaultDir, out) })
					return nil
				})
				engine.add(c)
				peak = max(peak, peakRSS())
				for k, d := range ph {
					phases[k] += d
				}
				b.StopTimer()
				v := fx.openTemplate(b)
				b.StartTimer()
				c, _ = measure(func() map[string]time.Duration {
					pprof.Do(context.Background(), pprof.Labels("part", "parts"), func(context.Context) { fx.parts(b, v, i) })
					return nil
				})
				parts.add(c)
				b.StopTimer()
				for _, d := range []string{vaultDir, out, fx.partsOut(i)} {
					os.RemoveAll(d)
				}
				b.StartTimer()
			}
			per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
			b.ReportMetric(per(engine.wall), "s-engine/op")
			b.ReportMetric(per(engine.cpu), "cpu-s-engine/op")
			b.ReportMetric(per(parts.wall), "s-parts/op")
			b.ReportMetric(per(parts.cpu), "cpu-s-parts/op")
			b.ReportMetric(float64(engine.wall)/float64(parts.wall), "x-parts")
			b.ReportMetric(float64(engine.cpu)/float64(parts.cpu), "cpu-x-parts")
			b.ReportMetric(float64(peak)/1e6, "MB-peak-rss")
			for _, k := range []string{"open", "import", "review", "build", "sign", "export", "close"} {
				b.ReportMetric(per(phases[k]), "s-"+k+"/op")
				b.ReportMetric(per(phases["cpu-"+k]), "cpu-s-"+k+"/op")
			}
		})
	}
}

// cost is wall-clock and CPU time (user and system, the whole process).
type cost struct{ wall, cpu time.Duration }

func (c *cost) add(o cost) { c.wall += o.wall; c.cpu += o.cpu }

func measure(f func() map[string]time.Duration) (cost, map[string]time.Duration) {
	runtime.GC()
	cpu0, t0 := cpuTime(), time.Now()
	ph := f()
	return cost{time.Since(t0), cpuTime() - cpu0}, ph
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS hands freed memory back and restarts the kernel's count of
// the peak resident memory (writing 5 to clear_refs resets VmHWM).
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is the peak resident memory since the last reset, in bytes.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// ceremonyBench is a rehearsal vault whose policy does not require
// proofs of possession, three holders with software keys (threshold 2),
// a history in which the repository published every project's keys a
// month before, and a bundle of n adds: all rule-approvable.
type ceremonyBench struct {
	*ceremonyFixture
	n        int
	template string // the vault before any ceremony; each run gets a copy
	// packTime is how long intake took to write the bundle.
	packTime time.Duration
}

// newCeremonyBench makes the fixture; intake packs the bundle into
// bundleDir, or into the fixture's own directory when it is "".
func newCeremonyBench(b testing.TB, n int, bundleDir string) *ceremonyBench {
	b.Helper()
	parent, err := os.MkdirTemp(os.Getenv("CONCLAVE_BENCH_DIR"), "conclave-ceremony-bench-")
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("CONCLAVE_BENCH_KEEP") == "" {
		b.Cleanup(func() { os.RemoveAll(parent) })
	}
	if bundleDir == "" {
		bundleDir = filepath.Join(parent, "bundle")
	}
	fx := &ceremonyFixture{dir: parent, vault: filepath.Join(parent, "vault-template"), bundle: bundleDir, keys: filepath.Join(parent, "keys")}
	hs := []vaulttest.Holder{vaulttest.Key(b, 1), vaulttest.Key(b, 2), vaulttest.Key(b, 3)}
	fx.holders = hs
	if err := os.Mkdir(fx.keys, 0o700); err != nil {
		b.Fatal(err)
	}
	store, err := softkey.Open(fx.keys, hsm.Prompts{})
	if err != nil {
		b.Fatal(err)
	}
	for i, h := range hs {
		if _, err := store.WriteKey(fmt.Sprintf("holder%d", i+1), h.Signer, []byte(ceremonyPass)); err != nil {
			b.Fatal(err)
		}
	}
	f := intaketest.New(b)
	fx.intake = f
	targets := vaulttest.Targets(b, 1, hs)
	claimed, err := tuf.NewTargetsFile(f.Delegator.Targets)
	if err != nil {
		b.Fatal(err)
	}
	vaulttest.Sign(b, claimed, targets.Targets.Delegations.Keys, hs[0], hs[1])
	f.Bases = []bundle.Base{{Role: "claimed", Version: claimed.Version(), SHA256: bundle.SumHex(claimed.Bytes())}}

	files := make([][]byte, n)
	hist := &history.History{Bundles: map[string]time.Time{}, FirstSeen: map[string]time.Time{}, Published: map[string]map[string]time.Time{}}
	hashes := make([]string, n)
	made, published := intaketest.Now.Add(-time.Hour), intaketest.Now.AddDate(0, -1, 0)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				keys := make([]*tuf.Key, 2)
				for j := range keys {
					seed := sha256.Sum256([]byte(fmt.Sprintf("ceremony bench %d %d", i, j)))
					keys[j], _ = tuf.KeyFromPublic(ed25519.NewKeyFromSeed(seed[:]).Public())
				}
				d := &request.Draft{ID: fmt.Sprintf("r%06d", i), Kind: request.Add, Project: fmt.Sprintf("project-%06d", i),
					Keys: keys, Threshold: 2, Made: made, RequestedBy: "benchmark", BaseVersion: claimed.Version()}
				files[i] = d.Encode()
				hashes[i] = request.NewKeyset([]string{keys[0].ID(), keys[1].ID()}, 2).Hash()
			}
		}(w)
	}
	wg.Wait()
	for i, h := range hashes {
		hist.Published[fmt.Sprintf("project-%06d", i)] = map[string]time.Time{h: published}
	}
	pol := strings.Replace(string(fx.policy(b)), "holders:\n", "requests:\n  require_possession: false\nholders:\n", 1)
	writeTestVault(b, fx.vault, testVaultSpec{holders: hs, signers: hs, targets: targets, claimed: claimed.Bytes(), policy: []byte(pol), history: hist.Marshal()})
	packStart := time.Now()
	if err := f.Pack("bench", files...).Write(fx.bundle); err != nil {
		b.Fatal(err)
	}
	packTime := time.Since(packStart)
	fx.script = fx.writeScript(b, "script.yaml", fmt.Sprintf(`format: conclave-ceremony-script/1
rehearsal: "benchmark"
participants: [Holder 1, Holder 2, Holder 3]
witnesses: [Wendy]
clock: {time: "%s"}
decisions:
  by: Holder 1
  approve_rule_approvable: {count: %d}
signing: [Holder 1, Holder 2, Holder 3]
`, ceremonyNow.Format(time.RFC3339), n))
	if os.Getenv("CONCLAVE_BENCH_KEEP") != "" {
		fmt.Fprintf(os.Stderr, "ceremony benchmark fixture kept in %s; for the binary's peak memory:\n  cp -a %s %s/vault && /usr/bin/time -v bin/conclave ceremony --vault %s/vault --in %s --out %s/export --script %s --softkey-dir %s --pin-fd 3 3< <(yes %s | head -2)\n",
			parent, fx.vault, parent, parent, fx.bundle, parent, fx.script, fx.keys, ceremonyPass)
	}
	return &ceremonyBench{ceremonyFixture: fx, n: n, template: fx.vault, packTime: packTime}
}

// fresh copies the vault for run i and names a new export directory.
func (fx *ceremonyBench) fresh(b testing.TB, i int) (vaultDir, out string) {
	vaultDir = filepath.Join(fx.dir, fmt.Sprintf("vault-%d", i))
	if out, err := exec.Command("cp", "-a", fx.template, vaultDir).CombinedOutput(); err != nil {
		b.Fatalf("copy the vault: %v: %s", err, out)
	}
	// Written back now, so that the ceremony's fsyncs do not wait for it.
	syscall.Sync()
	return vaultDir, filepath.Join(fx.dir, fmt.Sprintf("export-%d", i))
}

// engine runs the ceremony and returns how long each phase took, timed
// by what the driver prints as it goes.
func (fx *ceremonyBench) engine(b testing.TB, vaultDir, out string) map[string]time.Duration {
	sc, err := parseScript(fx.script, mustRead(b, fx.script))
	if err != nil {
		b.Fatal(err)
	}
	clock := &phaseClock{last: time.Now(), lastCPU: cpuTime(), times: map[string]time.Duration{}}
	env := &environment{stdin: strings.NewReader(""), stdout: clock, stderr: io.Discard}
	o := headlessOptions{Vault: vaultDir, In: fx.bundle, Out: out, Script: sc, Notice: io.Discard, SoftkeyDir: fx.keys,
		Prompts: func(string) hsm.Prompts { return softkeyPrompts() }}
	res, err := runHeadless(context.Background(), env, o)
	if err != nil {
		b.Fatalf("ceremony: %v\n%s", err, clock.out.String())
	}
	clock.mark("close")
	if res.Generation != "gen-000002" || !strings.Contains(clock.out.String(), fmt.Sprintf("approved %d rule-approvable requests together", fx.n)) {
		b.Fatalf("the ceremony did not approve %d requests and close:\n%s", fx.n, clock.out.String())
	}
	return clock.times
}

// phaseClock is the driver's standard output: it keeps what is printed,
// and charges the time since the last mark to the phase that a line
// printed at the end of it names.
type phaseClock struct {
	out  bytes.Buffer
	last time.Time
	// lastCPU is the process's CPU time at the last mark: times also
	// holds each phase's CPU time under "cpu-" + the phase.
	lastCPU time.Duration
	times   map[string]time.Duration
}

func (c *phaseClock) Write(p []byte) (int, error) {
	s := string(p)
	switch {
	case strings.HasPrefix(s, "Ceremony ") && strings.Contains(s, " opened on vault generation"):
		c.mark("open")
	case strings.HasPrefix(s, "\nBundle "):
		c.mark("import")
	case strings.HasPrefix(s, "\nWhat is signed"):
		c.mark("build") // review is the bulk approval and the build's call
	case strings.HasPrefix(s, "\nExported to "):
		c.mark("export")
	case strings.Contains(s, " signed claimed\n"):
		c.mark("sign")
	case strings.HasPrefix(s, "  approved "):
		c.mark("review")
	}
	return c.out.Write(p)
}

func (c *phaseClock) mark(phase string) {
	now, cpu := time.Now(), cpuTime()
	c.times[phase] += now.Sub(c.last)
	c.times["cpu-"+phase] += cpu - c.lastCPU
	c.last, c.lastCPU = now, cpu
}

func softkeyPrompts() hsm.Prompts {
	return hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte(ceremonyPass), nil }}
}

func mustRead(b testing.TB, name string) []byte {
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// parts does the ceremony's work without the engine: the import as
// `conclave import` does it, then the build, the summary card, two
// signatures through the same software key tokens, the export written,
// read back and verified from the vault's root.
func (fx *ceremonyBench) parts(b *testing.B, v *vault.Vault, i int) {
	trust, delegators, err := session.ImportTrust(v)
	if err != nil {
		b.Fatal(err)
	}
	p := v.Policy
	cur := v.Delegators["claimed"]
	report, bd := importBundle(fx.bundle, trust, delegators, p.ShardFor, v.History, ceremonyNow)
	if report.Refused != nil || report.Counts != (verdict.Counts{RuleApprovable: fx.n}) {
		b.Fatalf("unexpected report: %+v %+v", report.Refused, report.Counts)
	}
	in := build.Input{Current: map[string]*tuf.File{"claimed": cur}, Approved: report.Requests, Keys: map[string]*tuf.Key{},
		RoleFor: p.ShardFor, Versions: map[string]int64{"claimed": cur.Version() + 1}, Expires: ceremonyNow.AddDate(0, 0, 90),
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
	if _, err := build.Summarize("claimed", cur, f); err != nil {
		b.Fatal(err)
	}
	tokens := holders.New(holders.Options{Policy: p, Keys: holders.MetadataKeys(v.Root.Root, v.Targets.Targets),
		Prompts: func(string) hsm.Prompts { return softkeyPrompts() }, Notice: io.Discard, SoftkeyDir: fx.keys})
	defer tokens.Close()
	keys := v.Targets.Targets.Delegations.Keys
	for _, h := range p.Holders[:2] {
		s, err := tokens.Signer(context.Background(), h, h.Keys[0])
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Sign(keys, h.Keys[0].KeyID, s); err != nil {
			b.Fatal(err)
		}
	}
	files, err := export.Plan("claimed", f, true, &export.Report{Role: "claimed", Version: f.Version(), BundleID: bd.Manifest.BundleID})
	if err != nil {
		b.Fatal(err)
	}
	out := fx.partsOut(i)
	var ex []safefile.Export
	for _, x := range files {
		ex = append(ex, safefile.Export{Name: x.Name, Data: x.Data})
	}
	if err := safefile.ExportFiles(out, ex); err != nil {
		b.Fatal(err)
	}
	listing, err := checkExport(out)
	if err != nil {
		b.Fatal(err)
	}
	opts := verify.Options{
		Trusted: verify.Input{Name: "root.json", Data: v.Root.Bytes()},
		Files:   []verify.Input{{Name: "targets.json", Data: v.Targets.Bytes()}},
		Now:     ceremonyNow,
	}
	for _, l := range listing {
		if l.Name != export.DecisionsName {
			data, err := os.ReadFile(filepath.Join(out, l.Name))
			if err != nil {
				b.Fatal(err)
			}
			opts.Files = append(opts.Files, verify.Input{Name: l.Name, Data: data})
		}
	}
	rep, err := verify.Walk(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range rep.Files {
		if f.Verdict != verify.Valid && f.Verdict != verify.Skipped {
			b.Fatalf("%s is %s: %s", f.Name, f.Verdict, f.Reason())
		}
	}
}

func (fx *ceremonyBench) partsOut(i int) string {
	return filepath.Join(fx.dir, fmt.Sprintf("parts-%d", i))
}

// openTemplate opens the vault as it was before any ceremony.
func (fx *ceremonyBench) openTemplate(b *testing.B) *vault.Vault {
	vd, v, err := openVault(fx.template)
	if err != nil {
		b.Fatal(err)
	}
	vd.Close()
	return v
}
