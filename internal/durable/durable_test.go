package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCreateNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.json")
	if err := CreateNew(p, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v, %v; want mode 0600", fi, err)
	}
	if got, _ := os.ReadFile(p); string(got) != "first" {
		t.Fatalf("file holds %q", got)
	}
}

// TestCreateNewNeverReplaces: neither a file nor a symbolic link of that
// name is opened, and a dangling link's target is not created.
func TestCreateNewNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.json")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	target := filepath.Join(dir, "target.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{p, link} {
		err := CreateNew(name, []byte("new"), 0o644)
		want := "create " + name + ": file exists"
		if !errors.Is(err, fs.ErrExist) || err.Error() != want {
			t.Errorf("got  %v\nwant %s", err, want)
		}
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("existing file changed to %q", got)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the link's target was created: %v", err)
	}
}

// TestCreateNewAtSyncsDirectory: the directory is synced after the file,
// and when that fails the file is removed. A directory opened with O_PATH
// can be created in but not synced (fsync(2) gives EBADF), which makes the
// last step fail and only it.
func TestCreateNewAtSyncsDirectory(t *testing.T) {
	dir := t.TempDir()
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	err = CreateNewAt(dfd, dir, "out.json", []byte("data"), 0o644)
	want := "sync directory " + dir + ": bad file descriptor"
	var de *Error
	if !errors.As(err, &de) || !errors.Is(err, syscall.EBADF) || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if _, err := os.Lstat(filepath.Join(dir, "out.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file was not removed after the failure: %v", err)
	}
	// The temporary-file variant leaves the directory to its caller.
	if err := CreateTempAt(dfd, dir, "tmp", []byte("data"), 0o644); err != nil {
		t.Fatalf("CreateTempAt: %v", err)
	}
	if err := MkdirAt(dfd, dir, "sub", 0o755); err == nil || err.Error() != "sync directory "+dir+": bad file descriptor" {
		t.Fatalf("MkdirAt: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the directory was not removed after the failure: %v", err)
	}
}

// TestCreateNewFull: a write that fails (a full file system) removes the
// file, and the error reaches the system's.
func TestCreateNewFull(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): this test needs root with CAP_SYS_ADMIN, as in the project's test container", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	p := filepath.Join(dir, "big")
	err := CreateNew(p, make([]byte, 200<<10), 0o644)
	if !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "write "+p+": ") {
		t.Fatalf("got %v, want a write error with ENOSPC", err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file was not removed after the failure: %v", err)
	}
}

func TestMkdir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub")
	if err := Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Mkdir(p, 0o755); !errors.Is(err, fs.ErrExist) || err.Error() != "create directory "+p+": file exists" {
		t.Fatalf("second Mkdir: %v", err)
	}
}

// TestCreateInBatch: the file is created new and whole, as by CreateNew;
// SyncDir syncs its directory, and names a directory it cannot open.
func TestCreateInBatch(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r1.json")
	if err := CreateInBatch(p, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != "data" {
		t.Fatalf("read back %q, %v", got, err)
	}
	if err := CreateInBatch(p, []byte("other"), 0o644); !errors.Is(err, fs.ErrExist) || err.Error() != "create "+p+": file exists" {
		t.Fatalf("second CreateInBatch: %v", err)
	}
	if err := SyncDir(dir); err != nil {
		t.Fatalf("SyncDir: %v", err)
	}
	missing := filepath.Join(dir, "missing")
	if err := SyncDir(missing); !errors.Is(err, fs.ErrNotExist) || err.Error() != "open directory "+missing+": no such file or directory" {
		t.Fatalf("SyncDir(missing): %v", err)
	}
}
