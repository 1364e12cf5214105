package bundle

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

func TestLines(t *testing.T) {
	for _, c := range []struct {
		in         string
		lines      []string
		terminated bool
	}{
		{"", nil, true},
		{"a\n", []string{"a"}, true},
		{"a\nb\n", []string{"a", "b"}, true},
		{"a\nb", []string{"a", "b"}, false},
		{"\n", []string{""}, true},
		{"a\n\nb\n", []string{"a", "", "b"}, true},
		{"a\r\n", []string{"a\r"}, true},
	} {
		lines, terminated := Lines([]byte(c.in))
		var got []string
		for _, l := range lines {
			got = append(got, string(l))
		}
		if !reflect.DeepEqual(got, c.lines) || terminated != c.terminated {
			t.Errorf("Lines(%q) = %q, %v; want %q, %v", c.in, got, terminated, c.lines, c.terminated)
		}
		if n := CountLines([]byte(c.in)); n != len(c.lines) {
			t.Errorf("CountLines(%q) = %d, want %d", c.in, n, len(c.lines))
		}
	}
}

func TestCheckLine(t *testing.T) {
	lim := LineLimits{MaxSize: 64, MaxDepth: 3, MaxEntries: 3}
	for _, c := range []struct {
		name             string
		line             string
		last, terminated bool
		code             verdict.Code
		msg              string
	}{
		{"plain", `{"a":[1,2,3],"b":{"c":"d"}}`, false, true, "", ""},
		{"too long", strings.Repeat("x", 65), false, true, verdict.RequestTooLarge, "is 65 bytes long; at most 64 are allowed for one request (bundle_limits.max_request_size)"},
		{"at the length limit", `"` + strings.Repeat("x", 62) + `"`, false, true, "", ""},
		{"last without LF", `{}`, true, false, verdict.FormatInvalid, "the batch's last line does not end in a newline (LF); every line of a batch ends in one, the last too, so that a batch cut short at a line's end is not taken for a whole one"},
		{"last with LF", `{}`, true, true, "", ""},
		{"empty", ``, false, true, verdict.FormatInvalid, "the line is empty; each line of a batch is one request"},
		{"CR", "{}\r", false, true, verdict.FormatInvalid, "the line ends in CR LF; the lines of a batch end in LF alone (was the batch converted for another system?)"},
		{"too deep", `[[[[1]]]]`, false, true, verdict.JSONInvalid, "at byte 3: arrays and objects nest more than 3 levels deep"},
		{"deep enough", `[[[1]]]`, false, true, "", ""},
		{"brackets in strings", `["[[[[","]]]]","{{{{"]`, false, true, "", ""},
		{"escaped quote in a string", `["\"[[[[\\",[[1]]]`, false, true, "", ""},
		{"too many entries", `[1,2,3,4]`, false, true, verdict.RequestTooLarge, "has an array or object of more than 3 entries (at byte 6)"},
		{"too many members", `{"a":1,"b":2,"c":3,"d":4}`, false, true, verdict.RequestTooLarge, "has an array or object of more than 3 entries (at byte 18)"},
		{"commas in strings", `[",,,,,",1,2]`, false, true, "", ""},
		{"entries counted per container", `[[1,2,3],[1,2,3],[1,2,3]]`, false, true, "", ""},
		{"unclosed string", `["abc`, false, true, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := CheckLine([]byte(c.line), c.last, c.terminated, lim)
			switch {
			case c.code == "" && e != nil:
				t.Fatalf("refused: %v", e)
			case c.code != "" && (e == nil || e.Code != c.code || e.Msg != c.msg):
				t.Fatalf("got %+v\nwant %s %q", e, c.code, c.msg)
			}
		})
	}
}

// FuzzBatch: any bytes as a batch. Cutting them into lines loses and adds
// nothing, and reading each line never panics: a request or an error with
// a code, never both or neither.
func FuzzBatch(f *testing.F) {
	valid := []byte(`{"format":"conclave-request/1","id":"r1","kind":"remove","made":"2026-11-24T11:00:00Z","project":"p","requested_by":"x"}`)
	f.Add(append(append([]byte{}, valid...), '\n'))
	f.Add(append(append([]byte{}, valid...), "\r\n"...))
	f.Add(valid)
	f.Add([]byte("\n\n"))
	f.Add([]byte(`["\"[[",[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]` + "\n"))
	f.Add([]byte("[" + strings.Repeat("0,", 40) + "0]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, terminated := Lines(data)
		if n := CountLines(data); n != len(lines) {
			t.Fatalf("CountLines %d, Lines %d", n, len(lines))
		}
		joined := bytes.Join(lines, []byte{'\n'})
		if terminated && len(data) > 0 {
			joined = append(joined, '\n')
		}
		if !bytes.Equal(joined, data) {
			t.Fatalf("lines %q do not make %q again", lines, data)
		}
		ll := LineLimits{MaxSize: 1 << 20, MaxDepth: 16, MaxEntries: 32}
		lim := request.Limits{MaxDepth: 16, MaxProjectName: 128, MaxRequestedBy: 256, MaxKeys: 16}
		for i, l := range lines {
			if bytes.IndexByte(l, '\n') >= 0 {
				t.Fatalf("line %d holds a newline", i+1)
			}
			r, e := ParseLine(l, i == len(lines)-1, terminated, ll, lim)
			if (r == nil) == (e == nil) || e != nil && e.Code == "" {
				t.Fatalf("line %d: request %v, error %+v", i+1, r, e)
			}
		}
	})
}
