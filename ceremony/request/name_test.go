package request

import (
	"errors"
	"fmt"
	"testing"
)

// TestCheckNotRole: a project name that folds (PEP 503, case) to a
// top-level role or one of the given roles is refused with the reason; a
// name that only contains one, or whose files differ, is not.
func TestCheckNotRole(t *testing.T) {
	roles := []string{"claimed", "Recently_Claimed"}
	top := "it is the top-level role %s: TUF clients refuse metadata that delegates a top-level role, and the project's metadata file would be that role's"
	other := `it is the role %q once folded as PEP 503 and case-insensitive filesystems fold names, so the project and the role would share a name and a metadata file`
	refused := map[string]string{
		"root":             fmt.Sprintf(top, "root"),
		"targets":          fmt.Sprintf(top, "targets"),
		"snapshot":         fmt.Sprintf(top, "snapshot"),
		"timestamp":        fmt.Sprintf(top, "timestamp"),
		"claimed":          fmt.Sprintf(other, "claimed"),
		"recently-claimed": fmt.Sprintf(other, "Recently_Claimed"),
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
	for _, written := range []string{"1.root", "root-a", "rooted", "claimed2", "targets-js", "timestamps"} {
		n, err := Normalize(written, 128)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckNotRole(n, roles); err != nil {
			t.Errorf("%s (normalised %s): %v", written, n, err)
		}
	}
}
