package request

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

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

// FuzzParse: the parser never panics, and whatever it accepts survives a
// round trip through the writer unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data, testLimits)
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
