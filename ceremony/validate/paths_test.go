package validate

import (
	"reflect"
	"testing"
)

func TestOverlap(t *testing.T) {
	cases := []struct {
		p, q string
		want bool
	}{
		{"foo/*", "foo-bar/*", false},
		{"foo/*", "foo/*", true},
		{"foo*", "foo-bar/*", true},    // fnmatch: * also matches "/"
		{"foo/*", "foo/bar/*", true},   // the first * swallows "bar/…"
		{"a?c/*", "abc/*", true},       // ? matches one character
		{"a?c/*", "ac/*", false},       // … exactly one
		{"*", "anything/at/all", true}, // a bare star claims everything
		{"x/*.whl", "x/*.tar.gz", false},
		{"x/*.whl", "x/*", true},
		{"p[ab]/*", "pc/*", true}, // a class is assumed to match anything (errs towards an overlap)
		{"abc", "abd", false},
		{"", "", true},
	}
	for _, c := range cases {
		if got := overlap(c.p, c.q); got != c.want {
			t.Errorf("overlap(%q, %q) = %v, want %v", c.p, c.q, got, c.want)
		}
		if got := overlap(c.q, c.p); got != c.want {
			t.Errorf("overlap(%q, %q) = %v, want %v (not symmetric)", c.q, c.p, got, c.want)
		}
	}
}

func TestPathIndex(t *testing.T) {
	x := newPathIndex([]pathEntry{
		{pattern: "django/*", owner: "django"},
		{pattern: "django-rest/*", owner: "django-rest"},
		{pattern: "d*", owner: "legacy-d"},
		{pattern: "flask/*", owner: "flask"},
	})
	if got := x.conflicts("django*", "new"); !reflect.DeepEqual(got, []string{"django", "django-rest", "legacy-d"}) {
		t.Errorf("django*: %v", got)
	}
	if got := x.conflicts("flask/*", "flask"); !reflect.DeepEqual(got, []string(nil)) {
		t.Errorf("flask/* against itself: %v", got)
	}
	if got := x.conflicts("dj/*", "dj"); !reflect.DeepEqual(got, []string{"legacy-d"}) {
		t.Errorf("dj/*: %v", got)
	}
}
