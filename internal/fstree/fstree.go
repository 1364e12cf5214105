// Package fstree writes fixture directory trees for tests that read a
// filesystem root as the system lays it out (sysfs, /proc, udev links).
package fstree

import (
	"os"
	"path/filepath"
	"testing"
)

// Write makes a tree in a new temporary directory: files (path →
// contents) and symbolic links (path → target, usually relative), and
// returns its root.
func Write(t testing.TB, files, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
