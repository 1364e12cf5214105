package request

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
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
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '.' || c == '_' || c == '-':
			if i == 0 || i == len(name)-1 {
				return "", errorsf("a project name must start and end with a letter or digit")
			}
			if !sep {
				b.WriteByte('-')
			}
			sep = true
			continue
		default:
			return "", errorsf("a project name may hold only ASCII letters, digits, \".\", \"_\" and \"-\" (PEP 508), and %q is not one of them", firstRune(name[i:]))
		}
		sep = false
		b.WriteByte(c)
	}
	return b.String(), nil
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
