package termtext

import "testing"

func TestList(t *testing.T) {
	tests := []struct {
		names []string
		max   int
		want  string
	}{
		{nil, 3, "none"},
		{[]string{"a"}, 3, `"a"`},
		{[]string{"a", "b", "c"}, 3, `"a", "b", "c"`},
		{[]string{"a", "b", "c", "d", "e"}, 3, `"a", "b", "c" and 2 more`},
		{[]string{"a", "b"}, 0, `"a" and 1 more`},
		{[]string{"evil\x1b[2K\u202e"}, 3, `"evil\x1b[2K\u202e"`},
	}
	for _, tc := range tests {
		if got := List(tc.names, tc.max); got != tc.want {
			t.Errorf("List(%q, %d) = %s, want %s", tc.names, tc.max, got, tc.want)
		}
	}
}
