package journal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/transcript"
)

// BenchmarkAppend appends signature-sized events to a log on the disk:
// one write and one fdatasync per event, which is the cost of an event.
// CONCLAVE_BENCH_DIR puts the journal on another file system (a tmpfs
// would measure no sync at all).
func BenchmarkAppend(b *testing.B) {
	base := os.Getenv("CONCLAVE_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	dir, err := os.MkdirTemp(base, "journal-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	j, _, err := Open(filepath.Join(dir, "c"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	l := transcript.New(j, "bench")
	body := map[string]any{
		"holder": "Zoë Ångström", "keyid": "4e777de0d275f9d28588dd9a1606cc748e548f9e22b6795b7cb3f63f98035fcb",
		"role": "claimed", "version": 7, "token": "yubikey:serial=12345678;slot-id=9c",
		"tries_before": 3, "tries_after": 3,
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Append("signed", t0, body); err != nil {
			b.Fatal(err)
		}
	}
}
