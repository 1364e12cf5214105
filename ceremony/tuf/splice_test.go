package tuf

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// TestEncodeSplicedDelegations: a role delegating spliceRoles projects or
// more has its keys and roles encoded side by side and spliced in; the
// bytes are those of writing it all in one pass, canonical JSON that
// parses back to the same delegations.
func TestEncodeSplicedDelegations(t *testing.T) {
	n := spliceRoles + 3
	d := &Delegations{Keys: map[string]*Key{}}
	for i := range n {
		name := fmt.Sprintf("proj-%05d", i)
		k := mustKey(t, benchPublic(i, 0))
		d.Keys[k.ID()] = k
		d.Roles = append(d.Roles, &DelegatedRole{Name: name, KeyIDs: []string{k.ID()}, Threshold: 1, Terminating: true, Paths: []string{name + "/*"}})
	}
	tg := &Targets{Targets: map[string]*TargetFile{}, Delegations: d}
	tg.Version, tg.Expires = 1, testExpiry
	f := mustTargetsFile(t, tg)

	// The same delegations written in one pass.
	var e cjson.Encoder
	writeObject(&e, nil, []string{"keys", "roles"}, func(name string) {
		e.Name(name)
		if name == "keys" {
			writeKeys(&e, d.Keys)
		} else {
			writeRoles(&e, d.Roles)
		}
	})
	whole, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(f.SignedBytes(), append([]byte(`"delegations":`), whole...)) {
		t.Fatalf("the spliced delegations are not those written in one pass")
	}
	v, err := cjson.Parse(f.SignedBytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Canonical(), f.SignedBytes()) {
		t.Fatalf("the spliced encoding is not canonical JSON")
	}
	back := mustParse(t, "claimed.json", f.Bytes())
	roles := back.Targets.Delegations.Roles
	if len(roles) != n || len(back.Targets.Delegations.Keys) != n || roles[0].Name != "proj-00000" || roles[n-1].Name != fmt.Sprintf("proj-%05d", n-1) {
		t.Fatalf("parsed back: %d roles, %d keys", len(roles), len(back.Targets.Delegations.Keys))
	}
}
