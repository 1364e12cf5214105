// Package journal keeps one ceremony's log on disk: a directory holding
// log.jsonl, the hash-chained log of package transcript, and blobs/, the
// large bytes the log names by their SHA-256 (a bundle copy, built
// payloads).
//
// Each line is written with one write(2) to a file opened O_APPEND, then
// fdatasync(2): when Append returns, the line and its newline are on the
// disk (fdatasync also writes the file size, which a reader needs to see
// the line: Linux fdatasync(2)). A crash can leave at most one line
// without its newline at the end; Open cuts it, but only once the whole
// log has verified and transcript.Parse has called that tail torn. Any
// other damage is refused and nothing is changed.
//
// Nothing here follows a symbolic link: the directory, the log, blobs/ and
// each blob are opened with O_NOFOLLOW, and a link where one of them
// should be is refused. The log is locked (flock(2)) while open, so two
// processes never append to the same log and fork its chain.
package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/internal/durable"

	"golang.org/x/sys/unix"
)

// The names in a journal directory.
const (
	LogName   = "log.jsonl"
	BlobsName = "blobs"
)

// MaxLog bounds the log file Open reads, in bytes. A ceremony writes a few
// hundred lines; the large bytes are blobs.
const MaxLog = 256 << 20

// ErrInUse: another process has the log open.
var ErrInUse = errors.New("the log is open in another process")

// Journal is an open journal directory. Its Append is the
// transcript.Appender of the ceremony's log.
type Journal struct {
	dir  string
	dfd  int
	log  *os.File
	cut  int
	blob *blobs
}

// Open opens the journal directory dir, creating it (its parent must
// exist) with an empty log when it does not exist, and returns the log's
// bytes. A torn last line is cut from the file first (see the package
// documentation) and not returned; Cut says how many bytes went. A log
// that does not verify is an error wrapping the *transcript.ChainError.
func Open(dir string) (*Journal, []byte, error) {
	j, data, err := open(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open journal %s: %w", dir, err)
	}
	return j, data, nil
}

func open(dir string) (_ *Journal, data []byte, err error) {
	if err := durable.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, nil, err
	}
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, notFollowed(dir, err)
	}
	j := &Journal{dir: dir, dfd: dfd}
	defer func() {
		if err != nil {
			j.Close()
		}
	}()
	if j.log, err = j.openLog(); err != nil {
		return nil, nil, err
	}
	if j.blob, err = openBlobs(dfd, filepath.Join(dir, BlobsName)); err != nil {
		return nil, nil, err
	}
	data, err = readAll(j.log, filepath.Join(dir, LogName), MaxLog)
	if err != nil {
		return nil, nil, err
	}
	_, torn, err := transcript.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", LogName, err)
	}
	if torn {
		keep := bytes.LastIndexByte(data, '\n') + 1
		if err := j.log.Truncate(int64(keep)); err != nil {
			return nil, nil, fmt.Errorf("cut the torn last line of %s: %w", LogName, err)
		}
		if err := unix.Fdatasync(int(j.log.Fd())); err != nil {
			return nil, nil, fmt.Errorf("cut the torn last line of %s: sync: %w", LogName, err)
		}
		j.cut = len(data) - keep
		data = data[:keep]
	}
	return j, data, nil
}

// openLog opens log.jsonl for appending, creating it (and syncing the
// directory, so the new name is on the disk) when it is not there, and
// locks it.
func (j *Journal) openLog() (*os.File, error) {
	path := filepath.Join(j.dir, LogName)
	const flags = unix.O_RDWR | unix.O_APPEND | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := unix.Openat(j.dfd, LogName, flags, 0)
	if errors.Is(err, unix.ENOENT) {
		fd, err = unix.Openat(j.dfd, LogName, flags|unix.O_CREAT|unix.O_EXCL, 0o600)
		if err == nil {
			if err = unix.Fsync(j.dfd); err != nil {
				unix.Close(fd)
				return nil, fmt.Errorf("sync directory %s: %w", j.dir, err)
			}
		}
	}
	if err != nil {
		return nil, notFollowed(path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	if err := regular(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// Cut is the number of bytes of a torn last line that Open cut from the
// log; 0 when the log ended with a whole line.
func (j *Journal) Cut() int { return j.cut }

// Dir is the journal directory's path.
func (j *Journal) Dir() string { return j.dir }

// Append writes line and a newline to the log with one write, then makes
// them durable (fdatasync). It is the transcript.Appender of the log: a
// line must not hold a newline.
func (j *Journal) Append(line []byte) error {
	path := filepath.Join(j.dir, LogName)
	if j.log == nil {
		return fmt.Errorf("append to %s: the journal is closed", path)
	}
	if bytes.IndexByte(line, '\n') >= 0 {
		return fmt.Errorf("append to %s: the line holds a newline", path)
	}
	buf := make([]byte, len(line)+1)
	copy(buf, line)
	buf[len(line)] = '\n'
	n, err := j.log.Write(buf)
	if err != nil {
		return fmt.Errorf("append to %s: %w", path, err)
	}
	if n != len(buf) {
		return fmt.Errorf("append to %s: wrote %d of %d bytes", path, n, len(buf))
	}
	if err := unix.Fdatasync(int(j.log.Fd())); err != nil {
		return fmt.Errorf("append to %s: sync: %w", path, err)
	}
	return nil
}

// Blobs is the journal's blobs/ directory.
func (j *Journal) Blobs() transcript.Blobs { return j.blob }

// Close closes the log (releasing its lock) and the directories.
func (j *Journal) Close() error {
	var first error
	if j.log != nil {
		first = j.log.Close()
		j.log = nil
	}
	if j.blob != nil {
		j.blob.close()
	}
	if j.dfd >= 0 {
		unix.Close(j.dfd)
		j.dfd = -1
	}
	return first
}

// regular refuses anything but a regular file (a device, a FIFO, a
// directory), opened O_NONBLOCK so a FIFO could not hang the open.
func regular(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (it is %s)", f.Name(), st.Mode().Type())
	}
	return nil
}

// readAll reads f from its start, refusing more than max bytes.
func readAll(f *os.File, path string, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, max+1), max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}

// notFollowed says what an O_NOFOLLOW open that met a link means: ELOOP,
// or ENOTDIR where a directory was asked for (open(2) checks O_DIRECTORY
// first), told from a plain file by a second look that is for the message
// only.
func notFollowed(path string, err error) error {
	if errors.Is(err, unix.ENOTDIR) {
		if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&os.ModeSymlink != 0 {
			err = unix.ELOOP
		}
	}
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("%s is a symbolic link, which Conclave does not follow", path)
	}
	return fmt.Errorf("open %s: %w", path, err)
}
