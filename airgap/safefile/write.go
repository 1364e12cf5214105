package safefile

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/conclave-keys/conclave/internal/durable"
	"github.com/conclave-keys/conclave/internal/termtext"

	"golang.org/x/sys/unix"
)

// tempPrefix marks a file being written. A file whose name starts with it
// is never a finished export, whatever it contains.
const tempPrefix = ".conclave-tmp-"

// Errors that say what to do, each wrapped with the path concerned and the
// system's own error (so errors.Is(err, syscall.ENOSPC) holds too).
var (
	ErrExists     = errors.New("a file of that name is already there, and Conclave never replaces a file: export into a new, empty directory")
	ErrNotEmpty   = errors.New("the export directory is not empty: export into a new, empty directory")
	ErrMediumFull = errors.New("the medium is full: free space on it or use another medium")
	// ErrTooLarge: the file system cannot hold a file that large (EFBIG),
	// whatever room the medium has.
	ErrTooLarge   = errors.New("the file is larger than the medium's file system allows (FAT32 holds at most 4 GiB less one byte per file): use a medium formatted exFAT or ext4")
	ErrReadOnly   = errors.New("the medium is read-only: check its write-protect switch, or use another medium")
	ErrMediumGone = errors.New("the medium stopped answering (was it pulled out?): check it, then export again")
	ErrNoAccess   = errors.New("the system does not allow writing there: choose another directory")
	ErrVerify     = errors.New("what was read back from the medium differs from what was written: the medium may be failing, use another one")
	// ErrNotStored: the medium accepted the writes but had no room when
	// they were pushed to it, which a full medium rarely does (it refuses
	// the write) and a failing or counterfeit one does.
	ErrNotStored = errors.New("the medium took the data but could not store it: it may be failing, full, or smaller than it claims to be; use another medium")
)

// classify turns a system error into one of the errors above, or returns
// nil when there is nothing more helpful to say than the system's words.
func classify(err error) error {
	switch {
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return ErrMediumFull
	case errors.Is(err, unix.EFBIG):
		return ErrTooLarge
	case errors.Is(err, unix.EROFS):
		return ErrReadOnly
	case errors.Is(err, unix.EIO), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO),
		errors.Is(err, unix.ESTALE), errors.Is(err, unix.ENOTCONN), errors.Is(err, unix.ESHUTDOWN):
		return ErrMediumGone
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return ErrNoAccess
	case errors.Is(err, unix.EEXIST):
		return ErrExists
	}
	return nil
}

// writeError builds "export PATH: WHAT TO DO; OUTCOME (SYSTEM ERROR)".
func writeError(path, outcome string, cause error) error {
	if k := classify(cause); k != nil {
		return fmt.Errorf("export %s: %w; %s (%w)", path, k, outcome, cause)
	}
	return fmt.Errorf("export %s: %w; %s", path, cause, outcome)
}

const nothingWritten = "nothing was written"

// WriteFile writes data to dir/name, which must not exist. See the package
// documentation for the steps. name is a single file name. No component
// of dir may be a symbolic link (see openDirPath).
func WriteFile(dir, name string, data []byte) error {
	if err := checkBaseName(name); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	dfd, err := openDirPath(dir, resolveNoFollow)
	if err != nil {
		return writeError(filepath.Join(dir, name), nothingWritten, err)
	}
	defer unix.Close(dfd)
	return writeAt(dfd, dir, name, data)
}

// writeAt does WriteFile's work in an opened directory.
func writeAt(dfd int, dir, name string, data []byte) error {
	final := filepath.Join(dir, name)
	// An early, friendly refusal; RENAME_NOREPLACE below is what makes
	// it hold even if the name appears meanwhile.
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return fmt.Errorf("export %s: %w; %s", final, ErrExists, nothingWritten)
	} else if !errors.Is(err, unix.ENOENT) {
		return writeError(final, nothingWritten, err)
	}

	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("export %s: %w", final, err)
	}
	tmp := tempPrefix + hex.EncodeToString(rnd[:])
	if err := durable.CreateTempAt(dfd, dir, tmp, data, 0o644); err != nil {
		var de *durable.Error
		if !errors.As(err, &de) {
			return writeError(final, nothingWritten, err)
		}
		// A leftover that could not be removed (the medium is gone) is
		// marked by its name as unfinished; the error names it.
		outcome := nothingWritten
		if de.Left != "" {
			outcome = "nothing complete was written"
		}
		if de.Op == "sync" && errors.Is(err, unix.ENOSPC) {
			return fmt.Errorf("export %s: %w; %s (%w)", final, ErrNotStored, outcome, err)
		}
		return writeError(final, outcome, err)
	}
	removeTmp := func() string {
		if err := unix.Unlinkat(dfd, tmp, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Sprintf("nothing complete was written, but the unfinished file %s may remain: delete it", filepath.Join(dir, tmp))
		}
		return nothingWritten
	}
	if err := RenameNoReplace(dfd, tmp, name); err != nil {
		return writeError(final, removeTmp(), err)
	}
	// From here the file has its final name; a failure must remove it,
	// or it would look complete.
	removeFinal := func() string {
		if err := unix.Unlinkat(dfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Sprintf("the file %s could not be checked nor removed: delete it", final)
		}
		unix.Fsync(dfd)
		return "the file was removed again"
	}
	if err := unix.Fsync(dfd); err != nil {
		return writeError(final, removeFinal(), fmt.Errorf("sync directory %s: %w", dir, err))
	}
	if err := verifyAt(dfd, name, data); err != nil {
		if errors.Is(err, ErrVerify) {
			return fmt.Errorf("export %s: %w; %s", final, err, removeFinal())
		}
		return writeError(final, removeFinal(), fmt.Errorf("read back: %w", err))
	}
	return nil
}

