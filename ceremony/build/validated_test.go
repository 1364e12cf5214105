package build

import (
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// TestBuildFromValidatedRequests: verdicts as import makes them, from a
// real bundle of an add, a rotation and a removal, build a file whose
// card is exactly what the verdicts said approval would trust.
func TestBuildFromValidatedRequests(t *testing.T) {
	f := it.New(t)
	pack := f.Pack("b1", it.Lines(
		f.Add(t, "r1", "new-project", "n1", "n2"),
		f.Rotate(t, "r2", "existing-a", []string{"a1", "a2"}, "a2", "n3"),
		f.Remove(t, "r3", "existing-b", "b1"),
	)...)
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := pack.Write(dir); err != nil {
		t.Fatal(err)
	}
	hist := &history.History{}
	b, err := bundle.Load(it.DirSource{Dir: dir}, bundle.Trust{
		IntakeKeys: map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key},
		Bases:      f.Bases,
		Rules:      f.Rules,
		Seen:       hist.SeenBundle,
	})
	if err != nil {
		t.Fatal(err)
	}
	vs := validate.Validate(validate.Input{Bundle: b, Delegators: map[string]*tuf.Targets{"claimed": f.Delegator.Targets}, Rules: f.Rules, History: hist, Now: it.Now})
	keys := map[string]*tuf.Key{}
	for _, item := range b.Items {
		for _, e := range item.Request.Keys {
			keys[e.Key.ID()] = e.Key
		}
	}
	var want []Change
	for _, v := range vs {
		if v.Class == verdict.Invalid {
			t.Fatalf("%s is invalid: %v", v.RequestID, v.Codes())
		}
		want = append(want, changeOf(v))
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Project < want[j].Project })

	ps, err := Build(Input{
		Current:      map[string]*tuf.File{"claimed": f.Delegator},
		Approved:     vs,
		Keys:         keys,
		RoleFor:      func(string) string { return "claimed" },
		Versions:     map[string]int64{"claimed": it.BaseVersion + 1},
		Expires:      it.Now.AddDate(0, 0, 90),
		PathTemplate: f.Rules.PathTemplate,
		RoleNames:    f.Rules.RoleNames(),
	})
	if err != nil {
		t.Fatal(err)
	}
	card, err := Summarize("claimed", f.Delegator, ps[0].File)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(card.Changes, want) || card.Added != 1 || card.Rotated != 1 || card.Removed != 1 {
		t.Errorf("card +%d ~%d -%d %s\nwant %s", card.Added, card.Rotated, card.Removed, dump(card.Changes), dump(want))
	}
}
