// Package safefile reads bundles from, and writes exports to, the transfer
// media: the only files that cross the air gap.
//
// Everything on a transfer medium is hostile. Reading (see [OpenDir]) follows
// no symbolic link, opens no device, named pipe or socket, accepts only the
// relative names the caller lists (from a manifest), reports anything else
// present, and enforces size limits while reading, not only before. Nothing
// found on a medium is ever executed.
//
// Writing (see [WriteFile] and [ExportFiles]) follows no symbolic link on
// any component of the target directory's path (see nofollow.go), and
// never replaces a file: data goes to a temporary name in the target
// directory (".conclave-tmp-…", created by internal/durable), is synced,
// renamed into place with RENAME_NOREPLACE, the directory is synced, and
// the file is read back from the medium and its SHA-256 compared. When
// anything fails the temporary file is removed and the error says what
// happened and what to do.
//
// The package is Linux only: it relies on openat2(2) (falling back to
// openat(2) with O_NOFOLLOW), renameat2(2) and posix_fadvise(2).
package safefile

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/conclave-keys/conclave/internal/foldname"
)

// ErrUnsafeName is matched by the error for a file name that could reach
// outside the directory, or that could mislead a person reading it on
// screen.
var ErrUnsafeName = errors.New("unsafe file name")

// Linux limits (limits.h): NAME_MAX and PATH_MAX.
const (
	maxComponent = 255
	maxPath      = 4096
)

// checkName accepts a relative, slash-separated path with no empty, "." or
// ".." components, no backslashes, and only printable characters (a name
// with terminal escape codes could repaint the screen the holders read).
func checkName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("file name %q: %s: %w", name, why, ErrUnsafeName)
	}
	switch {
	case name == "":
		return bad("it is empty")
	case len(name) > maxPath:
		return bad(fmt.Sprintf("it is longer than %d bytes", maxPath))
	case !utf8.ValidString(name):
		return bad("it is not valid UTF-8")
	case strings.HasPrefix(name, "/"):
		return bad("it is an absolute path")
	case strings.ContainsRune(name, '\\'):
		return bad("it contains a backslash")
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return bad("it contains a control or invisible character")
		}
	}
	for _, c := range strings.Split(name, "/") {
		switch {
		case c == "":
			return bad("it has an empty component (a doubled or trailing slash)")
		case c == "." || c == "..":
			return bad(fmt.Sprintf("it has a %q component", c))
		case len(c) > maxComponent:
			return bad(fmt.Sprintf("a component is longer than %d bytes", maxComponent))
		}
	}
	return nil
}

// checkBaseName is checkName for a single component, as used for export.
func checkBaseName(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("file name %q: it must not contain a slash: %w", name, ErrUnsafeName)
	}
	if strings.HasPrefix(name, tempPrefix) {
		return fmt.Errorf("file name %q: names starting with %q are reserved for unfinished writes: %w", name, tempPrefix, ErrUnsafeName)
	}
	return nil
}

// ErrFoldedNames is matched by the error for two names that are one file
// on a FAT32 or exFAT medium.
var ErrFoldedNames = errors.New("FAT32 and exFAT media, the usual transfer sticks, ignore the case of names, so they would be one file there")

// CheckFoldedNames refuses names (slash-separated paths) that differ only
// in the case of their letters, or whose directories do: FAT32 and exFAT
// media ignore case (package internal/foldname), so "A.json" and "a.json"
// name one file there, and the second write would fail or replace the
// first. Writers call it before writing anything, so that a set of files
// that cannot all exist on a stick is refused whatever the medium at hand;
// OpenDir calls it too, because such a manifest was not written by
// Conclave.
func CheckFoldedNames(names []string) error {
	var set foldname.Set
	for _, n := range names {
		if a, b, clash := set.Add(n); clash {
			if b < a {
				a, b = b, a
			}
			return fmt.Errorf("file names %+q and %+q: %w", a, b, ErrFoldedNames)
		}
	}
	return nil
}
