package cjson_test

import (
	"fmt"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// walk reads one value member by member, the way a format reader does.
func walk(d *cjson.Decoder) error {
	k, err := d.Peek()
	if err != nil {
		return err
	}
	switch k {
	case cjson.Object:
		return d.Object(func(string) error { return walk(d) })
	case cjson.Array:
		return d.Array(func(int) error { return walk(d) })
	case cjson.String:
		_, err := d.String()
		return err
	}
	_, err = d.Value()
	return err
}

// decodeErr walks the whole document with a Decoder.
func decodeErr(data []byte, depth int) error {
	d := cjson.NewDecoder(data, cjson.Options{MaxDepth: depth})
	if err := walk(d); err != nil {
		return err
	}
	return d.Finish()
}

var decoderCases = []string{
	`{"a":1,"b":[true,false,null,"x"],"c":{"d":-5}}`,
	`{"b":1,"a":2,"b":3}`,           // duplicate, out of order
	`{"a":{"x":1,"x":2},"b":[1,}`,   // a syntax error after a duplicate: the syntax error comes first, as in Parse
	`{"a":[1,2,{"k":"v","k":"w"}]}`, // duplicate deep inside
	`[[[[[[1]]]]]]`,                 // deeper than the limit below
	`{"a":"\u00e9\ud800"}`,          // lone surrogate
	"{\"a\":\"\xff\"}",              // invalid UTF-8
	`{"a":1.5}`,                     // not an integer
	`{"a":-0}`,                      // -0
	`{"a":1} x`,                     // trailing data
	`{"a" 1}`,                       // missing colon
	`{"a":1 "b":2}`,                 // missing comma
	`{"a":tru}`,                     // bad literal
	`{`,                             // end of input
	``,                              // empty
	`   {"a":[],"b":{}}   `,         // whitespace around
}

// TestDecoderSameAsParse: the decoder is Parse without the tree, so for
// every input it fails exactly where and how Parse fails.
func TestDecoderSameAsParse(t *testing.T) {
	for _, c := range decoderCases {
		checkDecoder(t, []byte(c), 5)
	}
}

func checkDecoder(t *testing.T, data []byte, depth int) {
	t.Helper()
	_, perr := cjson.ParseWith(data, cjson.Options{MaxDepth: depth})
	derr := decodeErr(data, depth)
	if fmt.Sprint(perr) != fmt.Sprint(derr) {
		t.Fatalf("%q: Parse says %v; the decoder says %v", data, perr, derr)
	}
}

func FuzzDecoder(f *testing.F) {
	for _, c := range decoderCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoder(t, data, 8)
	})
}

// TestDecoderRestore: a reader that gives up on a fast path goes back and
// reads the value whole, getting what Parse gets.
func TestDecoderRestore(t *testing.T) {
	d := cjson.NewDecoder([]byte(`{"k":{"a":1,"b":[2,3]},"z":true}`), cjson.Options{})
	var got []string
	err := d.Object(func(name string) error {
		m := d.Save()
		if name == "k" {
			// Start reading member by member, then change our mind.
			stop := fmt.Errorf("stop")
			if err := d.Object(func(string) error { return stop }); err != stop {
				return fmt.Errorf("fast path: %v", err)
			}
			d.Restore(m)
		}
		v, err := d.Value()
		got = append(got, name+"="+string(v.Canonical()))
		return err
	})
	if err == nil {
		err = d.Finish()
	}
	if err != nil || fmt.Sprint(got) != `[k={"a":1,"b":[2,3]} z=true]` {
		t.Fatalf("got %v, %v", got, err)
	}
}
