package session

import (
	"bytes"
	"testing"
)

func TestCopyRoundTrip(t *testing.T) {
	files := map[string][]byte{
		"manifest.json":       []byte(`{"m":1}`),
		"requests/r1.json":    []byte("one\nwith a newline\n"),
		"requests/empty.json": {},
	}
	data := encodeCopy(files)
	want := "conclave-bundle-copy/1\n7 manifest.json\n{\"m\":1}\n0 requests/empty.json\n\n19 requests/r1.json\none\nwith a newline\n\n"
	if string(data) != want {
		t.Fatalf("encoded:\n%q\nwant\n%q", data, want)
	}
	c, err := parseCopy(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.files) != 3 || !bytes.Equal(c.files["requests/r1.json"], files["requests/r1.json"]) {
		t.Errorf("parsed %q", c.files)
	}
	if !bytes.Equal(encodeCopy(c.files), data) {
		t.Error("not the same bytes encoded again")
	}
}

func TestParseCopyRefuses(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"", `bundle copy: does not start with "conclave-bundle-copy/1"`},
		{"conclave-bundle-copy/1\n", "bundle copy: no manifest.json"},
		{"conclave-bundle-copy/1\n1 manifest.json", "bundle copy: file 1: the header line has no end"},
		{"conclave-bundle-copy/1\n01 manifest.json\nx\n", `bundle copy: file 1: the header "01 manifest.json" is not SIZE NAME`},
		{"conclave-bundle-copy/1\n-1 manifest.json\nx\n", `bundle copy: file 1: the header "-1 manifest.json" is not SIZE NAME`},
		{"conclave-bundle-copy/1\n5 manifest.json\nx\n", `bundle copy: file "manifest.json": 5 bytes and a newline do not follow its header`},
		{"conclave-bundle-copy/1\n1 manifest.json\nxy", `bundle copy: file "manifest.json": 1 bytes and a newline do not follow its header`},
		{"conclave-bundle-copy/1\n1 manifest.json\nx\n1 manifest.json\nx\n", `bundle copy: file "manifest.json" is not after "manifest.json" in byte order`},
		{"conclave-bundle-copy/1\n1 z.json\nx\n1 manifest.json\nx\n", `bundle copy: file "manifest.json" is not after "z.json" in byte order`},
		{"conclave-bundle-copy/1\n1 ../x\nx\n", `bundle copy: file 1: "../x" is not a safe relative path (no empty parts, none starting with ".", no "..", not absolute)`},
	} {
		_, err := parseCopy([]byte(tc.in))
		if err == nil || err.Error() != tc.msg {
			t.Errorf("parseCopy(%q):\n got %v\nwant %s", tc.in, err, tc.msg)
		}
	}
}

// The copy is read back from the journal's medium: whatever it holds, it
// is refused or parsed into files that encode to exactly the same bytes.
func FuzzParseCopy(f *testing.F) {
	f.Add([]byte("conclave-bundle-copy/1\n7 manifest.json\n{\"m\":1}\n3 requests/a.json\nabc\n"))
	f.Add([]byte("conclave-bundle-copy/1\n0 manifest.json\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCopy(data)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeCopy(c.files), data) {
			t.Fatalf("%q parsed, but encodes to other bytes", data)
		}
	})
}
