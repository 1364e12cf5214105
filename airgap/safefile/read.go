package safefile

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Limits bound what is read from a bundle directory. A zero field takes the
// value from DefaultLimits.
type Limits struct {
	// MaxFiles bounds the names a manifest may list, and the entries
	// Extra looks at.
	MaxFiles int
	// MaxFileSize bounds each file, in bytes.
	MaxFileSize int64
	// MaxTotalSize bounds all files read through one Dir together, in bytes.
	MaxTotalSize int64
}

// DefaultLimits fit a ceremony of 100,000 requests (the design's largest)
// with room to spare, and keep a hostile medium from filling the memory of
// the ceremony machine.
var DefaultLimits = Limits{
	MaxFiles:     200_000,
	MaxFileSize:  256 << 20,
	MaxTotalSize: 1 << 30,
}

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultLimits.MaxFileSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultLimits.MaxTotalSize
	}
	return l
}

// Errors a caller can branch on; each is wrapped with the file concerned.
var (
	// ErrLimit is matched by every *LimitError.
	ErrLimit = errors.New("a bundle limit was exceeded")
	// ErrSymlink: a symbolic link where a file or directory was expected.
	ErrSymlink = errors.New("symbolic links on the transfer medium are never followed")
	// ErrNotRegular: a device, named pipe, socket or directory where a
	// file was expected.
	ErrNotRegular = errors.New("only regular files are read from the transfer medium")
	// ErrNotListed: a name that the manifest does not list.
	ErrNotListed = errors.New("it is not listed in the manifest")
)

// LimitError says which limit a bundle exceeded.
type LimitError struct {
	// Name is the file concerned; empty for the file-count limit.
	Name string
	// Limit is "file size", "total size" or "file count".
	Limit string
	// Max is the limit.
	Max int64
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case "file size":
		return fmt.Sprintf("bundle file %q is larger than the limit of %d bytes per file", e.Name, e.Max)
	case "total size":
		return fmt.Sprintf("reading bundle file %q goes over the limit of %d bytes for the whole bundle", e.Name, e.Max)
	default:
		return fmt.Sprintf("the bundle has more than the limit of %d files", e.Max)
	}
}

// Is makes errors.Is(err, ErrLimit) hold.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// Dir is a bundle directory opened for reading. It is safe for concurrent
// use.
type Dir struct {
	path   string
	fd     int
	limits Limits
	names  map[string]bool // the listed files
	dirs   map[string]bool // directories leading to listed files

	mu    sync.Mutex
	read  map[string]int64 // most bytes read so far from each file
	total int64
}

// OpenDir opens the bundle directory dirPath, from which only the listed
// relative names will be read. dirPath itself must not be a symbolic link
// (the directories above it may be, such as /media). Names use "/" as the
// separator and may go into subdirectories.
func OpenDir(dirPath string, names []string, limits Limits) (*Dir, error) {
	limits = limits.withDefaults()
	if len(names) > limits.MaxFiles {
		return nil, fmt.Errorf("open bundle %s: %w", dirPath, &LimitError{Limit: "file count", Max: int64(limits.MaxFiles)})
	}
	d := &Dir{path: dirPath, limits: limits, names: map[string]bool{}, dirs: map[string]bool{}, read: map[string]int64{}}
	for _, n := range names {
		if err := checkName(n); err != nil {
			return nil, fmt.Errorf("open bundle %s: manifest %w", dirPath, err)
		}
		if d.names[n] {
			return nil, fmt.Errorf("open bundle %s: manifest lists %q twice", dirPath, n)
		}
		d.names[n] = true
		for p := path.Dir(n); p != "."; p = path.Dir(p) {
			d.dirs[p] = true
		}
	}
	for n := range d.names {
		if d.dirs[n] {
			return nil, fmt.Errorf("open bundle %s: manifest lists %q both as a file and as a directory", dirPath, n)
		}
	}
	fd, err := unix.Open(dirPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open bundle %s: %w", dirPath, describeOpenError(err, "the bundle directory", unix.AT_FDCWD, dirPath))
	}
	d.fd = fd
	return d, nil
}

// Close releases the directory.
func (d *Dir) Close() error {
	if err := unix.Close(d.fd); err != nil {
		return fmt.Errorf("close bundle %s: %w", d.path, err)
	}
	return nil
}

