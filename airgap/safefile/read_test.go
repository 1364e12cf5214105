package safefile

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// bundle makes a directory with the given files (name → contents).
func bundle(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openDir(t *testing.T, dir string, names []string, l Limits) *Dir {
	t.Helper()
	d, err := OpenDir(dir, names, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestReadListedFiles(t *testing.T) {
	dir := bundle(t, map[string]string{"manifest.json": "{}", "requests/0001.json": "request one"})
	d := openDir(t, dir, []string{"manifest.json", "requests/0001.json"}, Limits{})
	b, err := d.ReadFile("requests/0001.json")
	if err != nil || string(b) != "request one" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	sum, n, err := d.Hash("requests/0001.json")
	if err != nil || n != 11 || sum != sha256.Sum256([]byte("request one")) {
		t.Fatalf("Hash = %x, %d, %v", sum, n, err)
	}
	extra, err := d.Extra()
	if err != nil || len(extra) != 0 {
		t.Fatalf("Extra = %v, %v", extra, err)
	}
}

func TestReadRefusesNames(t *testing.T) {
	dir := bundle(t, map[string]string{"a": "x"})
	for _, tc := range []struct{ name, want string }{
		{"", `open bundle DIR: manifest file name "": it is empty: unsafe file name`},
		{"../a", `open bundle DIR: manifest file name "../a": it has a ".." component: unsafe file name`},
		{"x/../../a", `open bundle DIR: manifest file name "x/../../a": it has a ".." component: unsafe file name`},
		{"./a", `open bundle DIR: manifest file name "./a": it has a "." component: unsafe file name`},
		{"/etc/passwd", `open bundle DIR: manifest file name "/etc/passwd": it is an absolute path: unsafe file name`},
		{"a//b", `open bundle DIR: manifest file name "a//b": it has an empty component (a doubled or trailing slash): unsafe file name`},
		{"a/", `open bundle DIR: manifest file name "a/": it has an empty component (a doubled or trailing slash): unsafe file name`},
		{`a\b`, `open bundle DIR: manifest file name "a\\b": it contains a backslash: unsafe file name`},
		{"a\x1b[2J", `open bundle DIR: manifest file name "a\x1b[2J": it contains a control or invisible character: unsafe file name`},
		{"a\xff", `open bundle DIR: manifest file name "a\xff": it is not valid UTF-8: unsafe file name`},
		{strings.Repeat("n", 256), `open bundle DIR: manifest file name "` + strings.Repeat("n", 256) + `": a component is longer than 255 bytes: unsafe file name`},
	} {
		_, err := OpenDir(dir, []string{tc.name}, Limits{})
		want := strings.ReplaceAll(tc.want, "DIR", dir)
		if !errors.Is(err, ErrUnsafeName) || err.Error() != want {
			t.Errorf("%q:\n got  %v\n want %s", tc.name, err, want)
		}
	}
	_, err := OpenDir(dir, []string{"a", "a"}, Limits{})
	if want := `open bundle ` + dir + `: manifest lists "a" twice`; err == nil || err.Error() != want {
		t.Errorf("duplicate: %v", err)
	}
	_, err = OpenDir(dir, []string{"a", "a/b"}, Limits{})
	if want := `open bundle ` + dir + `: manifest lists "a" both as a file and as a directory`; err == nil || err.Error() != want {
		t.Errorf("file and dir: %v", err)
	}
}

func TestReadRefusesUnlisted(t *testing.T) {
	dir := bundle(t, map[string]string{"a": "x", "b": "y"})
	d := openDir(t, dir, []string{"a"}, Limits{})
	_, err := d.ReadFile("b")
	if !errors.Is(err, ErrNotListed) || err.Error() != `read bundle file "b": it is not listed in the manifest` {
		t.Fatalf("error = %v", err)
	}
	_, err = d.ReadFile("../b")
	if !errors.Is(err, ErrUnsafeName) {
		t.Fatalf("error = %v, want ErrUnsafeName", err)
	}
}

func TestReadRefusesSymlinks(t *testing.T) {
	dir := bundle(t, map[string]string{"real": "x", "sub/real": "y"})
	outside := bundle(t, map[string]string{"secret": "s"})
	must(t, os.Symlink("real", filepath.Join(dir, "link")))
	must(t, os.Symlink(outside, filepath.Join(dir, "linkdir")))
	d := openDir(t, dir, []string{"link", "linkdir/secret"}, Limits{})

	_, err := d.ReadFile("link")
	if !errors.Is(err, ErrSymlink) || err.Error() != `bundle file "link" is a symbolic link: symbolic links on the transfer medium are never followed` {
		t.Errorf("link to file: %v", err)
	}
	_, err = d.ReadFile("linkdir/secret")
	if !errors.Is(err, ErrSymlink) || err.Error() != `read bundle file "linkdir/secret": directory "linkdir" is a symbolic link: symbolic links on the transfer medium are never followed` {
		t.Errorf("link to directory: %v", err)
	}

	// The bundle directory itself must not be a link.
	must(t, os.Symlink(dir, filepath.Join(outside, "bundle")))
	_, err = OpenDir(filepath.Join(outside, "bundle"), nil, Limits{})
	if !errors.Is(err, ErrSymlink) {
		t.Errorf("bundle directory as link: %v", err)
	}
}

// TestReadRefusesSpecialFiles: a FIFO must not hang the reader, a device
// must not be opened, a socket or directory is not a file.
func TestReadRefusesSpecialFiles(t *testing.T) {
	dir := bundle(t, map[string]string{"sub/x": "x"})
	must(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	names := []string{"fifo", "sock", "sub"}
	haveDev := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))) == nil
	if haveDev {
		names = append(names, "null")
	} else {
		t.Log("mknod not permitted here: the character-device case is not checked")
	}
	d := openDir(t, dir, names, Limits{})
	want := map[string]string{
		"fifo": `bundle file "fifo" is a named pipe (FIFO): only regular files are read from the transfer medium`,
		"sock": `bundle file "sock" is a socket: only regular files are read from the transfer medium`,
		"sub":  `bundle file "sub" is a directory: only regular files are read from the transfer medium`,
		"null": `bundle file "null" is a character device: only regular files are read from the transfer medium`,
	}
	for _, n := range names {
		_, err := d.ReadFile(n)
		if !errors.Is(err, ErrNotRegular) || err.Error() != want[n] {
			t.Errorf("%s:\n got  %v\n want %s", n, err, want[n])
		}
	}
}

func TestReadMissing(t *testing.T) {
	dir := bundle(t, nil)
	d := openDir(t, dir, []string{"gone", "nodir/x"}, Limits{})
	_, err := d.ReadFile("gone")
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != `bundle file "gone" is missing from `+dir+`: file does not exist` {
		t.Errorf("missing file: %v", err)
	}
	_, err = d.ReadFile("nodir/x")
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != `read bundle file "nodir/x": directory "nodir" is missing: file does not exist` {
		t.Errorf("missing directory: %v", err)
	}
}

func TestExtra(t *testing.T) {
	dir := bundle(t, map[string]string{"manifest.json": "{}", "requests/1.json": "1", "requests/2.json": "2", "notes.txt": "n", "other/x": "x"})
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "requests", "evil")))
	must(t, unix.Mkfifo(filepath.Join(dir, "pipe"), 0o644))
	d := openDir(t, dir, []string{"manifest.json", "requests/1.json"}, Limits{})
	extra, err := d.Extra()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range extra {
		got = append(got, e.String())
	}
	want := `"notes.txt" (a regular file), "other" (a directory), "pipe" (a named pipe (FIFO)), "requests/2.json" (a regular file), "requests/evil" (a symbolic link)`
	if strings.Join(got, ", ") != want {
		t.Fatalf("Extra:\n got  %s\n want %s", strings.Join(got, ", "), want)
	}
}

