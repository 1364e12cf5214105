package history

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/request"
)

func TestRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	h := &History{
		Bundles:   map[string]time.Time{"b1": now},
		FirstSeen: map[string]time.Time{strings.Repeat("a", 64): now},
		Published: map[string]map[string]time.Time{"foo-bar": {strings.Repeat("b", 64): now}},
	}
	got, err := Parse(h.Marshal())
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if !got.SeenBundle("b1") || got.SeenBundle("b2") {
		t.Fatal("SeenBundle")
	}
	if at := got.FirstSeenAt(strings.Repeat("a", 64), now.Add(time.Hour)); !at.Equal(now) {
		t.Fatalf("FirstSeenAt = %v", at)
	}
	// A first sighting "in the future" (a clock set wrong) counts from now.
	if at := got.FirstSeenAt(strings.Repeat("a", 64), now.Add(-time.Hour)); !at.Equal(now.Add(-time.Hour)) {
		t.Fatalf("FirstSeenAt before the sighting = %v", at)
	}
	var nilH *History
	if nilH.SeenBundle("b1") {
		t.Fatal("a nil history has seen nothing")
	}
}

func TestParseStrict(t *testing.T) {
	cases := map[string]string{
		`{"format":"conclave-history/1","bundles":{},"first_seen":{},"published":{},"extra":1}`: `history: json: unknown field "extra"`,
		`{"format":"conclave-history/2","bundles":{},"first_seen":{},"published":{}}`:           `history: format is "conclave-history/2", not "conclave-history/1"`,
		`{"format":"conclave-history/1","published":{"Foo_Bar":{}}}`:                            `history: published project "Foo_Bar" is not a normalised name`,
		`{"format":"conclave-history/1","removed":{"Gone":"2026-01-01T00:00:00Z"}}`:             `history: removed project "Gone" is not a normalised name`,
		`{"format":"conclave-history/1"} {}`:                                                    `history: unexpected data after the JSON value`,
	}
	for in, want := range cases {
		if _, err := Parse([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("Parse(%s) = %v, want %q", in, err, want)
		}
	}
}

// TestRemovalForgetsPublications: keys published for a project before a
// removal of it was seen no longer count towards the dwell of an add; they
// count again from the next bundle that publishes them after it.
func TestRemovalForgetsPublications(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ks := request.NewKeyset([]string{strings.Repeat("c", 64)}, 1)
	pub := map[string]request.Keyset{"gone": ks}
	h := &History{}
	h.Record(&bundle.Bundle{Manifest: &bundle.Manifest{BundleID: "b1"}, Published: pub}, t0)
	if since, ok := h.PublishedSince("gone", ks); !ok || !since.Equal(t0) {
		t.Fatalf("after b1: %v %v", since, ok)
	}
	t1 := t0.Add(30 * 24 * time.Hour)
	removal := &request.Request{ID: "r9", Kind: request.Remove, Project: "gone", Name: "gone"}
	h.Record(&bundle.Bundle{Manifest: &bundle.Manifest{BundleID: "b2"}, Published: pub, Items: []bundle.Item{{Request: removal}}}, t1)
	if since, ok := h.PublishedSince("gone", ks); ok {
		t.Fatalf("after the removal, the old publication still counts from %v", since)
	}
	got, err := Parse(h.Marshal())
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	t2 := t1.Add(24 * time.Hour)
	h.Record(&bundle.Bundle{Manifest: &bundle.Manifest{BundleID: "b3"}, Published: pub}, t2)
	if since, ok := h.PublishedSince("gone", ks); !ok || !since.Equal(t2) {
		t.Fatalf("published again after the removal: %v %v, want %v", since, ok, t2)
	}
}

// TestCloneIsDeep: recording into a clone, down to a project's published
// keysets, leaves the original as it was.
func TestCloneIsDeep(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := &History{
		Bundles:   map[string]time.Time{"b1": now},
		FirstSeen: map[string]time.Time{strings.Repeat("a", 64): now},
		Published: map[string]map[string]time.Time{"foo-bar": {strings.Repeat("b", 64): now}},
		Removed:   map[string]time.Time{"gone": now},
	}
	before := string(h.Marshal())
	c := h.Clone()
	if got := string(c.Marshal()); got != before {
		t.Fatalf("clone:\n%s\nwant:\n%s", got, before)
	}
	c.Bundles["b2"] = now
	c.FirstSeen[strings.Repeat("c", 64)] = now
	c.Published["foo-bar"][strings.Repeat("d", 64)] = now
	c.Published["new"] = map[string]time.Time{}
	c.Removed["foo-bar"] = now
	if got := string(h.Marshal()); got != before {
		t.Errorf("the original after changes to its clone:\n%s\nwant:\n%s", got, before)
	}
	if got := (*History)(nil).Clone(); got == nil || got.SeenBundle("b1") {
		t.Errorf("nil clones to %+v", got)
	}
}
