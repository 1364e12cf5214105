package vaultdir

import (
	"strings"
	"testing"
)

// FuzzParseCurrent: CURRENT is read from the vault's medium. A line
// parseCurrent accepts is exactly the line switchCurrent writes (current.line) for what
// it parsed.
func FuzzParseCurrent(f *testing.F) {
	f.Add([]byte("gen-000001 " + strings.Repeat("ab", 32) + "\n"))
	f.Add([]byte("gen-1234567 " + strings.Repeat("0", 64) + "\n"))
	f.Add([]byte("gen-000000 " + strings.Repeat("0", 64) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, ok := parseCurrent(data)
		if ok && string(c.line()) != string(data) {
			t.Fatalf("%q parsed as %+v", data, c)
		}
	})
}
