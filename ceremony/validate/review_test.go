package validate_test

import (
	"reflect"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// TestRegressionKeySharedIgnoresInvalidProposals: a key proposed only by
// an invalid request is not another project's key (that request can
// never be approved), so it must not send a valid request sharing it to
// judgement. Before the fix r1 was flagged key-shared because of r2.
func TestRegressionKeySharedIgnoresInvalidProposals(t *testing.T) {
	e := newEnv(t)
	valid := e.f.Add(t, "r1", "new-project", "n1")
	invalid := e.f.Add(t, "r2", "other-project", "n1")
	invalid.Possession = nil
	e.dwell(valid, invalid)
	e.pack = e.f.Pack("b1", it.Lines(valid, invalid)...)
	o := e.run()
	checkVerdict(t, o, "r2", want{verdict.Invalid, []verdict.Code{verdict.PossessionMissing}})
	checkVerdict(t, o, "r1", want{verdict.RuleApprovable, nil})
	e.saveCorpus("key proposed only by an invalid request", o, corpusExpect{ID: "r1", Class: verdict.RuleApprovable})
}

// TestKeySharedNamesTheOther: the warning says which project shares the
// key, and whether that project is delegated to it now or a request in
// this bundle only proposes it.
func TestKeySharedNamesTheOther(t *testing.T) {
	for _, tc := range []struct {
		name     string
		requests func(e *env) []*request.Draft
		sentence string
	}{
		{"delegated", func(e *env) []*request.Draft {
			return []*request.Draft{e.f.Add(t, "r1", "new-project", "a1")}
		}, `Key 1 is also a key of project "existing-a" (delegated now); whoever holds it can sign for both.`},
		{"proposed", func(e *env) []*request.Draft {
			return []*request.Draft{e.f.Add(t, "r1", "new-project", "n1"), e.f.Add(t, "r2", "other-project", "n1")}
		}, `Key 1 is also a key of project "other-project" (only proposed, by request "r2" in this bundle); whoever holds it could sign for both.`},
		{"delegated and proposed", func(e *env) []*request.Draft {
			return []*request.Draft{e.f.Add(t, "r1", "new-project", "n1", "b1"), e.f.Add(t, "r2", "other-project", "b1")}
		}, `Key 2 is also a key of project "existing-b" (delegated now), project "other-project" (only proposed, by request "r2" in this bundle); whoever holds it can sign for all of them.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ds := tc.requests(e)
			e.dwell(ds...)
			e.pack = e.f.Pack("b1", it.Lines(ds...)...)
			o := e.run()
			checkVerdict(t, o, "r1", want{verdict.NeedsJudgement, []verdict.Code{verdict.KeyShared}})
			if got := o.byID["r1"].Findings[0].Sentence; got != tc.sentence {
				t.Errorf("sentence:\n%s\nwant:\n%s", got, tc.sentence)
			}
		})
	}
}

// TestKeySharedNotWithItself: a rotation that keeps one of the project's
// own keys shares it with nobody.
func TestKeySharedNotWithItself(t *testing.T) {
	e := newEnv(t)
	e.pack = e.f.Pack("b1", it.Lines(e.f.Rotate(t, "r1", "existing-a", []string{"a1", "a2"}, "a1", "n1"))...)
	checkVerdict(t, e.run(), "r1", want{verdict.RuleApprovable, nil})
}

func delegationOf(names []string, threshold int64, paths ...string) *verdict.Delegation {
	d := &verdict.Delegation{Keys: []verdict.Key{}, Threshold: threshold, Paths: paths}
	for _, n := range names {
		k := it.Key(n).Key
		d.Keys = append(d.Keys, verdict.Key{KeyID: k.ID(), Fingerprint: k.Fingerprint(), Scheme: k.Scheme})
	}
	return d
}

// TestVerdictShowsWhatWouldBeTrusted: each request that could be approved
// carries the delegation before and after, with every key's keyid and
// fingerprint, the threshold and the paths, and who asked and when; an
// invalid request carries no change.
func TestVerdictShowsWhatWouldBeTrusted(t *testing.T) {
	e := newEnv(t)
	add := e.f.Add(t, "r1", "new-project", "n2", "n1")
	e.dwell(add)
	bad := e.f.Add(t, "r4", "bad-project", "n3")
	bad.Possession = nil
	e.pack = e.f.Pack("b1", it.Lines(add,
		e.f.Rotate(t, "r2", "existing-a", []string{"a1", "a2"}, "a2", "n4"),
		e.f.Remove(t, "r3", "existing-b", "b1"),
		bad)...)
	o := e.run()
	a1, a2 := it.Key("a1").Key.ID(), it.Key("a2").Key.ID()
	current := []string{"a1", "a2"}
	if a2 < a1 { // the trusted metadata lists keyids sorted
		current = []string{"a2", "a1"}
	}
	for _, tc := range []struct {
		id     string
		change *verdict.Change
	}{
		{"r1", &verdict.Change{After: delegationOf([]string{"n2", "n1"}, 2, "new-project/*")}},
		{"r2", &verdict.Change{Before: delegationOf(current, 2, "existing-a/*"), After: delegationOf([]string{"a2", "n4"}, 2, "existing-a/*")}},
		{"r3", &verdict.Change{Before: delegationOf([]string{"b1"}, 1, "existing-b/*")}},
		{"r4", nil},
	} {
		v := o.byID[tc.id]
		if !reflect.DeepEqual(v.Change, tc.change) {
			t.Errorf("%s (%s): change\n%+v\nwant\n%+v", tc.id, v.Class, show(v.Change), show(tc.change))
		}
		if v.RequestedBy != "intake test" || v.Made != "2026-11-24T11:00:00Z" {
			t.Errorf("%s: requested_by %q, made %q", tc.id, v.RequestedBy, v.Made)
		}
	}
}

func show(c *verdict.Change) any {
	if c == nil {
		return nil
	}
	return struct{ Before, After any }{deref(c.Before), deref(c.After)}
}

func deref(d *verdict.Delegation) any {
	if d == nil {
		return nil
	}
	return *d
}

// TestPossessionOptional: a policy that does not require proofs of
// possession judges an add without one like an add with a valid one, and
// still checks a proof that is there; the default requires them.
func TestPossessionOptional(t *testing.T) {
	for _, tc := range []struct {
		name     string
		optional bool
		want     want
	}{
		{"required", false, want{verdict.Invalid, []verdict.Code{verdict.PossessionMissing}}},
		{"optional", true, want{verdict.RuleApprovable, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.rules.PossessionOptional = tc.optional
			without := e.f.Add(t, "r1", "new-project", "n1")
			without.Possession = nil
			forged := e.f.Add(t, "r2", "other-project", "n2")
			forged.Possession.Signatures[0].Sig = []byte("not a signature")
			e.dwell(without, forged)
			e.pack = e.f.Pack("b1", it.Lines(without, forged)...)
			o := e.run()
			checkVerdict(t, o, "r1", tc.want)
			checkVerdict(t, o, "r2", want{verdict.Invalid, []verdict.Code{verdict.PossessionInvalid}})
		})
	}
}
