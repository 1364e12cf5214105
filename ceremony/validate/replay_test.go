package validate_test

import (
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// TestHostileReplays: adds for a project "gone", removed since its keys
// were published long ago, so that the dwell memory alone would let them
// pass.
func TestHostileReplays(t *testing.T) {
	cases := []struct {
		name string
		// base is the version the add was made against; the trusted
		// version is it.BaseVersion.
		base int64
		// removalSeen: the history remembers a removal of "gone" seen
		// after its keys were published.
		removalSeen bool
		want        want
		sentence    string
	}{
		// An add approved long ago, sent again unchanged: the base
		// version the developer's keys signed refuses it.
		{"replayed add after removal", 4, false, want{verdict.Invalid, []verdict.Code{verdict.PossessionBase}},
			"The possession statement was signed for version 4 of the delegating metadata, but the trusted version of claimed, the role that delegates this project, is 7; an old statement cannot be reused, so the developer must sign it again for version 7."},
		// A new add, signed for the trusted version: perhaps the project
		// was removed because those keys leaked, so their old publication
		// no longer counts and the add needs judgement.
		{"add after removal dwells anew", it.BaseVersion, true, want{verdict.NeedsJudgement, []verdict.Code{verdict.NoDwell}},
			`The repository had not published these exact keys for project "gone" in an earlier bundle; keys trusted on first use should have been public, unchanged, for a while before they are approved.`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			d := e.f.AddAt(t, c.base, "r-2026-05", "gone", "n1", "n2")
			st, err := d.PossessionStatement()
			if err != nil {
				t.Fatal(err)
			}
			e.hist = &history.History{Published: map[string]map[string]time.Time{"gone": {st.Keyset.Hash(): it.Now.Add(-200 * 24 * time.Hour)}}}
			if c.removalSeen {
				e.hist.Removed = map[string]time.Time{"gone": it.Now.Add(-30 * 24 * time.Hour)}
			}
			e.pack = e.f.Pack("b9", it.Lines(d)...)
			o := e.run()
			checkVerdict(t, o, "r-2026-05", c.want)
			if s := o.byID["r-2026-05"].Findings[0].Sentence; s != c.sentence {
				t.Errorf("sentence %q", s)
			}
			e.saveCorpus(c.name, o, corpusExpect{ID: "r-2026-05", Class: c.want.class, Codes: c.want.codes})
		})
	}
}

// TestHostilePossessionWithoutBase: a statement in the shape signed before
// the base version was bound is refused with the reason.
func TestHostilePossessionWithoutBase(t *testing.T) {
	e := newEnv(t)
	d := e.f.Add(t, "r1", "new-project", "n1")
	e.dwell(d)
	st, _ := d.PossessionStatement()
	payload := []byte(`{"format":"conclave-possession/1","keys":{"keyids":["` + st.Keyset.KeyIDs[0] + `"],"threshold":1},"project":"new-project","request_id":"r1"}`)
	d.Possession = &envelope.Envelope{PayloadType: request.TypePossession, Payload: payload}
	if err := intake.SignEnvelope(d.Possession, it.Key("n1")); err != nil {
		t.Fatal(err)
	}
	e.pack = e.f.Pack("b1", it.Lines(d)...)
	o := e.run()
	w := want{verdict.Invalid, []verdict.Code{verdict.PossessionWrong}}
	checkVerdict(t, o, "r1", w)
	if s := o.byID["r1"].Findings[0].Sentence; s != "The signed possession statement cannot be read: base_version is missing, so the statement is not bound to a version of the delegating metadata." {
		t.Errorf("sentence %q", s)
	}
	e.saveCorpus("possession statement without base version", o, corpusExpect{ID: "r1", Class: w.class, Codes: w.codes})
}
