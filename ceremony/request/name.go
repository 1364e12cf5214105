package request

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// ErrProjectName is wrapped by every refused project name.
var ErrProjectName = errors.New("invalid project name")

// Normalize checks a project name against the characters PEP 508 allows
// (ASCII letters and digits, with ".", "_" and "-" inside) and returns it
// normalised as PEP 503 does: lower case, each run of ".", "_" and "-"
// turned into one "-". Two names that normalise alike are the same project
// to pip, so Conclave treats them as the same project too; restricting to
// ASCII means no two different-looking names can be confused on screen.
func Normalize(name string, maxLen int) (string, error) {
	if name == "" {
		return "", errorsf("the project name is empty")
	}
	if len(name) > maxLen {
		return "", errorsf("the project name is %d bytes long; at most %d are allowed", len(name), maxLen)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == '-':
			if i == 0 || i == len(name)-1 {
				return "", errorsf("a project name must start and end with a letter or digit")
			}
		default:
			return "", errorsf("a project name may hold only ASCII letters, digits, \".\", \"_\" and \"-\" (PEP 508), and %q is not one of them", firstRune(name[i:]))
		}
	}
	return fold(name), nil
}

type nameError struct{ msg string }

func (e *nameError) Error() string { return e.msg }
func (e *nameError) Unwrap() error { return ErrProjectName }

func errorsf(format string, a ...any) error {
	return &nameError{msg: fmt.Sprintf(format, a...)}
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// ErrRoleName is wrapped by every project name refused because it would
// name a role that is not a project, or that role's metadata file.
var ErrRoleName = errors.New("project name taken by a role")

// CheckNotRole refuses a normalised project name that a TUF client could
// take for one of the roles above the projects: a top-level role (root,
// targets, snapshot, timestamp: always) or one of roles (the delegating
// role, the roles beside it that are not projects). It is the one place
// this rule is decided; validation and the delegation builder both call it.
//
// Why equality after folding is the whole rule:
//
//   - python-tuf and tuf-js refuse any targets metadata that delegates a
//     top-level role name, so one such delegation makes the delegating
//     role unreadable for every project in it;
//   - a role's metadata file is ROLE.json, or VERSION.ROLE.json with
//     consistent snapshots (TUF specification, "Consistent snapshots"),
//     and clients keep it locally as ROLE.json (go-tuf, python-tuf). A
//     normalised project name holds only a–z, 0–9 and "-", never ".", so
//     PROJECT.json or M.PROJECT.json can equal a role's file only when
//     the names are equal, or when the role is named M.PROJECT (a role
//     "1.foo" has the file 1.foo.json, which is also version 1 of a
//     project "foo"). A project "1.root" is "1-root", whose files are
//     1-root.json and M.1-root.json, never 1.root.json;
//   - filesystems that fold case (FAT32, exFAT, NTFS, APFS by default)
//     would store a role "Claimed" and a project "claimed" in one file, so
//     the comparison ignores case;
//   - pip treats names alike under PEP 503, so a role "claimed_a" and a
//     project "claimed-a" are refused too, although their files differ.
//
// So both sides are folded as PEP 503 does (lower case, each run of ".",
// "_" and "-" one "-") and compared. A caller that checks many names
// folds the roles once with [NewRoles].
func CheckNotRole(name string, roles []string) error {
	return NewRoles(roles).Check(fold(name))
}

// Roles are the role names [CheckNotRole] compares a project name with,
// the top-level ones first, folded once.
type Roles struct {
	list []foldedRole
}

type foldedRole struct {
	name, folded string
	top          bool
	// version and rest split a role named VERSION.REST; rest is folded.
	version, rest string
	versioned     bool
}

// NewRoles folds the top-level roles and roles for [Roles.Check].
func NewRoles(roles []string) *Roles {
	rs := &Roles{list: make([]foldedRole, 0, len(tuf.TopLevelRoles)+len(roles))}
	for _, list := range [][]string{tuf.TopLevelRoles, roles} {
		for _, role := range list {
			f := foldedRole{name: role, folded: fold(role), top: slices.Contains(tuf.TopLevelRoles, role)}
			if v, rest, ok := versioned(role); ok {
				f.version, f.rest, f.versioned = v, fold(rest), true
			}
			rs.list = append(rs.list, f)
		}
	}
	return rs
}

// Check is [CheckNotRole] for a name Normalize returned, which is its own
// fold: it is compared as it is.
func (rs *Roles) Check(name string) error {
	for _, role := range rs.list {
		if role.folded == name {
			if role.top {
				return &roleError{msg: fmt.Sprintf("it is the top-level role %s: TUF clients refuse metadata that delegates a top-level role, and the project's metadata file would be that role's", role.name)}
			}
			return &roleError{msg: fmt.Sprintf("it is the role %q once folded as PEP 503 and case-insensitive filesystems fold names, so the project and the role would share a name and a metadata file", role.name)}
		}
		if role.versioned && role.rest == name {
			return &roleError{msg: fmt.Sprintf("the role %q has the metadata file %s.json, which is also the file of version %s of the project", role.name, role.name, role.version)}
		}
	}
	return nil
}

// versioned splits a role name of the form DIGITS.REST, the shape of a
// consistent-snapshot file name without its ".json".
func versioned(role string) (v, rest string, ok bool) {
	v, rest, ok = strings.Cut(role, ".")
	if !ok || v == "" || strings.Trim(v, "0123456789") != "" {
		return "", "", false
	}
	return v, rest, true
}

// fold is PEP 503's normalisation applied to any string, valid name or not:
// ASCII lower case, each run of ".", "_" and "-" one "-".
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	sep := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' || c == '_' || c == '-' {
			if !sep {
				b.WriteByte('-')
			}
			sep = true
			continue
		}
		sep = false
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

type roleError struct{ msg string }

func (e *roleError) Error() string { return e.msg }
func (e *roleError) Unwrap() error { return ErrRoleName }
