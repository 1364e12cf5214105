package safefile

import (
	"path"
	"strings"
	"testing"
)

// FuzzCheckName: whatever checkName accepts stays inside the directory.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"a", "a/b.json", "../x", "/x", "a//b", "a/./b", "a\\b", "requests/0001.json", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName(name) != nil {
			return
		}
		if path.IsAbs(name) || path.Clean(name) != name || name == "." ||
			strings.HasPrefix(name, "../") || name == ".." || strings.ContainsAny(name, "\x00\\") {
			t.Fatalf("checkName accepted %q", name)
		}
	})
}
