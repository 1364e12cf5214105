package session

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// resume replays the first k lines of a log, as a ceremony resumed after
// a crash at that line would: the storage holds those lines only.
func (fx *fixture) resume(entries []transcript.Entry, blobs memoryBlobs, tokens *fakeTokens) (*Session, *memoryAppender, error) {
	a := &memoryAppender{}
	for _, e := range entries {
		a.lines = append(a.lines, e.Line)
	}
	log, err := transcript.Resume(a, entries)
	if err != nil {
		return nil, nil, err
	}
	d := Deps{Vault: fx.vault, Log: log, Blobs: maps.Clone(blobs), Tokens: tokens, Now: func() time.Time { return fx.now }}
	s, err := Replay(entries, d)
	return s, a, err
}

func (fx *fixture) freshTokens() *fakeTokens {
	return &fakeTokens{keys: fx.tokens.keys, asked: map[string]int{}, fail: map[string]error{}, tries: 3}
}

func parseLog(t testing.TB, data []byte) []transcript.Entry {
	t.Helper()
	entries, torn, err := transcript.Parse(data)
	if err != nil || torn {
		t.Fatalf("the log does not parse: torn %v, %v", torn, err)
	}
	return entries
}

// A ceremony cut after any line of its log and resumed ends with the same
// payload, the signatures made before the cut, no holder asked again for
// what they signed, and one build: no version bumped twice.
func TestReplayEveryPrefix(t *testing.T) {
	fx := newFixture(t)
	d, a, blobs := fx.deps()
	s := fx.open(d)
	fx.run(s)
	entries := parseLog(t, a.bytes())
	want := s.built.payloads[0]

	for k := 1; k <= len(entries); k++ {
		prefix := entries[:k]
		tokens := fx.freshTokens()
		r, ra, err := fx.resume(prefix, blobs, tokens)
		if err != nil {
			t.Fatalf("cut after line %d (%s): %v", k, prefix[k-1].Type, err)
		}
		fx.run(r)
		got := r.built.payloads[0]
		if got.Role != want.Role || got.Version != want.Version || !bytes.Equal(got.File.SignedBytes(), want.File.SignedBytes()) {
			t.Fatalf("cut after line %d: built %s version %d %s, want version %d %s", k, got.Role, got.Version, got.SHA256, want.Version, want.SHA256)
		}
		built := 0
		for _, e := range parseLog(t, ra.bytes()) {
			if e.Type == TypeBuilt {
				built++
			}
		}
		if built != 1 {
			t.Fatalf("cut after line %d: %d built events", k, built)
		}
		for _, e := range prefix {
			if e.Type != TypeSigned {
				continue
			}
			ev, err := decodeEvent(e.Type, e.Body)
			if err != nil {
				t.Fatal(err)
			}
			sig := ev.(*Signed)
			if n := tokens.asked[sig.Holder]; n != 0 {
				t.Errorf("cut after line %d: %s, who had signed, was asked %d times again", k, sig.Holder, n)
			}
			found := false
			for _, fs := range got.File.Signatures {
				found = found || fs.KeyID == sig.KeyID && fs.Sig == sig.Signature
			}
			if !found {
				t.Errorf("cut after line %d: %s's signature from the log is not in the payload", k, sig.Holder)
			}
		}
		if k == len(entries) && !bytes.Equal(ra.bytes(), a.bytes()) {
			t.Errorf("a closed log replayed and run on grew")
		}
	}
}

// A failed append leaves the session refusing everything: the log's tail
// is unknown until it is read again and replayed.
func TestFailedAppendBreaksTheSession(t *testing.T) {
	fx := newFixture(t)
	d, a, _ := fx.deps()
	a.failAt = 3 // the clock
	s := fx.open(d)
	fx.step(s) // preflight
	if err := s.ConfirmClock(fx.now, "wendy"); err == nil {
		t.Fatal("the failed append was not reported")
	}
	if s.State() != StatePreflight {
		t.Errorf("state %s after a failed append", s.State())
	}
	if err := s.ConfirmClock(fx.now, "wendy"); !errors.Is(err, transcript.ErrBroken) {
		t.Errorf("after a failed append: %v", err)
	}
	if s.State() != StatePreflight {
		t.Errorf("state %s after a second failed append", s.State())
	}
	if len(a.lines) != 2 {
		t.Errorf("%d lines written", len(a.lines))
	}
}

