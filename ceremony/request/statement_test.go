package request

import (
	"os"
	"testing"
)

// FuzzParsePossession: whatever ParsePossession accepts, its canonical
// statement reads back as the same statement, base version included.
func FuzzParsePossession(f *testing.F) {
	if b, err := os.ReadFile("../../docs/formats/examples/possession-statement.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"format":"conclave-possession/1","keys":{"keyids":["a"],"threshold":1},"project":"p","request_id":"r"}`))
	f.Add([]byte(`{"base_version":"7","format":"conclave-possession/1","keys":{"keyids":[],"threshold":0},"project":"p","request_id":"r"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePossession(data)
		if err != nil {
			return
		}
		q, err := ParsePossession(p.Payload())
		if err != nil {
			t.Fatalf("the canonical form of %q does not read back: %v", data, err)
		}
		if q.RequestID != p.RequestID || q.Project != p.Project || q.BaseVersion != p.BaseVersion || !q.Keyset.Equal(p.Keyset) {
			t.Fatalf("round trip of %q: %+v, then %+v", data, p, q)
		}
		if !p.Matches(p.Payload()) {
			t.Fatalf("%+v does not match its own payload", p)
		}
	})
}
