package termtext

import (
	"fmt"
	"strings"
)

// List shows names for people: each quoted (Go syntax, so that control
// and invisible characters in a name from a medium are escaped), at most
// limit of them, then how many more — `"a", "b" and 3 more` — or "none".
// A limit below 1 is taken as 1.
func List(names []string, limit int) string {
	if len(names) == 0 {
		return "none"
	}
	limit = max(limit, 1)
	var b strings.Builder
	for i, n := range names {
		if i == limit {
			fmt.Fprintf(&b, " and %d more", len(names)-limit)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}
