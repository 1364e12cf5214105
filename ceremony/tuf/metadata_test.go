package tuf

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sslcjson "github.com/secure-systems-lab/go-securesystemslib/cjson"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// Keyids of the two keys in testdata/roundtrip (ed25519 with extra fields,
// ECDSA P-256), computed by the script that wrote those files.
const (
	rtKeyEd = "b8c24051c36f061091f012ce0b0fc772e4d4e894c1ece597264b1893a564dbe3"
	rtKeyEC = "1a745683e76b2f80e1aa58ca5c9259e9c752c66f47ef0a5833c36a0b8bd31da3"
)

func readTestdata(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadDoc decodes testdata/roundtrip/NAME.json generically, to be changed
// and written again with encoding/json.
func loadDoc(t *testing.T, name string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(readTestdata(t, "roundtrip", name+".json")))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// at walks into a generic document by member names and array indices.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch p := p.(type) {
		case string:
			v = v.(map[string]any)[p]
		case int:
			v = v.([]any)[p]
		}
		if v == nil {
			t.Fatalf("nothing at %v", path)
		}
	}
	return v
}

func obj(t *testing.T, v any, path ...any) map[string]any {
	t.Helper()
	return at(t, v, path...).(map[string]any)
}

func marshal(t *testing.T, doc any) []byte {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// offsetAfter is the byte offset just after the one occurrence of marker.
func offsetAfter(t *testing.T, doc []byte, marker string) int {
	t.Helper()
	if n := bytes.Count(doc, []byte(marker)); n != 1 {
		t.Fatalf("%q occurs %d times", marker, n)
	}
	return bytes.Index(doc, []byte(marker)) + len(marker)
}

func TestParseFieldErrors(t *testing.T) {
	const pre = ": malformed metadata: "
	for _, tc := range []struct {
		name, file string
		change     func(t *testing.T, doc map[string]any)
		want       string
	}{
		{"delegated threshold 0", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 3)["threshold"] = 0
		}, "signed.delegations.roles[3].threshold: must be at least 1, not 0"},
		{"delegated threshold negative", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 3)["threshold"] = -1
		}, "signed.delegations.roles[3].threshold: must be at least 1, not -1"},
		{"delegated threshold string", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 3)["threshold"] = "1"
		}, "signed.delegations.roles[3].threshold: must be an integer, not a string"},
		{"role delegated twice", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 1)["name"] = "proj-a"
		}, `signed.delegations.roles[1].name: role "proj-a" is delegated twice`},
		{"paths and prefixes", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 0)["path_hash_prefixes"] = []string{"00"}
		}, "signed.delegations.roles[0]: has both paths and path_hash_prefixes; exactly one is allowed"},
		{"neither paths nor prefixes", "targets", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed", "delegations", "roles", 0), "paths")
		}, "signed.delegations.roles[0]: has neither paths nor path_hash_prefixes; exactly one is required"},
		{"prefix not hex", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 2)["path_hash_prefixes"] = []string{"00", "0g"}
		}, `signed.delegations.roles[2].path_hash_prefixes[1]: "0g" is not a hex prefix`},
		{"empty role name", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 0)["name"] = ""
		}, "signed.delegations.roles[0].name: must not be empty"},
		{"keyid listed twice", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 1)["keyids"] = []string{rtKeyEd, rtKeyEC, rtKeyEd}
		}, "signed.delegations.roles[1].keyids[2]: keyid " + rtKeyEd + " is listed twice"},
		{"terminating missing", "targets", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed", "delegations", "roles", 0), "terminating")
		}, "signed.delegations.roles[0].terminating: is missing"},
		{"path not a string", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 0)["paths"] = []any{1}
		}, "signed.delegations.roles[0].paths[0]: must be a string, not an integer"},
		{"delegated role not an object", "targets", func(t *testing.T, d map[string]any) {
			at(t, d, "signed", "delegations", "roles").([]any)[2] = []any{}
		}, "signed.delegations.roles[2]: must be an object, not an array"},
		{"roles and succinct_roles", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations")["succinct_roles"] = map[string]any{}
		}, "signed.delegations: has both roles and succinct_roles; exactly one is allowed"},
		{"neither roles nor succinct_roles", "targets", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed", "delegations"), "roles")
		}, "signed.delegations: has neither roles nor succinct_roles; exactly one is required"},
		{"delegation keys missing", "targets", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed", "delegations"), "keys")
		}, "signed.delegations.keys: is missing"},
		{"bad delegated key", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "keys", rtKeyEd, "keyval")["public"] = "zz"
		}, "signed.delegations.keys." + rtKeyEd + ": keyval.public: invalid key: an ed25519 public key must be 32 bytes as lowercase hex"},
		{"negative target length", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "targets", "files/a.txt")["length"] = -1
		}, `signed.targets["files/a.txt"].length: must not be negative`},
		{"hash not a string", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "targets", "files/a.txt", "hashes")["sha256"] = 5
		}, `signed.targets["files/a.txt"].hashes.sha256: must be a string, not an integer`},
		{"hashes missing", "targets", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed", "targets", "files/b b.txt"), "hashes")
		}, `signed.targets["files/b b.txt"].hashes: is missing`},
		{"hashes empty", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "targets", "files/b b.txt")["hashes"] = map[string]any{}
		}, `signed.targets["files/b b.txt"].hashes: must list at least one hash`},
		{"targets missing", "targets", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed"), "targets")
		}, "signed.targets: is missing"},
		{"unknown _type", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["_type"] = "Targets"
		}, `signed._type: "Targets" is not a TUF role type (root, targets, snapshot or timestamp)`},
		{"_type missing", "targets", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed"), "_type")
		}, "signed._type: is missing or not a string"},
		{"_type not a string", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["_type"] = 1
		}, "signed._type: is missing or not a string"},
		{"targets as root", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["_type"] = "root"
		}, "signed.keys: is missing"},
		{"spec_version 2", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["spec_version"] = "2.0.0"
		}, `signed.spec_version: "2.0.0" is not a 1.x version of the TUF specification`},
		{"version 0", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["version"] = 0
		}, "signed.version: must be at least 1, not 0"},
		{"version missing", "targets", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed"), "version")
		}, "signed.version: is missing"},
		{"expires not a time", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["expires"] = "2030-13-01T00:00:00Z"
		}, `signed.expires: "2030-13-01T00:00:00Z" is not an RFC 3339 time, such as 2027-01-01T00:00:00Z`},
		{"expires a date", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["expires"] = "2030-01-01"
		}, `signed.expires: "2030-01-01" is not an RFC 3339 time, such as 2027-01-01T00:00:00Z`},
		{"expires with a comma", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["expires"] = "2030-01-01T00:00:00,5Z"
		}, `signed.expires: "2030-01-01T00:00:00,5Z" is not an RFC 3339 time, such as 2027-01-01T00:00:00Z`},
		{"expires offset hour 24", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["expires"] = "2030-01-01T00:00:00+24:00"
		}, `signed.expires: "2030-01-01T00:00:00+24:00" is not an RFC 3339 time, such as 2027-01-01T00:00:00Z`},
		{"expires without zone", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["expires"] = "2030-01-01T00:00:00"
		}, `signed.expires: "2030-01-01T00:00:00" is not an RFC 3339 time, such as 2027-01-01T00:00:00Z`},
		{"expires a number", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["expires"] = 5
		}, "signed.expires: must be a string, not an integer"},
		{"duplicate signature keyid", "targets", func(t *testing.T, d map[string]any) {
			obj(t, d, "signatures", 1)["keyid"] = rtKeyEd
		}, "signatures[1].keyid: keyid " + rtKeyEd + " has more than one signature"},
		{"signature without sig", "targets", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signatures", 0), "sig")
		}, "signatures[0].sig: is missing"},
		{"signature not an object", "targets", func(t *testing.T, d map[string]any) {
			d["signatures"] = []any{"x"}
		}, "signatures[0]: must be an object, not a string"},
		{"signatures not an array", "targets", func(t *testing.T, d map[string]any) {
			d["signatures"] = map[string]any{}
		}, "signatures: must be an array, not an object"},
		{"signatures missing", "targets", func(t *testing.T, d map[string]any) {
			delete(d, "signatures")
		}, "signatures: is missing"},
		{"signed not an object", "targets", func(t *testing.T, d map[string]any) {
			d["signed"] = []any{}
		}, "signed: must be an object, not an array"},
		{"bit_length 0", "succinct", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "succinct_roles")["bit_length"] = 0
		}, "signed.delegations.succinct_roles.bit_length: must be between 1 and 32, not 0"},
		{"bit_length 33", "succinct", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "succinct_roles")["bit_length"] = 33
		}, "signed.delegations.succinct_roles.bit_length: must be between 1 and 32, not 33"},
		{"succinct threshold 0", "succinct", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "succinct_roles")["threshold"] = 0
		}, "signed.delegations.succinct_roles.threshold: must be at least 1, not 0"},
		{"succinct name_prefix missing", "succinct", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed", "delegations", "succinct_roles"), "name_prefix")
		}, "signed.delegations.succinct_roles.name_prefix: is missing"},
		{"root role missing", "root", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed", "roles"), "timestamp")
		}, "signed.roles.timestamp: is missing (root must name the timestamp role)"},
		{"root threshold 0", "root", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "roles", "root")["threshold"] = 0
		}, "signed.roles.root.threshold: must be at least 1, not 0"},
		{"root role keyids missing", "root", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed", "roles", "snapshot"), "keyids")
		}, "signed.roles.snapshot.keyids: is missing"},
		{"consistent_snapshot string", "root", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["consistent_snapshot"] = "yes"
		}, "signed.consistent_snapshot: must be a boolean, not a string"},
		{"root keys missing", "root", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed"), "keys")
		}, "signed.keys: is missing"},
		{"root key wrong scheme", "root", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "keys", rtKeyEC)["scheme"] = SchemeECDSAP384
		}, "signed.keys." + rtKeyEC + ": keyval.public: invalid key: key is on curve P-256 but the scheme needs P-384"},
		{"snapshot meta version 0", "snapshot", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "meta", "targets.json")["version"] = 0
		}, `signed.meta["targets.json"].version: must be at least 1, not 0`},
		{"snapshot meta length string", "snapshot", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "meta", "targets.json")["length"] = "100"
		}, `signed.meta["targets.json"].length: must be an integer, not a string`},
		{"snapshot meta not an object", "snapshot", func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "meta")["proj-a.json"] = 1
		}, `signed.meta["proj-a.json"]: must be an object, not an integer`},
		{"timestamp meta missing", "timestamp", func(t *testing.T, d map[string]any) {
			delete(obj(t, d, "signed"), "meta")
		}, "signed.meta: is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := loadDoc(t, tc.file)
			tc.change(t, doc)
			f, err := Parse(tc.file+".json", marshal(t, doc))
			if err == nil {
				t.Fatalf("accepted: %s", f.SignedBytes())
			}
			wantErr(t, err, ErrMalformed, tc.file+".json"+pre+tc.want)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is %T, not a *FieldError", err)
			}
		})
	}
}

