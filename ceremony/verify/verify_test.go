package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type key struct {
	signer ed25519.PrivateKey
	key    *tuf.Key
}

func newKey(t testing.TB, seed byte) key {
	t.Helper()
	s := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	k, err := tuf.KeyFromPublic(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return key{s, k}
}

func keyMap(keys ...key) map[string]*tuf.Key {
	m := map[string]*tuf.Key{}
	for _, k := range keys {
		m[k.key.ID()] = k.key
	}
	return m
}

func ids(keys ...key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.key.ID())
	}
	return out
}

// root makes root metadata whose every role is keys, threshold 2.
func root(version int64, expires time.Time, keys ...key) *tuf.Root {
	consistent := true
	r := &tuf.Root{Keys: keyMap(keys...), Roles: map[string]*tuf.RoleKeys{}, ConsistentSnapshot: &consistent}
	r.Version, r.Expires = version, tuf.NewExpiry(expires)
	for _, role := range tuf.TopLevelRoles {
		r.Roles[role] = &tuf.RoleKeys{KeyIDs: ids(keys...), Threshold: 2}
	}
	return r
}

// delegating makes targets metadata delegating role to keys, threshold 1.
func delegating(version int64, expires time.Time, role string, keys ...key) *tuf.Targets {
	tg := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	tg.Version, tg.Expires = version, tuf.NewExpiry(expires)
	if role != "" {
		tg.Delegations = &tuf.Delegations{Keys: keyMap(keys...), Roles: []*tuf.DelegatedRole{{
			Name: role, KeyIDs: ids(keys...), Threshold: 1, Terminating: true, Paths: []string{role + "/*"},
		}}}
	}
	return tg
}

func signed(t testing.TB, f *tuf.File, err error, keys map[string]*tuf.Key, by ...key) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range by {
		if err := f.Sign(keys, k.key.ID(), k.signer); err != nil {
			t.Fatal(err)
		}
	}
	return f.Bytes()
}

func rootFile(t testing.TB, r *tuf.Root, keys map[string]*tuf.Key, by ...key) []byte {
	t.Helper()
	f, err := tuf.NewRootFile(r)
	return signed(t, f, err, keys, by...)
}

func targetsFile(t testing.TB, tg *tuf.Targets, keys map[string]*tuf.Key, by ...key) []byte {
	t.Helper()
	f, err := tuf.NewTargetsFile(tg)
	return signed(t, f, err, keys, by...)
}

// chain is a valid repository: root 1 → root 2 with new keys, targets
// (signed by root 2's keys) delegating claimed.
type chain struct {
	old, new           []key
	dev                key
	r1, r2             *tuf.Root
	root1, root2       []byte
	targets, claimed   []byte
	targetsT, claimedT *tuf.Targets
}

func newChain(t testing.TB) *chain {
	c := &chain{}
	c.old = []key{newKey(t, 1), newKey(t, 2), newKey(t, 3)}
	c.new = []key{newKey(t, 4), newKey(t, 5), newKey(t, 6)}
	c.dev = newKey(t, 7)
	c.r1 = root(1, now.AddDate(1, 0, 0), c.old...)
	c.root1 = rootFile(t, c.r1, c.r1.Keys, c.old[0], c.old[1])
	c.r2 = root(2, now.AddDate(1, 0, 0), c.new...)
	f2, err := tuf.NewRootFile(c.r2)
	if err != nil {
		t.Fatal(err)
	}
	signed(t, f2, nil, c.r1.Keys, c.old[1], c.old[2])
	c.root2 = signed(t, f2, nil, c.r2.Keys, c.new[0], c.new[1])
	c.targetsT = delegating(1, now.AddDate(0, 3, 0), "claimed", c.new[2])
	c.targets = targetsFile(t, c.targetsT, c.r2.Keys, c.new[0], c.new[2])
	c.claimedT = delegating(1, now.AddDate(0, 3, 0), "")
	c.claimed = targetsFile(t, c.claimedT, c.targetsT.Delegations.Keys, c.new[2])
	return c
}

