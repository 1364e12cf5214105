package main

import (
	"errors"
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