// TestParseSyntaxErrors checks the rules canonical JSON adds, at the JSON
// path of a metadata file: the error names the file, the path and the rule.
func TestParseSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, doc map[string]any)
		raw    func(doc []byte) []byte // textual change after marshalling
		marker string                  // the error is at the byte after it (for a duplicate: the object's end)
		back   int                     // … or this many bytes before that
		want   string
	}{
		{name: "fraction", change: func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "delegations", "roles", 3)["threshold"] = json.Number("1.0")
		}, marker: `"threshold":1.0`, back: 3, want: "signed.delegations.roles[3].threshold (at byte %d): number 1.0 is not an integer (canonical JSON allows integers only)"},
		{name: "exponent", change: func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["version"] = json.Number("1e3")
		}, marker: `"version":`, want: "signed.version (at byte %d): number 1e3 is not an integer (canonical JSON allows integers only)"},
		{name: "negative zero", change: func(t *testing.T, d map[string]any) {
			obj(t, d, "signed", "targets", "files/b b.txt")["length"] = json.Number("-0")
		}, marker: `"length":-0`, back: 2, want: `signed.targets["files/b b.txt"].length (at byte %d): number -0 is not allowed (canonical JSON encoders disagree about it)`},
		{name: "out of range", change: func(t *testing.T, d map[string]any) {
			obj(t, d, "signed")["version"] = json.Number("9223372036854775808")
		}, marker: `"version":`, want: "signed.version (at byte %d): integer 9223372036854775808 is out of range (at most 64 bits)"},
		{name: "duplicate member", raw: func(doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"x-signed":"s"`), []byte(`"x-signed":"s","x-signed":"t"`), 1)
		}, marker: `"x-signed":"t"}`, want: "signed.x-signed (at byte %d): duplicate member name \"x-signed\""},
		{name: "duplicate signed", raw: func(doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"x-top":1`), []byte(`"x-top":1,"signed":{}`), 1)
		}, marker: `"signed":{}}`, want: "signed (at byte %d): duplicate member name \"signed\""},
		{name: "invalid utf-8", raw: func(doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"x-signed":"s"`), []byte("\"x-signed\":\"s\xff\""), 1)
		}, marker: `"x-signed":"s`, want: "signed.x-signed (at byte %d): string is not valid UTF-8"},
		{name: "lone surrogate", raw: func(doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"x-signed":"s"`), []byte(`"x-signed":"\udead"`), 1)
		}, marker: `"x-signed":"\udead`, want: "signed.x-signed (at byte %d): \\u escape is a lone UTF-16 surrogate (not valid Unicode)"},
		{name: "trailing data", raw: func(doc []byte) []byte {
			return append(doc, "\n{}"...)
		}, marker: "\n", want: "at byte %d: unexpected data after the end of the JSON value"},
		{name: "deep nesting", raw: func(doc []byte) []byte {
			deep := strings.Repeat("[", 70) + strings.Repeat("]", 70)
			return bytes.Replace(doc, []byte(`"x-signed":"s"`), []byte(`"x-signed":`+deep), 1)
		}, marker: `"x-signed":` + strings.Repeat("[", 62), want: "signed.x-signed" + strings.Repeat("[0]", 62) + " (at byte %d): nested more than 64 levels deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := loadDoc(t, "targets")
			if tc.change != nil {
				tc.change(t, d)
			}
			doc := marshal(t, d)
			if tc.raw != nil {
				doc = tc.raw(doc)
			}
			var off int
			if tc.marker == "\n" {
				off = bytes.IndexByte(doc, '\n') + 1
			} else {
				off = offsetAfter(t, doc, tc.marker) - tc.back
			}
			_, err := Parse("targets.json", doc)
			wantErr(t, err, ErrMalformed, "targets.json: malformed metadata: "+strings.Replace(tc.want, "%d", strconv.Itoa(off), 1))
			var se *cjson.SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("error is %T, not a *cjson.SyntaxError", err)
			}
		})
	}
	_, err := Parse("x.json", []byte(`[]`))
	wantErr(t, err, ErrMalformed, "x.json: malformed metadata: must be an object, not an array")
}

