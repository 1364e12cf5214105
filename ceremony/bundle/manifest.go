// Package bundle reads and writes delegation-request bundles: a directory on
// the transfer media holding a signed manifest, the batch files of requests
// (one request a line) and the repository's published state
// (docs/formats/bundle.md).
//
// The manifest is signed by the repository's intake key. That signature
// proves only that the bytes were not changed on the way: it authorises
// nothing (docs/design.md, "The trust model"). It is checked before anything the
// manifest says is used; every file is then hashed against the manifest
// before it is parsed.
//
// The manifest file is exact: byte for byte the canonical form of its
// envelope, with a canonical payload. Only the payload is signed, so a
// byte anywhere else (whitespace, a final newline) would change the file
// without changing what was signed; such a file is refused, and each
// bundle has one manifest file.
//
// This package never touches the file system itself: the caller gives it
// a Dir (package airgap/safefile provides one that follows no link and
// reads only regular files), so the domain stays free of device I/O.
package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/foldname"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Format is the manifest payload's "format".
const Format = "conclave-bundle/1"

// ManifestName is the manifest's file name in a bundle directory.
const ManifestName = "manifest.json"

// TypeManifest is the payload type of the manifest envelope. The label is
// deliberate: the intake signature is transport integrity only.
const TypeManifest = envelope.TypeBundleManifest

// File kinds in a manifest.
const (
	KindBatch     = "batch" // requests, one a line (batch.go)
	KindPublished = "published-state"
)

// Base names the metadata of one delegating role the requests were made
// against: the role that delegates, or will delegate, their projects.
type Base struct {
	Role    string
	Version int64
	SHA256  string // lowercase hex of the metadata file's bytes
}

// Entry is one file listed in the manifest.
type Entry struct {
	Path   string
	Kind   string
	Size   int64
	SHA256 string
}

// Manifest is a bundle's manifest payload.
type Manifest struct {
	BundleID string
	Source   string
	Created  time.Time
	// Bases are the delegating roles' metadata the requests were made
	// against, one per role the ceremony signs (the delegating role, or
	// each shard), sorted by role.
	Bases []Base
	Files []Entry
}

// Encode writes the manifest payload as canonical JSON.
func (m *Manifest) Encode() []byte {
	files := make([]cjson.Value, len(m.Files))
	for i, f := range m.Files {
		files[i] = cjson.ObjectValue(
			cjson.Member{Name: "kind", Value: cjson.StringValue(f.Kind)},
			cjson.Member{Name: "path", Value: cjson.StringValue(f.Path)},
			cjson.Member{Name: "sha256", Value: cjson.StringValue(f.SHA256)},
			cjson.Member{Name: "size", Value: cjson.IntValue(f.Size)},
		)
	}
	bases := make([]cjson.Value, len(m.Bases))
	for i, b := range m.Bases {
		bases[i] = cjson.ObjectValue(
			cjson.Member{Name: "role", Value: cjson.StringValue(b.Role)},
			cjson.Member{Name: "sha256", Value: cjson.StringValue(b.SHA256)},
			cjson.Member{Name: "version", Value: cjson.IntValue(b.Version)},
		)
	}
	return cjson.ObjectValue(
		cjson.Member{Name: "bases", Value: cjson.ArrayValue(bases...)},
		cjson.Member{Name: "bundle_id", Value: cjson.StringValue(m.BundleID)},
		cjson.Member{Name: "created", Value: cjson.StringValue(m.Created.UTC().Format(request.TimeLayout))},
		cjson.Member{Name: "files", Value: cjson.ArrayValue(files...)},
		cjson.Member{Name: "format", Value: cjson.StringValue(Format)},
		cjson.Member{Name: "source", Value: cjson.StringValue(m.Source)},
	).Canonical()
}

// Check applies to m the rules OpenManifest applies to a manifest it
// reads, by reading m's encoding with the same function: a producer (the
// intake package) calls it before it writes anything, so that it never
// writes a bundle the ceremony refuses as manifest-invalid. The limits on
// counts and sizes are not checked: they are the ceremony's policy, not
// the format. The error, a *CheckError, says what the reader's refusal
// says.
func (m *Manifest) Check() error {
	if _, err := parseManifest(m.Encode(), ManifestLimits{}); err != nil {
		return &CheckError{Err: err}
	}
	return nil
}

