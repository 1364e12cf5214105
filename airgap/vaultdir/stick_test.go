package vaultdir

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/conclave-keys/conclave/internal/loopmedium"
)

// TestVaultOnStick: a vault kept on a FAT32 or exFAT stick takes its
// first and second generations (files synced, CURRENT switched by a
// rename without replacing, directories synced), its journals lock
// (flock), and mounted again, so read from the image, it opens and
// verifies at the second generation.
func TestVaultOnStick(t *testing.T) {
	for _, fsys := range []loopmedium.FS{loopmedium.FAT32, loopmedium.ExFAT} {
		t.Run(string(fsys), func(t *testing.T) {
			m := loopmedium.Mount(t, loopmedium.Spec{FS: fsys})
			d, _, next := adoptIn(t, m.Dir)
			lock, err := d.LockJournals()
			if err != nil {
				t.Fatalf("lock the journals on %s: %v", m.Driver, err)
			}
			if _, err := d.LockJournals(); !errors.Is(err, ErrCeremonyRunning) {
				t.Errorf("a second lock of the journals on %s: %v, want ErrCeremonyRunning", m.Driver, err)
			}
			name, err := d.WriteGeneration(next)
			if err != nil {
				t.Fatalf("second generation on %s: %v", m.Driver, err)
			}
			lock.Close()
			d.Close()
			m.Remount(t, fsys)
			d, err = Open(filepath.Join(m.Dir, "vault"))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			v, err := d.OpenCurrent()
			if err != nil {
				t.Fatalf("open the vault read back from %s: %v", m.Driver, err)
			}
			if v.Generation != name || name != "gen-000002" {
				t.Errorf("current %s, want gen-000002", v.Generation)
			}
		})
	}
}
