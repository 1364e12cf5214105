package transcript

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics; an error is a *ChainError on a line that
// exists; a log it accepts is exactly its entries' lines, each followed by
// a newline, then the torn fragment (when torn); and it resumes: one more
// Append gives a log that Parse accepts with one more entry.
func FuzzParse(f *testing.F) {
	f.Add(readKAT(f, "log.jsonl"))
	files, _ := filepath.Glob(katDir("broken", "*.jsonl"))
	for _, name := range files {
		f.Add(readKAT(f, "broken", filepath.Base(name)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, torn, err := Parse(data)
		if err != nil {
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *ChainError", err, err)
			}
			if ce.Line < 1 || ce.Line > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("line %d of a log of %d newlines", ce.Line, bytes.Count(data, []byte("\n")))
			}
			if entries != nil || torn {
				t.Fatal("entries returned with an error")
			}
			return
		}
		var whole []byte
		for i, e := range entries {
			if e.Seq != int64(i+1) || e.Hash != hexHash(e.Line) {
				t.Fatalf("entry %d: seq %d, hash %s", i+1, e.Seq, e.Hash)
			}
			whole = append(append(whole, e.Line...), '\n')
		}
		if !bytes.HasPrefix(data, whole) {
			t.Fatal("the entries are not the log's lines")
		}
		rest := data[len(whole):]
		if torn != (len(rest) > 0) || bytes.IndexByte(rest, '\n') >= 0 {
			t.Fatalf("torn %v with %q after the entries", torn, rest)
		}
		if len(entries) == 0 {
			return
		}
		m := memory{data: bytes.Clone(whole)}
		l, err := Resume(&m, entries)
		if err != nil {
			t.Fatalf("Resume: %v", err)
		}
		if _, err := l.Append("fuzzed", entries[0].Time, map[string]string{"x": "y"}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		more, torn, err := Parse(m.data)
		if err != nil || torn || len(more) != len(entries)+1 {
			t.Fatalf("after resuming: %d entries, torn %v, %v", len(more), torn, err)
		}
	})
}
