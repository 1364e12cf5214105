package intake_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

func TestNewDraftRefuses(t *testing.T) {
	k := it.Key("n1").Key
	cases := []struct {
		r    intake.Request
		want string
	}{
		{intake.Request{ID: "../x", Kind: request.Add, Project: "p", Keys: nil}, `request id "../x": an id may hold only ASCII letters, digits, ".", "_" and "-", starting with a letter or digit`},
		{intake.Request{ID: "r1", Kind: request.Add, Project: "dj\u0430ngo"}, `project "djаngo": a project name may hold only ASCII letters, digits, ".", "_" and "-" (PEP 508), and 'а' is not one of them`},
		{intake.Request{ID: "r1", Kind: request.Add, Project: "p"}, "an add request needs keys"},
		{intake.Request{ID: "r1", Kind: request.Remove, Project: "p", Keys: []*tuf.Key{k}}, "a remove request has no keys"},
		{intake.Request{ID: "r1", Kind: "takeover", Project: "p"}, `unknown request kind "takeover"`},
	}
	for _, c := range cases {
		if _, err := intake.NewDraft(c.r); err == nil || err.Error() != c.want {
			t.Errorf("NewDraft(%+v) = %v, want %q", c.r, err, c.want)
		}
	}
}

func TestSignPossessionNeedsEverySigner(t *testing.T) {
	d, err := intake.NewDraft(intake.Request{ID: "r1", Kind: request.Add, Project: "p", Keys: []*tuf.Key{it.Key("n1").Key, it.Key("n2").Key}, Threshold: 2, Made: it.Now, BaseVersion: 7})
	if err != nil {
		t.Fatal(err)
	}
	err = intake.SignPossession(d, []intake.Signer{it.Key("n1")})
	if err == nil || !strings.HasPrefix(err.Error(), "possession statement: no signer for key ") {
		t.Fatalf("got %v", err)
	}
}

// TestSignPossessionNeedsBase: a possession statement is never signed
// without the base version it is bound to.
func TestSignPossessionNeedsBase(t *testing.T) {
	d, err := intake.NewDraft(intake.Request{ID: "r1", Kind: request.Add, Project: "p", Keys: []*tuf.Key{it.Key("n1").Key}, Threshold: 1, Made: it.Now})
	if err != nil {
		t.Fatal(err)
	}
	err = intake.SignPossession(d, []intake.Signer{it.Key("n1")})
	if err == nil || err.Error() != "possession statement: no base version; it is bound to the version of the delegating metadata the request is made against" {
		t.Fatalf("got %v", err)
	}
}

func TestPackNeverReplaces(t *testing.T) {
	f := it.New(t)
	dir := filepath.Join(t.TempDir(), "bundle")
	p := f.Pack("b1", it.Files(f.Add(t, "r1", "p", "n1"))...)
	if err := p.Write(dir); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(dir); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v, want fs.ErrExist", err)
	}
}

