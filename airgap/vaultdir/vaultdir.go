// Package vaultdir keeps a vault (package ceremony/vault) in a directory
// on its own medium:
//
//	VAULT/CURRENT           "gen-000002 <generation hash>\n"
//	VAULT/gen-000001/       the first generation, kept
//	VAULT/gen-000002/       the current one
//	VAULT/journal/<id>/     the journal of a ceremony under way
//
// A new generation is written beside the old ones, each file and each
// directory synced, and only then made current by replacing CURRENT:
// written under a temporary name, synced, renamed over the old one, and
// the directory synced (rename(2) replaces a name atomically, so CURRENT
// is always the old or the new one, whole). A crash before the rename
// leaves the old generation current; the half-written one is ignored,
// reported (Generations), and set aside by the next write. There are no
// symbolic links: the vault may sit on FAT, which has none, and nothing
// in it is reached through one (every name is opened with O_NOFOLLOW, one
// component at a time, from the vault directory's descriptor).
//
// The package is Linux only, as airgap/safefile is.
package vaultdir

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/internal/durable"
	"golang.org/x/sys/unix"
)

// CurrentFile names the current generation.
const CurrentFile = "CURRENT"

// JournalDirName holds the journals of ceremonies under way.
const JournalDirName = "journal"

// currentTemp is the temporary name of a new CURRENT: a dot file, which
// no generation name can be.
const currentTemp = ".CURRENT.new"

// MaxFileSize bounds each file read from a vault: the largest metadata of
// a 100,000-project role is some 60 MB.
const MaxFileSize = 256 << 20

// Errors a caller can branch on.
var (
	// ErrNoGeneration: the directory holds no current generation (no
	// CURRENT file).
	ErrNoGeneration = errors.New("the vault holds no generation: there is no CURRENT file")
	// ErrInUse: another process is writing a generation of the vault.
	ErrInUse = errors.New("another process is writing to this vault")
	// ErrSymlink: a symbolic link inside the vault.
	ErrSymlink = errors.New("it is a symbolic link, and a vault holds none")
	// ErrNotRegular: a device, pipe, socket or directory where a file was
	// expected.
	ErrNotRegular = errors.New("it is not a regular file")
	// ErrDamaged: what the vault directory holds is not a vault's
	// current generation as CURRENT names it (CURRENT garbled, naming a
	// generation that is missing, or one whose manifest has another
	// hash). Errors carrying it say what, in their own words.
	ErrDamaged = errors.New("the vault is damaged")
	// ErrCeremonyRunning: another process runs a ceremony on the vault.
	ErrCeremonyRunning = errors.New("another ceremony is running on this vault: one ceremony at a time runs on a vault")
)

// Dir is an opened vault directory.
type Dir struct {
	path string
	fd   int
}

// Open opens the vault directory path, which must not be a symbolic link.
func Open(dir string) (*Dir, error) {
	fd, err := unix.Open(unslashed(dir), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", dir, describe(err, unix.AT_FDCWD, unslashed(dir)))
	}
	return &Dir{path: dir, fd: fd}, nil
}

// CheckNew checks that dir can become a new vault: it does not exist, or
// it is an empty directory (the mount point of a fresh medium), and it is
// not a symbolic link (Open refuses one). A command checks this before
// the holders sign, so that their work is not lost to a wrong path.
func CheckNew(dir string) error {
	if fi, err := os.Lstat(unslashed(dir)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("create vault %s: %w", dir, ErrSymlink)
	}
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("create vault %s: %w", dir, err)
	case len(ents) > 0:
		return fmt.Errorf("create vault %s: the directory is not empty: a vault is made in a new or empty directory", dir)
	}
	return nil
}

// unslashed is dir without its trailing slashes: "link/" names the
// directory a link points to (POSIX.1-2017 §4.13, pathname resolution),
// which O_NOFOLLOW and Lstat would then follow.
func unslashed(dir string) string {
	if t := strings.TrimRight(dir, "/"); t != "" {
		return t
	}
	return dir
}

