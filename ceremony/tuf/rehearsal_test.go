package tuf

import (
	"strings"
	"testing"
)

// TestRehearsalMark: the mark is written in root's signed part, so the
// signatures cover it, survives a parse, and is read back; a root
// without it is not marked.
func TestRehearsalMark(t *testing.T) {
	s := edSigner(1)
	k := mustKey(t, s.Public())
	r := testRoot(1, 1, k)
	if _, marked := r.Rehearsal(); marked {
		t.Fatal("a new root is marked")
	}
	r.MarkRehearsal("first")
	r.MarkRehearsal(RehearsalNotice)
	f := mustRootFile(t, r)
	mustSign(t, f, r.Keys, s)
	want := `"x-conclave-rehearsal":"` + RehearsalNotice + `"`
	if got := string(f.SignedBytes()); !strings.Contains(got, want) || strings.Count(got, RehearsalMark) != 1 {
		t.Errorf("signed part %s: want %s once", got, want)
	}
	g, err := Parse("root.json", f.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.VerifyWithRoot(g.Root); err != nil {
		t.Errorf("the marked root does not verify: %v", err)
	}
	if text, marked := g.Root.Rehearsal(); !marked || text != RehearsalNotice {
		t.Errorf("Rehearsal() = %q, %v; want %q, true", text, marked, RehearsalNotice)
	}
	// Any value marks a root; one that is not a string reads as its JSON.
	h, err := Parse("root.json", []byte(strings.Replace(string(f.Bytes()), `"`+RehearsalNotice+`"`, `{"b":1,"a":true}`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if text, marked := h.Root.Rehearsal(); !marked || text != `{"a":true,"b":1}` {
		t.Errorf("Rehearsal() of an object = %q, %v", text, marked)
	}
}
