package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFindCeremony: a vault (CURRENT) and a bundle (manifest.json) are
// found at a medium's top or one directory down; hidden directories,
// deeper ones and a CURRENT that is a symbolic link are not looked at.
func TestFindCeremony(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	file := func(p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file(filepath.Join(a, "CURRENT"))
	file(filepath.Join(b, "bundle-0042", "manifest.json"))
	file(filepath.Join(b, ".trash", "old", "manifest.json"))
	file(filepath.Join(b, "deep", "er", "manifest.json"))
	file(filepath.Join(b, "elsewhere", "CURRENT"))
	if err := os.Mkdir(filepath.Join(b, "linked"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(a, "CURRENT"), filepath.Join(b, "linked", "CURRENT")); err != nil {
		t.Fatal(err)
	}
	vaults, bundles := findCeremony([]string{a, b})
	if !slices.Equal(vaults, []string{a, filepath.Join(b, "elsewhere")}) || !slices.Equal(bundles, []string{filepath.Join(b, "bundle-0042")}) {
		t.Errorf("vaults %q, bundles %q", vaults, bundles)
	}
	if got := exportDirFor(filepath.Join(b, "bundle-0042")); got != filepath.Join(b, "bundle-0042-signed") {
		t.Errorf("export %s", got)
	}
}