// CheckError is Check's refusal of a manifest a producer was about to
// write: what it was given (a bundle id, a source name) breaks the format,
// which a caller tells apart from a failure to write.
type CheckError struct{ Err error }

func (e *CheckError) Error() string { return brokenFormat + ": " + e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// ManifestLimits bound what a manifest may list; a zero limit is not
// checked.
type ManifestLimits struct {
	MaxFiles int
	// MaxBatchSize bounds each batch file, MaxPublishedSize the
	// published-state file, which names every project the repository
	// published keys for and so grows with the repository, not the bundle.
	MaxBatchSize     int64
	MaxPublishedSize int64
	MaxTotal         int64
	MaxDepth         int
}

// OpenManifest checks the manifest file's intake signature with the
// trusted intake keys and only then reads its payload strictly. Errors are
// *verdict.BundleError.
func OpenManifest(data []byte, intakeKeys map[string]*tuf.Key, lim ManifestLimits) (*Manifest, error) {
	v, err := cjson.ParseWith(data, cjson.Options{MaxDepth: 8})
	if err != nil {
		return nil, verdict.Refuse(verdict.ManifestInvalid, err, "the manifest is not valid JSON: %v", err)
	}
	env, err := envelope.Parse(v, "")
	if err != nil {
		if v.Kind() == cjson.Object {
			if _, ok := v.Get("signatures"); !ok {
				return nil, verdict.Refuse(verdict.ManifestUnsigned, err, "the manifest is not in a signed envelope, so nothing shows it came unchanged from the repository")
			}
		}
		return nil, verdict.Refuse(verdict.ManifestInvalid, err, "the manifest is not a valid signed envelope: %v", err)
	}
	if env.PayloadType != TypeManifest {
		return nil, verdict.Refuse(verdict.ManifestInvalid, nil, "the manifest envelope has payload type %q, not %q", env.PayloadType, TypeManifest)
	}
	if len(env.Signatures) == 0 {
		return nil, verdict.Refuse(verdict.ManifestUnsigned, nil, "the manifest carries no intake signature, so nothing shows it came unchanged from the repository")
	}
	// The file is exact: only the payload is signed, so any byte the
	// envelope's canonical form does not have (whitespace, a final
	// newline, another member order or escape) would change the file,
	// and its hash, without changing what was signed.
	if at := firstDifference(env.Marshal(), data); at >= 0 {
		return nil, verdict.Refuse(verdict.ManifestInvalid, nil, "the manifest file is not exactly the canonical form of its envelope (it differs at byte %d): nothing may stand outside the signed payload, not even whitespace or a final newline, so that each bundle has one manifest file", at)
	}
	// Every signature must be a valid one by a trusted intake key, each
	// key once: an untrusted or repeated signer, or a signature that
	// does not verify, refuses the manifest (envelope.Verify).
	if _, err := env.Verify(TypeManifest, intakeKeys); err != nil {
		if se := (*envelope.SignatureError)(nil); errors.As(err, &se) {
			return nil, verdict.Refuse(verdict.ManifestBadSignature, err, "the manifest's intake signatures do not hold (%v): the bundle may have been changed on the way, or comes from elsewhere", err)
		}
		return nil, verdict.Refuse(verdict.ManifestInvalid, err, "the manifest envelope cannot be checked: %v", err)
	}
	m, err := parseManifest(env.Payload, lim)
	var le *limitError
	if errors.As(err, &le) {
		return nil, verdict.Refuse(verdict.BundleLimit, err, "%v", err)
	}
	if err != nil {
		return nil, verdict.Refuse(verdict.ManifestInvalid, err, "%s: %v", brokenFormat, err)
	}
	return m, nil
}

// brokenFormat starts the sentence for a manifest that breaks the format,
// read or about to be written.
const brokenFormat = "the manifest breaks the bundle format"

// parseManifest reads the payload strictly.
func parseManifest(payload []byte, lim ManifestLimits) (*Manifest, error) {
	depth := lim.MaxDepth
	if depth <= 0 || depth > 8 {
		depth = 8
	}
	v, err := cjson.ParseWith(payload, cjson.Options{MaxDepth: depth})
	if err != nil {
		return nil, err
	}
	var at int
	cjson.WithEncoder(func(e *cjson.Encoder) {
		e.Value(v)
		b, _ := e.Bytes() // a parsed Value is always in order
		at = firstDifference(b, payload)
	})
	if at >= 0 {
		return nil, fmt.Errorf("the payload is not canonical JSON (it differs from its canonical form at byte %d)", at)
	}
	o, err := object(v, "", "bases", "bundle_id", "created", "files", "format", "source")
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if f, err := str(o, "", "format"); err != nil {
		return nil, err
	} else if f != Format {
		return nil, fmt.Errorf("format: is %q; this version of Conclave reads %q", f, Format)
	}
	if m.BundleID, err = str(o, "", "bundle_id"); err != nil {
		return nil, err
	}
	if err := request.CheckID(m.BundleID); err != nil {
		return nil, fmt.Errorf("bundle_id: %v", err)
	}
	if m.Source, err = str(o, "", "source"); err != nil {
		return nil, err
	}
	if err := request.CheckText(m.Source, 256); err != nil || m.Source == "" {
		return nil, fmt.Errorf("source: must be the repository's name, up to 256 printable bytes")
	}
	created, err := str(o, "", "created")
	if err != nil {
		return nil, err
	}
	if m.Created, err = request.ParseTime(created); err != nil {
		return nil, fmt.Errorf("created: %v", err)
	}
	if m.Bases, err = readBases(o["bases"]); err != nil {
		return nil, err
	}
	fs := o["files"]
	if fs.Kind() != cjson.Array {
		return nil, fmt.Errorf("files: must be an array, not %s", fs.Kind())
	}
	if lim.MaxFiles > 0 && len(fs.Items()) > lim.MaxFiles {
		return nil, &limitError{fmt.Sprintf("the manifest lists %d files; at most %d are allowed", len(fs.Items()), lim.MaxFiles)}
	}
	m.Files = make([]Entry, len(fs.Items()))
	if err := readEntries(m.Files, fs.Items(), lim); err != nil {
		return nil, err
	}
	return m, nil
}

// readBases reads the bases: at least one, each role named once, sorted
// by role, so that a set of bases has one encoding.
func readBases(v cjson.Value) ([]Base, error) {
	if v.Kind() != cjson.Array {
		return nil, fmt.Errorf("bases: must be an array, not %s", v.Kind())
	}
	items := v.Items()
	if len(items) == 0 {
		return nil, fmt.Errorf("bases: must name at least one base")
	}
	out := make([]Base, len(items))
	for i, item := range items {
		at := cjson.PathIndex("bases", i)
		b, err := object(item, at, "role", "sha256", "version")
		if err != nil {
			return nil, err
		}
		base := &out[i]
		if base.Role, err = str(b, at, "role"); err != nil {
			return nil, err
		}
		if base.Role == "" {
			return nil, fmt.Errorf("%s: is empty", cjson.PathField(at, "role"))
		}
		if base.SHA256, err = hash(b, at); err != nil {
			return nil, err
		}
		if base.Version, err = integer(b, at, "version", 1); err != nil {
			return nil, err
		}
		if i > 0 && base.Role <= out[i-1].Role {
			return nil, fmt.Errorf("%s: %s comes after %s: bases are sorted by role, each role once", cjson.PathField(at, "role"), termtext.Quote(base.Role), termtext.Quote(out[i-1].Role))
		}
	}
	return out, nil
}

// readEntries converts and checks the file entries into files, in file
// order, stopping at the first problem. A manifest lists up to ~10^5
// files and the rest of the import waits for this loop, so it reads
// members by position and builds a path for a message only on failure.
func readEntries(files []Entry, items []cjson.Value, lim ManifestLimits) error {
	seen := make(map[string]struct{}, len(items))
	var folded foldname.Set // paths that are one file on a stick
	published := 0
	var total int64
	for i, v := range items {
		at := func(name string) string { return cjson.PathField(cjson.PathIndex("files", i), name) }
		kind, path, sum, size, ok := entryMembers(v)
		if !ok {
			// Not exactly the four members: object and the helpers
			// word the error as they always have.
			f, err := object(v, cjson.PathIndex("files", i), "kind", "path", "sha256", "size")
			if err != nil {
				return err
			}
			kind, path, sum, size = f["kind"], f["path"], f["sha256"], f["size"]
		}
		e := &files[i]
		var err error
		if e.Path, err = strValue(path, at, "path"); err != nil {
			return err
		}
		if err := CheckPath(e.Path); err != nil {
			return fmt.Errorf("%s: %v", at("path"), err)
		}
		// One map operation, not a lookup and then an insert.
		n := len(seen)
		if seen[e.Path] = struct{}{}; len(seen) == n {
			return fmt.Errorf("%s: %q is listed twice", at("path"), e.Path)
		}
		if other, this, clash := folded.Add(e.Path); clash {
			return fmt.Errorf("%s: %q and %q are one file on FAT32 and exFAT media, which ignore the case of names", at("path"), other, this)
		}
		if e.Kind, err = strValue(kind, at, "kind"); err != nil {
			return err
		}
		switch e.Kind {
		case KindBatch:
		case KindPublished:
			if published++; published > 1 {
				return fmt.Errorf("%s: only one published-state file may be listed", at("kind"))
			}
		default:
			return fmt.Errorf("%s: is %q; it must be %q or %q", at("kind"), e.Kind, KindBatch, KindPublished)
		}
		if e.SHA256, err = hashValue(sum, at); err != nil {
			return err
		}
		if e.Size, err = intValue(size, at, "size", 0); err != nil {
			return err
		}
		switch {
		case e.Kind == KindPublished && lim.MaxPublishedSize > 0 && e.Size > lim.MaxPublishedSize:
			return &limitError{fmt.Sprintf("%s: the published state %q is listed as %d bytes; at most %d are allowed for it (bundle_limits.max_published_size)", cjson.PathIndex("files", i), e.Path, e.Size, lim.MaxPublishedSize)}
		case e.Kind == KindBatch && lim.MaxBatchSize > 0 && e.Size > lim.MaxBatchSize:
			return &limitError{fmt.Sprintf("%s: the batch %q is listed as %d bytes; at most %d are allowed per batch (bundle_limits.max_batch_size)", cjson.PathIndex("files", i), e.Path, e.Size, lim.MaxBatchSize)}
		case e.Kind == KindBatch && e.Size == 0:
			// A batch holds at least one request; an empty one can only
			// be a mistake of the repository, or a file emptied on the way.
			return fmt.Errorf("%s: the batch %q is listed as empty; a batch holds at least one request", at("size"), e.Path)
		}
		total += e.Size
		if lim.MaxTotal > 0 && total > lim.MaxTotal {
			return &limitError{fmt.Sprintf("the files listed add up to more than the %d bytes allowed for a bundle", lim.MaxTotal)}
		}
	}
	return nil
}

// entryMembers reads an entry that has exactly its four members, without
// the map object builds: members come sorted and unique, so they can be
// matched by position. ok is false for any other shape.
func entryMembers(v cjson.Value) (kind, path, sum, size cjson.Value, ok bool) {
	ms := v.Members()
	if v.Kind() != cjson.Object || len(ms) != 4 ||
		ms[0].Name != "kind" || ms[1].Name != "path" || ms[2].Name != "sha256" || ms[3].Name != "size" {
		return
	}
	return ms[0].Value, ms[1].Value, ms[2].Value, ms[3].Value, true
}

// firstDifference returns the offset of the first byte where got differs
// from want (the length of the shorter when one is a prefix of the
// other), or -1 when they are equal.
func firstDifference(want, got []byte) int {
	if string(want) == string(got) {
		return -1
	}
	n := min(len(want), len(got))
	for i := 0; i < n; i++ {
		if want[i] != got[i] {
			return i
		}
	}
	return n
}

// limitError is a manifest that lists more than the limits allow.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// CheckPath accepts a bundle file path: relative, "/"-separated, each part
// ASCII letters, digits, ".", "_" or "-", not starting with ".", at most
// 255 bytes per part and 1024 in all; never the manifest's own name.
func CheckPath(p string) error {
	if p == "" || len(p) > 1024 {
		return fmt.Errorf("a path must be 1 to 1024 bytes long")
	}
	if p == ManifestName {
		return fmt.Errorf("the manifest cannot list itself")
	}
	// Walk the parts in place rather than strings.Split: this runs for
	// every file of the manifest and would allocate a slice each time.
	for rest := p; ; {
		part, next, more := strings.Cut(rest, "/")
		if part == "" || part[0] == '.' || len(part) > 255 {
			return fmt.Errorf("%q is not a safe relative path (no empty parts, none starting with \".\", no \"..\", not absolute)", p)
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return fmt.Errorf("%q holds %q; paths may hold only ASCII letters, digits, \".\", \"_\", \"-\" and \"/\"", p, rune(c))
			}
		}
		if !more {
			return nil
		}
		rest = next
	}
}

