package history

import (
	"reflect"
	"strings"
	"testing"
	"time"
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
		`{"format":"conclave-history/1"} {}`:                                                    `history: unexpected data after the JSON value`,
	}
	for in, want := range cases {
		if _, err := Parse([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("Parse(%s) = %v, want %q", in, err, want)
		}
	}
}
