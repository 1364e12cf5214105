package build

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// built is the fixture of the card tests: claimed delegating alpha and
// beta at version 5, and version 6 adding delta.
func built(t *testing.T) (cur *tuf.File, k []*tuf.Key, p *Payload, v verdict.Verdict) {
	k = []*tuf.Key{key(0), key(1), key(2), key(3)}
	cur = signed(t, project("alpha", 1, k[0]), project("beta", 1, k[1]))
	v = add("r1", "delta", 1, k[2])
	ps, err := Build(one(cur, keyMap(k...), v))
	if err != nil {
		t.Fatal(err)
	}
	return cur, k, ps[0], v
}

// remake writes a targets role changed by edit as a new file.
func remake(t *testing.T, f *tuf.File, edit func(t *tuf.Targets)) *tuf.File {
	t.Helper()
	c, err := tuf.Parse("copy", f.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	edit(c.Targets)
	out, err := tuf.NewTargetsFile(c.Targets)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSummarizeForgedDelegation: a "new" file that delegates one more
// project than was approved shows it on the card, whatever the requests
// said.
func TestSummarizeForgedDelegation(t *testing.T) {
	cur, k, _, v := built(t)
	forged, err := delegation.Apply(cur.Targets, []delegation.Project{project("delta", 1, k[2]), project("evil", 1, k[3])}, nil, template, roleNames, 6, expires)
	if err != nil {
		t.Fatal(err)
	}
	f, err := tuf.NewTargetsFile(forged)
	if err != nil {
		t.Fatal(err)
	}
	card, err := Summarize("claimed", cur, f)
	if err != nil {
		t.Fatal(err)
	}
	if card.Added != 2 || len(card.Changes) != 2 || card.Changes[1].Project != "evil" {
		t.Fatalf("card +%d %s, want delta and evil added", card.Added, dump(card.Changes))
	}
	if card.Digest == changesDigest([]Change{changeOf(v)}) {
		t.Error("the forged card has the digest of the approved change")
	}

	// A kept delegation given wider paths is a rotation on the card.
	wide := remake(t, f, func(t *tuf.Targets) { t.Delegations.Roles[0].Paths = []string{"*"} })
	card, err = Summarize("claimed", cur, wide)
	if err != nil {
		t.Fatal(err)
	}
	if c := card.Changes[0]; card.Rotated != 1 || c.Project != "alpha" || fmt.Sprint(c.Before.Paths, c.After.Paths) != "[alpha/*] [*]" {
		t.Fatalf("card ~%d %s, want alpha's paths rotated to *", card.Rotated, dump(card.Changes))
	}
}

// TestSummarizeRefuses: a new file that hides a change the card cannot
// show, or that is not a later version of the same kind, has no card.
func TestSummarizeRefuses(t *testing.T) {
	cur, k, p, _ := built(t)
	delta := func(t *tuf.Targets) *tuf.DelegatedRole {
		for _, r := range t.Delegations.Roles {
			if r.Name == "delta" {
				return r
			}
		}
		panic("no delta")
	}
	swapped, err := tuf.Parse("swapped", bytes.ReplaceAll(p.File.Bytes(), []byte(k[2].Public), []byte(k[3].Public)))
	if err != nil {
		t.Fatal(err)
	}
	root, err := tuf.Parse("root", []byte(`{"signatures":[],"signed":{"_type":"root","spec_version":"1.0.31","version":6,"expires":"2030-01-01T00:00:00Z","consistent_snapshot":true,"keys":{},
		"roles":{"root":{"keyids":[],"threshold":1},"targets":{"keyids":[],"threshold":1},"snapshot":{"keyids":[],"threshold":1},"timestamp":{"keyids":[],"threshold":1}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	hidden := "summarize claimed: the new version changes more than its delegations' keys, thresholds and paths, its version and its expiry; the card could not show it all"
	for _, tc := range []struct {
		name string
		new  *tuf.File
		want string
	}{
		{"same version", cur, "summarize claimed: the new version 5 is not after the last signed version 5"},
		{"other type", root, "summarize claimed: the last signed version is targets metadata, the new one root"},
		{"key swapped under its keyid", swapped, "summarize claimed: the new version stores a key under keyid " + k[2].ID() + ", which is not its keyid " + k[3].ID()},
		{"not terminating", remake(t, p.File, func(t *tuf.Targets) { delta(t).Terminating = false }), hidden},
		{"a target", remake(t, p.File, func(t *tuf.Targets) {
			t.Targets["x"] = &tuf.TargetFile{Length: 1, Hashes: map[string]string{"sha256": "00"}}
		}), hidden},
		{"order", remake(t, p.File, func(t *tuf.Targets) {
			rs := t.Delegations.Roles
			rs[0], rs[2] = rs[2], rs[0]
		}), hidden},
		{"an unused key", remake(t, p.File, func(t *tuf.Targets) { t.Delegations.Keys[k[3].ID()] = k[3] }), hidden},
		{"not a project name", remake(t, p.File, func(t *tuf.Targets) { delta(t).Name = "Delta" }),
			`summarize claimed: the new version is not one Conclave writes: project "Delta": the name is not a normalised project name (PEP 503)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Summarize("claimed", cur, tc.new)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestDigest: a ceremony's digest covers each role's version and payload
// hash, in role order whatever the order of the cards.
func TestDigest(t *testing.T) {
	a := &Card{Role: "shard-a", Version: 3}
	b := &Card{Role: "shard-b", Version: 8}
	hashes := map[string]string{"shard-a": strings.Repeat("a", 64), "shard-b": strings.Repeat("b", 64)}
	got := Digest([]*Card{b, a}, hashes)
	if got != Digest([]*Card{a, b}, hashes) {
		t.Error("the digest depends on the order of the cards")
	}
	// The known answer: sha256sum of
	// [{"payload_sha256":"aa…","role":"shard-a","version":3},{"payload_sha256":"bb…","role":"shard-b","version":8}]
	const want = "7270d98b4071e79594cfbb50444081e3a51e12c70d3e62ef278b843f8176b4d1"
	if got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
	b.Version = 9
	if Digest([]*Card{a, b}, hashes) == got {
		t.Error("the digest does not cover the version")
	}
	hashes["shard-a"] = strings.Repeat("c", 64)
	b.Version = 8
	if Digest([]*Card{a, b}, hashes) == got {
		t.Error("the digest does not cover the payload hash")
	}
}

// TestSummarizeLastFromItsBytes: the last signed file's typed values are
// used as parsed only while they say what its bytes say; changed after
// parsing (here: a project dropped from memory), its bytes are parsed
// again and the card is the same.
func TestSummarizeLastFromItsBytes(t *testing.T) {
	cur, _, p, _ := built(t)
	want, err := Summarize("claimed", cur, p.File)
	if err != nil {
		t.Fatal(err)
	}
	if want.Added != 1 || want.Removed != 0 || want.Changes[0].Project != "delta" {
		t.Fatalf("card +%d -%d %s, want delta added", want.Added, want.Removed, dump(want.Changes))
	}
	cur.Targets.Delegations.Roles = cur.Targets.Delegations.Roles[1:]
	got, err := Summarize("claimed", cur, p.File)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != want.Digest || got.Added != 1 || got.Removed != 0 {
		t.Errorf("card +%d -%d %s from changed typed values, want %s", got.Added, got.Removed, dump(got.Changes), dump(want.Changes))
	}
}

// TestSummarizeNewFromItsBytes: a new file conclave diff read (tuf.Parse)
// is used as parsed only while its typed values say what its bytes say;
// changed after parsing (here: the added project dropped from memory),
// its bytes are parsed again and the card still shows the project added.
func TestSummarizeNewFromItsBytes(t *testing.T) {
	cur, _, p, _ := built(t)
	next, err := tuf.Parse("6.claimed.json", p.File.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want, err := Summarize("claimed", cur, next)
	if err != nil {
		t.Fatal(err)
	}
	if want.Added != 1 || want.Changes[0].Project != "delta" {
		t.Fatalf("card +%d %s, want delta added", want.Added, dump(want.Changes))
	}
	roles := next.Targets.Delegations.Roles
	next.Targets.Delegations.Roles = slices.DeleteFunc(slices.Clone(roles), func(r *tuf.DelegatedRole) bool { return r.Name == "delta" })
	got, err := Summarize("claimed", cur, next)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != want.Digest || got.Added != 1 || got.Changes[0].Project != "delta" {
		t.Errorf("card +%d %s from changed typed values, want %s", got.Added, dump(got.Changes), dump(want.Changes))
	}
}

// TestSummarizeReadsParsedFilesOnce: the card of two files tuf.Parse
// made, 400 projects each, costs fewer allocations than parsing the new
// file alone: neither file is parsed a second time.
func TestSummarizeReadsParsedFilesOnce(t *testing.T) {
	var ps []delegation.Project
	for i := range 400 {
		ps = append(ps, project(fmt.Sprintf("project-%03d", i), 1, key(i)))
	}
	cur, err := tuf.Parse("claimed.json", signed(t, ps...).Bytes())
	if err != nil {
		t.Fatal(err)
	}
	built, err := Build(one(cur, keyMap(key(400)), add("r1", "project-400", 1, key(400))))
	if err != nil {
		t.Fatal(err)
	}
	data := built[0].File.Bytes()
	next, err := tuf.Parse("6.claimed.json", data)
	if err != nil {
		t.Fatal(err)
	}
	parse := testing.AllocsPerRun(5, func() {
		if _, err := tuf.Parse("6.claimed.json", data); err != nil {
			t.Fatal(err)
		}
	})
	summarize := testing.AllocsPerRun(5, func() {
		if card, err := Summarize("claimed", cur, next); err != nil || card.Added != 1 {
			t.Fatalf("card %v, %v; want project-400 added", card, err)
		}
	})
	if summarize >= parse {
		t.Errorf("Summarize of two parsed files: %.0f allocations; parsing the new one alone takes %.0f", summarize, parse)
	}
}