// TestRoundTrip reads files with unknown fields at every level (x-… at the
// top, in signed, in keys and keyval, in root's roles, delegations,
// delegated roles, succinct_roles, targets entries, meta entries and
// signatures) and checks that the typed value writes them all back.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"root", "targets", "succinct", "snapshot", "timestamp"} {
		t.Run(name, func(t *testing.T) {
			in := readTestdata(t, "roundtrip", name+".json")
			// Written by an independent canonical encoder (Python, in the
			// script that made these files).
			want := readTestdata(t, "roundtrip", name+".signed.canonical")
			// And by securesystemslib's Go encoder.
			var doc map[string]any
			dec := json.NewDecoder(bytes.NewReader(in))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if ref, err := sslcjson.EncodeCanonical(doc["signed"]); err != nil || !bytes.Equal(ref, want) {
				t.Fatalf("securesystemslib disagrees with the testdata: %v\n%q", err, ref)
			}
			f := mustParse(t, name+".json", in)
			if !bytes.Equal(f.SignedBytes(), want) {
				t.Fatalf("SignedBytes()\n got %q\nwant %q", f.SignedBytes(), want)
			}
			got, err := f.EncodeSigned()
			if err != nil {
				t.Fatal(err)
			}
			// The typed value writes everything back, but the expiry only
			// ever in the canonical form.
			wantEncoded := string(want)
			if read := f.Expires().NonCanonical(); read != "" {
				wantEncoded = replaceOnce(t, wantEncoded, `"expires":"`+read+`"`, `"expires":"`+f.Expires().String()+`"`)
			}
			if string(got) != wantEncoded {
				t.Errorf("EncodeSigned()\n got %q\nwant %q", got, wantEncoded)
			}
			// The whole file, as the same script wrote it in file form
			// (canonical, control characters escaped).
			out := f.Bytes()
			if wantFile := readTestdata(t, "roundtrip", name+".file"); !bytes.Equal(out, wantFile) {
				t.Errorf("Bytes()\n got %q\nwant %q", out, wantFile)
			}
			// Parse it again: same signed bytes, and Bytes is a fixed point.
			g := mustParse(t, "again.json", out)
			if !bytes.Equal(g.SignedBytes(), want) {
				t.Errorf("re-parsed SignedBytes differ")
			}
			if !bytes.Equal(g.Bytes(), out) {
				t.Errorf("Bytes() is not a fixed point")
			}
			if !json.Valid(out) {
				t.Errorf("Bytes() is not valid JSON")
			}
			// Every unknown member of the input is in the output.
			for _, marker := range []string{`"x-top"`, `"x-sig":[null,true]`} {
				if strings.Contains(string(in), strings.Trim(marker, `"`)) && !bytes.Contains(out, []byte(marker)) {
					t.Errorf("Bytes() lost %s", marker)
				}
			}
		})
	}
}

