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

	// dirMu guards closed and subdirs. A reader holds it for reading
	// while it uses a descriptor of a directory, so that Close (which
	// holds it for writing) cannot close one in use: the kernel could
	// give the number to some other file, and the read would then look
	// there.
	dirMu  sync.RWMutex
	closed bool
	// subdirs holds, by name, listed directories already opened. Each
	// was opened once, with O_NOFOLLOW, relative to its parent's
	// descriptor, and the descriptor pins the directory that was
	// checked: a link or another directory put in its place later is
	// never seen through it. Reusing it saves an open and a close per
	// file read.
	subdirs map[string]int

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
	d := &Dir{path: dirPath, limits: limits, names: map[string]bool{}, dirs: map[string]bool{}, subdirs: map[string]int{}, read: map[string]int64{}}
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
	if err := CheckFoldedNames(names); err != nil {
		return nil, fmt.Errorf("open bundle %s: manifest lists %w", dirPath, err)
	}
	fd, err := unix.Open(dirPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open bundle %s: %w", dirPath, describeOpenError(err, "the bundle directory", unix.AT_FDCWD, dirPath))
	}
	d.fd = fd
	return d, nil
}

// maxCachedDirs bounds the directory descriptors a Dir keeps open. A real
// bundle has a few directories (intake.Pack puts 2,048 files in each, so
// 98 for the default limit of 200,000 files), but a manifest could list
// each file in a directory of its own, and keeping 200,000 descriptors
// open would exhaust the process's. Directories past the bound are opened
// for each read and closed after it.
const maxCachedDirs = 128

// Close releases the directory. Reads after Close fail with fs.ErrClosed.
func (d *Dir) Close() error {
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if d.closed {
		// Closing the numbers again could close files that have since
		// been given them.
		return fmt.Errorf("close bundle %s: %w", d.path, fs.ErrClosed)
	}
	d.closed = true
	for _, fd := range d.subdirs {
		unix.Close(fd)
	}
	d.subdirs = nil
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

// parentDir returns a descriptor for the directory that holds the listed
// file name: the bundle directory for a top-level name, otherwise a listed
// directory opened as openParent describes. It returns with the read lock
// of d.dirMu held, unless temp is set: then the descriptor is the caller's
// own. Either way the caller passes both to releaseParent when done. On
// error no lock is held.
func (d *Dir) parentDir(name string) (dfd int, temp bool, err error) {
	d.dirMu.RLock()
	if d.closed {
		d.dirMu.RUnlock()
		return -1, false, fmt.Errorf("read bundle file %q from %s: %w", name, d.path, fs.ErrClosed)
	}
	slash := strings.LastIndexByte(name, '/')
	if slash < 0 {
		return d.fd, false, nil
	}
	if fd, ok := d.subdirs[name[:slash]]; ok {
		return fd, false, nil
	}
	d.dirMu.RUnlock()

	// Not opened yet: open it under the write lock, so that two readers
	// do not both open it and one descriptor leaks.
	d.dirMu.Lock()
	dfd, temp, err = d.openParent(name)
	d.dirMu.Unlock()
	if err != nil || temp {
		return dfd, temp, err
	}
	// Take the read lock again to use the descriptor; Close may have run
	// in between.
	d.dirMu.RLock()
	if d.closed {
		d.dirMu.RUnlock()
		return -1, false, fmt.Errorf("read bundle file %q from %s: %w", name, d.path, fs.ErrClosed)
	}
	return d.subdirs[name[:slash]], false, nil
}

// releaseParent undoes parentDir.
func (d *Dir) releaseParent(dfd int, temp bool) {
	if temp {
		unix.Close(dfd)
		return
	}
	d.dirMu.RUnlock()
}

// openParent opens, as far as they are not open yet, the directories on
// the way to the listed file name, each with O_NOFOLLOW relative to the
// one before, so that no link is followed and nothing swapped in between a
// check and a use can lead outside the bundle. It remembers each in
// d.subdirs while there is room; otherwise the descriptor it returns is
// temporary (temp) and the caller closes it. A failure is not remembered:
// the next read looks again and gives the same reason. d.dirMu must be
// held for writing.
func (d *Dir) openParent(name string) (dfd int, temp bool, err error) {
	if d.closed {
		return -1, false, fmt.Errorf("read bundle file %q from %s: %w", name, d.path, fs.ErrClosed)
	}
	parts := strings.Split(name, "/")
	dfd = d.fd
	for i, comp := range parts[:len(parts)-1] {
		sub := strings.Join(parts[:i+1], "/")
		if fd, ok := d.subdirs[sub]; ok {
			// A directory is remembered only when the ones before it
			// are, so dfd is not a temporary one here.
			dfd = fd
			continue
		}
		nfd, oerr := unix.Openat(dfd, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if oerr != nil {
			oerr = describeOpenError(oerr, fmt.Sprintf("directory %q", sub), dfd, comp)
		}
		if temp {
			unix.Close(dfd)
		}
		if oerr != nil {
			return -1, false, fmt.Errorf("read bundle file %q: %w", name, oerr)
		}
		dfd = nfd
		if !temp && len(d.subdirs) < maxCachedDirs {
			d.subdirs[sub] = nfd
		} else {
			temp = true
		}
	}
	return dfd, temp, nil
}

// openListed opens a listed file without following any link and without
// opening anything but a regular file, and returns the descriptor and the
// file's size when it was opened. Open and ReadFile both open through it,
// so the checks are in one place.
func (d *Dir) openListed(name string) (int, int64, error) {
	if !d.names[name] {
		if err := checkName(name); err != nil {
			return -1, 0, fmt.Errorf("read bundle file: %w", err)
		}
		return -1, 0, fmt.Errorf("read bundle file %q: %w", name, ErrNotListed)
	}
	// A listed name passed checkName in OpenDir.
	dfd, temp, err := d.parentDir(name)
	if err != nil {
		return -1, 0, err
	}
	defer d.releaseParent(dfd, temp)
	last := name[strings.LastIndexByte(name, '/')+1:]
	// Look first, without following a link, so that a device is not
	// even opened (opening some devices has effects, a tape rewinds).
	var pre unix.Stat_t
	if err := unix.Fstatat(dfd, last, &pre, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, 0, fmt.Errorf("bundle file %q is missing from %s: %w", name, d.path, fs.ErrNotExist)
		}
		return -1, 0, fmt.Errorf("read bundle file %q: %w", name, err)
	}
	if pre.Mode&unix.S_IFMT != unix.S_IFREG {
		return -1, 0, typeError(name, pre.Mode)
	}
	// O_NONBLOCK: if a named pipe was swapped in after the look, the open
	// returns at once instead of waiting for a writer. O_NOCTTY: a terminal
	// swapped in does not become ours.
	fd, err := unix.Openat(dfd, last, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("read bundle file %q: %w", name, describeOpenError(err, "it", dfd, last))
	}
	// The fstat of the opened descriptor is what counts. (A device
	// swapped in between the look and the open is opened, then refused
	// here; closing that last gap would take an O_PATH open re-opened
	// through /proc/self/fd, which makes reading depend on /proc.)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("read bundle file %q: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, 0, typeError(name, st.Mode)
	}
	if st.Dev != pre.Dev || st.Ino != pre.Ino {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("bundle file %q changed while it was being opened: is something else writing to the medium?", name)
	}
	if st.Size > d.limits.MaxFileSize {
		unix.Close(fd)
		return -1, 0, &LimitError{Name: name, Limit: "file size", Max: d.limits.MaxFileSize}
	}
	return fd, st.Size, nil
}

