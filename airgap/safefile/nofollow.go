package safefile

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Exports follow no symbolic link, on any component of the directory's
// path. A link planted on the medium, at the export directory or at any
// directory above it, could send the signed metadata off the medium: it
// would be written there, read back there and reported as written, while
// the medium carried only the link.
//
// The walk starts at the file system root, not at the medium's mount
// point. Mount points hold no link as Linux lists them (proc(5),
// mountinfo, which `conclave media` shows), so a path typed from them
// passes; and a link above the mount point, on the machine's own disk,
// cannot be told from one planted on the medium without following it.
// A relative path is taken from the working directory's real path
// (getcwd(2) gives it without links).
//
// The kernel does the walk where it can: openat2(2) with
// RESOLVE_NO_SYMLINKS refuses a link on any component, and
// RESOLVE_BENEATH keeps the walk under the root it starts from (Linux
// 5.6 and later). Elsewhere each component is opened in turn with
// O_NOFOLLOW|O_DIRECTORY relative to the one before. Either way the
// descriptor returned pins the directory that was checked: a link swapped
// in later is never seen through it.

// resolver opens the directory rel, a clean relative path ("" for root
// itself), beneath the directory root, whose path is base, following no
// symbolic link. Errors name the component that failed by its path.
type resolver func(root int, base, rel string) (int, error)

// openDirPath opens the directory path with resolve; see above.
func openDirPath(path string, resolve resolver) (int, error) {
	abs, err := realAbs(path)
	if err != nil {
		return -1, err
	}
	root, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /: %w", err)
	}
	defer unix.Close(root)
	return resolve(root, "/", strings.TrimPrefix(abs, "/"))
}

// realAbs makes path absolute and clean. Cleaning ".." away textually is
// exact here: with no link on the way, a directory's ".." is the
// directory its path names before it.
func realAbs(path string) (string, error) {
	if !filepath.IsAbs(path) {
		wd, err := unix.Getwd()
		if err != nil {
			return "", fmt.Errorf("find the working directory: %w", err)
		}
		path = filepath.Join(wd, path)
	}
	return filepath.Clean(path), nil
}

// resolveNoFollow is the resolver exports use: openat2 where the kernel
// has it, the walk where it does not (ENOSYS), or where a system call
// filter refuses it (EPERM: seccomp profiles that predate openat2, such
// as older container runtimes', answer unknown calls so).
func resolveNoFollow(root int, base, rel string) (int, error) {
	fd, err := resolveOpenat2(root, base, rel)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		return resolveWalk(root, base, rel)
	}
	return fd, err
}

// resolveOpenat2 opens rel with openat2(2). The kernel says only that
// some component is a link (ELOOP), or missing, or not a directory; the
// walk is then asked which one, for the message.
func resolveOpenat2(root int, base, rel string) (int, error) {
	name := rel
	if name == "" {
		name = "."
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH,
	}
	var fd int
	var err error
	// EAGAIN: a rename or mount elsewhere raced the walk and the kernel
	// could not rule out an escape (openat2(2)); trying again is safe.
	for range 8 {
		if fd, err = unix.Openat2(root, name, &how); !errors.Is(err, unix.EAGAIN) {
			break
		}
	}
	if err == nil || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		return fd, err
	}
	wfd, werr := resolveWalk(root, base, rel)
	if werr != nil {
		return -1, werr
	}
	// The walk passed: something changed in between. Report what
	// openat2 saw.
	unix.Close(wfd)
	return -1, fmt.Errorf("open %s: %w", filepath.Join(base, rel), err)
}

// resolveWalk opens rel one component at a time, each with
// O_NOFOLLOW|O_DIRECTORY relative to the one before.
func resolveWalk(root int, base, rel string) (int, error) {
	fd, err := unix.Openat(root, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", base, err)
	}
	if rel == "" {
		return fd, nil
	}
	at := base
	for _, comp := range strings.Split(rel, "/") {
		at = filepath.Join(at, comp)
		next, err := unix.Openat(fd, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			err = describeOpenError(err, at, fd, comp)
		}
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}
