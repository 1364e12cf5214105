package session

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

const waiverReason = "the developer's signing key was stolen (incident 2026-118); they asked for this recovery"

// newWaiverFixture is the vault of newFixture with a bundle holding an
// emergency recovery: project existing-b, whose key b1 is compromised,
// to its owner's new key c1, under its notice period; an add that needs
// judgement; and a request that cannot be read (its verdict has no id).
func newWaiverFixture(t *testing.T) *fixture {
	t.Helper()
	f := intaketest.New(t)
	fx := newVault(t, f, softkeys)
	drafts := append(intaketest.Lines(
		f.Recover(t, "r-recover", "existing-b", "c1"),
		f.Add(t, "r-add", "fresh", "n1"),
	), []byte("{"))
	fx.bundle = filepath.Join(t.TempDir(), "bundle")
	if err := f.Pack("bundle-0001", drafts...).Write(fx.bundle); err != nil {
		t.Fatal(err)
	}
	return fx
}

func verdictOf(t *testing.T, s *Session, id string) verdict.Verdict {
	t.Helper()
	for _, v := range s.Report().Requests {
		if v.RequestID == id {
			return v
		}
	}
	t.Fatalf("no verdict for %s", id)
	return verdict.Verdict{}
}

// An emergency recovery: a threshold of claimed's holders waive the
// notice period, the request is then a recovery that needs judgement,
// and once approved the new claimed no longer delegates the compromised
// key.
func TestWaiverEmergencyRecovery(t *testing.T) {
	fx := newWaiverFixture(t)
	s, a := fx.toState(StateReview)
	v := verdictOf(t, s, "r-recover")
	if v.Class != verdict.Invalid || !slices.Equal(v.Codes(), []verdict.Code{verdict.RecoverNotice}) {
		t.Fatalf("before the waiver: %s %v", v.Class, v.Codes())
	}
	if err := s.Decide("r-recover", Approve, "", "alice"); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("approve under notice: %v", err)
	}
	if err := s.WaiveNotice(context.Background(), "r-recover", "  "+waiverReason+"\n", []string{"carol", "alice"}); err != nil {
		t.Fatal(err)
	}
	if !s.Waived("r-recover") || s.Waived("r-add") {
		t.Errorf("Waived: r-recover %v, r-add %v", s.Waived("r-recover"), s.Waived("r-add"))
	}
	v = verdictOf(t, s, "r-recover")
	if v.Class != verdict.NeedsJudgement || !slices.Equal(v.Codes(), []verdict.Code{verdict.Recovery, verdict.NoticeWaived}) {
		t.Fatalf("after the waiver: %s %v", v.Class, v.Codes())
	}
	want := `Conclave first saw this recovery on 2026-11-24T12:00:00Z; its notice period of 14 days would end on 2026-12-08T12:00:00Z. "alice", "carol", holders of claimed (threshold 2), waived it in this ceremony, giving the reason "` + waiverReason + `".`
	if got := v.Findings[1].Sentence; got != want || v.Findings[1].Severity != verdict.Warning {
		t.Errorf("waived finding (%s):\n got %s\nwant %s", v.Findings[1].Severity, got, want)
	}
	if fx.tokens.asked["alice"] != 1 || fx.tokens.asked["carol"] != 1 || fx.tokens.asked["bob"] != 0 {
		t.Errorf("tokens asked: %v", fx.tokens.asked)
	}
	fx.run(s)

	p := s.built.byRole["claimed"]
	var got *tuf.DelegatedRole
	for _, r := range p.File.Targets.Delegations.Roles {
		if r.Name == "existing-b" {
			got = r
		}
	}
	c1 := intaketest.Key("c1").Key.ID()
	if got == nil || !slices.Equal(got.KeyIDs, []string{c1}) || got.Threshold != 1 {
		t.Fatalf("existing-b in the new claimed: %+v", got)
	}
	b1 := intaketest.Key("b1").Key.ID()
	if _, ok := p.File.Targets.Delegations.Keys[b1]; ok {
		t.Errorf("the new claimed still defines the compromised key b1")
	}

	// The log holds the waiver, its signatures and its reason trimmed.
	entries := parseLog(t, a.bytes())
	_, ev := lineOf(t, entries, TypeWaived)
	w := ev.(*Waived)
	if w.Statement.Reason != waiverReason || w.Statement.Ceremony != "ceremony-test-1" || w.Statement.Role != "claimed" || w.Statement.RoleVersion != intaketest.BaseVersion || len(w.Signatures) != 2 || w.Signatures[0].Holder != "carol" || w.Signatures[0].Token != "softkey of carol" {
		t.Errorf("waived event: %+v", w)
	}
	if strings.Contains(string(a.bytes()), secretPIN) {
		t.Errorf("the log holds the PIN")
	}
}