// TestUnknownFieldsSurviveChange changes the typed value and writes it
// anew: the unknown fields of every level are still there.
func TestUnknownFieldsSurviveChange(t *testing.T) {
	f := mustParse(t, "targets.json", readTestdata(t, "roundtrip", "targets.json"))
	f.Targets.Version++
	f.Targets.Delegations.Roles[0].Paths = append(f.Targets.Delegations.Roles[0].Paths, "proj-a2/*")
	g, err := NewTargetsFile(f.Targets)
	if err != nil {
		t.Fatal(err)
	}
	want := string(readTestdata(t, "roundtrip", "targets.signed.canonical"))
	want = replaceOnce(t, want, `"version":3`, `"version":4`)
	want = replaceOnce(t, want, `"paths":["proj-a/*"]`, `"paths":["proj-a/*","proj-a2/*"]`)
	// The fraction of a second read is not written back (nor would an
	// offset be): only the canonical form is ever written.
	want = replaceOnce(t, want, `"expires":"2030-06-01T12:00:00.123456Z"`, `"expires":"2030-06-01T12:00:00Z"`)
	if string(g.SignedBytes()) != want {
		t.Errorf("SignedBytes()\n got %q\nwant %q", g.SignedBytes(), want)
	}
	for _, marker := range []string{`"x-signed":"s"`, `"aaa-sorts-first":0`, `"x-target":"t"`, `"x-delegations":true`,
		`"x-delegated":"d"`, `"x-delegated":{"k":null}`, `"unrecognized_field":5`, `"x-key":{"a":1,"b":2}`, `"x-keyval":"kv"`} {
		if !strings.Contains(want, marker) {
			t.Errorf("test file lacks %s", marker)
		}
	}
	r := mustParse(t, "root.json", readTestdata(t, "roundtrip", "root.json"))
	r.Root.Version = 8
	h, err := NewRootFile(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	want = replaceOnce(t, string(readTestdata(t, "roundtrip", "root.signed.canonical")), `"version":7`, `"version":8`)
	if string(h.SignedBytes()) != want {
		t.Errorf("root SignedBytes()\n got %q\nwant %q", h.SignedBytes(), want)
	}
	for _, marker := range []string{`"x-role":"snapshot"`, `"mirrors":{"keyids":[],"threshold":3}`, `"x-signed":{"nested":["z","a"]}`, `"consistent_snapshot":false`} {
		if !strings.Contains(want, marker) {
			t.Errorf("root test file lacks %s", marker)
		}
	}
}

func TestExpiry(t *testing.T) {
	// NewExpiry truncates to whole seconds in UTC.
	x := NewExpiry(time.Date(2030, 1, 2, 4, 4, 5, 999999999, time.FixedZone("CET", 3600)))
	if x.String() != "2030-01-02T03:04:05Z" {
		t.Errorf("NewExpiry String() = %s", x)
	}
	if !x.Time.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) || x.Location() != time.UTC {
		t.Errorf("NewExpiry time = %v", x.Time)
	}

	// Written as whole seconds with Z.
	tg := &Targets{Targets: map[string]*TargetFile{}}
	tg.Version, tg.Expires = 1, x
	f := mustTargetsFile(t, tg)
	want := `{"_type":"targets","expires":"2030-01-02T03:04:05Z","spec_version":"1.0.31","targets":{},"version":1}`
	if string(f.SignedBytes()) != want {
		t.Errorf("SignedBytes() = %s, want %s", f.SignedBytes(), want)
	}

	// A fraction read is kept for comparison, never written.
	g := mustParse(t, "targets.json", readTestdata(t, "roundtrip", "targets.json"))
	if g.Expires().String() != "2030-06-01T12:00:00Z" || g.Expires().NonCanonical() != "2030-06-01T12:00:00.123456Z" {
		t.Errorf("Expires() = %s, read as %q", g.Expires(), g.Expires().NonCanonical())
	}
	if !g.Expires().Time.Equal(time.Date(2030, 6, 1, 12, 0, 0, 123456000, time.UTC)) {
		t.Errorf("Expires().Time = %v", g.Expires().Time)
	}
	b, _ := g.EncodeSigned()
	if !bytes.Contains(b, []byte(`"expires":"2030-06-01T12:00:00Z"`)) {
		t.Errorf("EncodeSigned wrote a non-canonical expiry: %s", b)
	}
	if !bytes.Contains(g.SignedBytes(), []byte(`"expires":"2030-06-01T12:00:00.123456Z"`)) {
		t.Errorf("the signed bytes are not those read: %s", g.SignedBytes())
	}
}

