package tuf

import (
	"errors"
	"testing"
)

// TestDelegationOfTopLevelRoleRefused: targets metadata that delegates a
// top-level role name is refused whole, as python-tuf and tuf-js refuse it
// ("Delegated role name conflicts with top-level role name"); a name that
// only resembles one is read.
func TestDelegationOfTopLevelRoleRefused(t *testing.T) {
	for _, name := range TopLevelRoles {
		t.Run(name, func(t *testing.T) {
			doc := loadDoc(t, "targets")
			obj(t, doc, "signed", "delegations", "roles", 2)["name"] = name
			_, err := Parse("targets.json", marshal(t, doc))
			wantErr(t, err, ErrMalformed, `targets.json: malformed metadata: signed.delegations.roles[2].name: "`+name+`" is a top-level role; a delegation may not name it`)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is %T, not a *FieldError", err)
			}
		})
	}
	for _, name := range []string{"Root", "1.root", "root-a"} {
		doc := loadDoc(t, "targets")
		obj(t, doc, "signed", "delegations", "roles", 2)["name"] = name
		if _, err := Parse("targets.json", marshal(t, doc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
