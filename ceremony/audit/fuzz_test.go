package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// FuzzAudit feeds an audit without a vault a hostile log, signed head,
// exported file and published file: it never panics, never passes (no
// vault, no pass), and whatever the bytes hold, the text report holds no
// escape character and the HTML page no markup from them.
func FuzzAudit(f *testing.F) {
	for _, p := range []string{"../../docs/formats/examples/ceremony/log.jsonl", "../transcript/testdata/kat/log.jsonl"} {
		log, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(log, []byte(`{"payload":"e30=","payloadType":"application/vnd.conclave.transcript-head.v1+json","signatures":[]}`), []byte(`{"signatures":[],"signed":{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{},"version":8}}`), []byte("<script>\x1b[2J"))
	}
	f.Fuzz(func(t *testing.T, log, head, meta, published []byte) {
		r, err := Audit(context.Background(), Input{
			Log:       log,
			Head:      head,
			Export:    map[string][]byte{"8.claimed.json": meta, "export-manifest.json": published},
			Published: map[string][]byte{"claimed.json": published, "9.claimed.json": meta},
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict == Pass {
			t.Fatalf("an audit without a vault passed: %+v", r)
		}
		var text, html bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(text.String(), "\x1b\u009b\u202e") {
			t.Fatalf("the text report holds a raw escape:\n%q", text.String())
		}
		if err := r.WriteHTML(&html); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html.String(), "<script") {
			t.Fatalf("the HTML report holds a script")
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
