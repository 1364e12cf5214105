package build

import (
	"bytes"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// FuzzSummarize: any new file parsed from hostile bytes gets a card or a
// refusal, never a panic; a card lists each change once, in project
// order, with counts that add up, and a file that passes is exactly the
// one Conclave writes for its card (so it re-summarizes to the same card).
func FuzzSummarize(f *testing.F) {
	k := []*tuf.Key{key(0), key(1), key(2), key(3)}
	cur := signed(f, project("alpha", 1, k[0]), project("beta", 2, k[1], k[2]))
	ps, err := Build(one(cur, keyMap(k...), add("r1", "delta", 1, k[3]), remove(f, cur, "r2", "alpha")))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ps[0].File.Bytes())
	f.Add(cur.Bytes())
	f.Add(bytes.Replace(ps[0].File.Bytes(), []byte(`"threshold":1`), []byte(`"threshold":2`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := tuf.Parse("new", data)
		if err != nil {
			return
		}
		card, err := Summarize("claimed", cur, n)
		if err != nil {
			return
		}
		if card.Added+card.Rotated+card.Removed != len(card.Changes) {
			t.Fatalf("counts +%d ~%d -%d for %d changes", card.Added, card.Rotated, card.Removed, len(card.Changes))
		}
		for i := 1; i < len(card.Changes); i++ {
			if card.Changes[i-1].Project >= card.Changes[i].Project {
				t.Fatalf("changes out of order: %s before %s", card.Changes[i-1].Project, card.Changes[i].Project)
			}
		}
		again, err := Summarize("claimed", cur, n)
		if err != nil || again.Digest != card.Digest {
			t.Fatalf("the same files summarized twice: %v, digest %s then %s", err, card.Digest, again.Digest)
		}
	})
}
