package verify

import (
	"encoding/json"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// TestRehearsalMarked: a chain whose trusted root, or a root verified
// from it, carries the rehearsal mark is reported as a rehearsal's,
// naming the first marked root, in the report and its JSON; a chain
// without the mark is not; a marked root that does not verify marks
// nothing (its mark is not authentic).
func TestRehearsalMarked(t *testing.T) {
	c := newChain(t)
	c.r1.MarkRehearsal(tuf.RehearsalNotice)
	marked1 := rootFile(t, c.r1, c.r1.Keys, c.old[0], c.old[1])
	c.r2.MarkRehearsal("v2 " + tuf.RehearsalNotice)
	f2, err := tuf.NewRootFile(c.r2)
	if err != nil {
		t.Fatal(err)
	}
	signed(t, f2, nil, c.r1.Keys, c.old[1], c.old[2])
	marked2 := signed(t, f2, nil, c.r2.Keys, c.new[0], c.new[1])
	unsigned2 := rootFile(t, c.r2, c.r2.Keys, c.new[0], c.new[1]) // not signed by root 1's keys

	files := func(root2 []byte) []Input {
		return []Input{in("2.root.json", root2), in("targets.json", c.targets), in("claimed.json", c.claimed)}
	}
	for _, tc := range []struct {
		name    string
		trusted []byte
		root2   []byte
		want    *Rehearsal
	}{
		{"production", c.root1, c.root2, nil},
		{"trusted root marked", marked1, c.root2, &Rehearsal{File: "1.root.json", Mark: tuf.RehearsalNotice}},
		{"marked on the way", c.root1, marked2, &Rehearsal{File: "2.root.json", Mark: "v2 " + tuf.RehearsalNotice}},
		{"first marked root named", marked1, marked2, &Rehearsal{File: "1.root.json", Mark: tuf.RehearsalNotice}},
		{"a marked root that fails marks nothing", c.root1, unsigned2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := walk(t, Options{Trusted: in("1.root.json", tc.trusted), Files: files(tc.root2)})
			switch {
			case tc.want == nil && r.Rehearsal != nil:
				t.Errorf("Rehearsal = %+v, want none", *r.Rehearsal)
			case tc.want != nil && (r.Rehearsal == nil || *r.Rehearsal != *tc.want):
				t.Errorf("Rehearsal = %+v, want %+v", r.Rehearsal, *tc.want)
			}
			b, err := r.JSON()
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Rehearsal *struct{ Root, Mark string } `json:"rehearsal"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == nil && doc.Rehearsal != nil:
				t.Errorf("JSON rehearsal = %+v, want none", *doc.Rehearsal)
			case tc.want != nil && (doc.Rehearsal == nil || doc.Rehearsal.Root != tc.want.File || doc.Rehearsal.Mark != tc.want.Mark):
				t.Errorf("JSON rehearsal = %+v, want root %q mark %q", doc.Rehearsal, tc.want.File, tc.want.Mark)
			}
		})
	}
}
