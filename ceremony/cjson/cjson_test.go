package cjson_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// TestVectors checks the known-answer vectors in testdata/vectors: each
// NAME.json is parsed and its canonical form compared with NAME.canonical,
// whose bytes were written by hand (printf), not by this package. The
// reference encoder, securesystemslib, must produce the same bytes.
func TestVectors(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 12 {
		t.Fatalf("found %d vectors in testdata/vectors, expected at least 12", len(inputs))
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			input := readFile(t, in)
			want := readFile(t, strings.TrimSuffix(in, ".json")+".canonical")
			v, err := cjson.Parse(input)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := v.Canonical(); !bytes.Equal(got, want) {
				t.Errorf("Canonical()\n got %q\nwant %q", got, want)
			}
			// securesystemslib, the reference encoder, agrees.
			ref, err := referenceCanonical(input)
			if err != nil {
				t.Fatalf("securesystemslib: %v", err)
			}
			if !bytes.Equal(ref, want) {
				t.Errorf("securesystemslib EncodeCanonical\n got %q\nwant %q", ref, want)
			}
		})
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"duplicate member", `{"a":1,"a":2}`, `a (at byte 13): duplicate member name "a"`},
		{"duplicate member nested", `{"signed":{"delegations":{"roles":[{},{},{},{"threshold":1,"threshold":1}]}}}`,
			`signed.delegations.roles[3].threshold (at byte 73): duplicate member name "threshold"`},
		{"duplicate member via escape", `{"a":1,"\u0061":2}`, `a (at byte 18): duplicate member name "a"`},
		{"fraction", `1.0`, `at byte 0: number 1.0 is not an integer (canonical JSON allows integers only)`},
		{"exponent", `[1e3]`, `[0] (at byte 1): number 1e3 is not an integer (canonical JSON allows integers only)`},
		{"exponent upper", `[2E+1]`, `[0] (at byte 1): number 2E+1 is not an integer (canonical JSON allows integers only)`},
		{"negative zero", `{"version": -0}`, `version (at byte 12): number -0 is not allowed (canonical JSON encoders disagree about it)`},
		{"negative zero fraction", `-0.0`, `at byte 0: number -0.0 is not an integer (canonical JSON allows integers only)`},
		{"above int64", `9223372036854775808`, `at byte 0: integer 9223372036854775808 is out of range (at most 64 bits)`},
		{"below int64", `[-9223372036854775809]`, `[0] (at byte 1): integer -9223372036854775809 is out of range (at most 64 bits)`},
		{"huge", `123456789012345678901234567890`, `at byte 0: integer 123456789012345678901234567890 is out of range (at most 64 bits)`},
		{"leading zero", `01`, `at byte 1: unexpected data after the end of the JSON value`},
		{"minus alone", `-`, `at byte 1: invalid number`},
		{"no fraction digits", `1.`, `at byte 2: invalid number: no digits after the decimal point`},
		{"no exponent digits", `1e`, `at byte 2: invalid number: no digits in the exponent`},
		{"trailing data", `{} x`, `at byte 3: unexpected data after the end of the JSON value`},
		{"two values", `{}{}`, `at byte 2: unexpected data after the end of the JSON value`},
		{"invalid utf-8", "\"\xff\"", `at byte 1: string is not valid UTF-8`},
		{"invalid utf-8 after escape", "\"\\n\xff\"", `at byte 3: string is not valid UTF-8`},
		{"utf-8 encoded surrogate", "\"\xed\xa0\x80\"", `at byte 1: string is not valid UTF-8`},
		{"overlong utf-8", "\"\xc0\xaf\"", `at byte 1: string is not valid UTF-8`},
		{"truncated utf-8", "\"\xe4\xb8\"", `at byte 1: string is not valid UTF-8`},
		{"invalid utf-8 in name", "{\"a\xfe\":1}", `at byte 3: string is not valid UTF-8`},
		{"lone high surrogate", `"\ud800"`, `at byte 7: \u escape is a lone UTF-16 surrogate (not valid Unicode)`},
		{"lone low surrogate", `"\udc00"`, `at byte 7: \u escape is a lone UTF-16 surrogate (not valid Unicode)`},
		{"low surrogate then low surrogate", `"\udc00\udc00"`, `at byte 7: \u escape is a lone UTF-16 surrogate (not valid Unicode)`},
		{"low surrogate then high surrogate", `"\udfff\ud800"`, `at byte 7: \u escape is a lone UTF-16 surrogate (not valid Unicode)`},
		{"high surrogate then non-surrogate", `"\ud800\u0041"`, `at byte 13: \u escape is a lone UTF-16 surrogate (not valid Unicode)`},
		{"high surrogate then text", `"\ud800abcdef"`, `at byte 7: \u escape is a lone UTF-16 surrogate (not valid Unicode)`},
		{"two high surrogates", `"\ud800\ud800"`, `at byte 13: \u escape is a lone UTF-16 surrogate (not valid Unicode)`},
		{"raw control character", "\"a\nb\"", `at byte 2: control character 0x0a inside a string must be escaped`},
		{"raw control character after escape", "\"\\t\x01\"", `at byte 3: control character 0x01 inside a string must be escaped`},
		{"invalid escape", `"\x"`, `at byte 1: invalid escape "\\x" in a string`},
		{"short unicode escape", `"\u12"`, `at byte 3: \u escape needs four hex digits`},
		{"bad unicode escape", `"\u12g4"`, `at byte 3: \u escape needs four hex digits`},
		{"unterminated string", `"abc`, `at byte 4: unexpected end of input inside a string`},
		{"unterminated escaped string", `"a\n`, `at byte 4: unexpected end of input inside a string`},
		{"backslash at end", `"a\`, `at byte 2: unexpected end of input inside a string`},
		{"empty", ``, `at byte 0: unexpected end of input`},
		{"only whitespace", " \n\t", `at byte 3: unexpected end of input`},
		{"trailing comma array", `[1,]`, `[1] (at byte 3): unexpected character "]"`},
		{"trailing comma object", `{"a":1,}`, `at byte 7: expected a member name in double quotes`},
		{"missing colon", `{"a" 1}`, `at byte 5: expected ':' after member name "a"`},
		{"unquoted name", `{a:1}`, `at byte 1: expected a member name in double quotes`},
		{"missing comma array", `[1 2]`, `at byte 3: expected ',' or ']' in an array, found "2"`},
		{"missing comma object", `{"a":1 "b":2}`, `at byte 7: expected ',' or '}' in an object, found "\""`},
		{"bad literal", `tru`, `at byte 0: invalid literal (expected true)`},
		{"bad literal in object", `{"ok":nul}`, `ok (at byte 6): invalid literal (expected null)`},
		{"capitalised literal", `[True]`, `[0] (at byte 1): unexpected character "T"`},
		{"control byte at top", "\x01", `at byte 0: unexpected character byte 0x01`},
		{"byte order mark", "\xef\xbb\xbf{}", `at byte 0: unexpected character byte 0xef`},
		{"single quotes", `{'a':1}`, `at byte 1: expected a member name in double quotes`},
		{"unclosed array", `[`, `[0] (at byte 1): unexpected end of input`},
		{"unclosed array after value", `[1`, `at byte 2: unexpected end of input inside an array`},
		{"unclosed object", `{"a":1`, `at byte 6: unexpected end of input inside an object`},
		{"path with quoted name", `{"a b":{"c":1.5}}`, `["a b"].c (at byte 12): number 1.5 is not an integer (canonical JSON allows integers only)`},
		{"path through arrays", `{"x":[[0,{"y":[true,-0]}]]}`, `x[0][1].y[1] (at byte 20): number -0 is not allowed (canonical JSON encoders disagree about it)`},
		{"too deep", deep, strings.Repeat("[0]", 64) + ` (at byte 64): nested more than 64 levels deep`},
		{"too deep objects", strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65),
			strings.TrimPrefix(strings.Repeat(".a", 64), ".") + ` (at byte 320): nested more than 64 levels deep`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := cjson.Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error %q", tc.in, v.Canonical(), tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse(%q) error\n got %s\nwant %s", tc.in, err, tc.want)
			}
			var se *cjson.SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("error is %T, not *cjson.SyntaxError", err)
			}
		})
	}
}

func TestSyntaxErrorFields(t *testing.T) {
	_, err := cjson.Parse([]byte(`{"signed": {"roles": [1, 2.5]}}`))
	var se *cjson.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *cjson.SyntaxError", err)
	}
	if se.Path != "signed.roles[1]" || se.Offset != 25 || se.Msg != "number 2.5 is not an integer (canonical JSON allows integers only)" {
		t.Errorf("got Path=%q Offset=%d Msg=%q", se.Path, se.Offset, se.Msg)
	}
}

func TestDepthLimit(t *testing.T) {
	ok := strings.Repeat("[", 64) + strings.Repeat("]", 64)
	if _, err := cjson.Parse([]byte(ok)); err != nil {
		t.Errorf("64 levels: %v", err)
	}
	_, err := cjson.ParseWith([]byte(`[[[]]]`), cjson.Options{MaxDepth: 2})
	if want := `[0][0] (at byte 2): nested more than 2 levels deep`; err == nil || err.Error() != want {
		t.Errorf("MaxDepth 2: got %v, want %s", err, want)
	}
	if _, err := cjson.ParseWith([]byte(`[[]]`), cjson.Options{MaxDepth: 2}); err != nil {
		t.Errorf("MaxDepth 2, two levels: %v", err)
	}
	// Depth counts nesting, not the number of containers.
	if _, err := cjson.ParseWith([]byte(`[[],[],{},[{}]]`), cjson.Options{MaxDepth: 3}); err != nil {
		t.Errorf("siblings: %v", err)
	}
}

func TestParseValues(t *testing.T) {
	v, err := cjson.Parse([]byte(`{"b":[1,"x",true,null,{}],"a":-5,"c":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind() != cjson.Object {
		t.Fatalf("kind %s", v.Kind())
	}
	var names []string
	for _, m := range v.Members() {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,c" {
		t.Errorf("member order %s, want a,b,c", got)
	}
	a, ok := v.Get("a")
	if !ok || a.Kind() != cjson.Int || a.Int() != -5 {
		t.Errorf("a = %v %v", a.Kind(), a.Int())
	}
	if _, ok := v.Get("d"); ok {
		t.Error("Get(d) found a member")
	}
	b, _ := v.Get("b")
	items := b.Items()
	if len(items) != 5 || items[0].Int() != 1 || items[1].Str() != "x" || !items[2].Bool() ||
		items[3].Kind() != cjson.Null || items[4].Kind() != cjson.Object || len(items[4].Members()) != 0 {
		t.Errorf("b = %q", b.Canonical())
	}
	c, _ := v.Get("c")
	if c.Kind() != cjson.Bool || c.Bool() {
		t.Errorf("c = %q", c.Canonical())
	}
}

func TestKindString(t *testing.T) {
	want := map[cjson.Kind]string{
		cjson.Null: "null", cjson.Bool: "a boolean", cjson.Int: "an integer",
		cjson.String: "a string", cjson.Array: "an array", cjson.Object: "an object", cjson.Kind(9): "kind 9",
	}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), s)
		}
	}
}

