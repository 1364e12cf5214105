package safefile

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/conclave-keys/conclave/internal/loopmedium"
)

// What FAT32 and exFAT, the file systems of transfer sticks, do
// differently from ext4, each met on a real image (internal/loopmedium).

var stickFS = []loopmedium.FS{loopmedium.FAT32, loopmedium.ExFAT}

// TestFoldedNamesOnMedia: on FAT32 and exFAT "A.json" and "a.json" are
// one file; an export holding both is refused before anything is written,
// on every medium (the same export must be writable on a stick), with the
// reason.
func TestFoldedNamesOnMedia(t *testing.T) {
	for _, fsys := range append(stickFS, loopmedium.Ext4) {
		t.Run(string(fsys), func(t *testing.T) {
			m := loopmedium.Mount(t, loopmedium.Spec{FS: fsys})
			must(t, os.WriteFile(filepath.Join(m.Dir, "A.json"), []byte("upper"), 0o644))
			_, err := os.Stat(filepath.Join(m.Dir, "a.json"))
			if folds := fsys != loopmedium.Ext4; folds != (err == nil) {
				t.Fatalf("stat a.json after writing A.json: %v; want the medium to fold case: %v", err, folds)
			}

			dir := filepath.Join(m.Dir, "export")
			err = ExportFiles(dir, []Export{{"a.json", []byte("lower")}, {"A.json", []byte("upper")}})
			want := "export to " + dir + `: file names "A.json" and "a.json": FAT32 and exFAT media, the usual transfer sticks, ignore the case of names, so they would be one file there; nothing was written`
			if !errors.Is(err, ErrFoldedNames) || err.Error() != want {
				t.Fatalf("got  %v\nwant %s", err, want)
			}
			if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused export left %s behind (%v)", dir, err)
			}
		})
	}
}

// TestWriteNeverReplacesFoldedName: on a stick, writing "A.json" where
// "a.json" is would replace it; the writer sees the file that is there.
func TestWriteNeverReplacesFoldedName(t *testing.T) {
	for _, fsys := range stickFS {
		t.Run(string(fsys), func(t *testing.T) {
			m := loopmedium.Mount(t, loopmedium.Spec{FS: fsys})
			must(t, WriteFile(m.Dir, "a.json", []byte("first")))
			err := WriteFile(m.Dir, "A.json", []byte("second"))
			if !errors.Is(err, ErrExists) {
				t.Fatalf("got %v, want ErrExists", err)
			}
			if got, _ := os.ReadFile(filepath.Join(m.Dir, "a.json")); string(got) != "first" {
				t.Errorf("a.json now holds %q", got)
			}
		})
	}
}

func TestCheckFoldedNames(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  string // "" for none
	}{
		{[]string{"a.json", "b.json", "requests/0000.jsonl", "requests/0001.jsonl"}, ""},
		{[]string{"a.json", "A.json"}, `file names "A.json" and "a.json"`},
		{[]string{"requests/x.jsonl", "Requests/y.jsonl"}, `file names "Requests" and "requests"`},
		{[]string{"K.json", "\u212a.json"}, `file names "K.json" and "\u212a.json"`}, // the Kelvin sign folds to K, and is shown escaped
		{[]string{"straße.json", "STRASSE.json"}, ""},                                // no simple folding makes ß two letters
		{[]string{"é.json", "É.json"}, `file names "\u00c9.json" and "\u00e9.json"`},
	} {
		err := CheckFoldedNames(c.names)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.names, err)
		case c.want != "" && (!errors.Is(err, ErrFoldedNames) || !strings.HasPrefix(err.Error(), c.want+": ")):
			t.Errorf("%q: got %v, want %s: …", c.names, err, c.want)
		}
	}
}