// describeOpenError turns what openat says about a refused directory or
// file into the reason. With O_DIRECTORY|O_NOFOLLOW, Linux reports a link
// as ENOTDIR, so the entry is looked at (without following it) to say
// which it is. dfd and name locate the entry (dfd AT_FDCWD for a path).
func describeOpenError(err error, what string, dfd int, name string) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%s is a symbolic link: %w", what, ErrSymlink)
	case errors.Is(err, unix.ENOTDIR):
		var st unix.Stat_t
		if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return fmt.Errorf("%s is a symbolic link: %w", what, ErrSymlink)
			}
			return fmt.Errorf("%s is %s, not a directory: %w", what, kind(st.Mode), ErrNotRegular)
		}
		return fmt.Errorf("%s is not a directory: %w", what, ErrNotRegular)
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%s is missing: %w", what, fs.ErrNotExist)
	}
	return err
}

// kind names a file type for the people reading an error.
func kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFIFO:
		return "a named pipe (FIFO)"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	}
	return "of an unknown type"
}

// typeError reports a non-regular file.
func typeError(name string, mode uint32) error {
	if mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("bundle file %q is a symbolic link: %w", name, ErrSymlink)
	}
	return fmt.Errorf("bundle file %q is %s: %w", name, kind(mode), ErrNotRegular)
}

// openListed opens a listed file without following any link and without
// opening anything but a regular file. Every directory on the way is opened
// with O_NOFOLLOW relative to the one before, so nothing swapped in
// between a check and a use can lead outside the bundle.
func (d *Dir) openListed(name string) (*os.File, int64, error) {
	if err := checkName(name); err != nil {
		return nil, 0, fmt.Errorf("read bundle file: %w", err)
	}
	if !d.names[name] {
		return nil, 0, fmt.Errorf("read bundle file %q: %w", name, ErrNotListed)
	}
	parts := strings.Split(name, "/")
	dfd := d.fd
	for i, comp := range parts[:len(parts)-1] {
		nfd, err := unix.Openat(dfd, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			err = describeOpenError(err, fmt.Sprintf("directory %q", strings.Join(parts[:i+1], "/")), dfd, comp)
		}
		if dfd != d.fd {
			unix.Close(dfd)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read bundle file %q: %w", name, err)
		}
		dfd = nfd
	}
	if dfd != d.fd {
		defer unix.Close(dfd)
	}
	last := parts[len(parts)-1]
	// Look first, without following a link, so that a device is not
	// even opened (opening some devices has effects, a tape rewinds).
	var pre unix.Stat_t
	if err := unix.Fstatat(dfd, last, &pre, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, 0, fmt.Errorf("bundle file %q is missing from %s: %w", name, d.path, fs.ErrNotExist)
		}
		return nil, 0, fmt.Errorf("read bundle file %q: %w", name, err)
	}
	if pre.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, 0, typeError(name, pre.Mode)
	}
	// O_NONBLOCK: if a named pipe was swapped in after the look, the open
	// returns at once instead of waiting for a writer. O_NOCTTY: a terminal
	// swapped in does not become ours.
	fd, err := unix.Openat(dfd, last, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("read bundle file %q: %w", name, describeOpenError(err, "it", dfd, last))
	}
	// The fstat of the opened descriptor is what counts. (A device
	// swapped in between the look and the open is opened, then refused
	// here; closing that last gap would take an O_PATH open re-opened
	// through /proc/self/fd, which makes reading depend on /proc.)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("read bundle file %q: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, 0, typeError(name, st.Mode)
	}
	if st.Dev != pre.Dev || st.Ino != pre.Ino {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("bundle file %q changed while it was being opened: is something else writing to the medium?", name)
	}
	if st.Size > d.limits.MaxFileSize {
		unix.Close(fd)
		return nil, 0, &LimitError{Name: name, Limit: "file size", Max: d.limits.MaxFileSize}
	}
	return os.NewFile(uintptr(fd), path.Join(d.path, name)), st.Size, nil
}

// File is a listed bundle file opened for reading. Its Read enforces the
// size limits on the bytes actually read, so a file that grows after it
// was opened cannot slip past them.
type File struct {
	d    *Dir
	name string
	f    *os.File
	size int64 // at open time
	n    int64 // bytes read
}

