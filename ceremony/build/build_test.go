package build

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// changeOf is what the card must show for an approved verdict.
func changeOf(v verdict.Verdict) Change {
	conv := func(d *verdict.Delegation) *Delegation {
		if d == nil {
			return nil
		}
		out := &Delegation{KeyIDs: []string{}, Threshold: d.Threshold, Paths: d.Paths}
		for _, k := range d.Keys {
			out.KeyIDs = append(out.KeyIDs, k.KeyID)
		}
		sort.Strings(out.KeyIDs)
		return out
	}
	return Change{Project: v.Project, Before: conv(v.Change.Before), After: conv(v.Change.After)}
}

// delegations lists a file's delegations in order, one line each.
func delegations(f *tuf.File) []string {
	var out []string
	for _, r := range f.Targets.Delegations.Roles {
		out = append(out, fmt.Sprintf("%s %d %v %v", r.Name, r.Threshold, r.Paths, short(r.KeyIDs)))
	}
	return out
}

func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[:6]
	}
	return out
}

func line(name string, threshold int64, keys ...*tuf.Key) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID()
	}
	sort.Strings(ids)
	return fmt.Sprintf("%s %d [%s/*] %v", name, threshold, name, short(ids))
}

// TestBuild applies adds, a rotation, a removal and all of them together,
// and derives the card from the built bytes: it must show exactly the
// approved changes.
func TestBuild(t *testing.T) {
	k := make([]*tuf.Key, 7)
	for i := range k {
		k[i] = key(i)
	}
	cur := signed(t, project("alpha", 1, k[0]), project("beta", 2, k[1], k[2]), project("gamma", 1, k[3]))
	given := keyMap(k...)
	alpha, beta, gamma := line("alpha", 1, k[0]), line("beta", 2, k[1], k[2]), line("gamma", 1, k[3])
	for _, tc := range []struct {
		name                    string
		approved                []verdict.Verdict
		want                    []string
		added, rotated, removed int
	}{
		{"add", []verdict.Verdict{add("r1", "delta", 1, k[4])},
			[]string{alpha, beta, line("delta", 1, k[4]), gamma}, 1, 0, 0},
		{"add first and last", []verdict.Verdict{add("r1", "aa", 1, k[4]), add("r2", "zz", 2, k[5], k[6])},
			[]string{line("aa", 1, k[4]), alpha, beta, gamma, line("zz", 2, k[5], k[6])}, 2, 0, 0},
		{"rotate", []verdict.Verdict{rotate(t, cur, "r2", "beta", 1, k[5])},
			[]string{alpha, line("beta", 1, k[5]), gamma}, 0, 1, 0},
		{"rotate threshold only", []verdict.Verdict{rotate(t, cur, "r2", "beta", 1, k[2], k[1])},
			[]string{alpha, line("beta", 1, k[1], k[2]), gamma}, 0, 1, 0},
		{"remove", []verdict.Verdict{remove(t, cur, "r3", "gamma")},
			[]string{alpha, beta}, 0, 0, 1},
		{"mixed", []verdict.Verdict{
			remove(t, cur, "r3", "alpha"), add("r1", "delta", 2, k[0], k[6]),
			rotate(t, cur, "r2", "gamma", 1, k[5]), add("r4", "beta-two", 1, k[1]),
		}, []string{beta, line("beta-two", 1, k[1]), line("delta", 2, k[0], k[6]), line("gamma", 1, k[5])}, 2, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := Build(one(cur, given, tc.approved...))
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != 1 || ps[0].Role != "claimed" || ps[0].Version != 6 {
				t.Fatalf("payloads %+v, want one for claimed version 6", ps)
			}
			p := ps[0]
			if p.SHA256 != hashHex(p.File.SignedBytes()) {
				t.Errorf("SHA256 %s is not the hash of the signed bytes", p.SHA256)
			}
			if got := delegations(p.File); !slices.Equal(got, tc.want) {
				t.Errorf("delegations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			// delegations.keys holds exactly the keys listed.
			listed := map[string]bool{}
			for _, r := range p.File.Targets.Delegations.Roles {
				for _, id := range r.KeyIDs {
					listed[id] = true
				}
			}
			if got := len(p.File.Targets.Delegations.Keys); got != len(listed) {
				t.Errorf("%d keys stored, %d listed", got, len(listed))
			}

			card, err := Summarize("claimed", cur, p.File)
			if err != nil {
				t.Fatal(err)
			}
			var want []Change
			for _, v := range tc.approved {
				want = append(want, changeOf(v))
			}
			sort.Slice(want, func(i, j int) bool { return want[i].Project < want[j].Project })
			if !reflect.DeepEqual(card.Changes, want) {
				t.Errorf("card changes %s\nwant %s", dump(card.Changes), dump(want))
			}
			if card.Role != "claimed" || card.Version != 6 || !card.Expires.Equal(expires) ||
				card.Added != tc.added || card.Rotated != tc.rotated || card.Removed != tc.removed {
				t.Errorf("card %s %d %s +%d ~%d -%d, want claimed 6 %s +%d ~%d -%d", card.Role, card.Version, card.Expires, card.Added, card.Rotated, card.Removed,
					expires, tc.added, tc.rotated, tc.removed)
			}
			if card.Digest != changesDigest(want) {
				t.Errorf("digest %s is not the digest of the approved changes", card.Digest)
			}
		})
	}
}

func dump(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "\n  %s %+v -> %+v", c.Project, c.Before, c.After)
	}
	return b.String()
}