// TestPackSpreadsLargeBundles: past MaxPerDirectory requests, Write puts
// them in numbered subdirectories (FAT32 cannot hold 100,000 names in one
// directory), the manifest lists the paths as written, and the bundle
// loads; a smaller bundle keeps the names it was given.
func TestPackSpreadsLargeBundles(t *testing.T) {
	f := it.New(t)
	n := intake.MaxPerDirectory + 1
	files := make([]intake.File, n)
	for i := range files {
		files[i] = intake.RequestFile(f.Add(t, fmt.Sprintf("r%05d", i), fmt.Sprintf("p%05d", i), "n1"))
	}
	trust := bundle.Trust{IntakeKeys: map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key}, Bases: f.Bases, Rules: f.Rules}
	for _, c := range []struct {
		files []intake.File
		dirs  map[string]int // directory → request files in it
	}{
		{files[:3], map[string]int{"requests": 3}},
		{files, map[string]int{"requests": 0, "requests/000": intake.MaxPerDirectory, "requests/001": 1}},
	} {
		dir := filepath.Join(t.TempDir(), "bundle")
		if err := f.Pack("b1", c.files...).Write(dir); err != nil {
			t.Fatal(err)
		}
		for sub, want := range c.dirs {
			entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(sub)))
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for _, e := range entries {
				if e.Type().IsRegular() {
					got++
				}
			}
			if got != want {
				t.Errorf("%d requests: %s holds %d files, want %d", len(c.files), sub, got, want)
			}
		}
		b, err := bundle.Load(it.DirSource{Dir: dir}, trust)
		if err != nil {
			t.Fatalf("%d requests: %v", len(c.files), err)
		}
		if len(b.Items) != len(c.files) {
			t.Fatalf("%d requests: loaded %d", len(c.files), len(b.Items))
		}
		for i, item := range b.Items {
			want := c.files[i].Name
			if len(c.files) > intake.MaxPerDirectory {
				want = fmt.Sprintf("requests/%03d/r%05d.json", i/intake.MaxPerDirectory, i)
			}
			if item.Path != want || item.Err != nil || item.Request.ID != fmt.Sprintf("r%05d", i) {
				t.Fatalf("%d requests: item %d is %s (%v, id %s), want %s", len(c.files), i, item.Path, item.Err, item.Request.ID, want)
			}
		}
	}
}

// TestPackRefusesClashingNames: two request files of one name, or one
// named like the bundle's own files, are refused before anything is
// written (the command line names files by their base name, so two
// "r1.json" from different directories would clash).
func TestPackRefusesClashingNames(t *testing.T) {
	f := it.New(t)
	r1 := intake.RequestFile(f.Add(t, "r1", "p1", "n1"))
	r2 := intake.RequestFile(f.Add(t, "r2", "p2", "n2"))
	for _, c := range []struct {
		files []intake.File
		want  string
	}{
		{[]intake.File{r1, {Name: r1.Name, Data: r2.Data}}, `pack: two request files are both named "requests/r1.json"; give each its own name`},
		{[]intake.File{r1, {Name: "manifest.json", Data: r2.Data}}, `pack: the manifest breaks the bundle format: files[0].path: the manifest cannot list itself`},
		{[]intake.File{{Name: intake.PublishedName, Data: r2.Data}}, `pack: a request file may not be named "published.json"; the bundle uses that name for the published state`},
	} {
		dir := filepath.Join(t.TempDir(), "bundle")
		err := f.Pack("b1", c.files...).Write(dir)
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %s", err, c.want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was created (%v)", dir, err)
		}
	}
}

