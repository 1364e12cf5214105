package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/export"
)

// writeExport writes a planned export to the transfer media through
// airgap/safefile: into a new, empty directory, each file under a
// temporary name, synced, renamed without replacing anything, the
// directory synced, then read back and compared; a failure removes what
// this export wrote, so no partial export looks complete. No command
// writes an export yet; tests call it with export.Plan's files.
//
// A signal before the export starts stops it with nothing written. Once
// started, it runs to its end (a few files): a completed export is never
// removed, and safefile removes an incomplete one itself.
func writeExport(ctx context.Context, dir string, files []export.File) error {
	if ctx.Err() != nil {
		return interrupted("nothing was exported; %s was not made", dir)
	}
	out := make([]safefile.Export, len(files))
	for i, f := range files {
		out[i] = safefile.Export{Name: f.Name, Data: f.Data}
	}
	if err := safefile.ExportFiles(dir, out); err != nil {
		return withHint(err, "nothing written there can be mistaken for a complete export; fix the medium, then export again into a new, empty directory")
	}
	return nil
}

// exportReader reads an export directory on the online side through
// airgap/safefile, as a bundle is read: no links, regular files only,
// nothing unlisted.
type exportReader struct {
	dir  string
	open []*safefile.Dir
}

func (r *exportReader) close() {
	for _, d := range r.open {
		d.Close()
	}
}

func (r *exportReader) ReadManifest() ([]byte, error) {
	d, err := safefile.OpenDir(r.dir, []string{export.ManifestName}, safefile.Limits{})
	if err != nil {
		return nil, err
	}
	r.open = append(r.open, d)
	return d.ReadFile(export.ManifestName)
}

func (r *exportReader) Listed(names []string) (export.Files, error) {
	d, err := safefile.OpenDir(r.dir, append([]string{export.ManifestName}, names...), safefile.Limits{})
	if err != nil {
		return nil, err
	}
	r.open = append(r.open, d)
	return exportFiles{d}, nil
}

type exportFiles struct{ d *safefile.Dir }

func (f exportFiles) ReadFile(name string) ([]byte, error) { return f.d.ReadFile(name) }

func (f exportFiles) Extra() ([]string, error) {
	entries, err := f.d.Extra()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.String()
	}
	return out, nil
}

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

// checkExport verifies an export directory (see export.Check).
func checkExport(dir string) ([]export.Listing, error) {
	r := &exportReader{dir: dir}
	defer r.close()
	return export.Check(r)
}
