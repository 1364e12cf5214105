package loopmedium

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestMount: each medium takes a file and gives it back after it was
// mounted again (so from the image, not from memory), and is the file
// system asked for.
func TestMount(t *testing.T) {
	for _, fs := range []FS{FAT32, ExFAT, Ext4} {
		t.Run(string(fs), func(t *testing.T) {
			m := Mount(t, Spec{FS: fs})
			data := []byte("written on " + string(fs))
			must(t, os.WriteFile(filepath.Join(m.Dir, "a.json"), data, 0o644))
			m.Remount(t, fs)
			got, err := os.ReadFile(filepath.Join(m.Dir, "a.json"))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %q, %v; want %q", got, err, data)
			}
			if m.FUSE() {
				t.Logf("the kernel has no driver for %s here: %s mounted it", fs, m.Driver)
			}
		})
	}
}
