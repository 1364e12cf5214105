package main

import "github.com/conclave-keys/conclave/airgap/safefile"

// mediaDir reads a directory on the transfer medium — a bundle (import)
// or an export (intake check-export) — through airgap/safefile: no links
// followed, only regular files, only the names listed, limits enforced
// while reading.
type mediaDir struct {
	dir      string
	manifest string // the name of the manifest, which lists the rest
	limits   safefile.Limits
	// manifestMax, when set, is the manifest's own limit: it lists every
	// file, so it is read before any limit on them can be known.
	manifestMax int64
	// publishedMax is a bundle's published state's own limit
	// (bundleSource.Listed).
	publishedMax int64
	// mapErr, when set, gives the reader's refusals their meaning for
	// the caller (import: their verdict codes).
	mapErr func(error) error
	open   []*safefile.Dir
}

func (m *mediaDir) close() {
	for _, d := range m.open {
		d.Close()
	}
}

func (m *mediaDir) wrap(err error) error {
	if err == nil || m.mapErr == nil {
		return err
	}
	return m.mapErr(err)
}

func (m *mediaDir) ReadManifest() ([]byte, error) {
	lim := m.limits
	if m.manifestMax > 0 {
		lim.MaxFileSize, lim.MaxTotalSize = m.manifestMax, m.manifestMax
	}
	d, err := safefile.OpenDir(m.dir, []string{m.manifest}, lim)
	if err != nil {
		return nil, m.wrap(err)
	}
	m.open = append(m.open, d)
	data, err := d.ReadFile(m.manifest)
	return data, m.wrap(err)
}

// listed makes exactly the names, and the manifest, readable.
func (m *mediaDir) listed(names []string) (mediaFiles, error) {
	d, err := safefile.OpenDir(m.dir, append([]string{m.manifest}, names...), m.limits)
	if err != nil {
		return mediaFiles{}, m.wrap(err)
	}
	m.open = append(m.open, d)
	return mediaFiles{d, m}, nil
}

// mediaFiles reads the listed files of a mediaDir (bundle.Files,
// export.Files).
type mediaFiles struct {
	d *safefile.Dir
	m *mediaDir
}

func (f mediaFiles) ReadFile(name string) ([]byte, error) {
	data, err := f.d.ReadFile(name)
	return data, f.m.wrap(err)
}

// Extra lists what is there besides the listed names, each quoted with
// its kind for showing.
func (f mediaFiles) Extra() ([]string, error) {
	entries, err := f.d.Extra()
	if err != nil {
		return nil, f.m.wrap(err)
	}
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.String()
	}
	return out, nil
}