// TestPackRefusesWhatImportRefuses: Write checks the manifest with the
// reader's own rules before it writes anything, and says what the reader
// would say: an id with a space, an empty source, a base version of 0, a
// base hash that is not lowercase hex, a file path with a space, a
// creation time that cannot be written. Each manifest, signed anyway, is refused by the reader as
// manifest-invalid with the same sentence.
func TestPackRefusesWhatImportRefuses(t *testing.T) {
	f := it.New(t)
	r1 := f.Add(t, "r1", "p1", "n1")
	keys := map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key}
	for _, c := range []struct {
		name   string
		change func(p *intake.Pack)
		want   string
	}{
		{"id with a space", func(p *intake.Pack) { p.BundleID = "bundle 1" }, `bundle_id: an id may hold only ASCII letters, digits, ".", "_" and "-", starting with a letter or digit`},
		{"empty source", func(p *intake.Pack) { p.Source = "" }, `source: must be the repository's name, up to 256 printable bytes`},
		{"base version 0", func(p *intake.Pack) { p.Bases[0].Version = 0 }, `bases[0].version: must be an integer of at least 1`},
		{"base hash in capitals", func(p *intake.Pack) { p.Bases[0].SHA256 = strings.ToUpper(p.Bases[0].SHA256) }, `bases[0].sha256: must be 64 lowercase hex digits`},
		{"no base", func(p *intake.Pack) { p.Bases = nil }, `bases: must name at least one base`},
		{"one role twice", func(p *intake.Pack) { p.Bases = append(p.Bases, p.Bases[0]) }, `bases[1].role: "claimed" comes after "claimed": bases are sorted by role, each role once`},
		{"path with a space", func(p *intake.Pack) { p.Requests[0].Name = "requests/r 1.json" }, `files[0].path: "requests/r 1.json" holds ' '; paths may hold only ASCII letters, digits, ".", "_", "-" and "/"`},
		{"created after 9999", func(p *intake.Pack) { p.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, `created: "10000-01-01T00:00:00Z" is not a UTC time written as 2026-01-02T15:04:05Z`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := f.Pack("b1", it.Files(r1)...)
			c.change(p)
			dir := filepath.Join(t.TempDir(), "bundle")
			err := p.Write(dir)
			if want := "pack: the manifest breaks the bundle format: " + c.want; err == nil || err.Error() != want {
				t.Errorf("got  %v\nwant %s", err, want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s was created (%v)", dir, err)
			}
			// The reader, given the same manifest signed, refuses it
			// with the same words.
			m := &bundle.Manifest{BundleID: p.BundleID, Source: p.Source, Created: p.Created, Bases: p.Bases}
			for _, r := range p.Requests {
				m.Files = append(m.Files, bundle.Entry{Path: r.Name, Kind: bundle.KindRequest, Size: int64(len(r.Data)), SHA256: bundle.SumHex(r.Data)})
			}
			data, err := bundle.SignManifest(m, func(e *envelope.Envelope) error { return intake.SignEnvelope(e, f.Intake) })
			if err != nil {
				t.Fatal(err)
			}
			_, err = bundle.OpenManifest(data, keys, bundle.ManifestLimits{})
			var be *verdict.BundleError
			if !errors.As(err, &be) || be.Code != verdict.ManifestInvalid || be.Sentence != "the manifest breaks the bundle format: "+c.want {
				t.Errorf("reader: got %v, want %s: the manifest breaks the bundle format: %s", err, verdict.ManifestInvalid, c.want)
			}
		})
	}
}

// TestDocsExampleBundleManifest: the worked example's manifest
// (docs/formats/examples/bundle) is the manifest of its files, made
// against examples/7.claimed.json and signed by the fixture's intake key
// (the public key in examples/intake-key.json). CONCLAVE_WRITE_EXAMPLES=1
// writes it anew.
func TestDocsExampleBundleManifest(t *testing.T) {
	const examples = "../docs/formats/examples"
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(examples, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	claimed := read("7.claimed.json")
	del, err := tuf.Parse("7.claimed.json", claimed)
	if err != nil {
		t.Fatal(err)
	}
	m := &bundle.Manifest{
		BundleID: "2026-11-24-0001", Source: "example.org", Created: time.Date(2026, 11, 24, 11, 30, 0, 0, time.UTC),
		Bases: []bundle.Base{{Role: "claimed", Version: del.Version(), SHA256: bundle.SumHex(claimed)}},
	}
	for _, f := range []struct{ path, kind string }{
		{"requests/req-0001.json", bundle.KindRequest},
		{"requests/req-0002.json", bundle.KindRequest},
		{"requests/req-0003.json", bundle.KindRequest},
		{"published.json", bundle.KindPublished},
	} {
		data := read("bundle/" + f.path)
		m.Files = append(m.Files, bundle.Entry{Path: f.path, Kind: f.kind, Size: int64(len(data)), SHA256: bundle.SumHex(data)})
	}
	want, err := bundle.SignManifest(m, func(e *envelope.Envelope) error { return intake.SignEnvelope(e, it.Key("intake")) })
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(examples, "bundle", bundle.ManifestName)
	if os.Getenv("CONCLAVE_WRITE_EXAMPLES") != "" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := read("bundle/" + bundle.ManifestName); string(got) != string(want) {
		t.Errorf("%s is not the manifest of the example's files; CONCLAVE_WRITE_EXAMPLES=1 writes it anew:\n%s", path, want)
	}
}
