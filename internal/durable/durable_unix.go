//go:build unix

package durable

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CreateNewAt is CreateNew for the file name in the opened directory dfd,
// whose path dir is used in errors only. Opening the directory is the
// caller's: airgap/safefile opens it without following any link.
func CreateNewAt(dfd int, dir, name string, data []byte, perm os.FileMode) error {
	t := at(dfd, dir, name, perm)
	t.syncDir = func() error { return unix.Fsync(dfd) }
	return write(t, data)
}

// CreateTempAt is CreateNewAt without the directory sync, for a temporary
// file that the caller renames into place and then syncs the directory
// once: the final name is what must reach the disk, and a crash that loses
// the temporary name loses nothing of value.
func CreateTempAt(dfd int, dir, name string, data []byte, perm os.FileMode) error {
	return write(at(dfd, dir, name, perm), data)
}

func at(dfd int, dir, name string, perm os.FileMode) target {
	path := filepath.Join(dir, name)
	return target{
		path: path,
		dir:  dir,
		create: func() (*os.File, error) {
			fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, uint32(perm.Perm()))
			if err != nil {
				return nil, err
			}
			return os.NewFile(uintptr(fd), path), nil
		},
		remove: func() error { return unix.Unlinkat(dfd, name, 0) },
	}
}

// MkdirAt is Mkdir for the directory name in the opened directory dfd.
func MkdirAt(dfd int, dir, name string, perm os.FileMode) error {
	return mkdir(filepath.Join(dir, name), dir,
		func() error { return unix.Mkdirat(dfd, name, uint32(perm.Perm())) },
		func() error { return unix.Fsync(dfd) },
		func() error { return unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR) })
}
