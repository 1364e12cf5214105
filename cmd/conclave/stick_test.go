package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/conclave-keys/conclave/internal/loopmedium"
)

// The transfer medium as the ceremony room has it: a FAT32 or exFAT
// stick (internal/loopmedium: a loop-mounted image made by mkfs.vfat or
// mkfs.exfat, with the kernel's driver or, where the kernel has none, the
// FUSE one the test logs). Intake packs the bundle directly onto it; the
// ceremony imports it from there and exports back onto it; the online
// side's `conclave intake check-export` then reads the export there. The
// stick is mounted again between the steps, so that each reads what the
// image holds, not what the system kept in memory, as when the stick is
// carried from one machine to the other.

// stickFigures are what a run on a stick measured.
type stickFigures struct {
	driver              string
	pack, ceremony, chk time.Duration
	// used is what the bundle took of the stick (statfs, before and
	// after), listed the bytes of its files.
	used, listed int64
	// clustered is the files' bytes each rounded up to whole clusters:
	// what they take of a FAT32 or exFAT stick, directories aside, and
	// the measure where the driver reports no space (fusefat).
	clustered int64
	files     int
}

// stickCeremony runs the ceremony benchmark's fixture (rehearsal vault,
// three holders with software keys, n adds, all rule-approvable) with
// its bundle and export on a stick of the given file system and size.
func stickCeremony(tb testing.TB, fsys loopmedium.FS, spec loopmedium.Spec, n int) stickFigures {
	tb.Helper()
	spec.FS = fsys
	m := loopmedium.Mount(tb, spec)
	fig := stickFigures{driver: m.Driver}
	before := usedBytes(tb, m.Dir)
	bundleDir := filepath.Join(m.Dir, "bundle")
	fx := newCeremonyBench(tb, n, bundleDir)
	fig.pack = fx.packTime
	fig.used = usedBytes(tb, m.Dir) - before
	err := filepath.WalkDir(bundleDir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		fig.files++
		if err == nil {
			fig.listed += info.Size()
			c := int64(spec.ClusterSize)
			if c == 0 {
				c = 512 // loopmedium's FAT32 default
			}
			fig.clustered += (info.Size() + c - 1) / c * c
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}

	m.Remount(tb, fsys)
	vaultDir, _ := fx.fresh(tb, 0)
	out := filepath.Join(m.Dir, "export")
	start := time.Now()
	fx.engine(tb, vaultDir, out)
	fig.ceremony = time.Since(start)

	m.Remount(tb, fsys)
	start = time.Now()
	var stdout, stderr bytes.Buffer
	code := runMain(context.Background(), &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, []string{"intake", "check-export", out})
	fig.chk = time.Since(start)
	if code != 0 || !strings.Contains(stdout.String(), "export "+out+": exact; ") {
		tb.Fatalf("check-export of the export on the %s stick: exit %d\n%s%s", fsys, code, stdout.String(), stderr.String())
	}
	return fig
}

// usedBytes is what statfs says is used on the file system at dir.
func usedBytes(tb testing.TB, dir string) int64 {
	var s unix.Statfs_t
	if err := unix.Statfs(dir, &s); err != nil {
		tb.Fatal(err)
	}
	return int64(s.Blocks-s.Bfree) * int64(s.Bsize)
}

// TestCeremonyOnStick: a ceremony of 300 requests (100 with -short) on
// each stick. The 100,000-request run is BenchmarkCeremonyOnStick.
func TestCeremonyOnStick(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 100
	}
	for _, fsys := range []loopmedium.FS{loopmedium.FAT32, loopmedium.ExFAT} {
		t.Run(string(fsys), func(t *testing.T) {
			fig := stickCeremony(t, fsys, loopmedium.Spec{}, n)
			t.Logf("%d requests on %s (%s driver): packed in %v (%d files, %d bytes, %d bytes of the stick), ceremony %v, check-export %v",
				n, fsys, fig.driver, fig.pack, fig.files, fig.listed, fig.used, fig.ceremony, fig.chk)
		})
	}
}

// BenchmarkCeremonyOnStick is TestCeremonyOnStick at 100,000 requests
// (CONCLAVE_BENCH_SIZES sets others), on a 16 GiB stick with 32 KiB
// clusters, as sticks of that size come formatted. It reports the time
// intake took to pack the bundle onto the stick, the ceremony's (import
// from the stick to export onto it) and check-export's, and the space the
// bundle took there. The image lies on a tmpfs, so the times are the
// file system driver's and Conclave's, not a USB stick's.
//
//	go test -run '^$' -bench CeremonyOnStick -benchtime 1x ./cmd/conclave/
func BenchmarkCeremonyOnStick(b *testing.B) {
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
	for _, fsys := range []loopmedium.FS{loopmedium.FAT32, loopmedium.ExFAT} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", fsys, n), func(b *testing.B) {
				var fig stickFigures
				for i := 0; i < b.N; i++ {
					fig = stickCeremony(b, fsys, loopmedium.Spec{Size: 16 << 30, ClusterSize: 32 << 10}, n)
				}
				b.Logf("%s driver", fig.driver)
				b.ReportMetric(fig.pack.Seconds(), "s-pack")
				b.ReportMetric(fig.ceremony.Seconds(), "s-ceremony")
				b.ReportMetric(fig.chk.Seconds(), "s-check-export")
				b.ReportMetric(float64(fig.used)/(1<<20), "MiB-used")
				b.ReportMetric(float64(fig.listed)/(1<<20), "MiB-files")
				b.ReportMetric(float64(fig.clustered)/(1<<20), "MiB-in-clusters")
				b.ReportMetric(float64(fig.files), "files")
			})
		}
	}
}
