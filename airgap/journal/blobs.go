package journal

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/internal/durable"

	"golang.org/x/sys/unix"
)

// MaxBlob bounds a blob, in bytes: the largest is the copy of a bundle.
const MaxBlob = 1 << 30

// ErrBlobDamaged: a blob's bytes do not hash to its name.
var ErrBlobDamaged = errors.New("the blob's bytes do not match its SHA-256: it was changed or damaged")

// blobTemp marks a blob being written; a crash can leave one, and it is
// never read (its name is not a hash).
const blobTemp = ".tmp-"

// blobs is the blobs/ directory, each file named by the hex SHA-256 of its
// bytes.
type blobs struct {
	dir string
	fd  int
}

// openBlobs opens (creating it if needed) the blobs directory of the
// journal directory dfd.
func openBlobs(dfd int, dir string) (*blobs, error) {
	if err := durable.MkdirAt(dfd, filepath.Dir(dir), BlobsName, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, err
	}
	fd, err := unix.Openat(dfd, BlobsName, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, notFollowed(dir, err)
	}
	return &blobs{dir: dir, fd: fd}, nil
}

func (b *blobs) close() {
	if b.fd >= 0 {
		unix.Close(b.fd)
		b.fd = -1
	}
}

// Put stores data under its hex SHA-256: written under a temporary name
// and synced, renamed to its hash (never replacing a file), then the
// directory synced. A blob already stored under that hash is read and
// checked instead of written again.
func (b *blobs) Put(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	name := hex.EncodeToString(sum[:])
	if len(data) > MaxBlob {
		return "", fmt.Errorf("store blob %s: it is %d bytes, more than the %d a blob may be", name, len(data), MaxBlob)
	}
	if b.fd < 0 {
		return "", fmt.Errorf("store blob %s: the journal is closed", name)
	}
	if err := b.put(name, data); err != nil {
		return "", fmt.Errorf("store blob %s: %w", filepath.Join(b.dir, name), err)
	}
	return name, nil
}

func (b *blobs) put(name string, data []byte) error {
	var st unix.Stat_t
	err := unix.Fstatat(b.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil {
		return b.verify(name)
	}
	if !errors.Is(err, unix.ENOENT) {
		return err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := blobTemp + hex.EncodeToString(rnd[:])
	if err := durable.CreateTempAt(b.fd, b.dir, tmp, data, 0o600); err != nil {
		return err
	}
	if err := safefile.RenameNoReplace(b.fd, tmp, name); err != nil {
		unix.Unlinkat(b.fd, tmp, 0)
		if errors.Is(err, unix.EEXIST) {
			// Stored meanwhile: check it as if it had been there.
			return b.verify(name)
		}
		return fmt.Errorf("rename %s into place: %w", tmp, err)
	}
	if err := unix.Fsync(b.fd); err != nil {
		return fmt.Errorf("sync directory %s: %w", b.dir, err)
	}
	return nil
}

// verify checks the blob stored under name.
func (b *blobs) verify(name string) error {
	_, err := b.read(name)
	return err
}

// Get returns the bytes stored under the hex SHA-256 sha256hex, checked
// against it. A link, or anything but a regular file, is refused.
func (b *blobs) Get(sha256hex string) ([]byte, error) {
	if !isHash(sha256hex) {
		return nil, fmt.Errorf("read blob %q: the name is not a SHA-256 in lower-case hex", sha256hex)
	}
	if b.fd < 0 {
		return nil, fmt.Errorf("read blob %s: the journal is closed", sha256hex)
	}
	data, err := b.read(sha256hex)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", filepath.Join(b.dir, sha256hex), err)
	}
	return data, nil
}

func (b *blobs) read(name string) ([]byte, error) {
	fd, err := unix.Openat(b.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, notFollowed(filepath.Join(b.dir, name), err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(b.dir, name))
	defer f.Close()
	if err := regular(f); err != nil {
		return nil, err
	}
	data, err := readAll(f, f.Name(), MaxBlob)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if want, err := hex.DecodeString(name); err != nil || !bytes.Equal(sum[:], want) {
		return nil, ErrBlobDamaged
	}
	return data, nil
}

// isHash: 64 lower-case hex digits, so a name can never leave blobs/.
func isHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
