package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadNamed: a regular file is read whole, through a link too (the
// person chose the name); a named pipe (which would block), a directory
// and a device are refused without being read; a file over the limit is
// refused with ErrLimit, one exactly at it is read.
func TestReadNamed(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "claimed.json")
	must(t, os.WriteFile(file, []byte("0123456789"), 0o644))
	must(t, os.Symlink("claimed.json", filepath.Join(dir, "link.json")))
	must(t, unix.Mkfifo(filepath.Join(dir, "pipe.json"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "dir.json"), 0o755))

	for _, name := range []string{"claimed.json", "link.json"} {
		data, err := ReadNamed(filepath.Join(dir, name), 10)
		if err != nil || string(data) != "0123456789" {
			t.Errorf("%s: %q, %v", name, data, err)
		}
	}
	for _, c := range []struct {
		path string
		max  int64
		want string
		is   error
	}{
		{filepath.Join(dir, "pipe.json"), 10, "it is a named pipe (FIFO), not a regular file", ErrNotRegular},
		{filepath.Join(dir, "dir.json"), 10, "it is a directory, not a regular file", ErrNotRegular},
		{"/dev/zero", 10, "it is a character device, not a regular file", ErrNotRegular},
		{file, 9, "it is larger than 9 bytes, the most that may be read", ErrLimit},
		{filepath.Join(dir, "missing.json"), 10, "no such file or directory", unix.ENOENT},
	} {
		data, err := ReadNamed(c.path, c.max)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !errors.Is(err, c.is) || data != nil {
			t.Errorf("%s (max %d): %q, %v; want an error starting %q that is %v", c.path, c.max, data, err, c.want, c.is)
		}
	}
}