func in(name string, data []byte) Input { return Input{Name: name, Data: data} }

func walk(t testing.TB, o Options) *Report {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = now
	}
	r, err := Walk(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// summary is one line per file, in name order: name, verdict, reason.
func summary(r *Report) string {
	var lines []string
	for _, f := range r.Files {
		lines = append(lines, fmt.Sprintf("%s: %s %s", f.Name, f.Verdict, f.Reason()))
	}
	// sort by name so that two orders of input compare
	for i := range lines {
		for j := i + 1; j < len(lines); j++ {
			if lines[j] < lines[i] {
				lines[i], lines[j] = lines[j], lines[i]
			}
		}
	}
	return strings.Join(lines, "\n") + "\nverdict " + string(r.Verdict)
}

func file(t testing.TB, r *Report, name string) *File {
	t.Helper()
	for _, f := range r.Files {
		if f.Name == name && !f.Trusted {
			return f
		}
	}
	t.Fatalf("no file %s in the report", name)
	return nil
}

func TestWalkValidChain(t *testing.T) {
	c := newChain(t)
	r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: []Input{
		in("2.root.json", c.root2), in("targets.json", c.targets), in("claimed.json", c.claimed)}})
	want := `1.root.json: valid 
2.root.json: valid 
claimed.json: valid 
targets.json: valid 
verdict valid`
	if got := summary(r); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	trusted := r.Files[0]
	if !trusted.Trusted || trusted.ExpiryChecked || len(trusted.Notes) != 1 || trusted.Notes[0].Code != NoteSuperseded {
		t.Errorf("trusted root: %+v", trusted)
	}
	r2 := file(t, r, "2.root.json")
	if !r2.ExpiryChecked || r2.Delegator != "1.root.json" || len(r2.Checks) != 2 || r2.Checks[0].Role != "root (keys of version 1)" {
		t.Errorf("root 2: %+v", r2)
	}
	cl := file(t, r, "claimed.json")
	if cl.Role != "claimed" || cl.Delegator != "targets.json" || cl.Version != 1 || !cl.Expires.Equal(now.AddDate(0, 3, 0)) ||
		len(cl.Checks) != 1 || len(cl.Checks[0].Signatures) != 1 || cl.Checks[0].Signatures[0] != (Signature{KeyID: c.new[2].key.ID(), KeyType: "ed25519", Scheme: "ed25519", Status: tuf.SigCounted}) {
		t.Errorf("claimed: %+v", cl)
	}
}