func TestLimits(t *testing.T) {
	dir := bundle(t, map[string]string{"big": strings.Repeat("b", 101), "a": strings.Repeat("a", 60), "c": strings.Repeat("c", 60)})
	d := openDir(t, dir, []string{"big", "a", "c"}, Limits{MaxFileSize: 100, MaxTotalSize: 100})

	_, err := d.ReadFile("big")
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrLimit) || err.Error() != `bundle file "big" is larger than the limit of 100 bytes per file` {
		t.Errorf("big: %v", err)
	}
	// A file read twice counts once toward the total.
	for range 2 {
		if _, err := d.ReadFile("a"); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = d.Hash("c")
	if !errors.Is(err, ErrLimit) || err.Error() != `reading bundle file "c" goes over the limit of 100 bytes for the whole bundle` {
		t.Errorf("total: %v", err)
	}

	_, err = OpenDir(dir, []string{"a", "c"}, Limits{MaxFiles: 1})
	if !errors.Is(err, ErrLimit) || err.Error() != "open bundle "+dir+": the bundle has more than the limit of 1 files" {
		t.Errorf("count: %v", err)
	}
	// Extra stops looking after MaxFiles unlisted entries.
	for i := range 5 {
		must(t, os.WriteFile(filepath.Join(dir, "junk"+string(rune('0'+i))), nil, 0o644))
	}
	d2 := openDir(t, dir, []string{"a"}, Limits{MaxFiles: 3})
	if _, err := d2.Extra(); !errors.Is(err, ErrLimit) {
		t.Errorf("Extra over the count: %v", err)
	}
}