// TestBuildDeterministic: the same approvals in any order give the same
// bytes.
func TestBuildDeterministic(t *testing.T) {
	k := []*tuf.Key{key(0), key(1), key(2), key(3)}
	cur := signed(t, project("alpha", 1, k[0]), project("beta", 1, k[1]))
	vs := []verdict.Verdict{add("r1", "delta", 1, k[2]), add("r2", "epsilon", 2, k[3], k[2]), rotate(t, cur, "r3", "alpha", 1, k[3]), remove(t, cur, "r4", "beta")}
	first, err := Build(one(cur, keyMap(k...), vs...))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(one(cur, keyMap(k...), vs...))
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(vs)
	slices.Reverse(rev)
	reversed, err := Build(one(cur, keyMap(k...), rev...))
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range [][]*Payload{again, reversed} {
		if !bytes.Equal(first[0].File.Bytes(), other[0].File.Bytes()) || first[0].SHA256 != other[0].SHA256 {
			t.Errorf("the same approvals gave other bytes:\n%s\n%s", first[0].File.Bytes(), other[0].File.Bytes())
		}
	}
}

// TestBuildShards: only the shards with a change get a payload, each at
// the version given for it.
func TestBuildShards(t *testing.T) {
	in := shardFixture(t)
	k := []*tuf.Key{key(0), key(1), key(2), key(3)}
	ps, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%s v%d %v", p.Role, p.Version, delegations(p.File)))
	}
	want := []string{
		fmt.Sprintf("shard-a v9 %v", []string{line("apple", 1, k[0]), line("avocado", 1, k[3])}),
		fmt.Sprintf("shard-c v7 %v", []string{line("cucumber", 1, ecdsaKey(t))}),
	}
	if !slices.Equal(got, want) {
		t.Errorf("payloads\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// shardFixture is claimed in three shards by first letter: an add to
// shard-a, a removal and a rotation in shard-c, nothing in shard-b.
func shardFixture(t *testing.T) Input {
	k := []*tuf.Key{key(0), key(1), key(2), key(3)}
	shards := map[string]*tuf.File{
		"shard-a": signed(t, project("apple", 1, k[0])),
		"shard-b": signed(t, project("banana", 1, k[1])),
		"shard-c": signed(t, project("cherry", 1, k[2]), project("cucumber", 2, k[0], k[2])),
	}
	return Input{
		Current: shards,
		Approved: []verdict.Verdict{
			add("r1", "avocado", 1, k[3]),
			remove(t, shards["shard-c"], "r2", "cherry"),
			rotate(t, shards["shard-c"], "r3", "cucumber", 1, ecdsaKey(t)),
		},
		Keys:         keyMap(append(k, ecdsaKey(t))...),
		RoleFor:      func(p string) string { return "shard-" + p[:1] },
		Versions:     map[string]int64{"shard-a": 9, "shard-c": 7},
		Expires:      expires,
		PathTemplate: template,
		RoleNames:    roleNames,
	}
}

// TestBuildKeepsUnchanged: a delegation no request changes, its keys and
// every field Conclave does not know are written back byte for byte;
// the role's own targets and unknown fields too.
func TestBuildKeepsUnchanged(t *testing.T) {
	k := []*tuf.Key{key(0), key(1)}
	// A key with an unknown field: its keyid covers the field.
	odd, err := tuf.Parse("key", []byte(fmt.Sprintf(`{"signatures":[],"signed":{"_type":"targets","spec_version":"1.0.31","version":1,"expires":"2030-01-01T00:00:00Z","targets":{},
		"delegations":{"keys":{"x":{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":%q},"x-extra":"kept"}},"roles":[]}}}`, k[0].Public)))
	if err != nil {
		t.Fatal(err)
	}
	oddID := tuf.KeyIDMismatches(odd.Targets.Delegations.Keys)
	if len(oddID) != 1 {
		t.Fatal("the fixture key should hash to another keyid")
	}
	oddKey := odd.Targets.Delegations.Keys["x"]
	keep := fmt.Sprintf(`{"keyids":[%q],"name":"Old_Name","paths":["old/*","elsewhere/*"],"terminating":false,"threshold":1,"x-note":{"a":1}}`, oddKey.ID())
	src := fmt.Sprintf(`{"signatures":[],"signed":{"_type":"targets","spec_version":"1.0.31","version":5,"expires":"2027-01-01T00:00:00Z","x-role":true,
		"targets":{"file.txt":{"length":1,"hashes":{"sha256":"00"}}},
		"delegations":{"x-d":"kept","keys":{%q:{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":%q},"x-extra":"kept"},%q:%s},
		"roles":[%s,{"keyids":[%q],"name":"zeta","paths":["zeta/*"],"terminating":true,"threshold":1}]}}}`,
		oddKey.ID(), k[0].Public, k[1].ID(), k[1].Canonical(), keep, k[1].ID())
	cur, err := tuf.Parse("claimed", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Build(one(cur, keyMap(k...), add("r1", "beta", 1, k[1]), rotate(t, cur, "r2", "zeta", 1, k[0])))
	if err != nil {
		t.Fatal(err)
	}
	got := ps[0].File.SignedBytes()
	for _, part := range []string{
		keep,
		fmt.Sprintf("%q:%s", oddKey.ID(), oddKey.Canonical()),
		`"x-d":"kept"`,
		`"targets":{"file.txt":{"hashes":{"sha256":"00"},"length":1}}`,
		`"x-role":true`,
	} {
		if !bytes.Contains(got, []byte(part)) {
			t.Errorf("the built file lost %s:\n%s", part, got)
		}
	}
	if want := []string{"Old_Name 1 [old/* elsewhere/*] [" + oddKey.ID()[:6] + "]", line("beta", 1, k[1]), line("zeta", 1, k[0])}; !slices.Equal(delegations(ps[0].File), want) {
		t.Errorf("delegations %v\nwant %v", delegations(ps[0].File), want)
	}
}

// TestBuildRefuses: each refusal names the request.
func TestBuildRefuses(t *testing.T) {
	k := []*tuf.Key{key(0), key(1), key(2), key(3)}
	cur := signed(t, project("alpha", 1, k[0]), project("beta", 2, k[1], k[2]))
	given := keyMap(k...)
	stale := rotate(t, cur, "r9", "beta", 1, k[3])
	stale.Change.Before.Threshold = 1
	staleKey := rotate(t, cur, "r9", "beta", 1, k[3])
	staleKey.Change.Before.Keys[0].Fingerprint = k[3].Fingerprint()
	goneBefore := rotate(t, cur, "r9", "beta", 1, k[3])
	goneBefore.Project = "gone"
	wrongPaths := add("r9", "delta", 1, k[3])
	wrongPaths.Change.After.Paths = []string{"elsewhere/*"}
	wrongKey := add("r9", "delta", 1, k[3])
	wrongKey.Change.After.Keys[0].Fingerprint = k[2].Fingerprint()
	invalid := add("r9", "delta", 1, k[3])
	invalid.Change = nil
	for _, tc := range []struct {
		name  string
		in    Input
		want  string
		stale bool
	}{
		{"before differs", one(cur, given, stale),
			`request r9 (project beta): the project's delegation is not the one the request was judged against: it is delegated now to keyids [` + strings.Join(cur.Targets.Delegations.Roles[1].KeyIDs, " ") + `], threshold 2, paths ["beta/*"]`, true},
		{"before key differs", one(cur, given, staleKey),
			`request r9 (project beta): the project's delegation is not the one the request was judged against: it is delegated now to keyids [` + strings.Join(cur.Targets.Delegations.Roles[1].KeyIDs, " ") + `], threshold 2, paths ["beta/*"]`, true},
		{"no longer delegated", one(cur, given, goneBefore),
			`request r9 (project gone): the project's delegation is not the one the request was judged against: it is not delegated now`, true},
		{"two changes to one project", one(cur, given, add("r2", "delta", 1, k[3]), add("r1", "delta", 1, k[2])),
			`request r2 (project delta): request r1 also changes this project; a ceremony changes a project once`, false},
		{"add for a delegated project", one(cur, given, add("r9", "alpha", 1, k[3])),
			`request r9 (project alpha): an add for a project already delegated (as "alpha")`, false},
		{"invalid", one(cur, given, invalid),
			`request r9 (project delta): the request is invalid and cannot be approved`, false},
		{"paths", one(cur, given, wrongPaths),
			`request r9 (project delta): the paths approved, ["elsewhere/*"], are not the ones the path template gives, ["delta/*"]`, false},
		{"key not given", one(cur, keyMap(k[0]), add("r9", "delta", 1, k[3])),
			`request r9 (project delta): key ` + k[3].ID() + ` is not among the keys given`, false},
		{"key not the one judged", one(cur, given, wrongKey),
			`request r9 (project delta): the key given under keyid ` + k[3].ID() + ` is not the key the request was judged with`, false},
		{"reserved name", one(cur, given, add("r9", "claimed", 1, k[3])),
			`build claimed: project claimed: it is the role "claimed" once folded as PEP 503 and case-insensitive filesystems fold names, so the project and the role would share a name and a metadata file`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
			if errors.Is(err, ErrStale) != tc.stale {
				t.Errorf("errors.Is(err, ErrStale) = %v", !tc.stale)
			}
		})
	}

	noVersion := one(cur, given, add("r9", "delta", 1, k[3]))
	noVersion.Versions = nil
	oldVersion := one(cur, given, add("r9", "delta", 1, k[3]))
	oldVersion.Versions = map[string]int64{"claimed": 5}
	noExpiry := one(cur, given, add("r9", "delta", 1, k[3]))
	noExpiry.Expires = time.Time{}
	noRole := one(cur, given, add("r9", "delta", 1, k[3]))
	noRole.RoleFor = func(string) string { return "shard-x" }
	for in, want := range map[*Input]string{
		&noVersion:  "build claimed: no version was given for it",
		&oldVersion: "build claimed: version 5 is not after the current version 5",
		&noExpiry:   "build: no expiry was given",
		&noRole:     `request r9 (project delta): the project belongs to role "shard-x", whose current targets metadata is not given`,
	} {
		if _, err := Build(*in); err == nil || err.Error() != want {
			t.Errorf("got  %v\nwant %s", err, want)
		}
	}
}