// TestWalkOrderDoesNotMatter: every order of the files gives the same
// verdicts. Before, targets.json listed before the root that rotated its
// keys was judged against the older root and failed.
func TestWalkOrderDoesNotMatter(t *testing.T) {
	c := newChain(t)
	files := []Input{in("2.root.json", c.root2), in("targets.json", c.targets), in("claimed.json", c.claimed)}
	want := summary(walk(t, Options{Trusted: in("1.root.json", c.root1), Files: files}))
	if !strings.HasSuffix(want, "verdict valid") {
		t.Fatalf("base case:\n%s", want)
	}
	for _, order := range [][]int{{0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
		var in []Input
		for _, i := range order {
			in = append(in, files[i])
		}
		if got := summary(walk(t, Options{Trusted: Input{Name: "1.root.json", Data: c.root1}, Files: in})); got != want {
			t.Errorf("order %v:\n%s\nwant\n%s", order, got, want)
		}
	}
}

// TestWalkLastRootByContent: the last root is the root of the highest
// version, whatever the file names. Before, a later file named root.json
// (a timestamp, or a project named root) switched off the last root's
// expiry check, and an expired chain was reported valid.
func TestWalkLastRootByContent(t *testing.T) {
	c := newChain(t)
	// Root 2 has expired at the instant judged.
	at := now.AddDate(2, 0, 0)
	r := walk(t, Options{Now: at, Trusted: in("1.root.json", c.root1), Files: []Input{in("b.json", c.root2), in("root.json", c.targets)}})
	r2 := file(t, r, "b.json")
	if r2.Verdict != Expired || !errors.Is(r2.Err, tuf.ErrExpired) || !r2.ExpiryChecked {
		t.Errorf("root 2: %s %v", r2.Verdict, r2.Err)
	}
	named := file(t, r, "root.json")
	if named.Verdict != NotValid || !errors.Is(named.Err, ErrNameMismatch) ||
		named.Reason() != "file name does not match the metadata: the file name says the top-level root role, but it holds targets metadata" {
		t.Errorf("root.json: %s %v", named.Verdict, named.Err)
	}
	if r.Files[0].ExpiryChecked {
		t.Error("the superseded trusted root's expiry was checked")
	}
}

// TestWalkRootChainRules: a root version missing, two roots of one
// version, an older root, a failed root: each stops the chain with a
// reason, and what depends on it is not checked.
func TestWalkRootChainRules(t *testing.T) {
	c := newChain(t)
	r3 := root(3, now.AddDate(1, 0, 0), c.new...)
	root3 := rootFile(t, r3, c.r2.Keys, c.new[0], c.new[1])
	other2 := root(2, now.AddDate(2, 0, 0), c.new...)
	f, err := tuf.NewRootFile(other2)
	signed(t, f, err, c.r1.Keys, c.old[0], c.old[1])
	root2b := signed(t, f, nil, other2.Keys, c.new[0], c.new[1])

	t.Run("missing version", func(t *testing.T) {
		r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: []Input{in("3.root.json", root3), in("targets.json", c.targets)}})
		if got := file(t, r, "3.root.json"); got.Verdict != NotChecked || got.Reason() != "cannot be checked because root version 2 is missing (a root must follow the one before it, TUF §5.3.5)" {
			t.Errorf("%s %s", got.Verdict, got.Reason())
		}
		// targets.json is judged against root 1, whose keys did not sign it.
		if got := file(t, r, "targets.json"); got.Verdict != NotValid || !errors.Is(got.Err, tuf.ErrThreshold) || got.Delegator != "1.root.json" {
			t.Errorf("%s %v", got.Verdict, got.Err)
		}
	})
	t.Run("two of one version", func(t *testing.T) {
		r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: []Input{in("a.json", c.root2), in("3.root.json", root3), in("b.json", root2b)}})
		for _, name := range []string{"a.json", "b.json"} {
			if got := file(t, r, name); got.Verdict != NotValid || got.Reason() != `two roots of the same version: "a.json", "b.json" hold root version 2, with different bytes` {
				t.Errorf("%s: %s %s", name, got.Verdict, got.Reason())
			}
		}
		if got := file(t, r, "3.root.json"); got.Verdict != NotChecked || got.Reason() != `cannot be checked because root version 2 is ambiguous ("a.json", "b.json")` {
			t.Errorf("%s %s", got.Verdict, got.Reason())
		}
	})
	t.Run("older than trusted", func(t *testing.T) {
		r := walk(t, Options{Trusted: in("2.root.json", c.root2), Files: []Input{in("1.root.json", c.root1), in("targets.json", c.targets)}})
		if got := file(t, r, "1.root.json"); got.Verdict != NotChecked || got.Reason() != "root version 1 is older than the trusted root (version 2): a client starting from the trusted root never reads it" {
			t.Errorf("%s %s", got.Verdict, got.Reason())
		}
		if got := file(t, r, "targets.json"); got.Verdict != Valid {
			t.Errorf("%s %s", got.Verdict, got.Reason())
		}
	})
	t.Run("failed root", func(t *testing.T) {
		bad := rootFile(t, c.r2, c.r2.Keys, c.new[0], c.new[1]) // not signed by root 1's keys
		r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: []Input{in("3.root.json", root3), in("2.root.json", bad)}})
		if got := file(t, r, "2.root.json"); got.Verdict != NotValid || !errors.Is(got.Err, tuf.ErrThreshold) {
			t.Errorf("%s %v", got.Verdict, got.Err)
		}
		if got := file(t, r, "3.root.json"); got.Verdict != NotChecked || got.Reason() != "cannot be checked because root version 2 (2.root.json) failed" {
			t.Errorf("%s %s", got.Verdict, got.Reason())
		}
		// The last verified root is the trusted one: its expiry is checked.
		if !r.Files[0].ExpiryChecked || r.Files[0].Verdict != Valid {
			t.Errorf("trusted root: %+v", r.Files[0])
		}
	})
}