// Create makes a new vault directory at dir (see CheckNew) and opens it.
func Create(dir string) (*Dir, error) {
	if err := CheckNew(dir); err != nil {
		return nil, err
	}
	if err := durable.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create vault %s: %w", dir, err)
	}
	return Open(dir)
}

// Path is the vault directory's path.
func (d *Dir) Path() string { return d.path }

// Close releases the directory.
func (d *Dir) Close() error {
	if d.fd < 0 {
		return fmt.Errorf("close vault %s: %w", d.path, fs.ErrClosed)
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// JournalDir is where the journal of ceremony id is kept while it runs.
func (d *Dir) JournalDir(ceremonyID string) string {
	return filepath.Join(d.path, JournalDirName, ceremonyID)
}

// LockJournals makes the vault's journal directory when it is not there
// and locks it for one ceremony: two ceremonies running on one vault at
// once would both build and sign the next version of a role, each with
// its own payload, and only one of them could become the next
// generation. The lock (flock(2), on every local file system Linux
// mounts, FAT included) is held until the returned directory is closed
// or the process ends. The journal directory must not be a symbolic
// link: a ceremony's log is never written outside the vault.
func (d *Dir) LockJournals() (io.Closer, error) {
	where := filepath.Join(d.path, JournalDirName)
	if err := durable.MkdirAt(d.fd, d.path, JournalDirName, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("make the journal directory %s: %w", where, err)
	}
	fd, err := unix.Openat(d.fd, JournalDirName, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %s: %w", d.path, JournalDirName, describe(err, d.fd, JournalDirName))
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("vault %s: %w", d.path, ErrCeremonyRunning)
		}
		return nil, fmt.Errorf("vault %s: lock %s: %w", d.path, JournalDirName, err)
	}
	return os.NewFile(uintptr(fd), where), nil
}

// damaged marks err as ErrDamaged, keeping its message.
func damaged(err error) error { return damagedError{err} }

type damagedError struct{ err error }

func (e damagedError) Error() string        { return e.err.Error() }
func (e damagedError) Unwrap() error        { return e.err }
func (e damagedError) Is(target error) bool { return target == ErrDamaged }

// describe turns what openat says about a refused name into the reason.
// With O_NOFOLLOW Linux reports a link as ELOOP, and with O_DIRECTORY as
// ENOTDIR, so the entry is looked at without following it.
func describe(err error, dfd int, name string) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		var st unix.Stat_t
		if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return ErrSymlink
		}
		if errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("it is not a directory: %w", ErrNotRegular)
		}
	}
	if errors.Is(err, unix.ENOENT) {
		return fs.ErrNotExist
	}
	return err
}

// current is what CURRENT says.
type current struct {
	name, hash string
}

// readCurrent reads and parses CURRENT.
func (d *Dir) readCurrent() (current, error) {
	data, err := readAt(d.fd, CurrentFile, 4096)
	if errors.Is(err, fs.ErrNotExist) {
		return current{}, fmt.Errorf("vault %s: %w", d.path, ErrNoGeneration)
	}
	if err != nil {
		return current{}, fmt.Errorf("vault %s: %s: %w", d.path, CurrentFile, err)
	}
	c, ok := parseCurrent(data)
	if !ok {
		return current{}, damaged(fmt.Errorf("vault %s: %s is not one line \"gen-NNNNNN <sha256>\"", d.path, CurrentFile))
	}
	return c, nil
}

// line is CURRENT's content for c.
func (c current) line() []byte { return []byte(c.name + " " + c.hash + "\n") }

func parseCurrent(data []byte) (current, bool) {
	line, ok := bytes.CutSuffix(data, []byte("\n"))
	if !ok {
		return current{}, false
	}
	name, hash, ok := strings.Cut(string(line), " ")
	n, isGen := generationNumber(name)
	if !ok || !isGen || vault.GenerationName(n) != name || len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return current{}, false
	}
	return current{name, hash}, true
}

