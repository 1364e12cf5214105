package safefile

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/conclave-keys/conclave/internal/loopmedium"
)

// failingMedium mounts an ext4 file system that claims 32 MiB but can
// store only about room bytes more than it holds when made: its loop
// device is backed by a sparse image on a tmpfs of that size, which it
// returns too (fill it to make the medium fail at once). Writes are
// accepted into memory and fail only when they are pushed to the device,
// as on a failing USB stick or a counterfeit one that is smaller than it
// claims. The test is skipped, with the reason, where loop devices cannot
// be had (internal/loopmedium).
func failingMedium(t *testing.T, room string) (medium, backing string) {
	t.Helper()
	m := loopmedium.Mount(t, loopmedium.Spec{FS: loopmedium.Ext4, Size: 32 << 20, Room: room})
	return m.Dir, m.Backing
}

// TestExportFilesMediumFails: a medium that reports 32 MiB free but can
// store only about one of the two files. On the kernels we test on, the
// loop device takes the second file's writes, fsync reports success, and
// the data is lost: only reading the file back from the device (the page
// cache dropped) finds it out. Some kernels report the failure at fsync
// instead; either way the export must fail and leave nothing that looks
// complete (the first file is removed again). With room enough, the same
// medium takes the same export: the failure is the medium's.
func TestExportFilesMediumFails(t *testing.T) {
	a, b := make([]byte, 400<<10), make([]byte, 400<<10)
	// Random bytes: zeros would read back from the image's holes as if
	// they had been written.
	rand.Read(a)
	rand.Read(b)
	files := []Export{{"a.json", a}, {"b.json", b}}

	roomy, _ := failingMedium(t, "4m")
	dir := filepath.Join(roomy, "export")
	if err := ExportFiles(dir, files); err != nil {
		t.Fatalf("with room enough: %v", err)
	}
	for _, f := range files {
		if got, err := os.ReadFile(filepath.Join(dir, f.Name)); err != nil || !bytes.Equal(got, f.Data) {
			t.Fatalf("with room enough, %s reads back wrong (%v)", f.Name, err)
		}
	}

	small, _ := failingMedium(t, "1m")
	dir = filepath.Join(small, "export")
	err := ExportFiles(dir, files)
	switch {
	case errors.Is(err, ErrVerify):
		t.Logf("the kernel lost the writes silently; the read-back found it: %v", err)
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EIO):
		t.Logf("the kernel reported the failure when the file was synced: %v", err)
	default:
		t.Fatalf("got %v, want the read-back or the sync to fail", err)
	}
	if !strings.HasPrefix(err.Error(), "export "+filepath.Join(dir, "b.json")+": ") || !strings.HasSuffix(err.Error(), "; the file already written was removed again, so nothing was exported") {
		t.Errorf("the error does not say which file failed and that nothing was exported: %v", err)
	}
	if names := listNames(t, dir); names != "" {
		t.Errorf("the failing medium was left holding %s", names)
	}
}

// TestWriteFileNotStored: the medium's store is already full, though it
// reports 32 MiB free. The write is accepted, and the failure comes when
// the file is synced: the message must not send the key holder to free
// space on a medium that says it has plenty, and the unfinished file is
// removed. (A kernel that loses such writes silently instead is caught by
// the read-back, as in TestExportFilesMediumFails.)
func TestWriteFileNotStored(t *testing.T) {
	medium, backing := failingMedium(t, "4m")
	filler, err := os.Create(filepath.Join(backing, "filler"))
	must(t, err)
	if _, err := filler.Write(make([]byte, 8<<20)); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("filling the medium's store: %v, want ENOSPC", err)
	}
	must(t, filler.Close())

	data := make([]byte, 40<<10)
	rand.Read(data)
	err = WriteFile(medium, "root.json", data)
	switch {
	case errors.Is(err, ErrNotStored):
		want := "export " + filepath.Join(medium, "root.json") + ": the medium took the data but could not store it: it may be failing, full, or smaller than it claims to be; use another medium; nothing was written ("
		if !errors.Is(err, unix.ENOSPC) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got  %v\nwant prefix %s", err, want)
		}
	case errors.Is(err, ErrVerify):
		t.Logf("this kernel lost the write silently; the read-back found it: %v", err)
	default:
		t.Fatalf("got %v, want ErrNotStored", err)
	}
	if names := listNames(t, medium); names != "lost+found" {
		t.Errorf("the medium was left holding %s", names)
	}
}
