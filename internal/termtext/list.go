package termtext

import (
	"fmt"
	"strconv"
	"strings"
)

// List shows names for people: each quoted (Go syntax, so that control
// and invisible characters in a name from a medium are escaped), at most
// limit of them, then how many more — `"a", "b" and 3 more` — or "none".
// A limit below 1 is taken as 1.
func List(names []string, limit int) string {
	limit = max(limit, 1)
	shown := make([]string, min(len(names), limit))
	for i := range shown {
		shown[i] = strconv.Quote(names[i])
	}
	return Series(shown, len(names))
}

// Series joins the first items of a list of total, already made safe by
// the caller, as [List] does: `a, b and 3 more`, or "none" when total is
// 0. It is for a caller that shows more than a name per item, and that
// counts the rest without formatting them.
func Series(shown []string, total int) string {
	if total == 0 {
		return "none"
	}
	var b strings.Builder
	for i, s := range shown {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	if more := total - len(shown); more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	return b.String()
}