// TestWalkAmbiguousDelegator: two verified files delegating the same role
// is an error naming both, in either order, every time, unless the
// delegator is named. Before, a map's order picked one: a forged claimed
// passed 4 of 40 identical runs.
func TestWalkAmbiguousDelegator(t *testing.T) {
	c := newChain(t)
	// targets delegates "claimed" (to dev) and "other"; other, a valid
	// delegated role, also delegates "claimed", to a forger's key.
	forger := newKey(t, 9)
	top := delegating(1, now.AddDate(0, 3, 0), "claimed", c.new[2])
	top.Delegations.Keys[c.dev.key.ID()] = c.dev.key
	top.Delegations.Roles = append(top.Delegations.Roles, &tuf.DelegatedRole{Name: "other", KeyIDs: ids(c.dev), Threshold: 1, Paths: []string{"o/*"}})
	targets := targetsFile(t, top, c.r2.Keys, c.new[0], c.new[1])
	otherT := delegating(1, now.AddDate(0, 3, 0), "claimed", forger)
	other := targetsFile(t, otherT, top.Delegations.Keys, c.dev)
	forged := targetsFile(t, delegating(2, now.AddDate(0, 3, 0), ""), otherT.Delegations.Keys, forger)

	files := []Input{in("2.root.json", c.root2), in("targets.json", targets), in("other.json", other), in("claimed.json", forged)}
	reversed := []Input{files[3], files[2], files[1], files[0]}
	want := `more than one file delegates the role: "targets.json", "other.json" are both verified and both delegate the role claimed; name the one to judge it against with --delegator`
	for run := 0; run < 40; run++ {
		for _, fs := range [][]Input{files, reversed} {
			r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: fs})
			got := file(t, r, "claimed.json")
			if got.Verdict != NotValid || !errors.Is(got.Err, ErrAmbiguousDelegator) || got.Reason() != strings.Replace(want, `"targets.json", "other.json"`, names(fs), 1) {
				t.Fatalf("run %d: %s %s", run, got.Verdict, got.Reason())
			}
		}
	}
	// Named: judged against it alone, and it says so.
	r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: files, Delegator: "targets.json"})
	got := file(t, r, "claimed.json")
	if got.Verdict != NotValid || !errors.Is(got.Err, tuf.ErrThreshold) || got.Delegator != "targets.json" {
		t.Errorf("--delegator targets.json: %s %v", got.Verdict, got.Err)
	}
	if len(got.Notes) != 1 || got.Notes[0].Sentence != `judged against targets.json, as --delegator says; also delegated by "other.json"` {
		t.Errorf("notes %+v", got.Notes)
	}
	r = walk(t, Options{Trusted: in("1.root.json", c.root1), Files: files, Delegator: "other.json"})
	if got := file(t, r, "claimed.json"); got.Verdict != Valid || got.Delegator != "other.json" {
		t.Errorf("--delegator other.json: %s %v", got.Verdict, got.Err)
	}
}

// names lists the two delegators in the order they were given.
func names(fs []Input) string {
	var out []string
	for _, f := range fs {
		if f.Name == "targets.json" || f.Name == "other.json" {
			out = append(out, f.Name)
		}
	}
	return strconv.Quote(out[0]) + ", " + strconv.Quote(out[1])
}

