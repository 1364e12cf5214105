package validate_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// shardTargets builds a shard's metadata of version v delegating the
// projects, each to the key named like it with a "k-" prefix.
func shardTargets(t *testing.T, v int64, names ...string) *tuf.Targets {
	t.Helper()
	var ps []delegation.Project
	for _, n := range names {
		ps = append(ps, delegation.Project{Name: n, Keys: []*tuf.Key{it.Key("k-" + n).Key}, Threshold: 1})
	}
	d, err := delegation.Build(ps, "{name}/*", []string{"claimed-a", "claimed-b"}, v, it.Now.Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestShardsIndexedTogether: with claimed in two shards, a request is
// judged against the delegations of both — an add whose paths overlap a
// project of the other shard, a key the other shard delegates, a
// published state that disagrees with the other shard — and its
// possession statement against its own shard's version only.
func TestShardsIndexedTogether(t *testing.T) {
	f := it.New(t)
	a := shardTargets(t, 3, "alpha")
	b := shardTargets(t, 7, "beta", "odd")
	for _, r := range b.Delegations.Roles {
		if r.Name == "odd" {
			r.Paths = []string{"aardvark*"} // reaches into claimed-a's names
		}
	}
	// beta's key, proposed again for avocado.
	shared := f.AddAt(t, 3, "r-avocado", "avocado", "k-beta")
	p := f.Pack("b-shards", it.Lines(
		f.AddAt(t, 3, "r-aardvark", "aardvark", "n1"),
		shared,
		f.AddAt(t, 7, "r-beta", "beta", "n3"),
		f.AddAt(t, 3, "r-bravo", "bravo", "n4"),
		f.AddAt(t, 3, "r-apple", "apple", "n5"),
	)...)
	bases := []bundle.Base{
		{Role: "claimed-a", Version: 3, SHA256: strings.Repeat("a", 64)},
		{Role: "claimed-b", Version: 7, SHA256: strings.Repeat("b", 64)},
	}
	p.Bases = bases
	p.Published = map[string]request.Keyset{"beta": request.NewKeyset([]string{it.Key("n9").Key.ID()}, 1)}
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := p.Write(dir); err != nil {
		t.Fatal(err)
	}
	bd, err := bundle.Load(it.DirSource{Dir: dir}, bundle.Trust{IntakeKeys: map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key}, Bases: bases, Rules: f.Rules})
	if err != nil {
		t.Fatal(err)
	}
	delegators := map[string]*tuf.Targets{"claimed-a": a, "claimed-b": b}
	roleFor := func(name string) string {
		if strings.HasPrefix(name, "a") {
			return "claimed-a"
		}
		return "claimed-b"
	}
	got := map[string]string{}
	for _, v := range validate.Validate(validate.Input{Bundle: bd, Delegators: delegators, RoleFor: roleFor, Rules: f.Rules, Now: it.Now}) {
		var codes []string
		for _, c := range v.Codes() {
			codes = append(codes, string(c))
		}
		got[v.RequestID] = string(v.Class) + " " + strings.Join(codes, " ")
	}
	want := map[string]string{
		"r-aardvark": "invalid path-overlap",
		"r-avocado":  "needs-judgement no-dwell key-shared",
		"r-beta":     "invalid takeover-add",
		"r-bravo":    "invalid possession-wrong-base",
		"r-apple":    "needs-judgement no-dwell",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("verdicts\n got %v\nwant %v", got, want)
	}
	notes := validate.PublishedNotes(bd, delegators)
	if len(notes) != 1 || notes[0].Code != verdict.PublishedDiffers || !strings.Contains(notes[0].Sentence, `project "beta"`) {
		t.Errorf("published notes %+v", notes)
	}
}
