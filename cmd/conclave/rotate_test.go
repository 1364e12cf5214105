package main

import (
	"errors"
	"reflect"
	"testing"
)

// TestParsePolicyEditTwice: a holder or key named twice for removal is a
// confused command line, refused as such, not "no holder carol to remove"
// about a holder the policy names.
func TestParsePolicyEditTwice(t *testing.T) {
	const id = "6f1e2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
	for _, c := range []struct {
		removes, removeKeys []string
		want                string
	}{
		{[]string{"carol", "bob", "carol"}, nil, "--remove: holder carol is named twice"},
		{nil, []string{id, id}, "--remove-key: key " + id + " is named twice"},
	} {
		_, _, _, err := parsePolicyEdit(nil, c.removes, c.removeKeys, nil)
		var ue usageError
		if !errors.As(err, &ue) || err.Error() != c.want {
			t.Errorf("removes %v, keys %v: %v, want the usage error %q", c.removes, c.removeKeys, err, c.want)
		}
	}
}

// TestParsePolicyEditPaths: --add RECORD=ROLE,ROLE is cut at its last "="
// only when what follows is a list of role names, so a record whose path
// holds "=" or "," is read whole, with or without roles after it.
func TestParsePolicyEditPaths(t *testing.T) {
	e, paths, from, err := parsePolicyEdit([]string{"in/a=b.json", "in/c=d,e.json=root,targets", "x,y.json", "r=1/z.json=claimed"}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"in/a=b.json", "in/c=d,e.json", "x,y.json", "r=1/z.json"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	var roles [][]string
	for _, a := range e.Add {
		roles = append(roles, a.Roles)
	}
	if want := [][]string{{"root", "targets"}, {"claimed"}}; !reflect.DeepEqual(roles, want) || !reflect.DeepEqual(from, []int{1, 3}) {
		t.Errorf("roles %q from records %v, want %q from [1 3]", roles, from, want)
	}
}
