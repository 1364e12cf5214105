package intake_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
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
	p := f.Pack("b1", it.Lines(f.Add(t, "r1", "p", "n1"))...)
	if err := p.Write(dir); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(dir); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v, want fs.ErrExist", err)
	}
}

// TestPackBatches: Write cuts the requests into batch files of at most
// MaxBatchRequests lines and MaxBatchSize bytes, in their order, named
// requests/NNNN.jsonl; the bundle loads back with each request at its
// batch and line.
func TestPackBatches(t *testing.T) {
	f := it.New(t)
	lines := make([][]byte, 7)
	for i := range lines {
		lines[i] = f.Add(t, fmt.Sprintf("r%05d", i), fmt.Sprintf("p%05d", i), "n1").Encode()
	}
	size := int64(len(lines[0]) + 1) // every line is as long as the first
	for _, l := range lines {
		if int64(len(l)+1) != size {
			t.Fatalf("lines of %d and %d bytes", len(l)+1, size)
		}
	}
	trust := bundle.Trust{IntakeKeys: map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key}, Bases: f.Bases, Rules: f.Rules}
	for _, c := range []struct {
		name    string
		maxN    int
		maxSize int64
		batches []int // lines per batch
	}{
		{"defaults", 0, 0, []int{7}},
		{"by count", 3, 0, []int{3, 3, 1}},
		{"by size", 0, 2*size + size/2, []int{2, 2, 2, 1}},
		{"by both", 1, 2 * size, []int{1, 1, 1, 1, 1, 1, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			p := f.Pack("b1", lines...)
			p.MaxBatchRequests, p.MaxBatchSize = c.maxN, c.maxSize
			if err := p.Write(dir); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(filepath.Join(dir, "requests"))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(c.batches) {
				t.Fatalf("%d batch files, want %d", len(entries), len(c.batches))
			}
			b, err := bundle.Load(it.DirSource{Dir: dir}, trust)
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for n, count := range c.batches {
				name := fmt.Sprintf("requests/%04d.jsonl", n+1)
				if entries[n].Name() != path.Base(name) {
					t.Errorf("batch %d is %s, want %s", n+1, entries[n].Name(), name)
				}
				for line := 1; line <= count; line++ {
					item := b.Items[i]
					if item.At() != fmt.Sprintf("%s:%d", name, line) || item.Err != nil || item.Request.ID != fmt.Sprintf("r%05d", i) {
						t.Fatalf("item %d is at %s (%v), want r%05d at %s:%d", i, item.At(), item.Err, i, name, line)
					}
					i++
				}
			}
			if i != len(b.Items) {
				t.Fatalf("%d items, want %d", len(b.Items), i)
			}
		})
	}
}

// TestBatchName: four digits, or as many as the count has, so that the
// names sort in batch order.
func TestBatchName(t *testing.T) {
	for _, c := range []struct {
		n, count int
		want     string
	}{
		{1, 1, "requests/0001.jsonl"},
		{25, 25, "requests/0025.jsonl"},
		{9999, 9999, "requests/9999.jsonl"},
		{7, 10000, "requests/00007.jsonl"},
	} {
		if got := intake.BatchName(c.n, c.count); got != c.want {
			t.Errorf("BatchName(%d, %d) = %s, want %s", c.n, c.count, got, c.want)
		}
	}
}

// TestPackRefusesBrokenLines: a request that is not one line, or that
// no batch can hold, is refused before anything is written.
func TestPackRefusesBrokenLines(t *testing.T) {
	f := it.New(t)
	r1 := f.Add(t, "r1", "p1", "n1").Encode()
	for _, c := range []struct {
		name     string
		requests [][]byte
		maxSize  int64
		want     string
	}{
		{"empty", [][]byte{r1, {}}, 0, "pack: request 2 is empty"},
		{"a line end", [][]byte{append(append([]byte{}, r1...), '\n')}, 0, "pack: request 1 holds a line end; a request is one line of its batch (request.Draft.Encode writes it so)"},
		{"a carriage return", [][]byte{append(append([]byte{}, r1...), '\r')}, 0, "pack: request 1 holds a line end; a request is one line of its batch (request.Draft.Encode writes it so)"},
		{"larger than a batch", [][]byte{r1}, int64(len(r1)), fmt.Sprintf("pack: request 1 is %d bytes long; with its newline it does not fit a batch of at most %d bytes", len(r1), len(r1))},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			p := f.Pack("b1", c.requests...)
			p.MaxBatchSize = c.maxSize
			err := p.Write(dir)
			if err == nil || err.Error() != c.want {
				t.Errorf("got  %v\nwant %s", err, c.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s was created (%v)", dir, err)
			}
		})
	}
}

// TestPackRefusesWhatImportRefuses: Write checks the manifest with the
// reader's own rules before it writes anything, and says what the reader
// would say: an id with a space, an empty source, a base version of 0, a
// base hash that is not lowercase hex, a
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
		{"created after 9999", func(p *intake.Pack) { p.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, `created: "10000-01-01T00:00:00Z" is not a UTC time written as 2026-01-02T15:04:05Z`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := f.Pack("b1", it.Lines(r1)...)
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
			batch := append(bytes.Join(p.Requests, []byte("\n")), '\n')
			m.Files = append(m.Files, bundle.Entry{Path: intake.BatchName(1, 1), Kind: bundle.KindBatch, Size: int64(len(batch)), SHA256: bundle.SumHex(batch)})
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
		{"requests/0001.jsonl", bundle.KindBatch},
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
