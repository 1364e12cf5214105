package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func openJournal(t *testing.T) (*Journal, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "c-1")
	j, _, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, dir
}

func TestBlobs(t *testing.T) {
	j, dir := openJournal(t)
	data := []byte("payload of claimed v7")
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	name, err := j.Blobs().Put(data)
	if err != nil || name != want {
		t.Fatalf("Put = %s, %v; want %s", name, err, want)
	}
	// A second name for the file shows whether the same file is still
	// there after the second Put: a file written again has one name.
	path := filepath.Join(dir, BlobsName, name)
	if err := os.Link(path, filepath.Join(t.TempDir(), "second-name")); err != nil {
		t.Fatal(err)
	}
	// Again: the stored blob is checked, not written again.
	if name, err := j.Blobs().Put(data); err != nil || name != want {
		t.Fatalf("second Put = %s, %v", name, err)
	}
	if st, err := os.Stat(path); err != nil || st.Sys().(*syscall.Stat_t).Nlink != 2 {
		t.Fatalf("the blob was written again (%v)", err)
	}
	got, err := j.Blobs().Get(want)
	if err != nil || string(got) != string(data) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, BlobsName))
	if len(entries) != 1 {
		t.Fatalf("blobs/ holds %d files, want 1 (no temporary file left)", len(entries))
	}
}

func TestBlobDamaged(t *testing.T) {
	j, dir := openJournal(t)
	data := []byte("bundle copy")
	name, err := j.Blobs().Put(data)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, BlobsName, name)
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, []byte("bundle cop!"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Blobs().Get(name); !errors.Is(err, ErrBlobDamaged) || err.Error() != "read blob "+path+": "+ErrBlobDamaged.Error() {
		t.Fatalf("Get of a damaged blob: %v", err)
	}
	if _, err := j.Blobs().Put(data); !errors.Is(err, ErrBlobDamaged) || err.Error() != "store blob "+path+": "+ErrBlobDamaged.Error() {
		t.Fatalf("Put over a damaged blob: %v", err)
	}
}

func TestBlobRefused(t *testing.T) {
	j, dir := openJournal(t)
	other := filepath.Join(t.TempDir(), "elsewhere")
	data := []byte("elsewhere")
	os.WriteFile(other, data, 0o600)
	sum := sha256.Sum256(data)
	name := hex.EncodeToString(sum[:])
	path := filepath.Join(dir, BlobsName, name)
	os.Symlink(other, path)
	if _, err := j.Blobs().Get(name); err == nil || err.Error() != "read blob "+path+": "+path+" is a symbolic link, which Conclave does not follow" {
		t.Fatalf("Get of a link: %v", err)
	}
	if _, err := j.Blobs().Put(data); err == nil || err.Error() != "store blob "+path+": "+path+" is a symbolic link, which Conclave does not follow" {
		t.Fatalf("Put over a link: %v", err)
	}
	os.Remove(path)
	os.Mkdir(path, 0o700)
	if _, err := j.Blobs().Get(name); err == nil || err.Error() != "read blob "+path+": "+path+" is not a regular file (it is d---------)" {
		t.Fatalf("Get of a directory: %v", err)
	}
	for _, bad := range []string{"../log.jsonl", "", name[:63], name[:63] + "A"} {
		if _, err := j.Blobs().Get(bad); err == nil || err.Error() != `read blob "`+bad+`": the name is not a SHA-256 in lower-case hex` {
			t.Fatalf("Get(%q): %v", bad, err)
		}
	}
	missing := name[:63] + "0"
	if name[63] == '0' {
		missing = name[:63] + "1"
	}
	if _, err := j.Blobs().Get(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Get of a missing blob: %v", err)
	}
}
