package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenDirPath runs every resolver over the same tree: links at the
// end of the path, in its middle, relative and absolute, pointing in or
// out of the tree, are all refused with the link's path; a real path
// opens the directory it names, from an absolute or a relative path.
func TestOpenDirPath(t *testing.T) {
	base, outside := t.TempDir(), t.TempDir()
	for _, d := range []string{"a/b/c", "a/real"} {
		must(t, os.MkdirAll(filepath.Join(base, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(base, "a", "file"), nil, 0o644))
	must(t, os.Symlink(outside, filepath.Join(base, "a", "out")))             // absolute, off the tree
	must(t, os.Symlink("real", filepath.Join(base, "a", "in")))               // relative, inside the tree
	must(t, os.Symlink("b/c", filepath.Join(base, "a", "deep")))              // relative, two levels down
	must(t, os.Symlink(filepath.Join(base, "a"), filepath.Join(base, "top"))) // the link at the top
	t.Chdir(base)

	for _, rc := range []struct {
		name string
		r    resolver
	}{{"walk", resolveWalk}, {"openat2", resolveOpenat2}, {"default", resolveNoFollow}} {
		rname, r := rc.name, rc.r
		t.Run(rname, func(t *testing.T) {
			if rname == "openat2" {
				fd, err := resolveOpenat2(unix.AT_FDCWD, "/", "")
				if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
					t.Skipf("this kernel has no openat2(2) (Linux 5.6 and later), or a system call filter refuses it (%v): the walk is checked instead", err)
				}
				must(t, err)
				unix.Close(fd)
			}
			for _, ok := range []string{filepath.Join(base, "a/b/c"), "a/b/c", "./a/b/../b/c", "/", base} {
				fd, err := openDirPath(ok, r)
				if err != nil {
					t.Errorf("%s: %v", ok, err)
					continue
				}
				var got unix.Stat_t
				must(t, unix.Fstat(fd, &got))
				unix.Close(fd)
				var want unix.Stat_t
				must(t, unix.Stat(ok, &want))
				if got.Dev != want.Dev || got.Ino != want.Ino {
					t.Errorf("%s: opened another directory", ok)
				}
			}
			for _, c := range []struct {
				path, want string
				is         error
			}{
				{filepath.Join(base, "a/out"), filepath.Join(base, "a/out") + " is a symbolic link: " + ErrSymlink.Error(), ErrSymlink},
				{filepath.Join(base, "a/out/x"), filepath.Join(base, "a/out") + " is a symbolic link: " + ErrSymlink.Error(), ErrSymlink},
				{filepath.Join(base, "a/in"), filepath.Join(base, "a/in") + " is a symbolic link: " + ErrSymlink.Error(), ErrSymlink},
				{"a/deep", filepath.Join(base, "a/deep") + " is a symbolic link: " + ErrSymlink.Error(), ErrSymlink},
				{"top/b/c", filepath.Join(base, "top") + " is a symbolic link: " + ErrSymlink.Error(), ErrSymlink},
				{"a/missing/x", filepath.Join(base, "a/missing") + " is missing: " + fs.ErrNotExist.Error(), fs.ErrNotExist},
				{"a/file/x", filepath.Join(base, "a/file") + " is a regular file, not a directory: " + ErrNotRegular.Error(), ErrNotRegular},
			} {
				fd, err := openDirPath(c.path, r)
				if err == nil {
					unix.Close(fd)
				}
				if !errors.Is(err, c.is) || err.Error() != c.want {
					t.Errorf("%s:\n got  %v\n want %s", c.path, err, c.want)
				}
			}
		})
	}
}