// TestOpenDirFoldedNames: a manifest listing two names that are one file
// on a stick was not written by Conclave, whatever medium it is on.
func TestOpenDirFoldedNames(t *testing.T) {
	dir := bundle(t, map[string]string{"a.json": "1", "A.json": "2"})
	_, err := OpenDir(dir, []string{"a.json", "A.json"}, Limits{})
	want := "open bundle " + dir + `: manifest lists file names "A.json" and "a.json": FAT32 and exFAT media, the usual transfer sticks, ignore the case of names, so they would be one file there`
	if !errors.Is(err, ErrFoldedNames) || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

// TestFATShortNames: FAT32 gives a long name an 8.3 alias
// ("REQUES~1.JSO"). A directory listing shows the long name only, so the
// alias is never reported as a second file; and the reader reads listed
// names only, so an alias is refused as unlisted wherever the driver
// would resolve it. (A bundle manifest cannot list one either: its paths
// hold no "~", ceremony/bundle.CheckPath.)
func TestFATShortNames(t *testing.T) {
	m := loopmedium.Mount(t, loopmedium.Spec{FS: loopmedium.FAT32})
	long := "requests-batch-0000.jsonl"
	must(t, WriteFile(m.Dir, long, []byte("{}\n")))
	alias := "REQUES~1.JSO"
	if _, err := os.Stat(filepath.Join(m.Dir, alias)); err == nil {
		t.Logf("the %s driver opens the long name by its alias %s", m.Driver, alias)
	} else {
		t.Logf("the %s driver does not resolve the alias %s (%v)", m.Driver, alias, err)
	}
	if names := listNames(t, m.Dir); names != long {
		t.Errorf("the medium lists %s, want only %s", names, long)
	}
	d := openDir(t, m.Dir, []string{long}, Limits{})
	if extra, err := d.Extra(); err != nil || len(extra) != 0 {
		t.Errorf("Extra = %v, %v; want nothing", extra, err)
	}
	if _, err := d.ReadFile(alias); !errors.Is(err, ErrNotListed) {
		t.Errorf("reading the alias: %v, want ErrNotListed", err)
	}
	if got, err := d.ReadFile(long); err != nil || string(got) != "{}\n" {
		t.Errorf("reading %s: %q, %v", long, got, err)
	}
}

// TestStickHasNoLinksNorModes: a stick holds no symbolic links and no
// permission bits. Making a link fails, so the reader's link refusal is
// never the message a key holder sees there; a directory where a file is
// listed is still named as one; an export written and read back from the
// image (mounted again, so not from memory) is whole, and reads back
// through the reader.
func TestStickHasNoLinksNorModes(t *testing.T) {
	for _, fsys := range stickFS {
		t.Run(string(fsys), func(t *testing.T) {
			m := loopmedium.Mount(t, loopmedium.Spec{FS: fsys})
			if err := os.Symlink("a.json", filepath.Join(m.Dir, "link.json")); err == nil {
				t.Fatalf("the %s medium took a symbolic link", fsys)
			} else {
				t.Logf("symlink on %s (%s driver): %v", fsys, m.Driver, err)
			}
			must(t, os.Mkdir(filepath.Join(m.Dir, "root.json"), 0o755))
			d, err := OpenDir(m.Dir, []string{"root.json"}, Limits{})
			must(t, err)
			_, err = d.ReadFile("root.json")
			d.Close() // the medium is mounted again below
			if want := `bundle file "root.json" is a directory: only regular files are read from the transfer medium`; !errors.Is(err, ErrNotRegular) || err.Error() != want {
				t.Errorf("got  %v\nwant %s", err, want)
			}

			a, b := make([]byte, 70<<10), make([]byte, 5)
			rand.Read(a)
			copy(b, "hello")
			dir := filepath.Join(m.Dir, "export")
			must(t, ExportFiles(dir, []Export{{"1.root.json", a}, {"timestamp.json", b}}))
			m.Remount(t, fsys)
			r := openDir(t, dir, []string{"1.root.json", "timestamp.json"}, Limits{})
			for name, want := range map[string][]byte{"1.root.json": a, "timestamp.json": b} {
				if got, err := r.ReadFile(name); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s read back wrong (%v)", name, err)
				}
			}
			if extra, err := r.Extra(); err != nil || len(extra) != 0 {
				t.Errorf("Extra = %v, %v; want nothing", extra, err)
			}
		})
	}
}

// TestStickTimes: FAT32 stores modification times to 2 seconds, exFAT to
// 10 milliseconds. Nothing Conclave reads or checks depends on a file's
// times (an export is read back and compared by SHA-256), so a time that
// moved is no sign of tampering and none is reported.
func TestStickTimes(t *testing.T) {
	odd := time.Date(2026, 11, 24, 13, 0, 1, 0, time.UTC)
	for _, fsys := range stickFS {
		t.Run(string(fsys), func(t *testing.T) {
			m := loopmedium.Mount(t, loopmedium.Spec{FS: fsys})
			must(t, WriteFile(m.Dir, "root.json", []byte("{}")))
			p := filepath.Join(m.Dir, "root.json")
			must(t, os.Chtimes(p, odd, odd))
			m.Remount(t, fsys)
			st, err := os.Stat(p)
			must(t, err)
			want := odd
			if fsys == loopmedium.FAT32 {
				want = odd.Truncate(2 * time.Second)
			}
			if !st.ModTime().Equal(want) {
				t.Errorf("modified %v, want %v", st.ModTime().UTC(), want)
			}
			d := openDir(t, m.Dir, []string{"root.json"}, Limits{})
			if got, err := d.ReadFile("root.json"); err != nil || string(got) != "{}" {
				t.Errorf("read %q, %v", got, err)
			}
		})
	}
}

