package request

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

var testLimits = Limits{MaxDepth: 16, MaxProjectName: 128, MaxRequestedBy: 256, MaxKeys: 16}

func TestNormalize(t *testing.T) {
	ok := map[string]string{
		"Django":             "django",
		"zope.interface":     "zope-interface",
		"Foo__Bar--baz..Qux": "foo-bar-baz-qux",
		"a":                  "a",
		"A1_b.C-2":           "a1-b-c-2",
	}
	for in, want := range ok {
		got, err := Normalize(in, 128)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                       "the project name is empty",
		"-lead":                  "a project name must start and end with a letter or digit",
		"trail.":                 "a project name must start and end with a letter or digit",
		"dj\u0430ngo":            `a project name may hold only ASCII letters, digits, ".", "_" and "-" (PEP 508), and 'а' is not one of them`,
		"a b":                    `a project name may hold only ASCII letters, digits, ".", "_" and "-" (PEP 508), and ' ' is not one of them`,
		"a/b":                    `a project name may hold only ASCII letters, digits, ".", "_" and "-" (PEP 508), and '/' is not one of them`,
		strings.Repeat("a", 129): "the project name is 129 bytes long; at most 128 are allowed",
	}
	for in, want := range bad {
		_, err := Normalize(in, 128)
		if err == nil || err.Error() != want || !errors.Is(err, ErrProjectName) {
			t.Errorf("Normalize(%q) error = %v; want %q wrapping ErrProjectName", in, err, want)
		}
	}
}

const minimal = `{"format":"conclave-request/1","id":"r1","kind":"recover","made":"2026-11-24T10:00:00Z","project":"Foo","requested_by":"x"}`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, in string
		code     verdict.Code
		msg      string
	}{
		{"not an object", `[]`, verdict.FormatInvalid, "a request must be a JSON object, not an array"},
		{"duplicate", `{"id":"a","id":"b"}`, verdict.JSONInvalid, `id (at byte 19): duplicate member name "id"`},
		{"unknown", strings.Replace(minimal, `"x"}`, `"x","paths":["*"]}`, 1), verdict.FormatInvalid, "paths: is not a member a request may have"},
		{"missing", strings.Replace(minimal, `"id":"r1",`, "", 1), verdict.FormatInvalid, "id: is missing"},
		{"format", strings.Replace(minimal, "conclave-request/1", "conclave-request/2", 1), verdict.FormatInvalid, `format: is "conclave-request/2"; this version of Conclave reads "conclave-request/1"`},
		{"kind", strings.Replace(minimal, `"recover"`, `"takeover"`, 1), verdict.FormatInvalid, `kind: is "takeover"; it must be add, rotate, remove or recover`},
		{"id", strings.Replace(minimal, `"r1"`, `"../x"`, 1), verdict.FormatInvalid, `id: an id may hold only ASCII letters, digits, ".", "_" and "-", starting with a letter or digit`},
		{"made", strings.Replace(minimal, "10:00:00Z", "10:00:00+01:00", 1), verdict.FormatInvalid, `made: "2026-11-24T10:00:00+01:00" is not a UTC time written as 2026-01-02T15:04:05Z`},
		{"bidi override", strings.Replace(minimal, `"x"`, `"a\u202eb"`, 1), verdict.FormatInvalid, "requested_by: holds the character U+202E, which cannot be shown safely"},
		{"escape sequence", strings.Replace(minimal, `"x"`, `"\u001b[2J"`, 1), verdict.FormatInvalid, "requested_by: holds the character U+001B, which cannot be shown safely"},
		{"keys without threshold", strings.Replace(minimal, `"x"}`, `"x","keys":[]}`, 1), verdict.FormatInvalid, "keys and threshold go together: give both or neither"},
		{"empty keys", strings.Replace(minimal, `"x"}`, `"x","keys":[],"threshold":1}`, 1), verdict.FormatInvalid, "keys: is empty; a project needs at least one key"},
		{"remove with keys", strings.Replace(strings.Replace(minimal, `"x"}`, `"x","keys":[{}],"threshold":1}`, 1), "recover", "remove", 1), verdict.FormatInvalid, "a remove request has no keys, threshold or possession"},
		{"add without keys", strings.Replace(minimal, "recover", "add", 1), verdict.FormatInvalid, "keys: is missing (an add request names the new keys)"},
		{"possession without keys", strings.Replace(minimal, `"x"}`, `"x","possession":{}}`, 1), verdict.FormatInvalid, "possession: a request without keys has nothing to prove possession of"},
		{"too deep", `{"a":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`, verdict.JSONInvalid, "a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0] (at byte 20): nested more than 16 levels deep"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.in), testLimits)
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a *request.Error", err)
			}
			if re.Code != c.code || re.Error() != c.msg {
				t.Fatalf("got %s %q, want %s %q", re.Code, re.Error(), c.code, c.msg)
			}
		})
	}
}