// generationNumber reads the number of a name "gen-NNNNNN".
func generationNumber(name string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, "gen-")
	if !ok || len(digits) < 6 || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n >= 1
}

// Current returns a reader of the current generation and its name. The
// generation's manifest must hash to the hash CURRENT names; the rest is
// for vault.Open to verify (OpenCurrent does both). The reader holds the
// generation's directory open, so that a directory put in its place is
// never read through it; it is an io.Closer, and the caller closes it.
func (d *Dir) Current() (vault.Reader, string, error) {
	c, err := d.readCurrent()
	if err != nil {
		return nil, "", err
	}
	fd, err := unix.Openat(d.fd, c.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, "", damaged(fmt.Errorf("vault %s: %s names generation %s, and the vault holds no directory %s", d.path, CurrentFile, c.name, c.name))
	}
	if err != nil {
		return nil, "", fmt.Errorf("vault %s: current generation %s: %w", d.path, c.name, describe(err, d.fd, c.name))
	}
	r := &genReader{path: filepath.Join(d.path, c.name), fd: fd}
	m, err := r.ReadFile(vault.ManifestFile)
	if err != nil {
		r.Close()
		err = fmt.Errorf("vault %s: current generation %s: %w", d.path, c.name, err)
		if errors.Is(err, fs.ErrNotExist) {
			err = damaged(err)
		}
		return nil, "", err
	}
	if h := sha256.Sum256(m); hex.EncodeToString(h[:]) != c.hash {
		r.Close()
		return nil, "", damaged(fmt.Errorf("vault %s: %s names generation %s with hash %s, but its %s hashes to %s",
			d.path, CurrentFile, c.name, c.hash, vault.ManifestFile, hex.EncodeToString(h[:])))
	}
	return r, c.name, nil
}

// OpenCurrent opens and verifies the current generation (vault.Open), and
// checks that it is the generation CURRENT names.
func (d *Dir) OpenCurrent() (*vault.Vault, error) {
	r, name, err := d.Current()
	if err != nil {
		return nil, err
	}
	defer r.(io.Closer).Close()
	v, err := vault.Open(r)
	if err != nil {
		return nil, fmt.Errorf("vault %s, generation %s: %w", d.path, name, err)
	}
	if v.Generation != name {
		return nil, damaged(fmt.Errorf("vault %s: directory %s holds generation %d (%s)", d.path, name, v.Manifest.Generation, v.Generation))
	}
	return v, nil
}

// OpenGeneration opens and verifies one generation by name (vault.Open),
// current or not: an auditor checks a ceremony against the generation it
// was opened on, which later ceremonies left in place. A generation is
// never changed once written; its manifest is checked by vault.Open, and
// the generation hash it returns is what the ceremony's log names.
func (d *Dir) OpenGeneration(name string) (*vault.Vault, error) {
	if n, ok := generationNumber(name); !ok || vault.GenerationName(n) != name {
		return nil, fmt.Errorf("vault %s: %q is not a generation name", d.path, name)
	}
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("vault %s: generation %s: %w", d.path, name, describe(err, d.fd, name))
	}
	r := &genReader{path: filepath.Join(d.path, name), fd: fd}
	defer r.Close()
	v, err := vault.Open(r)
	if err != nil {
		return nil, fmt.Errorf("vault %s, generation %s: %w", d.path, name, err)
	}
	if v.Generation != name {
		return nil, damaged(fmt.Errorf("vault %s: directory %s holds generation %d (%s)", d.path, name, v.Manifest.Generation, v.Generation))
	}
	return v, nil
}

// Generation is one generation directory of a vault.
type Generation struct {
	// Name is the directory's name.
	Name string
	// Current is set for the current generation.
	Current bool
	// HalfWritten is set for a generation written after the current one
	// and never made current: a write interrupted before the switch (or
	// one set aside by a later write, named gen-NNNNNN.interrupted-K).
	HalfWritten bool
}

