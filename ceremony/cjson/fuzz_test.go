package cjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	sslcjson "github.com/secure-systems-lab/go-securesystemslib/cjson"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// referenceCanonical is securesystemslib's canonical encoding of data,
// decoded the way its EncodeCanonical expects: encoding/json with
// UseNumber into interface{}, exactly one value.
func referenceCanonical(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the value")
	}
	return sslcjson.EncodeCanonical(v)
}

// FuzzCanonical is a differential test against securesystemslib's
// canonical JSON encoder, the one the TUF reference implementation uses.
//
// For every input cjson.Parse accepts, encoding/json must accept it too and
// securesystemslib must produce exactly the bytes of Value.Canonical. The
// converse is not required: Parse deliberately rejects what encoding/json
// accepts — duplicate member names (encoding/json keeps the last), invalid
// UTF-8 and lone surrogates (encoding/json replaces them with U+FFFD), -0,
// fractions and exponents, integers beyond int64, nesting beyond 64 levels.
// Those inputs are checked only to not panic.
//
// Canonical output also re-parses to an equal value and is a fixed point,
// unless it holds a control character: OLPC canonical JSON writes those
// raw, which is not valid JSON (RFC 8259 §7). The file form (Encoder
// FileForm) always reads back, and equals the canonical form when there is
// no control character.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `true`, `0`, `-1`, `"x"`,
		`{"b":1,"a":[2,{"d":null,"c":"\u0000\"\\"}]}`,
		`{"\ud83d\ude00":1,"\uff61":2}`,
		`[9223372036854775807,-9223372036854775808]`,
		`{"a":1,"a":2}`, `-0`, `1.5`, `1e3`, "\"\xff\"", `"\udc00"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := cjson.Parse(data)
		if err != nil {
			var se *cjson.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error %v is %T, not *SyntaxError", err, err)
			}
			return
		}
		got := v.Canonical()
		want, err := referenceCanonical(data)
		if err != nil {
			t.Fatalf("Parse accepted %q but securesystemslib/encoding/json did not: %v", data, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("input %q\n cjson: %q\n   ssl: %q", data, got, want)
		}
		// File form is valid JSON (encoding/json agrees) and reads back
		// as the same value, control characters or not.
		file := cjson.Encoder{FileForm: true}
		file.Value(v)
		fb, err := file.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(fb) {
			t.Fatalf("file form %q is not valid JSON", fb)
		}
		fv, err := cjson.Parse(fb)
		if err != nil || !fv.Equal(v) {
			t.Fatalf("file form %q does not read back: %v", fb, err)
		}
		if bytes.ContainsFunc(got, func(r rune) bool { return r < 0x20 }) {
			return
		}
		if !bytes.Equal(fb, got) {
			t.Fatalf("file form %q differs from canonical %q without control characters", fb, got)
		}
		w, err := cjson.Parse(got)
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", got, err)
		}
		if !w.Equal(v) {
			t.Fatalf("canonical form %q parses to a different value", got)
		}
		if again := w.Canonical(); !bytes.Equal(again, got) {
			t.Fatalf("canonical form is not a fixed point: %q then %q", got, again)
		}
	})
}

// TestKnownDifferences pins the inputs securesystemslib (through
// encoding/json) accepts and Parse rejects on purpose, so that neither side
// changes unnoticed.
func TestKnownDifferences(t *testing.T) {
	for _, tc := range []struct {
		in, ssl, parseErr string
	}{
		{`{"a":1,"a":2}`, `{"a":2}`, `a (at byte 13): duplicate member name "a"`},
		{"\"\xff\"", "\"\xef\xbf\xbd\"", `at byte 1: string is not valid UTF-8`},
		{`"\ud800"`, "\"\xef\xbf\xbd\"", `at byte 7: \u escape is a lone UTF-16 surrogate (not valid Unicode)`},
		{`-0`, `-0`, `at byte 0: number -0 is not allowed (canonical JSON encoders disagree about it)`},
	} {
		ref, err := referenceCanonical([]byte(tc.in))
		if err != nil || string(ref) != tc.ssl {
			t.Errorf("securesystemslib(%q) = %q, %v; want %q", tc.in, ref, err, tc.ssl)
		}
		if _, err := cjson.Parse([]byte(tc.in)); err == nil || err.Error() != tc.parseErr {
			t.Errorf("Parse(%q) = %v, want %s", tc.in, err, tc.parseErr)
		}
	}
	// Fractions: securesystemslib refuses them too, as Parse does.
	if _, err := referenceCanonical([]byte(`1.5`)); err == nil || err.Error() != "Can't canonicalize floating point number '1.5'" {
		t.Errorf("securesystemslib(1.5): %v", err)
	}
}