// Open opens a listed file.
func (d *Dir) Open(name string) (*File, error) {
	f, size, err := d.openListed(name)
	if err != nil {
		return nil, err
	}
	return &File{d: d, name: name, f: f, size: size}, nil
}

// Name is the file's name as listed.
func (f *File) Name() string { return f.name }

// Read reads up to len(p) bytes, failing with a *LimitError as soon as
// the file or the bundle goes over its limit.
func (f *File) Read(p []byte) (int, error) {
	// Ask for at most one byte past the limit: seeing it proves the
	// file is too large without reading the excess.
	if room := f.d.limits.MaxFileSize - f.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := f.f.Read(p)
	f.n += int64(n)
	if f.n > f.d.limits.MaxFileSize {
		return 0, &LimitError{Name: f.name, Limit: "file size", Max: f.d.limits.MaxFileSize}
	}
	if lerr := f.d.account(f.name, f.n); lerr != nil {
		return 0, lerr
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("read bundle file %q: %w", f.name, err)
	}
	return n, err
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// account records that n bytes of name have been read, counting each file
// once however often it is read (a file is typically hashed, then parsed).
func (d *Dir) account(name string, n int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev := d.read[name]; n > prev {
		d.total += n - prev
		d.read[name] = n
	}
	if d.total > d.limits.MaxTotalSize {
		return &LimitError{Name: name, Limit: "total size", Max: d.limits.MaxTotalSize}
	}
	return nil
}

// ReadFile reads a whole listed file.
func (d *Dir) ReadFile(name string) ([]byte, error) {
	f, err := d.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 0, f.size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Hash reads a listed file and returns its SHA-256 and size, with the
// limits enforced while reading.
func (d *Dir) Hash(name string) (sum [sha256.Size]byte, size int64, err error) {
	f, err := d.Open(name)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sum, 0, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

// Entry is something found in the bundle directory that the manifest does
// not list.
type Entry struct {
	// Name is the path relative to the bundle directory.
	Name string
	// Kind is "a regular file", "a symbolic link", "a directory", …
	Kind string
}

func (e Entry) String() string { return fmt.Sprintf("%q (%s)", e.Name, e.Kind) }

// Extra lists, sorted, everything in the bundle directory that is neither a
// listed file nor a directory leading to one: files the manifest does not
// mention, links, devices. It looks at most MaxFiles entries beyond the
// listed ones; a directory with more fails with a *LimitError.
func (d *Dir) Extra() ([]Entry, error) {
	var extra []Entry
	budget := d.limits.MaxFiles + len(d.names) + len(d.dirs)
	if err := d.walk(d.fd, "", &extra, &budget); err != nil {
		return nil, err
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Name < extra[j].Name })
	return extra, nil
}

func (d *Dir) walk(dfd int, prefix string, extra *[]Entry, budget *int) error {
	// A fresh open of "." gives this listing its own directory offset,
	// so concurrent listings do not disturb each other.
	lfd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("list bundle %s: %w", d.path, err)
	}
	f := os.NewFile(uintptr(lfd), path.Join(d.path, prefix))
	defer f.Close()
	for {
		ents, err := f.ReadDir(256)
		for _, e := range ents {
			*budget--
			if *budget < 0 {
				return fmt.Errorf("list bundle %s: %w", d.path, &LimitError{Limit: "file count", Max: int64(d.limits.MaxFiles)})
			}
			rel := path.Join(prefix, e.Name())
			switch {
			case d.names[rel] && e.Type().IsRegular():
				// Expected; a wrong type is reported below and again on read.
			case d.dirs[rel] && e.Type().IsDir():
				sub, err := unix.Openat(dfd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				if err != nil {
					return fmt.Errorf("list bundle %s: directory %q: %w", d.path, rel, describeOpenError(err, "it", dfd, e.Name()))
				}
				err = d.walk(sub, rel, extra, budget)
				unix.Close(sub)
				if err != nil {
					return err
				}
			default:
				var st unix.Stat_t
				k := "of an unknown type"
				if unix.Fstatat(dfd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
					k = kind(st.Mode)
				}
				*extra = append(*extra, Entry{Name: rel, Kind: k})
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(ents) == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list bundle %s: %w", d.path, err)
		}
	}
}
