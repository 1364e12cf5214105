package foldname

import (
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	for _, c := range []struct {
		paths       []string
		other, this string // the clash Add reports for the last path; "" for none
	}{
		{[]string{"a.json", "b.json", "a.json"}, "", ""}, // the same path twice is no clash
		{[]string{"a.json", "A.json"}, "a.json", "A.json"},
		{[]string{"requests/0001.jsonl", "Requests/0002.jsonl"}, "requests", "Requests"},
		{[]string{"requests/0001.jsonl", "requests/0002.jsonl", "published.json"}, "", ""},
		{[]string{"a", "A/x"}, "a", "A"}, // a file and a directory of one name
		{[]string{"K.json", "\u212a.json"}, "K.json", "\u212a.json"},
		{[]string{"straße", "STRASSE"}, "", ""}, // simple folding keeps ß one letter
	} {
		var s Set
		var other, this string
		for i, p := range c.paths {
			o, th, clash := s.Add(p)
			if clash && i != len(c.paths)-1 {
				t.Fatalf("%q: clash at %q", c.paths, p)
			}
			other, this = o, th
		}
		if other != c.other || this != c.this {
			t.Errorf("%q: clash %q, %q; want %q, %q", c.paths, other, this, c.other, c.this)
		}
	}
}

// FuzzKey: two names have one key exactly when strings.EqualFold says
// they are equal, and a Set reports a clash for two names without
// directories exactly then.
func FuzzKey(f *testing.F) {
	f.Add("a.json", "A.json")
	f.Add("K", "\u212a")
	f.Add("requests/0001.jsonl", "requests/0002.jsonl")
	f.Add("ß", "SS")
	f.Add("\xff", "\xfe")
	f.Fuzz(func(t *testing.T, a, b string) {
		same := Key(a) == Key(b)
		if same != strings.EqualFold(a, b) {
			t.Fatalf("Key(%q) == Key(%q) is %v, EqualFold %v", a, b, same, !same)
		}
		if strings.Contains(a+b, "/") {
			return // a directory of one may clash with the other
		}
		var s Set
		s.Add(a)
		if _, _, clash := s.Add(b); clash != (same && a != b) {
			t.Fatalf("Set clash for %q then %q: %v", a, b, clash)
		}
	})
}