// TestStickFileSizeLimit: a FAT32 file holds at most 4 GiB less one
// byte. The file system refuses more with EFBIG, which says the file is
// too large for the medium's file system (not that the medium is full).
func TestStickFileSizeLimit(t *testing.T) {
	m := loopmedium.Mount(t, loopmedium.Spec{FS: loopmedium.FAT32})
	if m.Driver == "fusefat" {
		loopmedium.Skip(t, "fusefat, the FUSE FAT32 driver used where the kernel has no vfat, lets a file grow to 4 GiB and more (truncate succeeds): FAT32's limit is checked with the kernel's vfat only")
	}
	p := filepath.Join(m.Dir, "big.json")
	must(t, os.WriteFile(p, nil, 0o644))
	err := os.Truncate(p, 4<<30)
	if !errors.Is(err, unix.EFBIG) {
		t.Fatalf("growing a FAT32 file to 4 GiB: %v, want EFBIG", err)
	}
	err = writeError(p, nothingWritten, err)
	want := "export " + p + ": the file is larger than the medium's file system allows (FAT32 holds at most 4 GiB less one byte per file): use a medium formatted exFAT or ext4; nothing was written (truncate " + p + ": file too large)"
	if !errors.Is(err, ErrTooLarge) || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// TestStickFull: an export larger than the stick's free space is refused
// before anything is written; one file larger than what is left when it
// is written is removed again.
func TestStickFull(t *testing.T) {
	for _, fsys := range stickFS {
		t.Run(string(fsys), func(t *testing.T) {
			m := loopmedium.Mount(t, loopmedium.Spec{FS: fsys, Size: 40 << 20})
			if m.Driver == "fusefat" {
				loopmedium.Skip(t, "fusefat, the FUSE FAT32 driver used where the kernel has no vfat, reports no size and answers a full medium with EPERM, not ENOSPC: a full FAT32 medium is checked with the kernel's vfat only")
			}
			big := make([]byte, 48<<20)
			dir := filepath.Join(m.Dir, "export")
			err := ExportFiles(dir, []Export{{"big.json", big}})
			if !errors.Is(err, ErrMediumFull) {
				t.Fatalf("got %v, want ErrMediumFull", err)
			}
			err = WriteFile(m.Dir, "big.json", big)
			if !errors.Is(err, ErrMediumFull) || !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("got %v, want ErrMediumFull with ENOSPC", err)
			}
			if names := listNames(t, m.Dir); names != "export" {
				t.Errorf("the full medium was left holding %s", names)
			}
		})
	}
}

// TestStickSmallerThanItClaims: a stick that claims 40 MiB but can store
// nothing more than mkfs wrote (its store is filled behind its back), as
// TestWriteFileNotStored on ext4: the export fails and leaves nothing that
// looks complete.
func TestStickSmallerThanItClaims(t *testing.T) {
	a, b := make([]byte, 3<<20), make([]byte, 3<<20)
	rand.Read(a)
	rand.Read(b)
	for _, fsys := range stickFS {
		t.Run(string(fsys), func(t *testing.T) {
			m := loopmedium.Mount(t, loopmedium.Spec{FS: fsys, Size: 40 << 20, Room: "4m"})
			if m.Driver == "fusefat" {
				// Seen: the export is reported whole on a medium with
				// no room, read back from the driver's cache.
				loopmedium.Skip(t, "fusefat, the FUSE FAT32 driver used where the kernel has no vfat, does not pass a sync on to the device, so a medium that cannot store the data is not found out through it (conclave media warns of FUSE mounts): checked with the kernel's vfat only")
			}
			filler, err := os.Create(filepath.Join(m.Backing, "filler"))
			must(t, err)
			if _, err := filler.Write(make([]byte, 8<<20)); !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("filling the medium's store: %v, want ENOSPC", err)
			}
			must(t, filler.Close())
			dir := filepath.Join(m.Dir, "export")
			err = ExportFiles(dir, []Export{{"a.json", a}, {"b.json", b}})
			switch {
			case errors.Is(err, ErrVerify), errors.Is(err, ErrNotStored), errors.Is(err, ErrMediumGone):
				t.Logf("%s (%s driver): %v", fsys, m.Driver, err)
			default:
				t.Fatalf("got %v, want the export to fail", err)
			}
			if names := listNames(t, dir); names != "" {
				t.Errorf("the failing medium was left holding %s", names)
			}
		})
	}
}
