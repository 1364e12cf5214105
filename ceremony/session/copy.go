package session

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/conclave-keys/conclave/ceremony/bundle"
)

// CopyFormat is the first line of a bundle copy.
const CopyFormat = "conclave-bundle-copy/1"

// MaxCopyFiles bounds the files of a bundle copy read back.
const MaxCopyFiles = 1 << 20

// A bundle copy is the bundle's files as they were read from the transfer
// medium — the manifest and every file it lists — in one blob beside the
// log, so that a replay (or an auditor) judges exactly the bytes the
// ceremony judged (docs/formats/transcript.md, "The bundle copy"):
//
//	conclave-bundle-copy/1 LF
//	then for each file, by name in byte order:
//	  SIZE SP NAME LF BYTES LF
//
// SIZE is the decimal byte count, without leading zeros; NAME is
// "manifest.json" or a path bundle.CheckPath accepts (no space, no LF).

// encodeCopy writes the files as a bundle copy.
func encodeCopy(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	total := len(CopyFormat) + 1
	for n, b := range files {
		names = append(names, n)
		total += len(n) + len(b) + 24
	}
	sort.Strings(names)
	out := make([]byte, 0, total)
	out = append(out, CopyFormat...)
	out = append(out, '\n')
	for _, n := range names {
		out = strconv.AppendInt(out, int64(len(files[n])), 10)
		out = append(out, ' ')
		out = append(out, n...)
		out = append(out, '\n')
		out = append(out, files[n]...)
		out = append(out, '\n')
	}
	return out
}

// bundleCopy is a parsed bundle copy; it serves the bundle back as a
// bundle.Source.
type bundleCopy struct {
	files map[string][]byte
}

// parseCopy reads a bundle copy strictly: names in byte order, each once,
// each a bundle path or the manifest's name, sizes that fit, nothing after
// the last file.
func parseCopy(data []byte) (*bundleCopy, error) {
	rest, ok := bytes.CutPrefix(data, []byte(CopyFormat+"\n"))
	if !ok {
		return nil, fmt.Errorf("bundle copy: does not start with %q", CopyFormat)
	}
	c := &bundleCopy{files: map[string][]byte{}}
	prev := ""
	for i := 0; len(rest) > 0; i++ {
		if i == MaxCopyFiles {
			return nil, fmt.Errorf("bundle copy: more than %d files", MaxCopyFiles)
		}
		head, after, ok := bytes.Cut(rest, []byte{'\n'})
		if !ok {
			return nil, fmt.Errorf("bundle copy: file %d: the header line has no end", i+1)
		}
		sizeText, name, ok := bytes.Cut(head, []byte{' '})
		size, err := strconv.ParseInt(string(sizeText), 10, 64)
		if !ok || err != nil || size < 0 || strconv.FormatInt(size, 10) != string(sizeText) {
			return nil, fmt.Errorf("bundle copy: file %d: the header %q is not SIZE NAME", i+1, head)
		}
		n := string(name)
		if n != bundle.ManifestName {
			if err := bundle.CheckPath(n); err != nil {
				return nil, fmt.Errorf("bundle copy: file %d: %w", i+1, err)
			}
		}
		if i > 0 && n <= prev {
			return nil, fmt.Errorf("bundle copy: file %q is not after %q in byte order", n, prev)
		}
		if size >= int64(len(after)) || after[size] != '\n' {
			return nil, fmt.Errorf("bundle copy: file %q: %d bytes and a newline do not follow its header", n, size)
		}
		c.files[n] = after[:size:size]
		rest, prev = after[size+1:], n
	}
	if _, ok := c.files[bundle.ManifestName]; !ok {
		return nil, fmt.Errorf("bundle copy: no %s", bundle.ManifestName)
	}
	return c, nil
}

// ReadManifest, Listed and the Files methods serve the copy as the bundle
// directory it was read from.
func (c *bundleCopy) ReadManifest() ([]byte, error) { return c.files[bundle.ManifestName], nil }

func (c *bundleCopy) Listed(names []string, _ string) (bundle.Files, error) {
	listed := map[string]bool{bundle.ManifestName: true}
	for _, n := range names {
		listed[n] = true
	}
	return &copyFiles{c: c, listed: listed}, nil
}

type copyFiles struct {
	c      *bundleCopy
	listed map[string]bool
}

func (f *copyFiles) ReadFile(name string) ([]byte, error) {
	b, ok := f.c.files[name]
	if !ok || !f.listed[name] {
		return nil, fmt.Errorf("%q is not in the bundle copy", name)
	}
	return b, nil
}

func (f *copyFiles) Extra() ([]string, error) {
	var extra []string
	for n := range f.c.files {
		if !f.listed[n] {
			extra = append(extra, strconv.Quote(n))
		}
	}
	sort.Strings(extra)
	return extra, nil
}

// recorder passes a bundle.Source through and keeps what was read: the
// manifest and each listed file, as read, for the copy.
type recorder struct {
	src   bundle.Source
	mu    sync.Mutex
	files map[string][]byte
}

func newRecorder(src bundle.Source) *recorder {
	return &recorder{src: src, files: map[string][]byte{}}
}

func (r *recorder) keep(name string, b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, twice := r.files[name]; twice {
		return errors.New("read twice: the copy would not be what was judged")
	}
	r.files[name] = b
	return nil
}

func (r *recorder) ReadManifest() ([]byte, error) {
	b, err := r.src.ReadManifest()
	if err != nil {
		return nil, err
	}
	return b, r.keep(bundle.ManifestName, b)
}

func (r *recorder) Listed(names []string, published string) (bundle.Files, error) {
	f, err := r.src.Listed(names, published)
	if err != nil {
		return nil, err
	}
	return &recordedFiles{Files: f, r: r}, nil
}

type recordedFiles struct {
	bundle.Files
	r *recorder
}

func (f *recordedFiles) ReadFile(name string) ([]byte, error) {
	b, err := f.Files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if err := f.r.keep(name, b); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}
