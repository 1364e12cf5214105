// Package durable creates the files Conclave writes: never replacing a
// file, and on the disk, name and content, when the call returns. Every
// file Conclave creates goes through it: the key store's files
// (hsm/softkey), the online side's requests and bundles (intake), and the
// exports on the transfer media (airgap/safefile), which write a temporary
// file this way and rename it into place.
//
// It sits in internal/ because those three must not depend on one another,
// and the domain (ceremony/) writes no file at all.
//
// The steps, and why each:
//
//  1. open with O_CREAT|O_EXCL: an existing name is never opened, a
//     symbolic link included, whatever it points to (POSIX open(2));
//  2. write the data;
//  3. fsync the file: its content reaches the disk;
//  4. close it: close(2) can report a deferred write error (NFS, FUSE);
//  5. fsync the directory: fsync(2) on the file "does not necessarily
//     ensure that the entry in the directory containing the file has also
//     reached disk. For that an explicit fsync() on a file descriptor for
//     the directory is also needed" (Linux fsync(2)).
//
// If any step after the open fails, the file is removed again, so that a
// failed call leaves nothing that looks written; the error says when even
// that failed. The file is written in place, so a crash (rather than a
// failed call) can leave a short file of that name: where a reader could
// take it for whole, write under a temporary name and rename it into
// place, as exports do ([CreateTempAt]); elsewhere the reader checks (a
// bundle's files are hashed against its manifest, which is written last).
package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Error is a failed create: the step, the path it acted on, and the
// system's error, which errors.Is and errors.As reach (so
// errors.Is(err, fs.ErrExist) holds for a name that is taken, and
// errors.Is(err, syscall.ENOSPC) for a full disk).
type Error struct {
	// Op is the step: "create", "write", "sync", "close",
	// "sync directory", "open directory" or "create directory".
	Op string
	// Path is the file's path, or the directory's for the directory
	// steps.
	Path string
	Err  error
	// Left names the unfinished file or directory that could not be
	// removed after the failure; it is empty when nothing was left.
	Left string
}

func (e *Error) Error() string {
	msg := e.Op + " " + e.Path + ": " + e.Err.Error()
	if e.Left != "" {
		msg += "; " + e.Left + " could not be removed again: delete it"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// newError makes an Error, keeping of an *fs.PathError only its cause:
// the Error names the path itself.
func newError(op, path string, err error, left string) *Error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &Error{Op: op, Path: path, Err: err, Left: left}
}

// target is where a file is created: by path, or by name in an opened
// directory (durable_unix.go). Only how each step reaches the file
// differs; write does the steps.
type target struct {
	path, dir string // for errors
	create    func() (*os.File, error)
	remove    func() error
	// syncDir is nil when the caller syncs the directory itself (a
	// temporary file renamed into place: what must be on the disk is
	// the final name).
	syncDir func() error
}

// write does the steps of the package documentation.
func write(t target, data []byte) error {
	f, err := t.create()
	if err != nil {
		return newError("create", t.path, err, "")
	}
	fail := func(op, path string, err error) error {
		return newError(op, path, err, removed(t.path, t.remove))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fail("write", t.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fail("sync", t.path, err)
	}
	if err := f.Close(); err != nil {
		return fail("close", t.path, err)
	}
	if t.syncDir != nil {
		if err := t.syncDir(); err != nil {
			e := fail("sync directory", t.dir, err)
			// Best effort: the removal reaches the disk too.
			_ = t.syncDir()
			return e
		}
	}
	return nil
}

// removed runs remove and returns "" when path is gone, else path.
func removed(path string, remove func() error) string {
	if err := remove(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return path
	}
	return ""
}

// CreateNew creates the file path, which must not exist, with data and
// the permission bits perm (less the umask), as the package documentation
// describes. It is for files on the machine's own disks; exports to the
// transfer media go through airgap/safefile, which opens the directory
// without following links and uses [CreateTempAt].
func CreateNew(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	d, err := os.Open(dir)
	if err != nil {
		return newError("open directory", dir, err, "")
	}
	defer d.Close()
	return write(target{
		path:    path,
		dir:     dir,
		create:  func() (*os.File, error) { return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm) },
		remove:  func() error { return os.Remove(path) },
		syncDir: d.Sync,
	}, data)
}

// CreateInBatch is [CreateNew] without the last step, for one of many
// files whose directories the caller syncs once each, with [SyncDir],
// before it writes the file that makes them count (a bundle's manifest,
// written last with CreateNew: a reader takes nothing from a bundle
// without one, and hashes every file against it). Syncing the directory
// after each of 100,000 files would cost 100,000 directory syncs for the
// same guarantee.
func CreateInBatch(path string, data []byte, perm os.FileMode) error {
	return write(target{
		path:   path,
		dir:    filepath.Dir(path),
		create: func() (*os.File, error) { return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm) },
		remove: func() error { return os.Remove(path) },
	}, data)
}

// SyncDir syncs the directory dir, so that the names created in it are on
// the disk (step 5 of the package documentation, for [CreateInBatch]).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return newError("open directory", dir, err, "")
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return newError("sync directory", dir, err, "")
	}
	return nil
}

// Mkdir creates the directory path, which must not exist, and syncs its
// parent so that the new entry is on the disk; if that sync fails the
// directory is removed again.
func Mkdir(path string, perm os.FileMode) error {
	parent := filepath.Dir(path)
	return mkdir(path, parent, func() error { return os.Mkdir(path, perm) }, func() error {
		d, err := os.Open(parent)
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Sync()
	}, func() error { return os.Remove(path) })
}

// mkdir does Mkdir's steps, each given as a function (see target).
func mkdir(path, parent string, create, syncParent, remove func() error) error {
	if err := create(); err != nil {
		return newError("create directory", path, err, "")
	}
	if err := syncParent(); err != nil {
		return newError("sync directory", parent, err, removed(path, remove))
	}
	return nil
}