// SumHex is the lowercase hex SHA-256 of data.
func SumHex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func object(v cjson.Value, path string, names ...string) (map[string]cjson.Value, error) {
	if v.Kind() != cjson.Object {
		return nil, fmt.Errorf("%s: must be an object, not %s", orTop(path), v.Kind())
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := make(map[string]cjson.Value, len(names))
	for _, m := range v.Members() {
		if !want[m.Name] {
			return nil, fmt.Errorf("%s: is not a member the manifest may have", cjson.PathField(path, m.Name))
		}
		out[m.Name] = m.Value
	}
	missing := []string{}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			missing = append(missing, cjson.PathField(path, n))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("%s: is missing", strings.Join(missing, ", "))
	}
	return out, nil
}

// isHexSum reports whether s is 64 lowercase hex digits. A table lookup
// per byte, not strings.Trim: it runs for every file of the manifest.
func isHexSum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lowerHex[s[i]] {
			return false
		}
	}
	return true
}

var lowerHex = [256]bool{
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true,
}

func orTop(p string) string {
	if p == "" {
		return "the manifest"
	}
	return p
}

// inObject names the members of the object at path, for messages.
func inObject(path string) func(name string) string {
	return func(name string) string { return cjson.PathField(path, name) }
}

func str(o map[string]cjson.Value, path, name string) (string, error) {
	return strValue(o[name], inObject(path), name)
}