// Resuming on another vault generation is refused.
func TestReplayOtherVault(t *testing.T) {
	fx := newFixture(t)
	d, a, blobs := fx.deps()
	fx.run(fx.open(d))
	entries := parseLog(t, a.bytes())
	other := *fx.vault
	other.Hash = bundle.SumHex([]byte("generation 5"))
	fx.vault = &other
	_, _, err := fx.resume(entries, blobs, fx.freshTokens())
	var re *ReplayError
	if !errors.As(err, &re) || re.Seq != 1 || !errors.Is(err, ErrReplay) {
		t.Fatalf("replay on another vault: %v", err)
	}
}

// One payload per (role, version), ever: a log whose built payload the
// register holds under another hash is refused.
func TestRegisteredPayloadRefused(t *testing.T) {
	fx := newFixture(t)
	d, a, blobs := fx.deps()
	s := fx.open(d)
	for s.State() != StateBuild {
		fx.step(s)
	}
	p := s.built.payloads[0]
	entries := parseLog(t, a.bytes())
	other := *fx.vault
	other.Register = vault.Register{"claimed": {p.Version: bundle.SumHex([]byte("another payload"))}}
	fx.vault = &other
	_, _, err := fx.resume(entries, blobs, fx.freshTokens())
	var re *RegisteredError
	if !errors.As(err, &re) || !errors.Is(err, ErrPayloadRegistered) || re.Version != p.Version || re.Built != p.SHA256 {
		t.Fatalf("a second payload for a registered version: %v", err)
	}
}

// A burned version (registered, never exported) is never built again.
func TestBurnedVersionSkipped(t *testing.T) {
	fx := newFixture(t)
	burned := fx.vault.Delegators["claimed"].Version() + 1
	fx.vault.Register["claimed"][burned] = bundle.SumHex([]byte("abandoned payload"))
	d, _, _ := fx.deps()
	s := fx.open(d)
	for s.State() != StateBuild {
		fx.step(s)
	}
	if v := s.built.payloads[0].Version; v != burned+1 {
		t.Errorf("built version %d, want %d (after the burned %d)", v, burned+1, burned)
	}
}

// forge rewrites a log from line k on: the first k-1 lines, then the
// event given in place of line k, chained as the log chains any line.
func (fx *fixture) forge(entries []transcript.Entry, k int, ev event) []transcript.Entry {
	fx.t.Helper()
	a := &memoryAppender{}
	for _, e := range entries[:k-1] {
		a.lines = append(a.lines, e.Line)
	}
	log, err := transcript.Resume(a, entries[:k-1])
	if err != nil {
		fx.t.Fatal(err)
	}
	if _, err := log.Append(ev.eventType(), fx.now, ev); err != nil {
		fx.t.Fatal(err)
	}
	return parseLog(fx.t, a.bytes())
}

func lineOf(t *testing.T, entries []transcript.Entry, typ string) (int, event) {
	t.Helper()
	for i, e := range entries {
		if e.Type == typ {
			ev, err := decodeEvent(e.Type, e.Body)
			if err != nil {
				t.Fatal(err)
			}
			return i + 1, ev
		}
	}
	t.Fatalf("no %s line", typ)
	return 0, nil
}