// TestLimitWhileReading is a file that grows after it was opened (and its
// size checked): the limit must still stop the read.
func TestLimitWhileReading(t *testing.T) {
	dir := bundle(t, map[string]string{"grows": "small"})
	d := openDir(t, dir, []string{"grows"}, Limits{MaxFileSize: 1000})
	f, err := d.Open("grows")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := os.OpenFile(filepath.Join(dir, "grows"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	n, err := io.Copy(io.Discard, f)
	if !errors.Is(err, ErrLimit) || err.Error() != `bundle file "grows" is larger than the limit of 1000 bytes per file` {
		t.Fatalf("error = %v", err)
	}
	if n > 1000 {
		t.Fatalf("read %d bytes past a limit of 1000", n)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func BenchmarkHash(b *testing.B) {
	dir := b.TempDir()
	data := make([]byte, 1<<20)
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	d, err := OpenDir(dir, []string{"f"}, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := d.Hash("f"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBundle10k opens a bundle of 10,000 small files, lists extras
// and hashes every file: a tenth of the design's largest ceremony.
func BenchmarkBundle10k(b *testing.B) {
	dir := b.TempDir()
	must(b, os.Mkdir(filepath.Join(dir, "requests"), 0o755))
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprintf("requests/%05d.json", i)
		must(b, os.WriteFile(filepath.Join(dir, names[i]), []byte(`{"project":"example","keys":[]}`), 0o644))
	}
	for b.Loop() {
		d, err := OpenDir(dir, names, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if extra, err := d.Extra(); err != nil || len(extra) != 0 {
			b.Fatal(extra, err)
		}
		for _, n := range names {
			if _, _, err := d.Hash(n); err != nil {
				b.Fatal(err)
			}
		}
		d.Close()
	}
}

// TestConcurrentReads: several readers of one Dir (the ceremony hashes
// files in parallel) count each file once toward the total.
func TestConcurrentReads(t *testing.T) {
	files := map[string]string{}
	var names []string
	for i := range 20 {
		n := fmt.Sprintf("r/%02d", i)
		files[n] = strings.Repeat("x", 10)
		names = append(names, n)
	}
	d := openDir(t, bundle(t, files), names, Limits{MaxTotalSize: 200})
	errs := make(chan error, 8*len(names))
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, n := range names {
				if _, _, err := d.Hash(n); err != nil {
					errs <- err
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if d.total != 200 {
		t.Fatalf("total = %d, want 200 (each file once)", d.total)
	}
}
