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
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	grow(t, filepath.Join(dir, "grows"), 5000)
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

// BenchmarkReadFile reads 10,000 files of 1.2 KB from a "requests/"
// subdirectory of one Dir from 2 goroutines, the way an import reads a
// bundle's requests. It reports the wall time and the CPU time (user and
// system, from getrusage) per file.
func BenchmarkReadFile(b *testing.B) {
	const files, readers = 10_000, 2
	dir := b.TempDir()
	must(b, os.Mkdir(filepath.Join(dir, "requests"), 0o755))
	data := []byte(strings.Repeat("r", 1200))
	names := make([]string, files)
	for i := range names {
		names[i] = fmt.Sprintf("requests/%05d.json", i)
		must(b, os.WriteFile(filepath.Join(dir, names[i]), data, 0o644))
	}
	d, err := OpenDir(dir, names, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	cpu := func() time.Duration {
		var ru unix.Rusage
		must(b, unix.Getrusage(unix.RUSAGE_SELF, &ru))
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var iters int
	cpu0, start := cpu(), time.Now()
	for b.Loop() {
		iters++
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, readers)
		for range readers {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= files {
						return
					}
					got, err := d.ReadFile(names[i])
					if err != nil || len(got) != len(data) {
						errs <- fmt.Errorf("%s: %d bytes, %v", names[i], len(got), err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	n := float64(iters * files)
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/n, "ns/file")
	b.ReportMetric(float64((cpu()-cpu0).Nanoseconds())/n, "cpu-ns/file")
}

// TestReadFileGrowing: ReadFile sizes its buffer from the fstat at open;
// a file that grows after that is still read whole, and the limit is
// enforced on the bytes actually read.
func TestReadFileGrowing(t *testing.T) {
	for _, tc := range []struct {
		max     int64
		wantErr string
	}{
		{max: 1000, wantErr: `bundle file "grows" is larger than the limit of 1000 bytes per file`},
		{max: 10_000},
	} {
		dir := bundle(t, map[string]string{"grows": "small"})
		d := openDir(t, dir, []string{"grows"}, Limits{MaxFileSize: tc.max})
		f, err := d.Open("grows")
		if err != nil || f.size != 5 {
			t.Fatalf("Open: %v", err)
		}
		grow(t, filepath.Join(dir, "grows"), 5000)
		b, err := f.readAll()
		f.Close()
		if tc.wantErr != "" {
			if !errors.Is(err, ErrLimit) || err.Error() != tc.wantErr {
				t.Errorf("limit %d: %d bytes, %v", tc.max, len(b), err)
			}
			if d.read["grows"] > tc.max+1 {
				t.Errorf("limit %d: read %d bytes", tc.max, d.read["grows"])
			}
			continue
		}
		if err != nil || len(b) != 5005 || string(b[:5]) != "small" {
			t.Errorf("limit %d: %d bytes, %v", tc.max, len(b), err)
		}
		if d.total != 5005 {
			t.Errorf("total = %d, want 5005", d.total)
		}
	}
}

// TestReadDirSwapped: a listed directory replaced by a link after OpenDir
// is refused if it had not been read from yet; once read from, its
// descriptor pins the directory that was checked, so the link is never
// followed either way.
func TestReadDirSwapped(t *testing.T) {
	dir := bundle(t, map[string]string{"requests/a": "inside a", "requests/b": "inside b", "later/c": "inside c"})
	outside := bundle(t, map[string]string{"requests/a": "outside a", "requests/b": "outside b", "later/c": "outside c"})
	d := openDir(t, dir, []string{"requests/a", "requests/b", "later/c"}, Limits{})
	if b, err := d.ReadFile("requests/a"); err != nil || string(b) != "inside a" {
		t.Fatalf("before the swap: %q, %v", b, err)
	}
	for _, sub := range []string{"requests", "later"} {
		must(t, os.Rename(filepath.Join(dir, sub), filepath.Join(dir, sub+".old")))
		must(t, os.Symlink(filepath.Join(outside, sub), filepath.Join(dir, sub)))
	}
	if b, err := d.ReadFile("requests/b"); err != nil || string(b) != "inside b" {
		t.Errorf("directory read from before the swap: %q, %v", b, err)
	}
	_, err := d.ReadFile("later/c")
	if !errors.Is(err, ErrSymlink) || err.Error() != `read bundle file "later/c": directory "later" is a symbolic link: symbolic links on the transfer medium are never followed` {
		t.Errorf("directory first read after the swap: %v", err)
	}
}

// TestReadManyDirectories: past maxCachedDirs, directories are opened for
// each read and closed after it; reads still work and descriptors do not
// pile up.
func TestReadManyDirectories(t *testing.T) {
	files := map[string]string{}
	var names []string
	for i := range maxCachedDirs + 10 {
		n := fmt.Sprintf("d%03d/sub/f", i)
		files[n] = n
		names = append(names, n)
	}
	d := openDir(t, bundle(t, files), names, Limits{})
	for range 2 {
		for _, n := range names {
			if b, err := d.ReadFile(n); err != nil || string(b) != n {
				t.Fatalf("%s: %q, %v", n, b, err)
			}
		}
	}
	if len(d.subdirs) != maxCachedDirs {
		t.Errorf("%d directories kept open, want %d", len(d.subdirs), maxCachedDirs)
	}
	// A missing directory past the bound is reported as before.
	d.dirMu.Lock()
	_, _, err := d.openParent("d999/sub/f")
	d.dirMu.Unlock()
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != `read bundle file "d999/sub/f": directory "d999" is missing: file does not exist` {
		t.Errorf("missing directory: %v", err)
	}
}

// TestReadAfterClose: reads racing with Close, and reads after it, fail
// with fs.ErrClosed instead of using descriptor numbers that may by then
// belong to other files.
func TestReadAfterClose(t *testing.T) {
	files := map[string]string{}
	var names []string
	for i := range 200 {
		// Files at the top and in a few directories.
		n := fmt.Sprintf("f%d", i)
		if i%3 != 0 {
			n = fmt.Sprintf("r%d/f%d", i%3, i)
		}
		files[n] = "data"
		names = append(names, n)
	}
	d, err := OpenDir(bundle(t, files), names, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, n := range names {
				if b, err := d.ReadFile(n); err != nil && !errors.Is(err, fs.ErrClosed) || err == nil && string(b) != "data" {
					t.Errorf("%s: %q, %v", n, b, err)
				}
			}
		})
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := d.ReadFile(names[1]); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
	if err := d.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

// grow appends n zero bytes to the file at path, as a writer racing the
// reader would.
func grow(t *testing.T, path string, n int) {
	t.Helper()
	w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
