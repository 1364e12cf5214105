package genesis

import "testing"

// TestGroupWithoutThresholdNeverMet: a group of a role the metadata does
// not delegate has threshold 0; no signature at all must not meet it.
func TestGroupWithoutThresholdNeverMet(t *testing.T) {
	for _, tc := range []struct {
		g    GroupProgress
		want bool
	}{
		{GroupProgress{Label: "none", Threshold: 0}, false},
		{GroupProgress{Label: "none signed", Threshold: 0, Signers: []string{"a"}}, false},
		{GroupProgress{Label: "short", Threshold: 2, Signers: []string{"a"}}, false},
		{GroupProgress{Label: "met", Threshold: 2, Signers: []string{"a", "b"}}, true},
	} {
		if got := (Progress{Groups: []GroupProgress{tc.g}}).Met(); got != tc.want {
			t.Errorf("%s: Met() = %v, want %v", tc.g.Label, got, tc.want)
		}
	}
}
