package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// ManifestFormat is the manifest's "format".
const ManifestFormat = "conclave-vault-generation/1"

// Manifest is a generation's generation.json.
type Manifest struct {
	Format string `json:"format"`
	// Generation counts from 1.
	Generation int64 `json:"generation"`
	// Previous is the hash of the generation this one follows; empty for
	// the first.
	Previous string `json:"previous"`
	// LastCeremony is the last closed ceremony: its id and its confirmed
	// time (RFC 3339, UTC); both empty for a vault that held none.
	LastCeremony   string `json:"last_ceremony"`
	LastCeremonyAt string `json:"last_ceremony_at"`
	// Files lists every other file of the generation, sorted by name.
	Files []ManifestEntry `json:"files"`
}

// ManifestEntry is one file of a generation.
type ManifestEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Errors of the manifest check, each in an *OpenError naming the file.
var (
	// ErrUnlisted: a file of the generation that the manifest does not list.
	ErrUnlisted = errors.New("the manifest does not list it")
	// ErrMissing: a file the manifest lists is not there.
	ErrMissing = errors.New("the manifest lists it but it is missing")
	// ErrHashMismatch: a file's size or SHA-256 is not the manifest's.
	ErrHashMismatch = errors.New("it is not the file the manifest lists")
	// ErrNotCanonical: a file Conclave writes in one exact form is in another.
	ErrNotCanonical = errors.New("it is not in the exact form Conclave writes")
)

// marshalJSON writes v as Conclave writes its vault's JSON files: indented
// by two spaces, object members in a fixed order, a final newline. Each
// such file is read back only when it is exactly in this form
// (decodeExact), so one content has one encoding and one hash.
func marshalJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic("vault: " + err.Error())
	}
	return append(b, '\n')
}

// decodeExact decodes data into v (strictly: no unknown member, nothing
// after the value) and refuses it unless it is what marshalJSON writes for
// the decoded value: duplicate members, other spacing or escapes would
// otherwise give one content several hashes.
func decodeExact(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if !bytes.Equal(marshalJSON(v), data) {
		return ErrNotCanonical
	}
	return nil
}

// SHA256Hex is the lowercase hex SHA-256 of b, as the vault writes hashes.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// isSHA256Hex reports whether s is a lowercase hex SHA-256.
func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// checkFileName refuses a name a generation may not hold: it must be a
// clean relative slash path, with no empty, "." or ".." component, and
// no component starting with a dot (temporary files are dot files).
func checkFileName(name string) error {
	if name == "" || !fs.ValidPath(name) || path.Clean(name) != name {
		return fmt.Errorf("%q is not a clean relative file name", name)
	}
	for _, c := range strings.Split(name, "/") {
		if strings.HasPrefix(c, ".") {
			return fmt.Errorf("%q has a component that starts with a dot", name)
		}
		if strings.ContainsAny(c, "\\\x00") || strings.ContainsFunc(c, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("%q holds a backslash or a control character", name)
		}
	}
	return nil
}

// parseManifest reads generation.json and checks what it says of itself.
func parseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := decodeExact(data, &m); err != nil {
		return nil, err
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("format is %q, not %q", m.Format, ManifestFormat)
	}
	if m.Generation < 1 {
		return nil, fmt.Errorf("generation is %d: generations count from 1", m.Generation)
	}
	if (m.Generation == 1) != (m.Previous == "") {
		return nil, fmt.Errorf("generation %d with previous %q: only the first generation has no previous one", m.Generation, m.Previous)
	}
	if m.Previous != "" && !isSHA256Hex(m.Previous) {
		return nil, fmt.Errorf("previous %q is not a lowercase hex SHA-256", m.Previous)
	}
	if (m.LastCeremony == "") != (m.LastCeremonyAt == "") {
		return nil, errors.New("last_ceremony and last_ceremony_at are given together or not at all")
	}
	if m.LastCeremonyAt != "" {
		t, err := time.Parse(time.RFC3339Nano, m.LastCeremonyAt)
		if err != nil || t.Location() != time.UTC || t.Format(time.RFC3339Nano) != m.LastCeremonyAt {
			return nil, fmt.Errorf("last_ceremony_at %q is not an RFC 3339 UTC time as Conclave writes it", m.LastCeremonyAt)
		}
	}
	for i, f := range m.Files {
		at := fmt.Sprintf("files[%d]", i)
		if err := checkFileName(f.Name); err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		if f.Name == ManifestFile {
			return nil, fmt.Errorf("%s: the manifest does not list itself", at)
		}
		if i > 0 && m.Files[i-1].Name >= f.Name {
			return nil, fmt.Errorf("%s: %q is not after %q: files are listed once each, sorted by name", at, f.Name, m.Files[i-1].Name)
		}
		if f.Size < 0 {
			return nil, fmt.Errorf("%s: size %d is negative", at, f.Size)
		}
		if !isSHA256Hex(f.SHA256) {
			return nil, fmt.Errorf("%s: sha256 %q is not a lowercase hex SHA-256", at, f.SHA256)
		}
	}
	return &m, nil
}