// TestWalkDelegatorFailed: a delegated role whose delegator failed cannot
// be checked, and says which delegator, not "list it before".
func TestWalkDelegatorFailed(t *testing.T) {
	c := newChain(t)
	// targets signed by root 1's keys: not valid under root 2.
	bad := targetsFile(t, c.targetsT, c.r1.Keys, c.old[0], c.old[1])
	r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: []Input{in("claimed.json", c.claimed), in("2.root.json", c.root2), in("targets.json", bad)}})
	if got := file(t, r, "claimed.json"); got.Verdict != NotChecked || got.Reason() != "claimed cannot be checked because its delegator targets (targets.json) failed" {
		t.Errorf("%s %s", got.Verdict, got.Reason())
	}
	// A name that contradicts the content.
	r = walk(t, Options{Trusted: in("1.root.json", c.root1), Files: []Input{in("2.root.json", c.root2), in("targets.json", c.targets), in("3.claimed.json", c.claimed), in("timestamp.json", c.root2)}})
	if got := file(t, r, "3.claimed.json"); got.Verdict != NotValid || got.Role != "claimed" ||
		got.Reason() != "file name does not match the metadata: the file name says version 3 but the metadata is version 1" {
		t.Errorf("%s %s %s", got.Verdict, got.Role, got.Reason())
	}
	if got := file(t, r, "timestamp.json"); got.Verdict != NotValid ||
		got.Reason() != "file name does not match the metadata: the file name says the timestamp role, but it holds root metadata" {
		t.Errorf("%s %s", got.Verdict, got.Reason())
	}
	// No delegator at all.
	r = walk(t, Options{Trusted: in("1.root.json", c.root1), Files: []Input{in("2.root.json", c.root2), in("claimed.json", c.claimed)}})
	if got := file(t, r, "claimed.json"); got.Verdict != NotValid || !errors.Is(got.Err, tuf.ErrNotDelegated) ||
		got.Reason() != "role is not delegated: none of the files verified delegates a role named claimed" {
		t.Errorf("%s %s", got.Verdict, got.Reason())
	}
}

