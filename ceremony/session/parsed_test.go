package session

import (
	"maps"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// replayParsed replays a whole log with Deps.Parsed answering parsed for
// every payload, and reports whether it was asked.
func (fx *fixture) replayParsed(entries []transcript.Entry, blobs memoryBlobs, parsed *tuf.File) (*Session, bool, error) {
	a := &memoryAppender{}
	for _, e := range entries {
		a.lines = append(a.lines, e.Line)
	}
	log, err := transcript.Resume(a, entries)
	if err != nil {
		return nil, false, err
	}
	asked := false
	d := Deps{Vault: fx.vault, Log: log, Blobs: maps.Clone(blobs), Tokens: fx.freshTokens(), Now: func() time.Time { return fx.now },
		Parsed: func(string) *tuf.File { asked = true; return parsed }}
	s, err := Replay(entries, d)
	return s, asked, err
}

// TestReplayReadsParsedPayload: a replay given the payload as read
// already (an audit's exported file) derives the same card from it, and
// one given a file of other bytes does not use it: the card is still
// the payload's, and the log replays.
func TestReplayReadsParsedPayload(t *testing.T) {
	fx := newFixture(t)
	d, a, blobs := fx.deps()
	s := fx.open(d)
	fx.run(s)
	entries := parseLog(t, a.bytes())
	want := s.built.payloads[0]

	same, err := tuf.Parse("exported", want.File.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	r, asked, err := fx.replayParsed(entries, blobs, same)
	if err != nil || !asked {
		t.Fatalf("replay with the payload as read: asked %v, %v", asked, err)
	}
	if got := r.built.payloads[0].card; got.Digest != want.card.Digest || got.Added != want.card.Added {
		t.Fatalf("card %s +%d, want %s +%d", got.Digest, got.Added, want.card.Digest, want.card.Added)
	}

	// The vault's current version: other bytes, fewer projects.
	other, err := tuf.Parse("other", fx.vault.Delegators[want.Role].Bytes())
	if err != nil {
		t.Fatal(err)
	}
	r, asked, err = fx.replayParsed(entries, blobs, other)
	if err != nil || !asked {
		t.Fatalf("replay given a file of other bytes: asked %v, %v", asked, err)
	}
	if got := r.built.payloads[0].card; got.Digest != want.card.Digest || got.Added != want.card.Added {
		t.Fatalf("card %s +%d from a file of other bytes, want %s +%d", got.Digest, got.Added, want.card.Digest, want.card.Added)
	}
}
