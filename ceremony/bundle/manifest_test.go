package bundle

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

func sampleManifest() *Manifest {
	return &Manifest{
		BundleID: "b-1",
		Source:   "example.org",
		Created:  time.Date(2026, 11, 24, 11, 30, 0, 0, time.UTC),
		Bases: []Base{
			{Role: "claimed-a", Version: 7, SHA256: strings.Repeat("ab", 32)},
			{Role: "claimed-b", Version: 3, SHA256: strings.Repeat("cd", 32)},
		},
		Files: []Entry{
			{Path: "requests/0001.jsonl", Kind: KindBatch, Size: 10, SHA256: strings.Repeat("01", 32)},
			{Path: "published.json", Kind: KindPublished, Size: 0, SHA256: strings.Repeat("02", 32)},
		},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := sampleManifest()
	got, err := parseManifest(m.Encode(), ManifestLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n%+v\n%+v", got, m)
	}
}

func TestManifestErrors(t *testing.T) {
	enc := string(sampleManifest().Encode())
	basesJSON := enc[strings.Index(enc, `[`) : strings.Index(enc, `],"bundle_id"`)+1]
	cases := []struct{ name, in, msg string }{
		{"unknown member", strings.Replace(enc, `{"bases"`, `{"admin":true,"bases"`, 1), "admin: is not a member the manifest may have"},
		{"missing", strings.Replace(enc, `,"source":"example.org"`, ``, 1), "source: is missing"},
		{"dot-dot", strings.Replace(enc, "requests/0001.jsonl", "requests/../../r1.json", 1), `files[0].path: "requests/../../r1.json" is not a safe relative path (no empty parts, none starting with ".", no "..", not absolute)`},
		{"hidden", strings.Replace(enc, "requests/0001.jsonl", "requests/.r1.json", 1), `files[0].path: "requests/.r1.json" is not a safe relative path (no empty parts, none starting with ".", no "..", not absolute)`},
		{"absolute", strings.Replace(enc, "requests/0001.jsonl", "/r1.json", 1), `files[0].path: "/r1.json" is not a safe relative path (no empty parts, none starting with ".", no "..", not absolute)`},
		{"backslash", strings.Replace(enc, "requests/0001.jsonl", `requests\\r1.json`, 1), `files[0].path: "requests\\r1.json" holds '\\'; paths may hold only ASCII letters, digits, ".", "_", "-" and "/"`},
		{"twice", strings.Replace(enc, "published.json", "requests/0001.jsonl", 1), `files[1].path: "requests/0001.jsonl" is listed twice`},
		{"one file on a stick", strings.Replace(enc, "published.json", "Requests/0001.jsonl", 1), `files[1].path: "requests/0001.jsonl" and "Requests/0001.jsonl" are one file on FAT32 and exFAT media, which ignore the case of names`},
		{"kind", strings.Replace(enc, `"kind":"batch"`, `"kind":"script"`, 1), `files[0].kind: is "script"; it must be "batch" or "published-state"`},
		{"the old per-request file", strings.Replace(enc, `"kind":"batch"`, `"kind":"request"`, 1), `files[0].kind: is "request"; it must be "batch" or "published-state"`},
		{"empty batch", strings.Replace(strings.Replace(enc, `"size":10`, `"size":0`, 1), `"size":0`, `"size":0`, 1), `files[0].size: the batch "requests/0001.jsonl" is listed as empty; a batch holds at least one request`},
		{"negative size", strings.Replace(enc, `"size":10`, `"size":-1`, 1), "files[0].size: must be an integer of at least 0"},
		{"upper-case hash", strings.Replace(enc, strings.Repeat("01", 32), strings.Repeat("AB", 32), 1), "files[0].sha256: must be 64 lowercase hex digits"},
		{"version 0", strings.Replace(enc, `"version":7`, `"version":0`, 1), "bases[0].version: must be an integer of at least 1"},
		{"the old single base", strings.Replace(enc, `"bases":`+basesJSON, `"base":{"role":"claimed","sha256":"`+strings.Repeat("ab", 32)+`","version":7}`, 1), "base: is not a member the manifest may have"},
		{"no base", strings.Replace(enc, basesJSON, `[]`, 1), "bases: must name at least one base"},
		{"not a list", strings.Replace(enc, basesJSON, `{}`, 1), "bases: must be an array, not an object"},
		{"unsorted", strings.Replace(enc, `"claimed-b"`, `"claimed-0"`, 1), `bases[1].role: "claimed-0" comes after "claimed-a": bases are sorted by role, each role once`},
		{"role twice", strings.Replace(enc, `"claimed-b"`, `"claimed-a"`, 1), `bases[1].role: "claimed-a" comes after "claimed-a": bases are sorted by role, each role once`},
		{"empty role", strings.Replace(enc, `"claimed-a"`, `""`, 1), `bases[0].role: is empty`},
		{"base member unknown", strings.Replace(enc, `{"role":"claimed-b"`, `{"path":"x","role":"claimed-b"`, 1), `bases[1].path: is not a member the manifest may have`},
		{"format", strings.Replace(enc, Format, "conclave-bundle/9", 1), `format: is "conclave-bundle/9"; this version of Conclave reads "conclave-bundle/1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseManifest([]byte(c.in), ManifestLimits{})
			if err == nil || err.Error() != c.msg {
				t.Fatalf("got %v\nwant %s", err, c.msg)
			}
		})
	}
}

func TestManifestLimits(t *testing.T) {
	enc := sampleManifest().Encode()
	_, err := parseManifest(enc, ManifestLimits{MaxFiles: 1})
	var le *limitError
	if !errors.As(err, &le) || err.Error() != "the manifest lists 2 files; at most 1 are allowed" {
		t.Fatalf("file count: %v", err)
	}
	_, err = parseManifest(enc, ManifestLimits{MaxBatchSize: 9})
	if !errors.As(err, &le) || err.Error() != `files[0]: the batch "requests/0001.jsonl" is listed as 10 bytes; at most 9 are allowed per batch (bundle_limits.max_batch_size)` {
		t.Fatalf("file size: %v", err)
	}
}

func TestPublished(t *testing.T) {
	id := strings.Repeat("a", 64)
	ps := map[string]request.Keyset{"foo-bar": request.NewKeyset([]string{id}, 1)}
	got, err := ParsePublished(EncodePublished(ps), 8, 128)
	if err != nil || !reflect.DeepEqual(got, ps) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	_, err = ParsePublished([]byte(`{"format":"conclave-published/1","projects":{"Foo_Bar":{"keyids":["`+id+`"],"threshold":1}}}`), 8, 128)
	if err == nil || err.Error() != `projects.Foo_Bar: project names must be written normalised (PEP 503)` {
		t.Fatalf("not normalised: %v", err)
	}
}

// FuzzParseManifest: never panics; what is accepted is exactly the
// encoding of what was read, and parses to the same value again.
func FuzzParseManifest(f *testing.F) {
	f.Add(sampleManifest().Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data, ManifestLimits{MaxFiles: 100, MaxBatchSize: 1 << 20, MaxTotal: 1 << 22})
		if err != nil {
			return
		}
		if string(m.Encode()) != string(data) {
			t.Fatalf("accepted %q, which is not its canonical encoding %q", data, m.Encode())
		}
		again, err := parseManifest(m.Encode(), ManifestLimits{MaxFiles: 100, MaxBatchSize: 1 << 20, MaxTotal: 1 << 22})
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip: %+v %v", again, err)
		}
	})
}

// FuzzParsePublished: never panics; accepted states round-trip.
func FuzzParsePublished(f *testing.F) {
	f.Add(EncodePublished(map[string]request.Keyset{"a": request.NewKeyset([]string{strings.Repeat("0", 64)}, 1)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParsePublished(data, 8, 128)
		if err != nil {
			return
		}
		again, err := ParsePublished(EncodePublished(ps), 8, 128)
		if err != nil || !reflect.DeepEqual(again, ps) {
			t.Fatalf("round trip: %v %v", again, err)
		}
	})
}

// TestMatchBases: a bundle must name exactly the trusted bases; the
// refusal names the first role, in role order, where they differ.
func TestMatchBases(t *testing.T) {
	a := Base{Role: "claimed-a", Version: 7, SHA256: strings.Repeat("ab", 32)}
	b := Base{Role: "claimed-b", Version: 3, SHA256: strings.Repeat("cd", 32)}
	c := Base{Role: "claimed-c", Version: 1, SHA256: strings.Repeat("ef", 32)}
	oldB := b
	oldB.Version = 2
	trusted := []Base{a, b, c}
	for _, tc := range []struct {
		name string
		got  []Base
		want string
	}{
		{"exact", []Base{a, b, c}, ""},
		{"an older shard", []Base{a, oldB, c}, "the requests were made against claimed-b version 2 (SHA-256 cdcdcdcd…cdcdcdcd), but the trusted claimed-b is version 3 (SHA-256 cdcdcdcd…cdcdcdcd): the repository must make the bundle again against the current metadata"},
		{"a shard missing", []Base{a, c}, "the bundle names no base for role claimed-b, which this ceremony signs (version 3, SHA-256 cdcdcdcd…cdcdcdcd): the repository must make the bundle again against the current metadata of every role"},
		{"the last shard missing", []Base{a, b}, "the bundle names no base for role claimed-c, which this ceremony signs (version 1, SHA-256 efefefef…efefefef): the repository must make the bundle again against the current metadata of every role"},
		{"a role not signed", []Base{a, {Role: "claimed-a2", Version: 1, SHA256: a.SHA256}, b, c}, `the requests were made against role "claimed-a2", which this ceremony does not sign (it signs "claimed-a", "claimed-b", "claimed-c"): the repository must make the bundle again against the current metadata`},
		{"a role after the last", []Base{a, b, c, {Role: "claimed-d\x1b", Version: 1, SHA256: a.SHA256}}, `the requests were made against role "claimed-d\x1b", which this ceremony does not sign (it signs "claimed-a", "claimed-b", "claimed-c"): the repository must make the bundle again against the current metadata`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := matchBases(tc.got, trusted)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var be *verdict.BundleError
			if !errors.As(err, &be) || be.Code != verdict.BundleBaseMismatch || be.Sentence != tc.want {
				t.Fatalf("got  %v\nwant %s: %s", err, verdict.BundleBaseMismatch, tc.want)
			}
		})
	}
}