// RenameNoReplace renames from to to, both in the directory dfd, without
// ever replacing an existing file: renameat2(2) with RENAME_NOREPLACE. File systems without it (EINVAL) get
// link(2) then unlink(2), which fails with EEXIST just the same. Only on a
// file system with neither (exFAT) is the name checked just before a plain
// rename; Conclave is the only writer in a fresh export directory (and in
// a ceremony's locked journal, airgap/journal), so the gap is accepted
// there.
func RenameNoReplace(dfd int, from, to string) error {
	err := unix.Renameat2(dfd, from, dfd, to, unix.RENAME_NOREPLACE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	err = unix.Linkat(dfd, from, dfd, to, 0)
	if err == nil {
		return unix.Unlinkat(dfd, from, 0)
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, to, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return unix.EEXIST
	}
	return unix.Renameat(dfd, from, dfd, to)
}

// verifyAt reads the file back and compares its SHA-256 with the data's.
// After the fsync the cached pages are clean, so POSIX_FADV_DONTNEED drops
// them and the read comes from the medium, not from memory (best effort:
// the advice may be ignored, e.g. on some FUSE file systems).
func verifyAt(dfd int, name string, data []byte) error {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	_ = unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	want := sha256.Sum256(data)
	if n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		return ErrVerify
	}
	return nil
}

// Export is one file of an export.
type Export struct {
	Name string
	Data []byte
}

// ExportFiles writes exactly the given files into dir, which must be empty
// or not exist yet (its parent must). Each file is written as by WriteFile.
// Before writing, it checks that the medium has room for all of them;
// after, that the directory holds exactly these files. If a file fails,
// the files already written by this call are removed, so a partial export
// never looks like a whole one.
func ExportFiles(dir string, files []Export) error {
	return exportFiles(dir, files, true)
}

func exportFiles(dir string, files []Export, checkSpace bool) error {
	seen := map[string]bool{}
	var total uint64
	for _, f := range files {
		if err := checkBaseName(f.Name); err != nil {
			return fmt.Errorf("export to %s: %w", dir, err)
		}
		if seen[f.Name] {
			return fmt.Errorf("export to %s: the file %q is listed twice", dir, f.Name)
		}
		seen[f.Name] = true
		total += uint64(len(f.Data))
	}
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, f.Name)
	}
	if err := CheckFoldedNames(names); err != nil {
		return fmt.Errorf("export to %s: %w; %s", dir, err, nothingWritten)
	}
	dfd, err := makeExportDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	present, err := listAt(dfd)
	if err != nil {
		return writeError(dir, nothingWritten, err)
	}
	if len(present) != 0 {
		return fmt.Errorf("export to %s: %w (it holds %s); %s", dir, ErrNotEmpty, termtext.List(present, 5), nothingWritten)
	}
	if checkSpace {
		var sfs unix.Statfs_t
		// A file system that reports no size (fusefat, a FUSE FAT32
		// driver) is not judged by it: the writes then meet a full
		// medium themselves.
		if err := unix.Fstatfs(dfd, &sfs); err == nil && sfs.Blocks > 0 {
			bsize := uint64(sfs.Bsize)
			// Each file may waste up to a block; the directory may grow by one.
			need := total + uint64(len(files)+1)*bsize
			if free := sfs.Bavail * bsize; free < need {
				return fmt.Errorf("export to %s: %w; %s (the files need about %d bytes, %d are free)", dir, ErrMediumFull, nothingWritten, need, free)
			}
		}
	}
	var written []string
	for _, f := range files {
		if err := writeAt(dfd, dir, f.Name, f.Data); err != nil {
			if len(written) == 0 {
				return err
			}
			return fmt.Errorf("%w; %s", err, removeWritten(dfd, dir, written))
		}
		written = append(written, f.Name)
	}
	present, err = listAt(dfd)
	if err != nil {
		return writeError(dir, removeWritten(dfd, dir, written), fmt.Errorf("list after writing: %w", err))
	}
	if missing, extra := diff(written, present); len(missing) != 0 || len(extra) != 0 {
		return fmt.Errorf("export to %s: after writing, the directory does not hold exactly the exported files (missing: %s; unexpected: %s): is something else writing to the medium? %s",
			dir, termtext.List(missing, 5), termtext.List(extra, 5), removeWritten(dfd, dir, written))
	}
	return nil
}

