package tuf

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// FuzzMetadataRoundTrip: for every input Parse accepts, the typed value
// encodes to exactly the canonical form of the signed JSON read (so
// re-signing never drops or changes a field) but for an expiry read in a
// non-canonical form, which is written canonically, and the file Conclave writes
// parses again to the same signed bytes and is valid JSON.
func FuzzMetadataRoundTrip(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "roundtrip", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatal("no seed files", err)
	}
	for _, name := range files {
		f.Add(readTestdata(f, "roundtrip", filepath.Base(name)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.json", data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		got, err := file.EncodeSigned()
		if err != nil {
			t.Fatalf("EncodeSigned: %v", err)
		}
		if file.Expires().NonCanonical() == "" {
			if !bytes.Equal(got, file.SignedBytes()) {
				t.Fatalf("EncodeSigned differs from SignedBytes\n got %q\nwant %q", got, file.SignedBytes())
			}
		} else {
			// A non-canonical expiry is written canonically: the typed
			// value, written, reads back as an exact file of the same
			// instant to the second.
			written := *file
			written.signed = got
			re, err := Parse("re.json", written.Bytes())
			if err != nil {
				t.Fatalf("EncodeSigned does not parse: %v\n%q", err, got)
			}
			if re.Expires().NonCanonical() != "" || !re.Expires().Equal(file.Expires().Truncate(time.Second)) {
				t.Fatalf("expiry %q written as %q", file.Expires().NonCanonical(), re.Expires())
			}
			if again, _ := re.EncodeSigned(); !bytes.Equal(again, re.SignedBytes()) || !bytes.Equal(again, got) {
				t.Fatalf("the canonical form is not a fixed point")
			}
		}
		out := file.Bytes()
		if !json.Valid(out) {
			t.Fatalf("Bytes() is not valid JSON: %q", out)
		}
		again, err := Parse("again.json", out)
		if err != nil {
			t.Fatalf("Bytes() does not parse: %v\n%q", err, out)
		}
		if !bytes.Equal(again.SignedBytes(), file.SignedBytes()) {
			t.Fatalf("re-parsed SignedBytes differ\n got %q\nwant %q", again.SignedBytes(), file.SignedBytes())
		}
		if !bytes.Equal(again.Bytes(), out) {
			t.Fatalf("Bytes() is not a fixed point")
		}
		if again.Type() != file.Type() || again.Version() != file.Version() || again.Expires().String() != file.Expires().String() {
			t.Fatalf("re-parsed header differs")
		}
	})
}