// Generations lists the generation directories, sorted by name.
func (d *Dir) Generations() ([]Generation, error) {
	cur, err := d.readCurrent()
	if err != nil && !errors.Is(err, ErrNoGeneration) {
		return nil, err
	}
	curN, _ := generationNumber(cur.name)
	names, err := listAt(d.fd, ".")
	if err != nil {
		return nil, fmt.Errorf("list vault %s: %w", d.path, err)
	}
	var out []Generation
	for _, n := range names {
		base, _, aside := strings.Cut(n, ".interrupted-")
		num, ok := generationNumber(base)
		if !ok || vault.GenerationName(num) != base {
			continue
		}
		out = append(out, Generation{Name: n, Current: n == cur.name, HalfWritten: aside || num > curN})
	}
	return out, nil
}

// WriteGeneration writes files (as vault.Next or vault.Adopt return them,
// the manifest last) as the next generation and makes it current. The
// manifest's generation must follow the current one (or be the first in
// an empty vault) and name the current one's hash as its previous. A
// half-written directory of the same name, left by an interrupted write,
// is first renamed gen-NNNNNN.interrupted-K, kept for inspection.
func (d *Dir) WriteGeneration(files []vault.File) (string, error) {
	// One writer at a time: the check that the generation follows the
	// current one holds only while nobody else switches CURRENT.
	// flock(2) works on every local file system Linux mounts, FAT
	// included; the lock goes with the process.
	if err := unix.Flock(d.fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return "", fmt.Errorf("write vault %s: %w", d.path, ErrInUse)
		}
		return "", fmt.Errorf("write vault %s: lock: %w", d.path, err)
	}
	defer unix.Flock(d.fd, unix.LOCK_UN)
	name, hash, err := d.writeFiles(files)
	if err != nil {
		return "", err
	}
	if err := d.switchCurrent(name, hash); err != nil {
		return "", err
	}
	return name, nil
}

// writeFiles writes the generation's directory, everything synced, and
// returns its name and hash; CURRENT is not touched.
func (d *Dir) writeFiles(files []vault.File) (name, hash string, err error) {
	if len(files) == 0 || files[len(files)-1].Name != vault.ManifestFile {
		return "", "", errors.New("write vault generation: the files must end with the manifest")
	}
	mdata := files[len(files)-1].Data
	m, err := vault.ParseManifest(mdata)
	if err != nil {
		return "", "", fmt.Errorf("write vault generation: %w", err)
	}
	sum := sha256.Sum256(mdata)
	name, hash = vault.GenerationName(m.Generation), hex.EncodeToString(sum[:])
	cur, err := d.readCurrent()
	switch {
	case errors.Is(err, ErrNoGeneration):
		if m.Generation != 1 {
			return "", "", fmt.Errorf("write vault generation: vault %s holds no generation, and this is generation %d", d.path, m.Generation)
		}
	case err != nil:
		return "", "", err
	default:
		n, _ := generationNumber(cur.name)
		if m.Generation != n+1 || m.Previous != cur.hash {
			return "", "", fmt.Errorf("write vault generation: generation %d with previous %s does not follow the current %s (hash %s)",
				m.Generation, m.Previous, cur.name, cur.hash)
		}
	}
	if err := d.setAside(name); err != nil {
		return "", "", err
	}
	if err := durable.MkdirAt(d.fd, d.path, name, 0o700); err != nil {
		return "", "", fmt.Errorf("write vault generation: %w", err)
	}
	gfd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", "", fmt.Errorf("write vault generation %s: %w", name, err)
	}
	w := &genWriter{path: filepath.Join(d.path, name), dirs: map[string]int{".": gfd}}
	defer w.close()
	for _, f := range files {
		if err := w.write(f); err != nil {
			return "", "", fmt.Errorf("write vault generation %s: %w", name, err)
		}
	}
	if err := w.syncDirs(); err != nil {
		return "", "", fmt.Errorf("write vault generation %s: %w", name, err)
	}
	return name, hash, nil
}

