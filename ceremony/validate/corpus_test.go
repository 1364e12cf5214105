package validate_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// The hostile corpus in testdata/hostile/ is the bundles the table tests
// build, written out so that implementations in other languages (and
// later versions of Conclave) can be checked against the same cases:
//
//	testdata/hostile/7.claimed.json      the trusted delegating metadata
//	testdata/hostile/intake-key.json     the trusted intake key
//	testdata/hostile/CASE/bundle/        the bundle as it is on the medium
//	testdata/hostile/CASE/rules.json     the validation rules (Go field names)
//	testdata/hostile/CASE/history.json   what earlier imports remembered
//	testdata/hostile/CASE/expected.json  the refusal code, or one request's
//	                                     class and codes
//
// Regenerate with CONCLAVE_WRITE_CORPUS=1 go test -run 'TestHostile' ./ceremony/validate/
// (cases with generated ECDSA or RSA keys change bytes, not verdicts).
// Cases about the medium itself (links, devices) are in cmd/conclave.

const corpusDir = "testdata/hostile"

type corpusExpect struct {
	Refused verdict.Code `json:"refused,omitempty"`
	// ID and At name the request judged: its id ("" when its line
	// cannot be read as a request) and its batch and line.
	ID    string         `json:"request_id,omitempty"`
	At    string         `json:"at,omitempty"`
	Class verdict.Class  `json:"class,omitempty"`
	Codes []verdict.Code `json:"codes,omitempty"`
}

func corpusName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, name)
}

func (e *env) saveCorpus(name string, o outcome, want corpusExpect) {
	if os.Getenv("CONCLAVE_WRITE_CORPUS") == "" {
		return
	}
	t := e.t
	if want.Refused == "" && want.At == "" {
		v, ok := o.byID[want.ID]
		if !ok {
			t.Fatalf("corpus case %s: no verdict for request %s", name, want.ID)
		}
		// The verdict names the request by id only when its line
		// was read as a request.
		want.At, want.ID = v.At(), v.RequestID
	}
	dir := filepath.Join(corpusDir, corpusName(name))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(dir, 0o755))
	must(os.WriteFile(filepath.Join(corpusDir, "7.claimed.json"), e.f.DelegatorBytes, 0o644))
	must(os.WriteFile(filepath.Join(corpusDir, "intake-key.json"), e.f.Intake.Key.Canonical(), 0o644))
	must(filepath.WalkDir(o.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(o.dir, p)
		target := filepath.Join(dir, "bundle", rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	}))
	r, _ := json.MarshalIndent(e.rules, "", "  ")
	must(os.WriteFile(filepath.Join(dir, "rules.json"), append(r, '\n'), 0o644))
	h := e.hist
	if h == nil {
		h = &history.History{}
	}
	must(os.WriteFile(filepath.Join(dir, "history.json"), h.Marshal(), 0o644))
	x, _ := json.MarshalIndent(want, "", "  ")
	must(os.WriteFile(filepath.Join(dir, "expected.json"), append(x, '\n'), 0o644))
}

// TestHostileCorpus judges every bundle in testdata/hostile/ and checks
// the verdict recorded beside it.
func TestHostileCorpus(t *testing.T) {
	delBytes, err := os.ReadFile(filepath.Join(corpusDir, "7.claimed.json"))
	if err != nil {
		t.Fatalf("the corpus is missing (%v); regenerate it, see corpus_test.go", err)
	}
	del, err := tuf.Parse("7.claimed.json", delBytes)
	if err != nil {
		t.Fatal(err)
	}
	var intakeKey *tuf.Key
	{
		f := it.New(t)
		if !reflect.DeepEqual(f.DelegatorBytes, delBytes) {
			t.Log("note: the corpus's delegating metadata differs from the fixture's; the corpus is judged on its own")
		}
		intakeKey = f.Intake.Key
	}
	cases, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(corpusDir, c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			var want corpusExpect
			readJSON(t, filepath.Join(dir, "expected.json"), &want)
			// Over the defaults: a rule added since a case was written
			// has its default value there.
			r := rules.Default()
			readJSON(t, filepath.Join(dir, "rules.json"), &r)
			hb, err := os.ReadFile(filepath.Join(dir, "history.json"))
			if err != nil {
				t.Fatal(err)
			}
			h, err := history.Parse(hb)
			if err != nil {
				t.Fatal(err)
			}
			b, err := bundle.Load(it.DirSource{Dir: filepath.Join(dir, "bundle")}, bundle.Trust{
				IntakeKeys: map[string]*tuf.Key{intakeKey.ID(): intakeKey},
				Bases:      []bundle.Base{{Role: "claimed", Version: del.Version(), SHA256: bundle.SumHex(delBytes)}},
				Rules:      r,
				Seen:       h.SeenBundle,
			})
			if want.Refused != "" {
				var be *verdict.BundleError
				if !errors.As(err, &be) || be.Code != want.Refused {
					t.Fatalf("got %v, want refusal %s", err, want.Refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range validate.Validate(validate.Input{Bundle: b, Delegators: map[string]*tuf.Targets{"claimed": del.Targets}, Rules: r, History: h, Now: it.Now}) {
				if v.At() != want.At {
					continue
				}
				if v.RequestID != want.ID {
					t.Fatalf("the verdict at %s is on request %q, want %q", want.At, v.RequestID, want.ID)
				}
				codes := v.Codes()
				if len(codes) == 0 {
					codes = nil
				}
				if v.Class != want.Class || !reflect.DeepEqual(codes, want.Codes) {
					t.Fatalf("got %s %v, want %s %v", v.Class, codes, want.Class, want.Codes)
				}
				return
			}
			t.Fatalf("no verdict at %s", want.At)
		})
	}
	if n < 60 {
		t.Fatalf("only %d cases in the corpus", n)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