// File is a listed bundle file opened for reading. Its Read enforces the
// size limits on the bytes actually read, so a file that grows after it
// was opened cannot slip past them. It reads the descriptor directly:
// wrapping it in an *os.File would cost two more system calls per file
// (to register it with the poller, which refuses regular files anyway).
type File struct {
	d    *Dir
	name string
	fd   int
	size int64 // at open time
	n    int64 // bytes read
}

// Open opens a listed file.
func (d *Dir) Open(name string) (*File, error) {
	fd, size, err := d.openListed(name)
	if err != nil {
		return nil, err
	}
	return &File{d: d, name: name, fd: fd, size: size}, nil
}

// Name is the file's name as listed.
func (f *File) Name() string { return f.name }

// Read reads up to len(p) bytes, failing with a *LimitError as soon as
// the file or the bundle goes over its limit.
func (f *File) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	// Ask for at most one byte past the limit: seeing it proves the
	// file is too large without reading the excess.
	if room := f.d.limits.MaxFileSize - f.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := readFD(f.fd, p)
	f.n += int64(n)
	if f.n > f.d.limits.MaxFileSize {
		return 0, &LimitError{Name: f.name, Limit: "file size", Max: f.d.limits.MaxFileSize}
	}
	if lerr := f.d.account(f.name, f.n); lerr != nil {
		return 0, lerr
	}
	if err != nil {
		return n, fmt.Errorf("read bundle file %q: %w", f.name, err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Close closes the file.
func (f *File) Close() error {
	if f.fd < 0 {
		return fmt.Errorf("close bundle file %q: %w", f.name, fs.ErrClosed)
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return err
}

// readFD is one read(2), retried when a signal interrupts it.
func readFD(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err == unix.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

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
	fd, size, err := d.openListed(name)
	if err != nil {
		return nil, err
	}
	f := File{d: d, name: name, fd: fd, size: size}
	defer f.Close()
	return f.readAll()
}

// readAll reads the file to its end through Read, and so within the
// limits. The buffer has one byte more than the size at open time, so a
// file that has not grown fills it only partly, and a read that fills it
// is a sign that it has.
func (f *File) readAll() ([]byte, error) {
	buf := make([]byte, f.size+1)
	n := 0
	for {
		if n == len(buf) {
			// The file has grown: make room.
			buf = append(buf, 0)
			buf = buf[:cap(buf)]
		}
		m, err := f.Read(buf[n:])
		n += m
		// Read to the end (io.EOF) rather than stop at any short read:
		// some file systems (FUSE, network) may return less than asked
		// before the end. Stopping at the size the file had when opened
		// is enough: that is the file as opened, whatever made the read
		// stop, and it saves a system call per file of a bundle. (A
		// file that grows after that read is read as it was, and its
		// bytes are hashed against the manifest like any other.)
		if errors.Is(err, io.EOF) || err == nil && int64(n) == f.size {
			return buf[:n], nil
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