// setAside renames a directory left at name by an interrupted write to
// name.interrupted-K, K the first number free.
func (d *Dir) setAside(name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return fmt.Errorf("write vault generation %s: %w", name, err)
	}
	for k := 1; k < 1000; k++ {
		aside := name + ".interrupted-" + strconv.Itoa(k)
		err := safefile.RenameNoReplace(d.fd, name, aside)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write vault generation: set aside the interrupted %s: %w", name, err)
		}
		if err := unix.Fsync(d.fd); err != nil {
			return fmt.Errorf("write vault generation: sync %s: %w", d.path, err)
		}
		return nil
	}
	return fmt.Errorf("write vault generation: %s has been interrupted too often: clear the vault's interrupted generations", name)
}

// switchCurrent makes generation name current (package documentation).
func (d *Dir) switchCurrent(name, hash string) error {
	if err := unix.Unlinkat(d.fd, currentTemp, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("switch vault %s to %s: remove the stale %s: %w", d.path, name, currentTemp, err)
	}
	if err := durable.CreateTempAt(d.fd, d.path, currentTemp, current{name, hash}.line(), 0o600); err != nil {
		return fmt.Errorf("switch vault %s to %s: %w", d.path, name, err)
	}
	if err := unix.Renameat(d.fd, currentTemp, d.fd, CurrentFile); err != nil {
		return fmt.Errorf("switch vault %s to %s: rename %s to %s: %w", d.path, name, currentTemp, CurrentFile, err)
	}
	if err := unix.Fsync(d.fd); err != nil {
		return fmt.Errorf("switch vault %s to %s: sync the directory: %w", d.path, name, err)
	}
	return nil
}

// genWriter writes the files of a generation, keeping each directory
// open to sync it once at the end: a file's content is synced as it is
// written (durable), the names in each directory once for all of them.
type genWriter struct {
	path string
	dirs map[string]int // by slash path relative to the generation
	// order lists the directories made, parents first.
	order []string
}

func (w *genWriter) dir(p string) (int, error) {
	if fd, ok := w.dirs[p]; ok {
		return fd, nil
	}
	parent, err := w.dir(path.Dir(p))
	if err != nil {
		return -1, err
	}
	base := path.Base(p)
	if err := unix.Mkdirat(parent, base, 0o700); err != nil {
		return -1, fmt.Errorf("create directory %s: %w", p, err)
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open directory %s: %w", p, err)
	}
	w.dirs[p] = fd
	w.order = append(w.order, p)
	return fd, nil
}

func (w *genWriter) write(f vault.File) error {
	if err := checkName(f.Name); err != nil {
		return err
	}
	dfd, err := w.dir(path.Dir(f.Name))
	if err != nil {
		return err
	}
	if f.Link != "" && w.link(dfd, f) {
		return nil
	}
	return durable.CreateTempAt(dfd, filepath.Join(w.path, filepath.FromSlash(path.Dir(f.Name))), path.Base(f.Name), f.Data, 0o400)
}

// link hard-links f.Link into directory dfd under f's base name, made
// read-only as written files are, and reports whether it did. The source
// is a file that is never changed and already synced (a journal blob),
// so only the directory entry is new, synced with the others (syncDirs):
// a ceremony's 60 MB bundle copy and payload are not written and synced
// a second time. Where a link cannot be made (the source on another file
// system: EXDEV; a file system without hard links, as FAT: EPERM; the
// source gone) the caller writes f.Data instead. The file linked is
// compared with f.Data, so a source changed since it was read is never
// taken.
func (w *genWriter) link(dfd int, f vault.File) bool {
	base := path.Base(f.Name)
	if err := unix.Linkat(unix.AT_FDCWD, f.Link, dfd, base, 0); err != nil {
		return false
	}
	if sameFile(dfd, base, f.Data) && unix.Fchmodat(dfd, base, 0o400, 0) == nil {
		return true
	}
	unix.Unlinkat(dfd, base, 0)
	return false
}

// sameFile reports whether the regular file name in directory dfd holds
// exactly data.
func sameFile(dfd int, name string, data []byte) bool {
	got, err := readAt(dfd, name, int64(len(data))+1)
	return err == nil && bytes.Equal(got, data)
}

