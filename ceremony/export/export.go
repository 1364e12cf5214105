// Package export decides exactly which files leave the ceremony machine,
// and checks on the other side that an export holds exactly them
// (docs/formats/export.md).
//
// An export directory holds:
//
//   - the signed delegating metadata under its consistent-snapshot name,
//     "N.ROLE.json" — or, when the threshold is not yet met,
//     "N.ROLE.partial.json", a name no repository publishes by mistake;
//   - the decision report, "decisions.json": for each request id, what was
//     decided and why (codes). It is UNSIGNED: the repository learns what
//     was applied from the signed metadata; the report says so;
//   - "export-manifest.json", listing every other file with its size and
//     SHA-256.
//
// Every file is canonical JSON in file form, so an exact copy can be told
// from one with anything hidden in whitespace or member order. Writing is
// done by the caller (airgap/safefile: temporary name, fsync, rename
// without replacing, directory fsync, read back).
package export

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// Names and formats.
const (
	ManifestName    = "export-manifest.json"
	ManifestFormat  = "conclave-export/1"
	DecisionsName   = "decisions.json"
	DecisionsFormat = "conclave-decisions/1"
	// UnsignedNote is written into every decision report.
	UnsignedNote = "UNSIGNED: this report only explains the decisions. What was applied is what the signed metadata says; trust nothing here that it does not."
)

// Decision is what the holders decided about one request.
type Decision string

// The decisions.
const (
	Approved Decision = "approved"
	Rejected Decision = "rejected"
	Deferred Decision = "deferred"
	// Invalid requests were never open to a decision.
	Invalid Decision = "invalid"
)

// Outcome is one request's entry in the decision report.
type Outcome struct {
	Decision Decision
	Codes    []verdict.Code // the verdict's codes (why invalid, what was flagged)
	Reason   string         // the holders' words, for a rejection or deferral
}

// Report is the decision report.
type Report struct {
	BundleID string
	Role     string
	Version  int64 // of the metadata exported
	// Versions, when not nil, replaces Role and Version for an export of
	// any other number of roles than one (the shards that changed, or
	// none): role → version exported. It is written as "roles".
	Versions map[string]int64
	Requests map[string]Outcome
}