func TestConstructedValues(t *testing.T) {
	v := cjson.ObjectValue(
		cjson.Member{Name: "z", Value: cjson.ArrayValue(cjson.IntValue(-3), cjson.NullValue(), cjson.BoolValue(true))},
		cjson.Member{Name: "a", Value: cjson.StringValue("q\"\\\n")},
		cjson.Member{Name: "m", Value: cjson.ObjectValue()},
	)
	want := "{\"a\":\"q\\\"\\\\\n\",\"m\":{},\"z\":[-3,null,true]}"
	if got := string(v.Canonical()); got != want {
		t.Errorf("Canonical() = %q, want %q", got, want)
	}
	w, err := cjson.Parse([]byte(`{"m":{},"a":"q\"\\\n","z":[-3,null,true]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !v.Equal(w) || !w.Equal(v) {
		t.Error("constructed and parsed values differ")
	}
	for _, other := range []string{
		`{"m":{},"a":"q\"\\\n","z":[-3,null,false]}`,
		`{"m":{},"a":"q\"\\\n","z":[-3,null]}`,
		`{"m":{},"a":"q","z":[-3,null,true]}`,
		`{"m":{"x":1},"a":"q\"\\\n","z":[-3,null,true]}`,
		`{"n":{},"a":"q\"\\\n","z":[-3,null,true]}`,
		`[]`,
	} {
		o, err := cjson.Parse([]byte(other))
		if err != nil {
			t.Fatal(err)
		}
		if v.Equal(o) {
			t.Errorf("Equal(%s) = true", other)
		}
	}
}

func TestObjectValueDuplicatePanics(t *testing.T) {
	defer func() {
		r := recover()
		if r != `cjson: duplicate member "k"` {
			t.Errorf("recovered %v, want the duplicate member panic", r)
		}
	}()
	cjson.ObjectValue(cjson.Member{Name: "k"}, cjson.Member{Name: "j"}, cjson.Member{Name: "k"})
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{cjson.PathField("", "signed"), "signed"},
		{cjson.PathField("signed", "delegations"), "signed.delegations"},
		{cjson.PathIndex(cjson.PathField("signed.delegations", "roles"), 3), "signed.delegations.roles[3]"},
		{cjson.PathField("signed.targets", "a/b.txt"), `signed.targets["a/b.txt"]`},
		{cjson.PathField("", "x y"), `["x y"]`},
		{cjson.PathField("keys", ""), `keys[""]`},
		{cjson.PathField("keys", "4e77ab"), "keys.4e77ab"},
		{cjson.PathField("k", "\"\n"), `k["\"\n"]`},
		{cjson.PathIndex("", 0), "[0]"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestEncoder(t *testing.T) {
	var e cjson.Encoder
	e.Grow(64)
	e.BeginObject()
	e.Name("a")
	e.BeginArray()
	e.Int(-9223372036854775808)
	e.String(`"\`)
	e.Bool(false)
	e.Null()
	e.Canonical([]byte(`{"x":1}`))
	e.BeginObject()
	e.EndObject()
	e.EndArray()
	e.Name("b")
	e.Value(cjson.ObjectValue(cjson.Member{Name: "y", Value: cjson.BoolValue(true)}))
	e.EndObject()
	got, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[-9223372036854775808,"\"\\",false,null,{"x":1},{}],"b":{"y":true}}`
	if string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestEncoderMistakes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		write     func(e *cjson.Encoder)
		want      string
		wantOrder bool
	}{
		{"out of order", func(e *cjson.Encoder) {
			e.BeginObject()
			e.Name("b")
			e.Int(1)
			e.Name("a")
			e.Int(2)
			e.EndObject()
		}, `member "a" written after "b": object members not in canonical order`, true},
		{"twice", func(e *cjson.Encoder) {
			e.BeginObject()
			e.Name("a")
			e.Int(1)
			e.Name("a")
			e.Int(2)
			e.EndObject()
		}, `member "a" written after "a": object members not in canonical order`, true},
		{"utf-16 order is not canonical", func(e *cjson.Encoder) {
			e.BeginObject()
			e.Name("\U0001F600")
			e.Int(1)
			e.Name("\uFF61")
			e.Int(2)
			e.EndObject()
		}, `member "｡" written after "😀": object members not in canonical order`, true},
		{"first mistake wins", func(e *cjson.Encoder) {
			e.BeginObject()
			e.Name("c")
			e.Int(1)
			e.Name("b")
			e.Int(1)
			e.Name("a")
			e.Int(1)
			e.EndObject()
		}, `member "b" written after "c": object members not in canonical order`, true},
		{"value without name", func(e *cjson.Encoder) {
			e.BeginObject()
			e.Int(1)
			e.EndObject()
		}, "object value written without a member name", false},
		{"name outside object", func(e *cjson.Encoder) {
			e.BeginArray()
			e.Name("a")
			e.EndArray()
		}, "member name written outside an object", false},
		{"name at top", func(e *cjson.Encoder) { e.Name("a") }, "member name written outside an object", false},
		{"name twice", func(e *cjson.Encoder) {
			e.BeginObject()
			e.Name("a")
			e.Name("b")
			e.Int(1)
			e.EndObject()
		}, "member name written where a value was expected", false},
		{"unbalanced end object", func(e *cjson.Encoder) {
			e.BeginArray()
			e.EndObject()
		}, "unbalanced EndObject", false},
		{"end object awaiting value", func(e *cjson.Encoder) {
			e.BeginObject()
			e.Name("a")
			e.EndObject()
		}, "unbalanced EndObject", false},
		{"unbalanced end array", func(e *cjson.Encoder) {
			e.BeginObject()
			e.EndArray()
		}, "unbalanced EndArray", false},
		{"end array at top", func(e *cjson.Encoder) { e.EndArray() }, "unbalanced EndArray", false},
		{"unclosed", func(e *cjson.Encoder) {
			e.BeginObject()
			e.Name("a")
			e.BeginArray()
		}, "unclosed array or object", false},
		{"two top-level values", func(e *cjson.Encoder) {
			e.Int(1)
			e.Int(2)
		}, "more than one top-level value", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e cjson.Encoder
			tc.write(&e)
			b, err := e.Bytes()
			if err == nil {
				t.Fatalf("Bytes() = %q, want error %q", b, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if errors.Is(err, cjson.ErrOrder) != tc.wantOrder {
				t.Errorf("errors.Is(err, ErrOrder) = %v, want %v", !tc.wantOrder, tc.wantOrder)
			}
		})
	}
}

func TestFileForm(t *testing.T) {
	v, err := cjson.Parse([]byte(`{"\u0000k\n":["\b\t\n\f\r\u0001\u001f\u007f \"\\ é"]}`))
	if err != nil {
		t.Fatal(err)
	}
	canonical := "{\"\x00k\n\":[\"\b\t\n\f\r\x01\x1f\x7f \\\"\\\\ é\"]}"
	if got := string(v.Canonical()); got != canonical {
		t.Errorf("Canonical() = %q, want %q", got, canonical)
	}
	file := `{"\u0000k\n":["\b\t\n\f\r\u0001\u001f` + "\x7f" + ` \"\\ é"]}`
	e := cjson.Encoder{FileForm: true}
	e.Value(v)
	got, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != file {
		t.Errorf("file form %q, want %q", got, file)
	}
	// Splicing canonical bytes in file form escapes them the same way.
	s := cjson.Encoder{FileForm: true}
	s.BeginArray()
	s.Canonical(v.Canonical())
	s.EndArray()
	got, err = s.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "["+file+"]" {
		t.Errorf("spliced file form %q, want %q", got, "["+file+"]")
	}
	back, err := cjson.Parse([]byte(file))
	if err != nil || !back.Equal(v) {
		t.Errorf("file form does not read back: %v", err)
	}
}

// TestSplice: a value encoded apart is written in place (the comma and
// member order kept, control characters escaped in file form), and a
// mistake made writing it is the whole encoding's.
func TestSplice(t *testing.T) {
	var sub cjson.Encoder
	sub.BeginObject()
	sub.Name("pem")
	sub.String("a\nb")
	sub.EndObject()
	e := cjson.Encoder{FileForm: true}
	e.BeginArray()
	e.Int(1)
	e.Splice(&sub)
	e.Null()
	e.EndArray()
	got, err := e.Bytes()
	if err != nil || string(got) != `[1,{"pem":"a\nb"},null]` {
		t.Fatalf("got %s, %v", got, err)
	}

	var bad cjson.Encoder
	bad.BeginObject()
	bad.Name("b")
	bad.Int(1)
	bad.Name("a")
	bad.Int(2)
	bad.EndObject()
	e = cjson.Encoder{}
	e.BeginObject()
	e.Name("x")
	e.Splice(&bad)
	e.EndObject()
	if _, err := e.Bytes(); !errors.Is(err, cjson.ErrOrder) || err.Error() != `member "a" written after "b": `+cjson.ErrOrder.Error() {
		t.Fatalf("splice of an encoding out of order: %v", err)
	}

	e = cjson.Encoder{}
	e.Splice(&cjson.Encoder{FileForm: true})
	if _, err := e.Bytes(); err == nil || err.Error() != "spliced value written in file form, not canonical form" {
		t.Fatalf("splice of a file form encoding: %v", err)
	}
	e = cjson.Encoder{}
	e.Splice(&cjson.Encoder{})
	if _, err := e.Bytes(); err == nil || err.Error() != "spliced encoder holds no value" {
		t.Fatalf("splice of nothing: %v", err)
	}
}