// syncDirs syncs the new directories, deepest first, then the
// generation's own.
func (w *genWriter) syncDirs() error {
	for i := len(w.order) - 1; i >= 0; i-- {
		if err := unix.Fsync(w.dirs[w.order[i]]); err != nil {
			return fmt.Errorf("sync directory %s: %w", w.order[i], err)
		}
	}
	if err := unix.Fsync(w.dirs["."]); err != nil {
		return fmt.Errorf("sync directory %s: %w", w.path, err)
	}
	return nil
}

func (w *genWriter) close() {
	for _, fd := range w.dirs {
		unix.Close(fd)
	}
}

// genReader reads one generation, following no link.
type genReader struct {
	path string
	fd   int
}

var _ vault.Reader = (*genReader)(nil)

// Close releases the generation's directory.
func (r *genReader) Close() error { return unix.Close(r.fd) }

// openDir opens the directory name (slash path, "" or "." for the
// generation itself), one component at a time with O_NOFOLLOW. The caller
// closes the descriptor.
func (r *genReader) openDir(name string) (int, error) {
	fd, err := unix.Dup(r.fd)
	if err != nil {
		return -1, err
	}
	if name == "" || name == "." {
		return fd, nil
	}
	for _, c := range strings.Split(name, "/") {
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			err = describe(err, fd, c)
		}
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

func checkName(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("%q is not a file name inside a generation", name)
	}
	return nil
}

// ReadFile implements vault.Reader.
func (r *genReader) ReadFile(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	dfd, err := r.openDir(path.Dir(name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer unix.Close(dfd)
	data, err := readAt(dfd, path.Base(name), MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

// ReadDir implements vault.Reader: a subdirectory's name ends in "/";
// anything else (a file, a link, a device) is listed by its name, and
// Open refuses it as unlisted or when reading it.
func (r *genReader) ReadDir(name string) ([]string, error) {
	if name != "" {
		if err := checkName(name); err != nil {
			return nil, err
		}
	}
	dfd, err := r.openDir(name)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", name, err)
	}
	defer unix.Close(dfd)
	names, err := listAt(dfd, ".")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", name, err)
	}
	for i, n := range names {
		var st unix.Stat_t
		if unix.Fstatat(dfd, n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			names[i] += "/"
		}
	}
	sort.Strings(names)
	return names, nil
}

// listAt lists the names in the directory name under dfd.
func listAt(dfd int, name string) ([]string, error) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, describe(err, dfd, name)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// readAt reads the regular file name in dfd, following no link and
// opening nothing but a regular file, at most max bytes.
func readAt(dfd int, name string, max int64) ([]byte, error) {
	// Look first, so that a device is not even opened (opening some has
	// effects); the opened descriptor is checked again below.
	var pre unix.Stat_t
	if err := unix.Fstatat(dfd, name, &pre, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, describe(err, dfd, name)
	}
	switch pre.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFLNK:
		return nil, ErrSymlink
	default:
		return nil, ErrNotRegular
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, describe(err, dfd, name)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Dev != pre.Dev || st.Ino != pre.Ino {
		return nil, errors.New("it changed while it was being opened: is something else writing to the vault?")
	}
	if st.Size > max {
		return nil, fmt.Errorf("it is larger than %d bytes, the most a vault file may be", max)
	}
	// Read into one buffer of the size found: io.ReadAll grows its
	// buffer step by step, and for a 60 MB file clearing the buffers it
	// discards cost more than reading.
	data := make([]byte, st.Size)
	if _, err := io.ReadFull(f, data); errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return nil, errChanged
	} else if err != nil {
		return nil, err
	}
	var more [1]byte
	if n, _ := f.Read(more[:]); n != 0 {
		return nil, errChanged
	}
	return data, nil
}

// errChanged: a file's size changed while it was read.
var errChanged = errors.New("it changed while it was being read: is something else writing to the vault?")