// A log whose verdict counts are not what the bundle copy gives when
// judged again, or whose payload is not what the approvals build, is
// refused at that line.
func TestReplayRefusesWhatDoesNotRederive(t *testing.T) {
	fx := newFixture(t)
	d, a, blobs := fx.deps()
	fx.run(fx.open(d))
	entries := parseLog(t, a.bytes())

	k, ev := lineOf(t, entries, TypeImported)
	imp := *ev.(*Imported)
	imp.Counts.RuleApprovable, imp.Counts.Invalid = imp.Counts.RuleApprovable+1, imp.Counts.Invalid-1
	_, _, err := fx.resume(fx.forge(entries, k, &imp), blobs, fx.freshTokens())
	var re *ReplayError
	if !errors.As(err, &re) || re.Seq != int64(k) || !strings.Contains(err.Error(), "the bundle judged again is not the one the log records") {
		t.Errorf("other verdict counts: %v", err)
	}

	k, ev = lineOf(t, entries, TypeBuilt)
	built := *ev.(*Built)
	built.Payloads = append([]BuiltPayload(nil), built.Payloads...)
	built.Payloads[0].PayloadSHA256 = bundle.SumHex([]byte("another payload"))
	_, _, err = fx.resume(fx.forge(entries, k, &built), blobs, fx.freshTokens())
	if !errors.As(err, &re) || re.Seq != int64(k) || !errors.Is(err, ErrPayloadMismatch) {
		t.Errorf("another payload hash: %v", err)
	}

	k, ev = lineOf(t, entries, TypeSigned)
	sig := *ev.(*Signed)
	sig.Signature = strings.Repeat("00", len(sig.Signature)/2)
	_, _, err = fx.resume(fx.forge(entries, k, &sig), blobs, fx.freshTokens())
	if !errors.As(err, &re) || re.Seq != int64(k) || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("a signature that does not verify: %v", err)
	}
}

// A line whose body holds a member this version does not know, or whose
// type it does not know, is refused, never skipped.
func TestReplayStrictBodies(t *testing.T) {
	fx := newFixture(t)
	s, a := fx.toState(StateReview)
	entries := parseLog(t, a.bytes())
	for _, tc := range []struct {
		typ  string
		body any
		msg  string
	}{
		{TypeNoted, map[string]any{"by": "wendy", "text": "a note", "pin": "1234"}, `replay line 5 (noted): noted body: json: unknown field "pin"`},
		{"approved-all", map[string]any{"by": "wendy"}, `replay line 5 (approved-all): unknown event type "approved-all"`},
		{TypeDecided, map[string]any{"request_id": "r-add", "decision": "approve", "reason": "", "by": "wendy", "count": 1}, `replay line 5 (decided): decided body: json: unknown field "count"`},
	} {
		b := &memoryAppender{}
		for _, e := range entries {
			b.lines = append(b.lines, e.Line)
		}
		log, err := transcript.Resume(b, entries)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := log.Append(tc.typ, fx.now, tc.body); err != nil {
			t.Fatal(err)
		}
		forged := parseLog(t, b.bytes())
		_, _, err = fx.resume(forged, memoryBlobs(s.d.Blobs.(memoryBlobs)), fx.freshTokens())
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%s:\n got %v\nwant %s", tc.typ, err, tc.msg)
		}
	}
}

// A log that ended with an abandonment replays into the same update: the
// versions built stay burned.
func TestReplayAbandoned(t *testing.T) {
	fx := newFixture(t)
	d, a, blobs := fx.deps()
	s := fx.open(d)
	for s.State() != StateSign {
		fx.step(s)
	}
	want, err := s.Abandon("the room must be cleared", "wendy")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := fx.resume(parseLog(t, a.bytes()), blobs, fx.freshTokens())
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Update()
	if err != nil || fmt.Sprint(got.Register) != fmt.Sprint(want.Register) || len(got.Register["claimed"]) != 1 {
		t.Errorf("update after replay %+v, %v; want %+v", got, err, want)
	}
}

// TestNotesReplayed: the notes of a resumed log are read back, in order,
// as they were recorded.
func TestNotesReplayed(t *testing.T) {
	fx := newFixture(t)
	d, a, blobs := fx.deps()
	s := fx.open(d)
	if err := s.Note("wendy", "  the seal on bag 4 was checked "); err != nil {
		t.Fatal(err)
	}
	if err := s.Note(holderNames[0], "acknowledged"); err != nil {
		t.Fatal(err)
	}
	want := []Noted{{By: "wendy", Text: "the seal on bag 4 was checked"}, {By: holderNames[0], Text: "acknowledged"}}
	if got := s.Notes(); !slices.Equal(got, want) {
		t.Fatalf("live notes %q, want %q", got, want)
	}
	r, _, err := fx.resume(parseLog(t, a.bytes()), blobs, fx.freshTokens())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Notes(); !slices.Equal(got, want) {
		t.Fatalf("replayed notes %q, want %q", got, want)
	}
}
