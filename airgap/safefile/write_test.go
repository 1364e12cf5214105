package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/conclave-keys/conclave/internal/loopmedium"
)

func listNames(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	data := []byte(`{"signed":{}}`)
	if err := WriteFile(dir, "root.json", data); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "root.json"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %q, %v", got, err)
	}
	if names := listNames(t, dir); names != "root.json" {
		t.Fatalf("directory holds %s: no temporary file may remain", names)
	}
}

func TestWriteFileNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "root.json"), []byte("old"), 0o644))
	must(t, os.Symlink("/nonexistent/target", filepath.Join(dir, "link.json")))
	for _, name := range []string{"root.json", "link.json"} {
		err := WriteFile(dir, name, []byte("new"))
		want := "export " + filepath.Join(dir, name) + ": a file of that name is already there, and Conclave never replaces a file: export into a new, empty directory; nothing was written"
		if !errors.Is(err, ErrExists) || err.Error() != want {
			t.Errorf("%s:\n got  %v\n want %s", name, err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "root.json")); string(b) != "old" {
		t.Fatalf("existing file changed to %q", b)
	}
	if names := listNames(t, dir); names != "link.json,root.json" {
		t.Fatalf("directory holds %s", names)
	}
}

// TestRenameNoReplace checks the step that closes the race: even if the
// final name appears after the early check, the rename refuses.
func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "tmp"), []byte("new"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "final"), []byte("old"), 0o644))
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	if err := RenameNoReplace(dfd, "tmp", "final"); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("error = %v, want EEXIST", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "final")); string(b) != "old" {
		t.Fatalf("final replaced by %q", b)
	}
}

