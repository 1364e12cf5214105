package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/conclave-keys/conclave/ceremony/export"
)

// readableDir checks, before anything in dir is judged, that dir is a
// directory this process can open: a mistyped or unreadable path is no
// verdict on what should be there, so it ends the command with status 3,
// not 1 (docs/exit-codes.md). A symbolic link is left to the reader,
// which refuses links on the transfer medium as part of its verdict.
func readableDir(what, dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return nil
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s %s is not a directory", what, dir)
	case err == nil:
		var f *os.File
		if f, err = os.Open(dir); err == nil {
			return f.Close()
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is named once, below
	}
	return fmt.Errorf("cannot read %s %s: %w", what, dir, err)
}

// checkExport verifies an export directory (see export.Check), read as
// a bundle is read (mediaDir): no links, regular files only, nothing
// unlisted.
func checkExport(dir string) ([]export.Listing, error) {
	m := &mediaDir{dir: dir, manifest: export.ManifestName}
	defer m.close()
	return export.Check(exportSource{m})
}

// exportSource is a mediaDir as export.Check reads it.
type exportSource struct{ *mediaDir }

func (s exportSource) Listed(names []string) (export.Files, error) { return s.listed(names) }