// lastCeremonyTime is the manifest's last ceremony time, zero for none
// (parseManifest checked the form).
func (m *Manifest) lastCeremonyTime() time.Time {
	if m.LastCeremonyAt == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, m.LastCeremonyAt)
	return t
}

// buildManifest lists files (sorted, each once) and returns the manifest
// file. The caller checked the names.
func buildManifest(m Manifest, files []File) File {
	m.Format = ManifestFormat
	m.Files = make([]ManifestEntry, 0, len(files))
	for _, f := range files {
		m.Files = append(m.Files, ManifestEntry{Name: f.Name, Size: int64(len(f.Data)), SHA256: SHA256Hex(f.Data)})
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	return File{Name: ManifestFile, Data: marshalJSON(m)}
}

// readAll reads every file the manifest lists, checks each against it,
// and refuses a generation holding anything else (walking it with
// ReadDir). It returns the files by name.
func readAll(r Reader, m *Manifest) (map[string][]byte, error) {
	listed := make(map[string]ManifestEntry, len(m.Files))
	dirs := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Name] = f
		for d := path.Dir(f.Name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for _, f := range m.Files {
		if dirs[f.Name] {
			return nil, refusef(ManifestFile, "%q is listed both as a file and as a directory", f.Name)
		}
	}
	if err := walk(r, "", listed, dirs); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(m.Files))
	for _, f := range m.Files {
		data, err := r.ReadFile(f.Name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, refuse(f.Name, ErrMissing)
		}
		if err != nil {
			return nil, refuse(f.Name, err)
		}
		if int64(len(data)) != f.Size || SHA256Hex(data) != f.SHA256 {
			return nil, refuse(f.Name, fmt.Errorf("%w: %d bytes, sha256 %s; the manifest lists %d bytes, sha256 %s",
				ErrHashMismatch, len(data), SHA256Hex(data), f.Size, f.SHA256))
		}
		out[f.Name] = data
	}
	return out, nil
}

// walk refuses any name under dir that is neither listed nor a directory
// leading to a listed file.
func walk(r Reader, dir string, listed map[string]ManifestEntry, dirs map[string]bool) error {
	names, err := r.ReadDir(dir)
	if err != nil {
		if dir == "" {
			return refuse(".", err)
		}
		return refuse(dir+"/", err)
	}
	for _, n := range names {
		sub, isDir := strings.CutSuffix(n, "/")
		full := path.Join(dir, sub)
		switch {
		case full == ManifestFile && !isDir:
		case isDir && dirs[full]:
			if err := walk(r, full, listed, dirs); err != nil {
				return err
			}
		case !isDir && listed[full].Name != "":
		default:
			if isDir {
				full += "/"
			}
			return refuse(full, ErrUnlisted)
		}
	}
	return nil
}

// MemReader is a generation held in memory, as Next and Adopt return it:
// what tests and a caller checking files before it writes them open.
type MemReader map[string][]byte

// NewMemReader holds files.
func NewMemReader(files []File) MemReader {
	m := make(MemReader, len(files))
	for _, f := range files {
		m[f.Name] = f.Data
	}
	return m
}

// ReadFile implements Reader.
func (m MemReader) ReadFile(name string) ([]byte, error) {
	b, ok := m[name]
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return b, nil
}

// ReadDir implements Reader.
func (m MemReader) ReadDir(name string) ([]string, error) {
	prefix := ""
	if name != "" && name != "." {
		prefix = name + "/"
	}
	seen := map[string]bool{}
	for n := range m {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	if len(seen) == 0 && prefix != "" {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// ParseManifest reads a generation.json and checks what it says of
// itself (format, generation number, names in order, hashes in form); the
// files it lists are checked by Open.
func ParseManifest(data []byte) (*Manifest, error) {
	m, err := parseManifest(data)
	if err != nil {
		return nil, refuse(ManifestFile, err)
	}
	return m, nil
}