// Without a threshold of present holders of the role, a typed reason, a
// recovery under notice, the waiver is refused before any token is asked
// for, and nothing is recorded.
func TestWaiverRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		id      string
		reason  string
		holders []string
		is      error
		msg     string
	}{
		{"below threshold", "r-recover", waiverReason, []string{"alice"}, ErrWaiverThreshold,
			`waive the notice period of request "r-recover": 1 of claimed's holders waive it, its threshold is 2: a waiver needs a threshold of the delegating role's holders`},
		{"not a holder", "r-recover", waiverReason, []string{"alice", "wendy"}, ErrNotHolder,
			`waive the notice period of request "r-recover": "wendy": not a holder of any role to sign`},
		{"not present", "r-recover", waiverReason, []string{"alice", "mallory"}, ErrNotPresent,
			`waive the notice period of request "r-recover": "mallory": not a participant or witness of this ceremony`},
		{"named twice", "r-recover", waiverReason, []string{"alice", "alice"}, nil,
			`waive the notice period of request "r-recover": "alice" is named twice: a holder is one vote`},
		{"empty reason", "r-recover", " \t\n", []string{"alice", "bob"}, ErrWaiverReason,
			`waive the notice period of request "r-recover": a waiver needs a typed reason: the reason is empty, or begins or ends with spaces`},
		{"long reason", "r-recover", strings.Repeat("é", MaxWaiverReason+1), []string{"alice", "bob"}, ErrWaiverReason,
			`waive the notice period of request "r-recover": a waiver needs a typed reason: the reason is 1001 characters long, at most 1000 are allowed`},
		{"not a recovery", "r-add", waiverReason, []string{"alice", "bob"}, ErrNotWaivable,
			`waive the notice period of request "r-add": request "r-add" (kind add) is not a recovery under its notice period`},
		{"no such request", "r-ghost", waiverReason, []string{"alice", "bob"}, ErrNotWaivable,
			`waive the notice period of request "r-ghost": not a recovery under its notice period: the bundle holds no readable request "r-ghost", or holds it twice`},
		{"unreadable request", "", waiverReason, []string{"alice", "bob"}, ErrNotWaivable,
			`waive the notice period of request "": not a recovery under its notice period: the bundle holds no readable request "", or holds it twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newWaiverFixture(t)
			s, a := fx.toState(StateReview)
			lines := len(a.lines)
			err := s.WaiveNotice(context.Background(), tc.id, tc.reason, tc.holders)
			if err == nil || err.Error() != tc.msg || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got  %v\nwant %s", err, tc.msg)
			}
			if len(a.lines) != lines || s.Waived(tc.id) || len(fx.tokens.asked) != 0 {
				t.Errorf("%d lines appended, waived %v, tokens asked %v", len(a.lines)-lines, s.Waived(tc.id), fx.tokens.asked)
			}
			if v := verdictOf(t, s, "r-recover"); v.Class != verdict.Invalid {
				t.Errorf("r-recover is %s", v.Class)
			}
		})
	}
}

// A waiver after a decision is refused: it could change how the requests
// already decided are judged.
func TestWaiverAfterDecisionRefused(t *testing.T) {
	fx := newWaiverFixture(t)
	s, _ := fx.toState(StateReview)
	if err := s.Decide("r-add", Defer, "later", "alice"); err != nil {
		t.Fatal(err)
	}
	err := s.WaiveNotice(context.Background(), "r-recover", waiverReason, []string{"alice", "bob"})
	want := `waive the notice period of request "r-recover": a waiver comes before any decision: it can change how other requests are judged`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

// signWaiver signs a statement with the holders' software keys, as their
// tokens would.
func (fx *fixture) signWaiver(st WaiverStatement, holders ...string) *Waived {
	fx.t.Helper()
	ev := &Waived{Statement: st}
	msg := envelope.PAE(envelope.TypeRecoveryWaiver, st.Payload())
	for _, name := range holders {
		i := slices.Index(holderNames, name)
		k := fx.vault.Policy.Holders[i].Keys[0]
		key, err := tuf.KeyFromPublic(fx.tokens.keys[k.KeyID].Public())
		if err != nil {
			fx.t.Fatal(err)
		}
		sig, err := tuf.SignMessage(fx.tokens.keys[k.KeyID], key, msg)
		if err != nil {
			fx.t.Fatal(err)
		}
		ev.Signatures = append(ev.Signatures, WaiverSignature{Holder: name, KeyID: k.KeyID, Token: "softkey", PINTriesBefore: -1, PINTriesAfter: -1, Signature: hex.EncodeToString(sig)})
	}
	return ev
}

// A waiver signed for another ceremony, another request, another change
// (the request changed after the holders signed) or another version of
// the role is refused, whatever its signatures.
func TestWaiverStatementRefused(t *testing.T) {
	fx := newWaiverFixture(t)
	s, a := fx.toState(StateReview)
	good, err := s.newWaiverStatement("r-recover", waiverReason)
	if err != nil {
		t.Fatal(err)
	}
	// The same request, asking for another key: what the repository
	// could send after the holders signed.
	other, err := request.Parse(fx.f.Recover(t, "r-recover", "existing-b", "c2").Encode(), request.Limits{MaxDepth: 16, MaxProjectName: 200, MaxRequestedBy: 200, MaxKeys: 8})
	if err != nil {
		t.Fatal(err)
	}
	changed := other.ChangeDigest()
	for _, tc := range []struct {
		name string
		edit func(*WaiverStatement)
		is   error
		msg  string
	}{
		{"another ceremony", func(w *WaiverStatement) { w.Ceremony = "ceremony-test-0" }, ErrWaiverStatement,
			`the waiver statement is not about this request in this ceremony: it is for ceremony "ceremony-test-0", this is "ceremony-test-1"`},
		{"another request", func(w *WaiverStatement) { w.RequestID = "r-add" }, ErrNotWaivable,
			`request "r-add" (kind add) is not a recovery under its notice period`},
		{"request changed", func(w *WaiverStatement) { w.ChangeDigest = changed }, ErrWaiverStatement,
			fmt.Sprintf(`the waiver statement is not about this request in this ceremony: it waives change %s of project "existing-b", request "r-recover" asks for change %s of project "existing-b"`, changed, good.ChangeDigest)},
		{"another version", func(w *WaiverStatement) { w.RoleVersion-- }, ErrWaiverStatement,
			fmt.Sprintf(`the waiver statement is not about this request in this ceremony: it names claimed version %d, project "existing-b" is delegated by claimed version %d`, good.RoleVersion-1, good.RoleVersion)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := good
			tc.edit(&st)
			lines := len(a.lines)
			err := s.commit(fx.signWaiver(st, "alice", "bob"))
			if err == nil || err.Error() != tc.msg || !errors.Is(err, tc.is) {
				t.Fatalf("got  %v\nwant %s", err, tc.msg)
			}
			if len(a.lines) != lines || s.Waived("r-recover") {
				t.Errorf("%d lines appended, waived %v", len(a.lines)-lines, s.Waived("r-recover"))
			}
		})
	}
	// Signed by one holder for another: the signature does not verify.
	ev := fx.signWaiver(good, "alice", "bob")
	ev.Signatures[1].Signature = fx.signWaiver(good, "carol").Signatures[0].Signature
	err = s.commit(ev)
	if err == nil || !strings.HasPrefix(err.Error(), "the waiver signature by bob (key "+ev.Signatures[1].KeyID+") does not verify: ") {
		t.Errorf("a signature by another key: %v", err)
	}
	// The statement as signed, with its signatures, is accepted.
	if err := s.commit(fx.signWaiver(good, "alice", "bob")); err != nil {
		t.Fatal(err)
	}
}

// A log holding a waiver replays, cut after any line, to the same
// payload, no holder asked again for the waiver; a waiver line whose
// reason was edited (and the log re-chained after it) is refused at
// that line.
func TestWaiverReplay(t *testing.T) {
	fx := newWaiverFixture(t)
	d, a, blobs := fx.deps()
	s := fx.open(d)
	for s.State() != StateReview {
		fx.step(s)
	}
	if err := s.WaiveNotice(context.Background(), "r-recover", waiverReason, []string{"alice", "bob"}); err != nil {
		t.Fatal(err)
	}
	fx.run(s)
	entries := parseLog(t, a.bytes())
	want := s.built.payloads[0]
	k, ev := lineOf(t, entries, TypeWaived)
	for cut := k; cut <= len(entries); cut++ {
		tokens := fx.freshTokens()
		r, _, err := fx.resume(entries[:cut], blobs, tokens)
		if err != nil {
			t.Fatalf("cut after line %d: %v", cut, err)
		}
		if !r.Waived("r-recover") {
			t.Fatalf("cut after line %d: the waiver is not replayed", cut)
		}
		fx.run(r)
		if got := r.built.payloads[0]; got.SHA256 != want.SHA256 {
			t.Fatalf("cut after line %d: payload %s, want %s", cut, got.SHA256, want.SHA256)
		}
		if tokens.asked["alice"] > 1 || tokens.asked["bob"] > 1 {
			t.Fatalf("cut after line %d: asked %v", cut, tokens.asked)
		}
	}

	w := *ev.(*Waived)
	w.Statement.Reason = "no reason at all"
	_, _, err := fx.resume(fx.forge(entries, k, &w), blobs, fx.freshTokens())
	var re *ReplayError
	if !errors.As(err, &re) || re.Seq != int64(k) || !strings.Contains(err.Error(), "the waiver signature by alice (key "+w.Signatures[0].KeyID+") does not verify") {
		t.Errorf("an edited reason: %v", err)
	}
	w = *ev.(*Waived)
	w.Signatures = w.Signatures[:1]
	_, _, err = fx.resume(fx.forge(entries, k, &w), blobs, fx.freshTokens())
	if !errors.As(err, &re) || re.Seq != int64(k) || !errors.Is(err, ErrWaiverThreshold) {
		t.Errorf("a signature dropped: %v", err)
	}
}

// With claimed in shards, the waiver is signed by the holders of the
// shard that delegates the project, bound to that shard's version, and
// only that shard is rebuilt.
func TestWaiverSharded(t *testing.T) {
	sx := newSharded(t)
	dir := sx.pack(t, "bundle-shards-w", sx.bases(t), sx.draft(t, request.Recover, "r-beta", "beta", 5, []string{"b2"}))
	s, a := sx.start(t)
	if err := s.Import(intaketest.DirSource{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if err := s.WaiveNotice(context.Background(), "r-beta", waiverReason, shardHolders[1:]); err != nil {
		t.Fatal(err)
	}
	v := verdictOf(t, s, "r-beta")
	if v.Class != verdict.NeedsJudgement || !strings.Contains(v.Findings[1].Sentence, `"Holder 2", "Holder 3", holders of claimed-b (threshold 2), waived it`) {
		t.Fatalf("%s %v: %s", v.Class, v.Codes(), v.Findings[len(v.Findings)-1].Sentence)
	}
	_, ev := lineOf(t, parseLog(t, a.bytes()), TypeWaived)
	if st := ev.(*Waived).Statement; st.Role != "claimed-b" || st.RoleVersion != 5 || st.Ceremony != "ceremony-shards-1" {
		t.Errorf("statement %+v", st)
	}
	if err := s.Decide("r-beta", Approve, "", "Holder 1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Build(); err != nil {
		t.Fatal(err)
	}
	if cards, _ := s.Cards(); len(cards) != 1 || cards[0].Role != "claimed-b" || cards[0].Version != 6 || cards[0].Rotated != 1 {
		t.Fatalf("cards %+v", cards[0])
	}
}

// The finding quotes the whole reason, however long the session allows
// it, with control and invisible characters escaped.
func TestWaiverReasonShownWhole(t *testing.T) {
	fx := newWaiverFixture(t)
	s, _ := fx.toState(StateReview)
	reason := strings.Repeat("stolen key; ", 80) + "\x1b[2J\u202eend"
	if err := s.WaiveNotice(context.Background(), "r-recover", reason, []string{"alice", "bob"}); err != nil {
		t.Fatal(err)
	}
	got := verdictOf(t, s, "r-recover").Findings[1].Sentence
	if want := `giving the reason "` + strings.Repeat("stolen key; ", 80) + `\x1b[2J\u202eend".`; !strings.HasSuffix(got, want) {
		t.Errorf("sentence:\n%s\nwant it to end with\n%s", got, want)
	}
}
