package sysfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadTrimmed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "operstate")
	os.WriteFile(p, []byte(" up\n"), 0o644)
	if got, err := ReadTrimmed(p); err != nil || got != "up" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := ReadTrimmed(p + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
