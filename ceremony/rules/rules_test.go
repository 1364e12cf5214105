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
