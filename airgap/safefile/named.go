package safefile

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ReadNamed reads one file a person named, such as metadata an auditor
// gives `conclave verify`, which may sit on media someone else prepared.
// Unlike a Dir it follows links (the person chose the name), but it reads
// only a regular file: a named pipe would wait for ever, and a device may
// never end or may act on being opened, so the file is looked at before
// it is opened and again after. At most max bytes are read, counted as
// they arrive, so a file that grows is caught too. Errors do not repeat
// the path; the caller names it.
func ReadNamed(path string, max int64) ([]byte, error) {
	var before unix.Stat_t
	if err := unix.Stat(path, &before); err != nil {
		return nil, err
	}
	if before.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("it is %s, not a regular file: %w", kind(before.Mode), ErrNotRegular)
	}
	// O_NONBLOCK: a named pipe swapped in after the look does not block
	// the open. O_NOCTTY: a terminal swapped in does not become ours.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var after unix.Stat_t
	if err := unix.Fstat(fd, &after); err != nil {
		return nil, err
	}
	if after.Mode&unix.S_IFMT != unix.S_IFREG || after.Dev != before.Dev || after.Ino != before.Ino {
		return nil, errors.New("it changed while it was being opened: is something else writing to the medium?")
	}
	tooLarge := tooLargeError(max)
	if after.Size > max {
		return nil, tooLarge
	}
	// One byte more than the size, so that a file read to its size
	// still ends with a read that returns nothing; one that grew goes on.
	data := make([]byte, 0, after.Size+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := readFD(fd, data[len(data):cap(data)])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		data = data[:len(data)+n]
		if int64(len(data)) > max {
			return nil, tooLarge
		}
	}
	return data, nil
}

// tooLargeError is ReadNamed's size limit; errors.Is(err, ErrLimit) holds.
type tooLargeError int64

func (e tooLargeError) Error() string {
	return fmt.Sprintf("it is larger than %d bytes, the most that may be read", int64(e))
}

func (e tooLargeError) Is(target error) bool { return target == ErrLimit }
