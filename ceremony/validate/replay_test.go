package validate_test

import (
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// addAt writes an add made against version base of the delegating
// metadata, signed by every named key.
func addAt(t *testing.T, base int64, id, project string, keyNames ...string) *request.Draft {
	t.Helper()
	var keys []*tuf.Key
	var signers []intake.Signer
	for _, n := range keyNames {
		s := it.Key(n)
		keys, signers = append(keys, s.Key), append(signers, s)
	}
	d, err := intake.NewDraft(intake.Request{ID: id, Kind: request.Add, Project: project, Keys: keys, Threshold: int64(len(keys)), Made: it.Now.Add(-200 * 24 * time.Hour), RequestedBy: "intake test", BaseVersion: base})
	if err != nil {
		t.Fatal(err)
	}
	if err := intake.SignPossession(d, signers); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestHostileReplayedAdd: an add approved long ago (made against
// version 4 of the delegating metadata), for a project removed since,
// sent again unchanged in a new bundle against version 7. Its keys were
// published long before, so the dwell memory alone would let it pass;
// the base version the developer's keys signed refuses it.
func TestHostileReplayedAdd(t *testing.T) {
	e := newEnv(t)
	old := addAt(t, 4, "r-2026-05", "gone", "n1", "n2")
	st, err := old.PossessionStatement()
	if err != nil {
		t.Fatal(err)
	}
	e.hist = &history.History{
		Published: map[string]map[string]time.Time{"gone": {st.Keyset.Hash(): it.Now.Add(-200 * 24 * time.Hour)}},
	}
	e.pack = e.f.Pack("b9", it.Files(old)...)
	o := e.run()
	w := want{verdict.Invalid, []verdict.Code{verdict.PossessionBase}}
	checkVerdict(t, o, file("r-2026-05"), w)
	if s := o.byFile[file("r-2026-05")].Findings[0].Sentence; s != "The possession statement was signed for version 4 of the delegating metadata, but the trusted version is 7; an old statement cannot be reused, so the developer must sign it again for version 7." {
		t.Errorf("sentence %q", s)
	}
	e.saveCorpus("replayed add after removal", o, corpusExpect{File: file("r-2026-05"), Class: w.class, Codes: w.codes})
}

// TestHostilePossessionWithoutBase: a statement in the shape signed before the
// base version was bound is refused with the reason.
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
	e.pack = e.f.Pack("b1", it.Files(d)...)
	o := e.run()
	w := want{verdict.Invalid, []verdict.Code{verdict.PossessionWrong}}
	checkVerdict(t, o, file("r1"), w)
	if s := o.byFile[file("r1")].Findings[0].Sentence; s != "The signed possession statement cannot be read: base_version is missing, so the statement is not bound to a version of the delegating metadata." {
		t.Errorf("sentence %q", s)
	}
	e.saveCorpus("possession statement without base version", o, corpusExpect{File: file("r1"), Class: w.class, Codes: w.codes})
}

// TestHostileAddAfterRemoval: a new add, signed for the trusted version,
// for a project removed since its keys were published. Perhaps the
// project was removed because those keys leaked: their old publication
// no longer counts, so the add needs judgement.
func TestHostileAddAfterRemoval(t *testing.T) {
	e := newEnv(t)
	d := e.f.Add(t, "r1", "gone", "n1", "n2")
	st, err := d.PossessionStatement()
	if err != nil {
		t.Fatal(err)
	}
	e.hist = &history.History{
		Published: map[string]map[string]time.Time{"gone": {st.Keyset.Hash(): it.Now.Add(-200 * 24 * time.Hour)}},
		Removed:   map[string]time.Time{"gone": it.Now.Add(-30 * 24 * time.Hour)},
	}
	e.pack = e.f.Pack("b9", it.Files(d)...)
	o := e.run()
	w := want{verdict.NeedsJudgement, []verdict.Code{verdict.NoDwell}}
	checkVerdict(t, o, file("r1"), w)
	e.saveCorpus("add after removal dwells anew", o, corpusExpect{File: file("r1"), Class: w.class, Codes: w.codes})
}