func TestWriteFileRefusesNames(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, want string }{
		{"../x", `export: file name "../x": it has a ".." component: unsafe file name`},
		{"a/b", `export: file name "a/b": it must not contain a slash: unsafe file name`},
		{".conclave-tmp-1", `export: file name ".conclave-tmp-1": names starting with ".conclave-tmp-" are reserved for unfinished writes: unsafe file name`},
	} {
		err := WriteFile(dir, tc.name, nil)
		if !errors.Is(err, ErrUnsafeName) || err.Error() != tc.want {
			t.Errorf("%q:\n got  %v\n want %s", tc.name, err, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{syscall.ENOSPC, ErrMediumFull},
		{syscall.EDQUOT, ErrMediumFull},
		{syscall.EFBIG, ErrTooLarge}, // FAT32's 4 GiB per file: not a full medium
		{syscall.EROFS, ErrReadOnly},
		{syscall.EIO, ErrMediumGone},
		{syscall.ENODEV, ErrMediumGone},
		{syscall.EACCES, ErrNoAccess},
		{syscall.EINVAL, nil},
	} {
		if got := classify(fmt.Errorf("write x: %w", tc.err)); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	// A medium pulled out mid-write (EIO): the message says what happened
	// and what to do, and errors.Is reaches both the kind and the cause.
	err := writeError("/media/usb/out/root.json", nothingWritten, fmt.Errorf("write .conclave-tmp-00: %w", syscall.EIO))
	const want = "export /media/usb/out/root.json: the medium stopped answering (was it pulled out?): check it, then export again; nothing was written (write .conclave-tmp-00: input/output error)"
	if !errors.Is(err, ErrMediumGone) || !errors.Is(err, syscall.EIO) || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

// A full or read-only medium can only be had from a real file system:
// permission bits do not stop root from writing.

func TestWriteFileMediumFull(t *testing.T) {
	dir := loopmedium.Tmpfs(t, 0, "64k")
	err := WriteFile(dir, "big.json", make([]byte, 200<<10))
	want := "export " + filepath.Join(dir, "big.json") + ": the medium is full: free space on it or use another medium; nothing was written (write " + filepath.Join(dir, tempPrefix)
	if !errors.Is(err, ErrMediumFull) || !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got  %v\nwant prefix %s", err, want)
	}
	if names := listNames(t, dir); names != "" {
		t.Fatalf("a full medium was left holding %s", names)
	}
}

func TestWriteFileReadOnly(t *testing.T) {
	dir := loopmedium.Tmpfs(t, unix.MS_RDONLY, "64k")
	err := WriteFile(dir, "root.json", []byte("x"))
	want := "export " + filepath.Join(dir, "root.json") + ": the medium is read-only: check its write-protect switch, or use another medium; nothing was written (create " + filepath.Join(dir, tempPrefix)
	if !errors.Is(err, ErrReadOnly) || !errors.Is(err, syscall.EROFS) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got  %v\nwant prefix %s", err, want)
	}
}

func TestExportFiles(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "export-1")
	files := []Export{{"root.json", []byte("r")}, {"claimed.json", []byte("c")}, {"transcript.jsonl", []byte("t")}}
	if err := ExportFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	if names := listNames(t, dir); names != "claimed.json,root.json,transcript.jsonl" {
		t.Fatalf("export holds %s", names)
	}
	// Not into a directory that holds anything.
	err := ExportFiles(dir, []Export{{"other.json", nil}})
	want := "export to " + dir + `: the export directory is not empty: export into a new, empty directory (it holds "claimed.json", "root.json", "transcript.jsonl"); nothing was written`
	if !errors.Is(err, ErrNotEmpty) || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	err = ExportFiles(filepath.Join(parent, "export-2"), []Export{{"a", nil}, {"a", nil}})
	if want := "export to " + filepath.Join(parent, "export-2") + `: the file "a" is listed twice`; err == nil || err.Error() != want {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestExportFilesNoRoom(t *testing.T) {
	dir := loopmedium.Tmpfs(t, 0, "64k")
	err := ExportFiles(dir, []Export{{"a", make([]byte, 40<<10)}, {"b", make([]byte, 40<<10)}})
	if !errors.Is(err, ErrMediumFull) || !strings.Contains(err.Error(), "the medium is full: free space on it or use another medium; nothing was written (the files need about") {
		t.Fatalf("error = %v", err)
	}
	if names := listNames(t, dir); names != "" {
		t.Fatalf("left %s", names)
	}
}

// TestExportFilesPartialFailure: the medium fills on the second file (the
// space check skipped, as if another program filled it meanwhile). The
// first, complete file must be removed again.
func TestExportFilesPartialFailure(t *testing.T) {
	dir := loopmedium.Tmpfs(t, 0, "64k")
	err := exportFiles(dir, []Export{{"a", make([]byte, 40<<10)}, {"b", make([]byte, 40<<10)}}, false)
	if !errors.Is(err, ErrMediumFull) || !strings.HasSuffix(err.Error(), "; the file already written was removed again, so nothing was exported") {
		t.Fatalf("error = %v", err)
	}
	if names := listNames(t, dir); names != "" {
		t.Fatalf("a failed export left %s", names)
	}
}

func BenchmarkWriteFile(b *testing.B) {
	dir := b.TempDir()
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		i++
		if err := WriteFile(dir, fmt.Sprintf("f%d", i), data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyAt checks the read-back step on its own: a medium that returns
// other bytes than were written must be caught.
func TestVerifyAt(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("what the medium holds"), 0o644))
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	if err := verifyAt(dfd, "f", []byte("what the medium holds")); err != nil {
		t.Fatalf("same bytes: %v", err)
	}
	if err := verifyAt(dfd, "f", []byte("what Conclave wrote!!")); !errors.Is(err, ErrVerify) {
		t.Fatalf("different bytes: %v, want ErrVerify", err)
	}
	if err := verifyAt(dfd, "f", []byte("what the medium holds, and more")); !errors.Is(err, ErrVerify) {
		t.Fatalf("shorter file: %v, want ErrVerify", err)
	}
}

func TestCreateNewNeverReplaces(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.json")
	if err := CreateNew(p, []byte("first")); err != nil {
		t.Fatal(err)
	}
	err := CreateNew(p, []byte("second"))
	if !errors.Is(err, os.ErrExist) {
		t.Fatalf("second CreateNew: %v, want an error matching os.ErrExist", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "first" {
		t.Errorf("file holds %q after a refused write, want %q", got, "first")
	}
}

// TestCheckExportDir: a new or empty directory passes and nothing is
// made; a non-empty one, a link at it or above it are refused as
// ExportFiles refuses them.
func TestCheckExportDir(t *testing.T) {
	base := t.TempDir()
	must(t, os.Mkdir(filepath.Join(base, "empty"), 0o755))
	must(t, os.Mkdir(filepath.Join(base, "full"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "full", "f"), nil, 0o644))
	must(t, os.Symlink(filepath.Join(base, "empty"), filepath.Join(base, "link")))
	for _, ok := range []string{"new", "empty"} {
		if err := CheckExportDir(filepath.Join(base, ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the check made the directory: %v", err)
	}
	for _, c := range []struct {
		dir string
		is  error
	}{{"full", ErrNotEmpty}, {"link", ErrSymlink}, {"link/new", ErrSymlink}, {"missing/new", fs.ErrNotExist}} {
		if err := CheckExportDir(filepath.Join(base, c.dir)); !errors.Is(err, c.is) {
			t.Errorf("%s: %v, want %v", c.dir, err, c.is)
		}
	}
}