// TestExpiryForms: every RFC 3339 date-time is read, as the instant it
// names; only "YYYY-MM-DDTHH:MM:SSZ" is canonical.
func TestExpiryForms(t *testing.T) {
	for _, tc := range []struct {
		in, utc   string // utc: the instant, RFC 3339 with nanoseconds
		canonical bool
	}{
		{"2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z", true},
		{"2021-12-18T13:28:12.99008-06:00", "2021-12-18T19:28:12.99008Z", false},
		{"2030-01-01T01:00:00+01:00", "2030-01-01T00:00:00Z", false},
		{"2030-01-01T00:00:00-00:00", "2030-01-01T00:00:00Z", false},
		{"2030-01-01T00:00:00.000Z", "2030-01-01T00:00:00Z", false},
		{"2030-01-01t00:00:00z", "2030-01-01T00:00:00Z", false},
		{"2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z", false},
		{"2030-01-01T00:00:00.1234567891Z", "2030-01-01T00:00:00.123456789Z", false},
	} {
		doc := replaceOnce(t, string(readTestdata(t, "roundtrip", "timestamp.json")), `"expires": "2030-01-01T00:00:00Z"`, `"expires": "`+tc.in+`"`)
		f, err := Parse("timestamp.json", []byte(doc))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		x := f.Expires()
		if got := x.Time.Format(time.RFC3339Nano); got != tc.utc || x.Location() != time.UTC {
			t.Errorf("%s: read as %s (%v), want %s", tc.in, got, x.Location(), tc.utc)
		}
		if (x.NonCanonical() == "") != tc.canonical || (!tc.canonical && x.NonCanonical() != tc.in) {
			t.Errorf("%s: NonCanonical() = %q", tc.in, x.NonCanonical())
		}
		if !bytes.Contains(f.SignedBytes(), []byte(`"expires":"`+tc.in+`"`)) {
			t.Errorf("%s: signed bytes changed: %s", tc.in, f.SignedBytes())
		}
		// Written canonically: whole seconds (a fraction dropped, so never
		// later than read), UTC, Z.
		want := x.Time.Truncate(time.Second).Format("2006-01-02T15:04:05Z")
		if b, _ := f.EncodeSigned(); !bytes.Contains(b, []byte(`"expires":"`+want+`"`)) {
			t.Errorf("%s: EncodeSigned wrote %s", tc.in, b)
		}
	}
}

func TestCheckExpiry(t *testing.T) {
	tg := &Targets{Targets: map[string]*TargetFile{}}
	tg.Version, tg.Expires = 4, testExpiry
	f := mustTargetsFile(t, tg)
	if err := f.CheckExpiry(testExpiry.Add(-time.Second)); err != nil {
		t.Errorf("a second before: %v", err)
	}
	wantErr(t, f.CheckExpiry(testExpiry.Time), ErrExpired,
		"metadata has expired: targets metadata version 4 expired at 2030-01-02T03:04:05Z (checked at 2030-01-02T03:04:05Z)")
	wantErr(t, f.CheckExpiry(time.Date(2031, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))), ErrExpired,
		"metadata has expired: targets metadata version 4 expired at 2030-01-02T03:04:05Z (checked at 2031-01-01T00:00:00Z)")
}