func integer(o map[string]cjson.Value, path, name string, min int64) (int64, error) {
	return intValue(o[name], inObject(path), name, min)
}

func hash(o map[string]cjson.Value, path string) (string, error) {
	return hashValue(o["sha256"], inObject(path))
}

// strValue, intValue and hashValue check the member name, whose value is
// v; at names a member for a message, and is called only on failure.
func strValue(v cjson.Value, at func(string) string, name string) (string, error) {
	if v.Kind() != cjson.String {
		return "", fmt.Errorf("%s: must be a string, not %s", at(name), v.Kind())
	}
	return v.Str(), nil
}

func intValue(v cjson.Value, at func(string) string, name string, min int64) (int64, error) {
	if v.Kind() != cjson.Int || v.Int() < min {
		return 0, fmt.Errorf("%s: must be an integer of at least %d", at(name), min)
	}
	return v.Int(), nil
}

func hashValue(v cjson.Value, at func(string) string) (string, error) {
	s, err := strValue(v, at, "sha256")
	if err != nil {
		return "", err
	}
	if !isHexSum(s) {
		return "", fmt.Errorf("%s: must be 64 lowercase hex digits", at("sha256"))
	}
	return s, nil
}

// SignManifest wraps the payload in an envelope signed by an intake key.
func SignManifest(m *Manifest, sign func(*envelope.Envelope) error) ([]byte, error) {
	env := &envelope.Envelope{PayloadType: TypeManifest, Payload: m.Encode()}
	if err := sign(env); err != nil {
		return nil, err
	}
	return env.Marshal(), nil
}
