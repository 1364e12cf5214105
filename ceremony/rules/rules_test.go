package rules

import (
	"reflect"
	"testing"
)

// TestRoleNames: the roles no project may be named after, besides the
// top-level ones, come from the delegating role and OtherRoles; an empty
// entry is refused rather than matched against nothing.
func TestRoleNames(t *testing.T) {
	r := Default()
	r.OtherRoles = []string{"claimed-shard-a", "recently-claimed"}
	if got, want := r.RoleNames(), []string{"claimed", "claimed-shard-a", "recently-claimed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("RoleNames = %v, want %v", got, want)
	}
	if err := r.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	r.OtherRoles = append(r.OtherRoles, "")
	if err := r.Check(); err == nil || err.Error() != "rules: an entry of the other roles is empty" {
		t.Errorf("Check with an empty role: %v", err)
	}
}

// TestCheckRSABounds: the policy may narrow the RSA sizes Conclave reads
// (2048 to 8192 bits), never widen them; the error names the field.
func TestCheckRSABounds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max int
		want     string
	}{
		{"default", 3072, 4096, ""},
		{"lowered top", 3072, 3072, ""},
		{"widest", 2048, 8192, ""},
		{"top above what Conclave reads", 3072, 16384, "rules.MaxRSABits: 16384 must be between rules.MinRSABits (3072) and 8192, the largest RSA key Conclave reads"},
		{"top below the minimum", 3072, 2048, "rules.MaxRSABits: 2048 must be between rules.MinRSABits (3072) and 8192, the largest RSA key Conclave reads"},
		{"top unset", 3072, 0, "rules.MaxRSABits: 0 must be between rules.MinRSABits (3072) and 8192, the largest RSA key Conclave reads"},
		{"minimum below what Conclave reads", 1024, 4096, "rules: minimum RSA size 1024 is below 2048 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Default()
			r.MinRSABits, r.MaxRSABits = tc.min, tc.max
			err := r.Check()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Check() = %q, want %q", got, tc.want)
			}
		})
	}
	if d := Default(); d.MinRSABits != 3072 || d.MaxRSABits != 4096 {
		t.Errorf("default RSA sizes %d..%d, want 3072..4096", d.MinRSABits, d.MaxRSABits)
	}
}
