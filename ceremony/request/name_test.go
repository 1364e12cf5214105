package request

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestCheckNotRole: a project name that folds (PEP 503, case) to a
// top-level role or one of the given roles is refused with the reason; a
// name that only contains one, or whose files differ, is not.
func TestCheckNotRole(t *testing.T) {
	roles := []string{"claimed", "Recently_Claimed", "7.legacy"}
	top := "it is the top-level role %s: TUF clients refuse metadata that delegates a top-level role, and the project's metadata file would be that role's"
	other := `it is the role %q once folded as PEP 503 and case-insensitive filesystems fold names, so the project and the role would share a name and a metadata file`
	refused := map[string]string{
		"root":             fmt.Sprintf(top, "root"),
		"targets":          fmt.Sprintf(top, "targets"),
		"snapshot":         fmt.Sprintf(top, "snapshot"),
		"timestamp":        fmt.Sprintf(top, "timestamp"),
		"claimed":          fmt.Sprintf(other, "claimed"),
		"recently-claimed": fmt.Sprintf(other, "Recently_Claimed"),
		"legacy":           `the role "7.legacy" has the metadata file 7.legacy.json, which is also the file of version 7 of the project`,
	}
	for name, want := range refused {
		err := CheckNotRole(name, roles)
		if err == nil || err.Error() != want || !errors.Is(err, ErrRoleName) {
			t.Errorf("%s: got %v, want %q wrapping ErrRoleName", name, err, want)
		}
	}
	// As a request writes them: normalised first, then checked.
	for _, written := range []string{"ROOT", "TimeStamp", "Claimed", "recently.claimed", "Recently__Claimed"} {
		n, err := Normalize(written, 128)
		if err != nil {
			t.Fatal(err)
		}
		if CheckNotRole(n, roles) == nil {
			t.Errorf("%s (normalised %s) accepted", written, n)
		}
	}
	// "1.root" normalises to "1-root": files 1-root.json and N.1-root.json,
	// never 1.root.json.
	for _, written := range []string{"1.root", "root-a", "rooted", "claimed2", "targets-js", "timestamps", "legacy-7"} {
		n, err := Normalize(written, 128)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckNotRole(n, roles); err != nil {
			t.Errorf("%s (normalised %s): %v", written, n, err)
		}
	}
}

// FuzzNameNeverNamesARoleFile: a name Normalize and CheckNotRole accept
// never gives a metadata file (ROLE.json, V.ROLE.json) that equals, case
// folded, one of a role's, for any versions: the reasoning of CheckNotRole
// checked by brute force.
func FuzzNameNeverNamesARoleFile(f *testing.F) {
	for _, s := range []string{"root", "1.root", "Claimed", "claimed_a", "timestamp", "a", "1-root", "x.y_z", "TARGETS", "2.snapshot"} {
		f.Add(s, "claimed")
	}
	f.Add("foo", "1.foo")
	f.Fuzz(func(t *testing.T, written, role string) {
		name, err := Normalize(written, 128)
		if err != nil {
			return
		}
		if strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || fold(name) != name {
			t.Fatalf("Normalize(%q) = %q, not a folded name of a–z, 0–9 and -", written, name)
		}
		roles := []string{role}
		if CheckNotRole(name, roles) != nil {
			return
		}
		files := func(n string, v int) []string {
			return []string{n + ".json", fmt.Sprintf("%d.%s.json", v, n)}
		}
		for _, r := range append([]string{"root", "targets", "snapshot", "timestamp"}, roles...) {
			for v := 1; v <= 12; v++ {
				for w := 1; w <= 12; w++ {
					for _, a := range files(name, v) {
						for _, b := range files(r, w) {
							if strings.EqualFold(a, b) {
								t.Fatalf("project %q (written %q) has the file %s of role %q", name, written, a, r)
							}
						}
					}
				}
			}
		}
	})
}