func TestParseMinimal(t *testing.T) {
	r, err := Parse([]byte(minimal), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "r1" || r.Kind != Recover || r.Project != "Foo" || r.Name != "foo" || !r.Removes() || r.Keys != nil || r.RequestedBy != "x" {
		t.Fatalf("%+v", r)
	}
}

func TestKeysetHash(t *testing.T) {
	// The keyset hash is the SHA-256 of {"keyids":[sorted],"threshold":n}
	// in canonical JSON; a repository in another language computes it the
	// same way (docs/formats/request.md).
	k := NewKeyset([]string{"bb", "aa", "bb"}, 2)
	if got := string(k.Value().Canonical()); got != `{"keyids":["aa","bb"],"threshold":2}` {
		t.Fatalf("canonical keyset %s", got)
	}
	sum := sha256.Sum256([]byte(`{"keyids":["aa","bb"],"threshold":2}`))
	if k.Hash() != hex.EncodeToString(sum[:]) {
		t.Fatalf("keyset hash %s", k.Hash())
	}
}

func TestStatementsRoundTrip(t *testing.T) {
	p := Possession{RequestID: "r1", Project: "foo", Keyset: NewKeyset([]string{"b", "a"}, 1)}
	got, err := ParsePossession(p.Payload())
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("possession round trip: %+v, %v", got, err)
	}
	for _, kc := range []KeyChange{
		{Project: "foo", BaseVersion: 7, CurrentKeyset: "00", Change: ChangeRotate, NewKeyset: NewKeyset([]string{"c"}, 1)},
		{Project: "foo", BaseVersion: 7, CurrentKeyset: "00", Change: ChangeRemove},
	} {
		got, err := ParseKeyChange(kc.Payload())
		if err != nil || !reflect.DeepEqual(got, kc) {
			t.Fatalf("key change round trip: %+v, %v", got, err)
		}
	}
	if _, err := ParseKeyChange([]byte(`{"base_version":7,"change":"remove","current_keyset":"00","format":"conclave-keychange/1","new_keys":{"keyids":[],"threshold":1},"project":"foo"}`)); err == nil || err.Error() != "a removal has no new_keys" {
		t.Fatalf("removal with new keys: %v", err)
	}
}

// FuzzParse: the parser never panics; it reads exactly what FromValue
// reads from the parsed tree (the same request or the same error); and
// whatever it accepts survives a round trip through the writer unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data, testLimits)
		checkSameAsTree(t, data, r, err)
		if err != nil {
			var re *Error
			if !errors.As(err, &re) || re.Code == "" {
				t.Fatalf("error %v without a code", err)
			}
			return
		}
		d := &Draft{ID: r.ID, Kind: r.Kind, Project: r.Project, Threshold: r.Threshold, Made: r.Made, RequestedBy: r.RequestedBy}
		for _, e := range r.Keys {
			if e.Key == nil {
				return // not writable; nothing to round-trip
			}
			d.Keys = append(d.Keys, e.Key)
		}
		if r.HasPossession || r.HasAuth {
			return // envelopes are checked by the validation
		}
		again, err := Parse(d.Encode(), testLimits)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", d.Encode(), err)
		}
		if again.ID != r.ID || again.Kind != r.Kind || again.Project != r.Project || again.Name != r.Name ||
			again.Threshold != r.Threshold || !again.Made.Equal(r.Made) || again.RequestedBy != r.RequestedBy ||
			!again.Keyset().Equal(r.Keyset()) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", r, again)
		}
	})
}

