package policy

import (
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics; what it refuses it refuses with an
// *Error naming this file and a line inside it; what it accepts passes
// Check again and gives every project name exactly one signed role.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../../docs/policy-example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(base))
	f.Add([]byte(base + sharded))
	f.Add([]byte(base + "repository: again\n"))
	f.Add([]byte(base + "x: &a [1]\ny: *a\n"))
	f.Add([]byte(base + "---\n"))
	f.Add([]byte(base + "rehearsal: true\nroles: {claimed: {expiry: 1d, warning: 1h}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.File != "fuzz.yaml" || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T %v is not a *policy.Error for fuzz.yaml", err, err)
			}
			if n := Lines(data); pe.Line < 0 || pe.Line > n {
				t.Fatalf("error at line %d of a %d-line file: %v", pe.Line, n, err)
			}
			return
		}
		if err := p.Check(); err != nil {
			t.Fatalf("Parse accepted a policy Check refuses: %v", err)
		}
		roles := p.SignedRoles()
		for _, project := range []string{"a", "django", "0", "z-z", "requests"} {
			r := p.ShardFor(project)
			found := false
			for _, s := range roles {
				found = found || s == r
			}
			if !found {
				t.Fatalf("ShardFor(%q) = %q, not one of %v", project, r, roles)
			}
		}
	})
}

// FuzzEdit: an edit writes the policy out again through the YAML
// encoder; for every policy Parse accepts, the empty edit gives a policy
// that means the same (holders, their keys and roles, the roles section,
// the repository and the signed roles), so re-encoding never changes
// what the holders agreed to.
func FuzzEdit(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(layout))
	f.Add([]byte(base + sharded))
	f.Add([]byte("# a comment\n" + layout + "# trailing\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		out, err := Edit{}.Apply("fuzz.yaml", data)
		if err != nil {
			t.Fatalf("the empty edit of an accepted policy: %v", err)
		}
		q, err := Parse("fuzz.yaml", out)
		if err != nil {
			t.Fatalf("the empty edit's result does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(p.Holders, q.Holders) || !reflect.DeepEqual(p.KeyRoles, q.KeyRoles) || !reflect.DeepEqual(p.Roles, q.Roles) ||
			p.Repository != q.Repository || !reflect.DeepEqual(p.SignedRoles(), q.SignedRoles()) || p.Rehearsal != q.Rehearsal ||
			!reflect.DeepEqual(p.Rules, q.Rules) || p.LostTokenDeadline != q.LostTokenDeadline || !reflect.DeepEqual(p.OnlineRoles, q.OnlineRoles) {
			t.Fatalf("the empty edit changed the policy's meaning:\n%s\n---\n%s", data, out)
		}
	})
}
