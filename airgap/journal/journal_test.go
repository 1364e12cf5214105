package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/transcript"
)

var t0 = time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)

// writeLog opens a new journal in dir, appends n events and closes it.
func writeLog(t *testing.T, dir string, n int) *transcript.Log {
	t.Helper()
	j, data, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(data) != 0 {
		t.Fatalf("a new journal's log holds %q", data)
	}
	l := transcript.New(j, "c-1")
	for i := range n {
		if _, err := l.Append("event", t0, map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestOpenAppendReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c-1")
	l := writeLog(t, dir, 3)

	j, data, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	onDisk, err := os.ReadFile(filepath.Join(dir, LogName))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(onDisk) || j.Cut() != 0 {
		t.Fatalf("Open returned %q, cut %d; the file holds %q", data, j.Cut(), onDisk)
	}
	entries, torn, err := transcript.Parse(data)
	if err != nil || torn {
		t.Fatalf("Parse: torn %v, %v", torn, err)
	}
	r, err := transcript.Resume(j, entries)
	if err != nil {
		t.Fatal(err)
	}
	if r.Head() != l.Head() || r.Len() != 3 {
		t.Fatalf("resumed at %s/%d, want %s/3", r.Head(), r.Len(), l.Head())
	}
	if _, err := r.Append("closed", t0, struct{}{}); err != nil {
		t.Fatal(err)
	}
	onDisk, _ = os.ReadFile(filepath.Join(dir, LogName))
	if entries, torn, err := transcript.Parse(onDisk); err != nil || torn || len(entries) != 4 {
		t.Fatalf("after resuming: %d entries, torn %v, %v", len(entries), torn, err)
	}
	for name, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, LogName): 0o600, filepath.Join(dir, BlobsName): 0o700 | os.ModeDir} {
		if st, err := os.Lstat(name); err != nil || st.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, st.Mode(), err, want)
		}
	}
}

func TestOpenCutsTornLine(t *testing.T) {
	for _, tail := range []string{`{"body":{"i":`, "\x00\x00\x00"} {
		dir := filepath.Join(t.TempDir(), "c-1")
		l := writeLog(t, dir, 2)
		path := filepath.Join(dir, LogName)
		whole, _ := os.ReadFile(path)
		if err := os.WriteFile(path, append(whole, tail...), 0o600); err != nil {
			t.Fatal(err)
		}
		j, data, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != string(whole) || j.Cut() != len(tail) {
			t.Fatalf("Open returned %q (cut %d), want %q (cut %d)", data, j.Cut(), whole, len(tail))
		}
		j.Close()
		onDisk, _ := os.ReadFile(path)
		if string(onDisk) != string(whole) {
			t.Fatalf("the file holds %q after the cut, want %q", onDisk, whole)
		}
		entries, _, _ := transcript.Parse(onDisk)
		if entries[len(entries)-1].Hash != l.Head() {
			t.Fatal("the head moved")
		}
	}
}

// TestOpenCutsTornFirstLine: a crash during the very first append leaves
// a fragment and no whole line; it is cut to an empty log.
func TestOpenCutsTornFirstLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c-1")
	writeLog(t, dir, 0)
	path := filepath.Join(dir, LogName)
	os.WriteFile(path, []byte(`{"bo`), 0o600)
	j, data, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if st, _ := os.Stat(path); len(data) != 0 || st.Size() != 0 {
		t.Fatalf("returned %q, file %d bytes", data, st.Size())
	}
}

// TestOpenLeavesDamagedLog: a log that does not verify is refused and not
// changed, its torn tail included.
func TestOpenLeavesDamagedLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c-1")
	writeLog(t, dir, 3)
	path := filepath.Join(dir, LogName)
	whole, _ := os.ReadFile(path)
	damaged := strings.Replace(string(whole), `{"i":1}`, `{"i":9}`, 1) + `{"bo`
	os.WriteFile(path, []byte(damaged), 0o600)
	_, _, err := Open(dir)
	var ce *transcript.ChainError
	if !errors.As(err, &ce) || ce.Line != 3 {
		t.Fatalf("err = %v, want a ChainError at line 3", err)
	}
	want := "open journal " + dir + ": log.jsonl: transcript line 3: prev is not the SHA-256 of line 2: that line or this one was changed, or a line was inserted before this one"
	if err.Error() != want {
		t.Fatalf("err = %s\nwant %s", err, want)
	}
	if onDisk, _ := os.ReadFile(path); string(onDisk) != damaged {
		t.Fatal("the damaged log was changed")
	}
}

func TestOpenRefusesLinks(t *testing.T) {
	tmp := t.TempDir()
	real := filepath.Join(tmp, "real")
	writeLog(t, real, 1)

	link := filepath.Join(tmp, "link")
	os.Symlink(real, link)
	if _, _, err := Open(link); err == nil || err.Error() != "open journal "+link+": "+link+" is a symbolic link, which Conclave does not follow" {
		t.Fatalf("journal directory a link: %v", err)
	}

	dir := filepath.Join(tmp, "logl")
	os.Mkdir(dir, 0o700)
	os.Symlink(filepath.Join(real, LogName), filepath.Join(dir, LogName))
	logPath := filepath.Join(dir, LogName)
	if _, _, err := Open(dir); err == nil || err.Error() != "open journal "+dir+": "+logPath+" is a symbolic link, which Conclave does not follow" {
		t.Fatalf("log a link: %v", err)
	}

	dir = filepath.Join(tmp, "blobl")
	os.Mkdir(dir, 0o700)
	os.Symlink(filepath.Join(real, BlobsName), filepath.Join(dir, BlobsName))
	blobPath := filepath.Join(dir, BlobsName)
	if _, _, err := Open(dir); err == nil || err.Error() != "open journal "+dir+": "+blobPath+" is a symbolic link, which Conclave does not follow" {
		t.Fatalf("blobs a link: %v", err)
	}
}

func TestOpenRefusesSecondProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c-1")
	j, _, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock(2) locks belong to the open file description, so a second
	// open in this process stands for another process.
	_, _, err = Open(dir)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: %v", err)
	}
	j.Close()
	j, _, err = Open(dir)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	j.Close()
}

func TestAppendAfterClose(t *testing.T) {
	j, dir := openJournal(t)
	j.Close()
	if err := j.Append([]byte("{}")); err == nil || err.Error() != "append to "+filepath.Join(dir, LogName)+": the journal is closed" {
		t.Fatalf("append after close: %v", err)
	}
}

func TestAppendRefusesNewline(t *testing.T) {
	j, dir := openJournal(t)
	if err := j.Append([]byte("{}\n{}")); err == nil || err.Error() != "append to "+filepath.Join(dir, LogName)+": the line holds a newline" {
		t.Fatalf("append of two lines: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, LogName)); st.Size() != 0 {
		t.Fatal("something was written")
	}
}