// Encode writes the report as canonical JSON (file form).
func (r *Report) Encode() []byte {
	ids := make([]string, 0, len(r.Requests))
	for id := range r.Requests {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	reqs := make([]cjson.Member, len(ids))
	for i, id := range ids {
		o := r.Requests[id]
		codes := make([]cjson.Value, len(o.Codes))
		for j, c := range o.Codes {
			codes[j] = cjson.StringValue(string(c))
		}
		reqs[i] = cjson.Member{Name: id, Value: cjson.ObjectValue(
			cjson.Member{Name: "codes", Value: cjson.ArrayValue(codes...)},
			cjson.Member{Name: "decision", Value: cjson.StringValue(string(o.Decision))},
			cjson.Member{Name: "reason", Value: cjson.StringValue(o.Reason)},
		)}
	}
	members := []cjson.Member{
		{Name: "bundle_id", Value: cjson.StringValue(r.BundleID)},
		{Name: "format", Value: cjson.StringValue(DecisionsFormat)},
		{Name: "note", Value: cjson.StringValue(UnsignedNote)},
		{Name: "requests", Value: cjson.ObjectValue(reqs...)},
	}
	if r.Versions != nil {
		roles := make([]string, 0, len(r.Versions))
		for role := range r.Versions {
			roles = append(roles, role)
		}
		sort.Strings(roles)
		versions := make([]cjson.Member, len(roles))
		for i, role := range roles {
			versions[i] = cjson.Member{Name: role, Value: cjson.IntValue(r.Versions[role])}
		}
		members = append(members, cjson.Member{Name: "roles", Value: cjson.ObjectValue(versions...)})
	} else {
		members = append(members,
			cjson.Member{Name: "role", Value: cjson.StringValue(r.Role)},
			cjson.Member{Name: "version", Value: cjson.IntValue(r.Version)})
	}
	return fileForm(cjson.ObjectValue(members...))
}

func fileForm(v cjson.Value) []byte {
	e := cjson.Encoder{FileForm: true}
	e.Value(v)
	b, err := e.Bytes()
	if err != nil {
		panic("export: " + err.Error())
	}
	return b
}

// File is one file of an export.
type File struct {
	Name string
	Data []byte
}

// MetadataName is the name signed metadata is exported under: the
// consistent-snapshot name "N.ROLE.json" (TUF specification §5.5,
// "consistent snapshots"), or "N.ROLE.partial.json" when its signatures do
// not yet meet the threshold.
func MetadataName(role string, version int64, complete bool) string {
	if complete {
		return fmt.Sprintf("%d.%s.json", version, role)
	}
	return fmt.Sprintf("%d.%s.partial.json", version, role)
}

// Plan lists the files of an export: the metadata (complete says whether
// its threshold is met), the decision report and the export manifest,
// last. role names the metadata's role.
func Plan(role string, metadata *tuf.File, complete bool, report *Report) ([]File, error) {
	if metadata.Targets == nil {
		return nil, fmt.Errorf("export: the delegating metadata must be targets metadata, not %s", metadata.Type())
	}
	if report.Version != metadata.Version() || report.Role != role {
		return nil, fmt.Errorf("export: the decision report is for %s version %d, the metadata is %s version %d", report.Role, report.Version, role, metadata.Version())
	}
	files := []File{
		{Name: MetadataName(role, metadata.Version(), complete), Data: metadata.Bytes()},
		{Name: DecisionsName, Data: report.Encode()},
	}
	return append(files, File{Name: ManifestName, Data: encodeManifest(files)}), nil
}

// Metadata is one role's signed metadata in an export.
type Metadata struct {
	Role     string
	File     *tuf.File
	Complete bool // whether its signatures meet its threshold
}

// PlanSet lists the files of an export of several roles — the shards of
// a delegating role that changed, or none when nothing was approved and
// only the decisions go back — with one decision report and the export
// manifest, last. One role is planned as Plan plans it; for any other
// number the report lists each role's version (Report.Versions, set
// here).
func PlanSet(metas []Metadata, report *Report) ([]File, error) {
	if len(metas) == 1 {
		r := *report
		r.Role, r.Version, r.Versions = metas[0].Role, metas[0].File.Version(), nil
		return Plan(metas[0].Role, metas[0].File, metas[0].Complete, &r)
	}
	r := *report
	r.Role, r.Version, r.Versions = "", 0, make(map[string]int64, len(metas))
	var files []File
	for _, m := range metas {
		if m.File.Targets == nil {
			return nil, fmt.Errorf("export: the %s metadata must be targets metadata, not %s", m.Role, m.File.Type())
		}
		if _, twice := r.Versions[m.Role]; twice {
			return nil, fmt.Errorf("export: role %s is listed twice", m.Role)
		}
		r.Versions[m.Role] = m.File.Version()
		files = append(files, File{Name: MetadataName(m.Role, m.File.Version(), m.Complete), Data: m.File.Bytes()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	files = append(files, File{Name: DecisionsName, Data: r.Encode()})
	return append(files, File{Name: ManifestName, Data: encodeManifest(files)}), nil
}

func encodeManifest(files []File) []byte {
	list := make([]cjson.Value, len(files))
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for i, f := range sorted {
		sum := sha256.Sum256(f.Data)
		list[i] = cjson.ObjectValue(
			cjson.Member{Name: "path", Value: cjson.StringValue(f.Name)},
			cjson.Member{Name: "sha256", Value: cjson.StringValue(hex.EncodeToString(sum[:]))},
			cjson.Member{Name: "size", Value: cjson.IntValue(int64(len(f.Data)))},
		)
	}
	return fileForm(cjson.ObjectValue(
		cjson.Member{Name: "files", Value: cjson.ArrayValue(list...)},
		cjson.Member{Name: "format", Value: cjson.StringValue(ManifestFormat)},
	))
}

// Reader reads an export directory on the online side.
type Reader interface {
	ReadManifest() ([]byte, error)
	// Listed makes exactly the names (and the manifest) readable.
	Listed(names []string) (Files, error)
}

// Files reads the listed files of an export directory.
type Files interface {
	ReadFile(name string) ([]byte, error)
	// Extra lists what is there besides the manifest and the listed names.
	Extra() ([]string, error)
}

// Listing is an export's manifest entry.
type Listing struct {
	Name   string
	Size   int64
	SHA256 string
}

// Check verifies an export directory: its manifest is exact canonical
// JSON, it lists only allowed names, each listed file has the listed size
// and hash and is itself exactly canonical (metadata in TUF file form,
// the report as canonical JSON): nothing hides in whitespace, member order
// or escapes; and there is nothing else in the directory.
func Check(r Reader) ([]Listing, error) {
	read, err := CheckRead(r)
	if err != nil {
		return nil, err
	}
	listing := make([]Listing, len(read))
	for i, f := range read {
		listing[i] = f.Listing
	}
	return listing, nil
}

// Read is a file of an export as Check read and checked it.
type Read struct {
	Listing
	// Data is the file's bytes as read.
	Data []byte
	// Parsed is the metadata tuf.Parse read from Data (nil for the
	// report), for a caller that goes on to verify it (verify.Input):
	// the same bytes need not be parsed twice.
	Parsed *tuf.File
}

// CheckRead is Check, returning the files it read with their listing.
func CheckRead(r Reader) ([]Read, error) {
	data, err := r.ReadManifest()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ManifestName, err)
	}
	listing, err := parseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	names := make([]string, len(listing))
	for i, l := range listing {
		names[i] = l.Name
	}
	files, err := r.Listed(names)
	if err != nil {
		return nil, err
	}
	read := make([]Read, 0, len(listing))
	for _, l := range listing {
		b, err := files.ReadFile(l.Name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", l.Name, err)
		}
		sum := sha256.Sum256(b)
		if int64(len(b)) != l.Size || hex.EncodeToString(sum[:]) != l.SHA256 {
			return nil, fmt.Errorf("%s: not the file the export manifest lists (size or SHA-256 differs)", l.Name)
		}
		parsed, err := exact(l.Name, b)
		if err != nil {
			return nil, err
		}
		read = append(read, Read{Listing: l, Data: b, Parsed: parsed})
	}
	extra, err := files.Extra()
	if err != nil {
		return nil, err
	}
	if len(extra) > 0 {
		return nil, fmt.Errorf("the export directory holds %s, which its manifest does not list", strings.Join(extra, ", "))
	}
	return read, nil
}

// exact checks that a file is byte for byte its canonical form, and
// returns the metadata it parsed (nil for the report).
func exact(name string, b []byte) (*tuf.File, error) {
	if isMetadataName(name) {
		f, err := tuf.Parse(name, b)
		if err != nil {
			return nil, err
		}
		if string(f.Bytes()) != string(b) {
			return nil, fmt.Errorf("%s: not in exact canonical form: something was added or reordered after signing", name)
		}
		return f, nil
	}
	v, err := cjson.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if string(fileForm(v)) != string(b) {
		return nil, fmt.Errorf("%s: not in exact canonical form", name)
	}
	if name == DecisionsName {
		if f, _ := v.Get("format"); f.Str() != DecisionsFormat {
			return nil, fmt.Errorf("%s: format is not %s", name, DecisionsFormat)
		}
	}
	return nil, nil
}

// isMetadataName accepts "N.ROLE.json" and "N.ROLE.partial.json".
func isMetadataName(name string) bool {
	v, rest, ok := strings.Cut(name, ".")
	if !ok {
		return false
	}
	if _, err := strconv.ParseUint(v, 10, 63); err != nil || v[0] == '0' {
		return false
	}
	return strings.HasSuffix(rest, ".json") && len(rest) > len(".json")
}

func parseManifest(data []byte) ([]Listing, error) {
	v, err := cjson.ParseWith(data, cjson.Options{MaxDepth: 4})
	if err != nil {
		return nil, err
	}
	if string(fileForm(v)) != string(data) {
		return nil, fmt.Errorf("not in exact canonical form")
	}
	f, _ := v.Get("format")
	files, ok := v.Get("files")
	if len(v.Members()) != 2 || f.Str() != ManifestFormat || !ok || files.Kind() != cjson.Array {
		return nil, fmt.Errorf("must be {\"files\": [...], \"format\": %q}", ManifestFormat)
	}
	var out []Listing
	seen := map[string]bool{}
	for i, item := range files.Items() {
		p, _ := item.Get("path")
		s, _ := item.Get("sha256")
		n, _ := item.Get("size")
		if len(item.Members()) != 3 || p.Kind() != cjson.String || s.Kind() != cjson.String || n.Kind() != cjson.Int {
			return nil, fmt.Errorf("files[%d]: must have exactly path, sha256 and size", i)
		}
		name := p.Str()
		if !(name == DecisionsName || isMetadataName(name)) || strings.ContainsAny(name, "/\\") || seen[name] {
			return nil, fmt.Errorf("files[%d]: %q is not a file an export may hold (or is listed twice)", i, name)
		}
		seen[name] = true
		out = append(out, Listing{Name: name, Size: n.Int(), SHA256: s.Str()})
	}
	return out, nil
}