// parseSeeds reach the decoder's fast path for plain keys and each way
// out of it.
var parseSeeds = []string{
	`{"format":"conclave-request/1","id":"r1","keys":[{"scheme":"ed25519","keyval":{"public":"` + hex64 + `"},"keytype":"ed25519"}],"kind":"add","made":"2026-01-02T15:04:05Z","project":"p","requested_by":"x","threshold":1}`,
	`{"format":"conclave-request/1","id":"r1","keys":[{"keytype":"ed25519","keyval":{"public":"` + hex64 + `","x":1},"scheme":"ed25519"}],"kind":"add","made":"2026-01-02T15:04:05Z","project":"p","requested_by":"x","threshold":1}`,
	`{"format":"conclave-request/1","id":"r1","keys":[{"keytype":"ed25519","keyval":{},"scheme":"ed25519"}],"kind":"add","made":"2026-01-02T15:04:05Z","project":"p","requested_by":"x","threshold":1}`,
	`{"format":"conclave-request/1","id":"r1","keys":[{"keytype":"ed25519","keytype":"ed25519","keyval":{"public":"` + hex64 + `"},"scheme":"ed25519"}],"kind":"add","made":"2026-01-02T15:04:05Z","project":"p","requested_by":"x","threshold":1}`,
	`{"format":"conclave-request/1","id":"r1","keys":[{"keytype":1,"keyval":{"public":"` + hex64 + `"},"scheme":"ed25519"},7,[],{"keytype":"ed25519","keyval":{"public":"` + hex64 + `"},"scheme":"ed25519","z":null}],"kind":"add","made":"2026-01-02T15:04:05Z","project":"p","requested_by":"x","threshold":1}`,
	`{"format":"conclave-request/1","id":"r1","keys":[{"keytype":"ed25519","keyval":{"public":"` + hex64 + `"},"scheme":"ed25519"],"kind":"add"}`,
	`{"format":"conclave-request/1","id":"r1","keys":{"a":1},"kind":"add","zz":1,"aa":2,"made":"2026-01-02T15:04:05Z","project":"p","requested_by":"x","threshold":1}`,
	`{"keys":[{"keytype":"ed25519","keyval":{"public":"` + hex64 + `"},"scheme":"ed25519"}],"keys":[]}`,
	`[{"format":"conclave-request/1"}]`,
}

const hex64 = "c802048f6ef360dda317286fa527edc79aca24020f1f4c3856bd2b4355e3821c"

// checkSameAsTree holds Parse to what FromValue reads from the tree the
// strict parser builds: the decoder only saves building that tree.
func checkSameAsTree(t *testing.T, data []byte, got *Request, gotErr error) {
	t.Helper()
	var want *Request
	var wantErr error
	if v, err := cjson.ParseWith(data, cjson.Options{MaxDepth: testLimits.MaxDepth}); err != nil {
		wantErr = &Error{Code: verdict.JSONInvalid, Msg: err.Error(), Err: err}
	} else {
		want, wantErr = FromValue(v, testLimits)
	}
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("Parse: %v; from the tree: %v", gotErr, wantErr)
	}
	if gotErr != nil {
		var g, w *Error
		errors.As(gotErr, &g)
		errors.As(wantErr, &w)
		if g == nil || w == nil || g.Code != w.Code || g.Error() != w.Error() {
			t.Fatalf("Parse: %v; from the tree: %v", gotErr, wantErr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse read\n%+v\nbut the tree gives\n%+v", got, want)
	}
}

func TestParseSameAsTree(t *testing.T) {
	for _, s := range append(parseSeeds, minimal) {
		r, err := Parse([]byte(s), testLimits)
		checkSameAsTree(t, []byte(s), r, err)
	}
}

// FuzzParseTime holds ParseTime to its definition: exactly the times that
// time.Parse reads and Format writes back unchanged.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-01-02T15:04:05Z", "2026-02-30T15:04:05Z", "2026-01-02T5:04:05Z", "2026-01-02T15:04:05.5Z",
		"2026-01-02T24:00:00Z", "2026-01-02T15:04:60Z", "0000-01-01T00:00:00Z", "2026-01-02t15:04:05z", "+026-01-02T15:04:05Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := time.Parse(TimeLayout, s)
		ok := err == nil && want.Format(TimeLayout) == s
		got, gerr := ParseTime(s)
		if ok != (gerr == nil) || ok && !got.Equal(want) {
			t.Fatalf("%q: ParseTime gives %v, %v; by definition ok=%v %v", s, got, gerr, ok, want)
		}
	})
}
