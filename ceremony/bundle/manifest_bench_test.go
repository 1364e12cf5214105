package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// BenchmarkOpenManifest opens a signed manifest listing 100,000 files, the
// size of the largest bundles an import is expected to meet: the manifest
// is read on one core before anything else of the import can start.
func BenchmarkOpenManifest(b *testing.B) {
	const n = 100_000
	seed := sha256.Sum256([]byte("conclave bundle bench intake key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	key, err := tuf.KeyFromPublic(priv.Public())
	if err != nil {
		b.Fatal(err)
	}
	m := &Manifest{
		BundleID: "bench-1",
		Source:   "example.org",
		Created:  time.Date(2026, 11, 24, 11, 30, 0, 0, time.UTC),
		Bases:    []Base{{Role: "claimed", Version: 7, SHA256: strings.Repeat("ab", 32)}},
		Files:    make([]Entry, n),
	}
	for i := range m.Files {
		m.Files[i] = Entry{
			Path:   fmt.Sprintf("requests/project-%06d/request-%06d.json", i/10, i),
			Kind:   KindBatch,
			Size:   int64(1000 + i%5000),
			SHA256: SumHex([]byte(fmt.Sprint(i))),
		}
	}
	m.Files[n/2].Kind = KindPublished
	data, err := SignManifest(m, func(e *envelope.Envelope) error { return e.Sign(priv, key) })
	if err != nil {
		b.Fatal(err)
	}
	keys := map[string]*tuf.Key{key.ID(): key}
	lim := ManifestLimits{MaxFiles: 200_000, MaxBatchSize: 1 << 30, MaxTotal: 1 << 40}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := OpenManifest(data, keys, lim)
		if err != nil {
			b.Fatal(err)
		}
		if len(got.Files) != n {
			b.Fatalf("%d files", len(got.Files))
		}
	}
}
