package bundle

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/request"
)

func sampleManifest() *Manifest {
	return &Manifest{
		BundleID: "b-1",
		Source:   "example.org",
		Created:  time.Date(2026, 11, 24, 11, 30, 0, 0, time.UTC),
		Base:     Base{Role: "claimed", Version: 7, SHA256: strings.Repeat("ab", 32)},
		Files: []Entry{
			{Path: "requests/r1.json", Kind: KindRequest, Size: 10, SHA256: strings.Repeat("01", 32)},
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
	cases := []struct{ name, in, msg string }{
		{"unknown member", strings.Replace(enc, `{"base"`, `{"admin":true,"base"`, 1), "admin: is not a member the manifest may have"},
		{"missing", strings.Replace(enc, `,"source":"example.org"`, ``, 1), "source: is missing"},
		{"dot-dot", strings.Replace(enc, "requests/r1.json", "requests/../../r1.json", 1), `files[0].path: "requests/../../r1.json" is not a safe relative path (no empty parts, none starting with ".", no "..", not absolute)`},
		{"hidden", strings.Replace(enc, "requests/r1.json", "requests/.r1.json", 1), `files[0].path: "requests/.r1.json" is not a safe relative path (no empty parts, none starting with ".", no "..", not absolute)`},
		{"absolute", strings.Replace(enc, "requests/r1.json", "/r1.json", 1), `files[0].path: "/r1.json" is not a safe relative path (no empty parts, none starting with ".", no "..", not absolute)`},
		{"backslash", strings.Replace(enc, "requests/r1.json", `requests\\r1.json`, 1), `files[0].path: "requests\\r1.json" holds '\\'; paths may hold only ASCII letters, digits, ".", "_", "-" and "/"`},
		{"twice", strings.Replace(enc, "published.json", "requests/r1.json", 1), `files[1].path: "requests/r1.json" is listed twice`},
		{"kind", strings.Replace(enc, `"kind":"request"`, `"kind":"script"`, 1), `files[0].kind: is "script"; it must be "request" or "published-state"`},
		{"negative size", strings.Replace(enc, `"size":10`, `"size":-1`, 1), "files[0].size: must be an integer of at least 0"},
		{"upper-case hash", strings.Replace(enc, strings.Repeat("01", 32), strings.Repeat("AB", 32), 1), "files[0].sha256: must be 64 lowercase hex digits"},
		{"version 0", strings.Replace(enc, `"version":7`, `"version":0`, 1), "base.version: must be an integer of at least 1"},
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
	_, err = parseManifest(enc, ManifestLimits{MaxFileSize: 9})
	if !errors.As(err, &le) || err.Error() != `files[0]: "requests/r1.json" is listed as 10 bytes; at most 9 are allowed per file` {
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
		m, err := parseManifest(data, ManifestLimits{MaxFiles: 100, MaxFileSize: 1 << 20, MaxTotal: 1 << 22})
		if err != nil {
			return
		}
		if string(m.Encode()) != string(data) {
			t.Fatalf("accepted %q, which is not its canonical encoding %q", data, m.Encode())
		}
		again, err := parseManifest(m.Encode(), ManifestLimits{MaxFiles: 100, MaxFileSize: 1 << 20, MaxTotal: 1 << 22})
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