// removeWritten undoes a partial export and says what was undone.
func removeWritten(dfd int, dir string, names []string) string {
	var left []string
	for _, n := range names {
		if err := unix.Unlinkat(dfd, n, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			left = append(left, n)
		}
	}
	unix.Fsync(dfd)
	if len(left) != 0 {
		return fmt.Sprintf("the export is incomplete and these files could not be removed from %s: %s; delete them", dir, termtext.List(left, 10))
	}
	if len(names) == 1 {
		return "the file already written was removed again, so nothing was exported"
	}
	return fmt.Sprintf("the %d files already written were removed again, so nothing was exported", len(names))
}

func listAt(dfd int) ([]string, error) {
	lfd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(lfd), ".")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// CheckDir checks, writing nothing, that WriteFile could write into dir:
// it is a directory and no component of its path is a symbolic link. A
// command checks this before work it cannot undo (a key generated on a
// token) whose result WriteFile then writes. The error names the path
// and why.
func CheckDir(dir string) error {
	dfd, err := openDirPath(dir, resolveNoFollow)
	if err != nil {
		return err
	}
	return unix.Close(dfd)
}

// CheckExportDir checks, writing nothing, that ExportFiles could write
// into dir: no component of its path is a symbolic link, its parent
// exists, and dir is empty or does not exist yet. A command checks this
// before the work whose result it exports (a ceremony, before the holders
// sign). The errors are ExportFiles's.
func CheckExportDir(dir string) error {
	abs, err := realAbs(dir)
	if err != nil {
		return writeError(dir, nothingWritten, err)
	}
	parent, base := filepath.Split(abs)
	if base == "" {
		return fmt.Errorf("export to %s: %w; %s", dir, ErrNotEmpty, nothingWritten)
	}
	pfd, err := openDirPath(parent, resolveNoFollow)
	if err != nil {
		return writeError(dir, nothingWritten, err)
	}
	defer unix.Close(pfd)
	dfd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return writeError(dir, nothingWritten, describeOpenError(err, abs, pfd, base))
	}
	defer unix.Close(dfd)
	present, err := listAt(dfd)
	if err != nil {
		return writeError(dir, nothingWritten, err)
	}
	if len(present) != 0 {
		return fmt.Errorf("export to %s: %w (it holds %s); %s", dir, ErrNotEmpty, termtext.List(present, 5), nothingWritten)
	}
	return nil
}

// makeExportDir opens the export directory, creating it (and syncing its
// parent) when it does not exist yet; its parent must. No component of
// its path may be a symbolic link (see openDirPath).
func makeExportDir(dir string) (int, error) {
	abs, err := realAbs(dir)
	if err != nil {
		return -1, writeError(dir, nothingWritten, err)
	}
	parent, base := filepath.Split(abs)
	if base == "" {
		return -1, fmt.Errorf("export to %s: %w; %s", dir, ErrNotEmpty, nothingWritten)
	}
	pfd, err := openDirPath(parent, resolveNoFollow)
	if err != nil {
		return -1, writeError(dir, nothingWritten, err)
	}
	defer unix.Close(pfd)
	if err := durable.MkdirAt(pfd, filepath.Clean(parent), base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, writeError(dir, nothingWritten, err)
	}
	dfd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, writeError(dir, nothingWritten, describeOpenError(err, abs, pfd, base))
	}
	return dfd, nil
}

// diff returns the names in want but not in got, and in got but not in want.
func diff(want, got []string) (missing, extra []string) {
	w := map[string]bool{}
	for _, n := range want {
		w[n] = true
	}
	g := map[string]bool{}
	for _, n := range got {
		g[n] = true
		if !w[n] {
			extra = append(extra, n)
		}
	}
	for _, n := range want {
		if !g[n] {
			missing = append(missing, n)
		}
	}
	return missing, extra
}

// CreateNew creates path, which must not exist, with data: the file
// and its directory synced, removed again if any step fails
// ([durable.CreateNew]). It is for local outputs (a request, a history
// file), not for the transfer media: exports go through ExportFiles.
func CreateNew(path string, data []byte) error {
	return durable.CreateNew(path, data, 0o644)
}