// TestWalkSkipsCopies: a repository directory holds root.json beside
// N.root.json; the trusted root given again, or a copy, is skipped.
func TestWalkSkipsCopies(t *testing.T) {
	c := newChain(t)
	r := walk(t, Options{Trusted: in("r/root.json", c.root1), Files: []Input{
		in("r/1.root.json", c.root1), in("r/2.root.json", c.root2), in("r/claimed.json", c.claimed),
		in("r/root.json", c.root2), in("r/targets.json", c.targets)}})
	want := `r/1.root.json: skipped the same bytes as the trusted root (r/root.json)
r/2.root.json: valid 
r/claimed.json: valid 
r/root.json: skipped the same bytes as r/2.root.json
r/root.json: valid 
r/targets.json: valid 
verdict valid`
	if got := summary(r); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestWalkExpiredIsDistinct: an expired file is EXPIRED, not NOT VALID,
// and the walk's verdict says so when nothing else failed.
func TestWalkExpiredIsDistinct(t *testing.T) {
	c := newChain(t)
	r := walk(t, Options{Now: now.AddDate(0, 6, 0), Trusted: in("1.root.json", c.root1), Files: []Input{
		in("2.root.json", c.root2), in("targets.json", c.targets), in("claimed.json", c.claimed)}})
	if r.Verdict != Expired || r.Count(Expired) != 2 || r.Count(Valid) != 2 {
		t.Errorf("%s\n%s", r.Verdict, summary(r))
	}
	// An expired delegator's delegations are still authentic.
	if got := file(t, r, "claimed.json"); got.Verdict != Expired || got.Delegator != "targets.json" {
		t.Errorf("%s %v", got.Verdict, got.Err)
	}
}

// realWorldExpiry is the form a public production root chain has in its
// first root.
const realWorldExpiry = "2021-12-18T13:28:12.99008-06:00"

// withExpiry re-signs metadata after putting a non-canonical expiry in
// its signed bytes, as an older tool would have written it.
func withExpiry(t *testing.T, data []byte, from, to string, keys map[string]*tuf.Key, by ...key) []byte {
	t.Helper()
	f, err := tuf.Parse("x.json", data)
	if err != nil {
		t.Fatal(err)
	}
	f.Signatures = nil
	unsigned := bytes.Replace(f.Bytes(), []byte(`"expires":"`+from+`"`), []byte(`"expires":"`+to+`"`), 1)
	g, err := tuf.Parse("x.json", unsigned)
	if err != nil || g.Expires().NonCanonical() != to {
		t.Fatalf("%v %q", err, g.Expires().NonCanonical())
	}
	return signed(t, g, nil, keys, by...)
}

// TestWalkNonCanonicalTimes: a chain whose first root has an offset and a
// fraction in its expiry is walked from that root (before, it was refused
// as malformed, and as the trusted root it crashed verify); the
// signatures are checked over the bytes as written, and a note says the
// form was read, once per file.
func TestWalkNonCanonicalTimes(t *testing.T) {
	c := newChain(t)
	r1 := root(1, time.Date(2021, 12, 18, 19, 28, 12, 0, time.UTC), c.old...)
	root1 := withExpiry(t, rootFile(t, r1, r1.Keys), "2021-12-18T19:28:12Z", realWorldExpiry, r1.Keys, c.old[0], c.old[1])
	f, err := tuf.NewRootFile(c.r2)
	signed(t, f, err, r1.Keys, c.old[1], c.old[2])
	root2 := signed(t, f, nil, c.r2.Keys, c.new[0], c.new[1])

	r := walk(t, Options{Trusted: in("1.root.json", root1), Files: []Input{in("2.root.json", root2), in("targets.json", c.targets)}})
	if r.Verdict != Valid {
		t.Fatalf("%s", summary(r))
	}
	first := r.Files[0]
	if !first.Expires.Equal(time.Date(2021, 12, 18, 19, 28, 12, 990080000, time.UTC)) {
		t.Errorf("expires %v", first.Expires)
	}
	var notes []string
	for _, n := range first.Notes {
		if n.Code == NoteNonCanonicalTime {
			notes = append(notes, n.Sentence)
		}
	}
	if want := `expires "2021-12-18T13:28:12.99008-06:00" is not in the form Conclave writes (YYYY-MM-DDTHH:MM:SSZ); read as the instant 2021-12-18T19:28:12.99008Z`; len(notes) != 1 || notes[0] != want {
		t.Errorf("notes %q, want once %q", notes, want)
	}
	// As the last root, its expiry is judged as the instant it names.
	r = walk(t, Options{Now: time.Date(2021, 12, 18, 19, 28, 12, 990079999, time.UTC), Trusted: in("1.root.json", root1), Files: []Input{in("1.root.json", root1)}})
	if r.Files[0].Verdict != Valid {
		t.Errorf("a nanosecond before: %s %v", r.Files[0].Verdict, r.Files[0].Err)
	}
	r = walk(t, Options{Now: time.Date(2021, 12, 18, 19, 28, 12, 990080000, time.UTC), Trusted: in("1.root.json", root1), Files: []Input{in("1.root.json", root1)}})
	if r.Files[0].Verdict != Expired {
		t.Errorf("at the instant: %s %v", r.Files[0].Verdict, r.Files[0].Err)
	}
}

// TestWalkTrustedRootFails: a trusted root that cannot be read as root
// metadata fails with its reason, and nothing else can be checked.
func TestWalkTrustedRootFails(t *testing.T) {
	c := newChain(t)
	for _, tc := range []struct {
		name   string
		in     Input
		target error
	}{
		{"unread", Input{Name: "r.json", Err: errors.New("it is a directory")}, ErrUnread},
		{"malformed", in("r.json", bytes.Replace(c.root1, []byte(`"threshold":2`), []byte(`"threshold":0`), 1)), tuf.ErrMalformed},
		{"not root", in("r.json", c.targets), ErrNotTrustedRoot},
		// Parses, but holds 1 of its own 2 signatures: later roots and
		// targets were judged from it and reported valid.
		{"below its own threshold", in("r.json", rootFile(t, c.r1, c.r1.Keys, c.old[0])), tuf.ErrThreshold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := walk(t, Options{Trusted: tc.in, Files: []Input{in("2.root.json", c.root2), in("targets.json", c.targets)}})
			if r.Files[0].Verdict != NotValid || !errors.Is(r.Files[0].Err, tc.target) {
				t.Errorf("trusted: %s %v", r.Files[0].Verdict, r.Files[0].Err)
			}
			if got := file(t, r, "2.root.json"); got.Verdict != NotChecked || got.Reason() != "cannot be checked because the trusted root (r.json) failed" {
				t.Errorf("%s %s", got.Verdict, got.Reason())
			}
			if r.Verdict != NotValid {
				t.Errorf("verdict %s", r.Verdict)
			}
		})
	}
}

func TestWalkCancelled(t *testing.T) {
	c := newChain(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Walk(ctx, Options{Trusted: in("1.root.json", c.root1), Files: []Input{in("2.root.json", c.root2)}, Now: now}); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v", err)
	}
}

func TestRoleFromName(t *testing.T) {
	for _, tc := range []struct {
		path    string
		role    string
		version int64
	}{
		{"claimed.json", "claimed", 0},
		{"r/7.claimed.json", "claimed", 7},
		{"0.claimed.json", "0.claimed", 0},
		{"a.b.json", "a.b", 0},
		{"targets", "targets", 0},
	} {
		role, v := RoleFromName(tc.path)
		if role != tc.role || v != tc.version {
			t.Errorf("%s: %s %d", tc.path, role, v)
		}
	}
}

// TestWalkNewestDelegator: a repository directory holds several versions
// of a delegator; they are not rivals: a delegated role is judged against
// the newest version given, as a client holding only that one would.
func TestWalkNewestDelegator(t *testing.T) {
	c := newChain(t)
	t2 := delegating(2, now.AddDate(0, 3, 0), "claimed", c.new[2])
	targets2 := targetsFile(t, t2, c.r2.Keys, c.new[0], c.new[1])
	for _, files := range [][]Input{
		{in("2.root.json", c.root2), in("1.targets.json", c.targets), in("2.targets.json", targets2), in("claimed.json", c.claimed)},
		{in("claimed.json", c.claimed), in("2.targets.json", targets2), in("1.targets.json", c.targets), in("2.root.json", c.root2)},
	} {
		r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: files})
		got := file(t, r, "claimed.json")
		if r.Verdict != Valid || got.Delegator != "2.targets.json" || len(got.Notes) != 1 ||
			got.Notes[0].Sentence != `judged against 2.targets.json, the newest version of targets given; also delegated by the older "1.targets.json"` {
			t.Errorf("%s\n%+v", summary(r), got.Notes)
		}
	}
	// Two files of the newest version are rivals.
	t2b := delegating(2, now.AddDate(0, 4, 0), "claimed", c.new[2])
	targets2b := targetsFile(t, t2b, c.r2.Keys, c.new[0], c.new[1])
	r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: []Input{in("2.root.json", c.root2), in("1.targets.json", c.targets),
		in("2.targets.json", targets2), in("b/2.targets.json", targets2b), in("claimed.json", c.claimed)}})
	if got := file(t, r, "claimed.json"); !errors.Is(got.Err, ErrAmbiguousDelegator) ||
		got.Reason() != `more than one file delegates the role: "2.targets.json", "b/2.targets.json" are both verified and both delegate the role claimed; name the one to judge it against with --delegator` {
		t.Errorf("%s %v", got.Verdict, got.Err)
	}
}
