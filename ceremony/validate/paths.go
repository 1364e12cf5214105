package validate

import (
	"slices"
	"sort"
	"strings"
)

// Path patterns are compared under the most permissive rules any TUF
// client uses: python's fnmatch (legacy python-tuf, and the specification's
// own wording) lets "*" match any run of characters, "/" included, and "?"
// any one character. Two patterns overlap when some target path matches
// both; a delegation whose pattern overlaps another project's could claim
// that project's files in a client that searches it first.

// overlap reports whether some string matches both glob patterns, with
// "*" matching any sequence (including "/") and "?" any one byte. A "["
// (a character class) is treated as matching anything from there on, so
// the answer errs on the side of reporting an overlap.
func overlap(p, q string) bool {
	if i := strings.IndexByte(p, '['); i >= 0 {
		p = p[:i] + "*"
	}
	if i := strings.IndexByte(q, '['); i >= 0 {
		q = q[:i] + "*"
	}
	memo := make([]int8, (len(p)+1)*(len(q)+1))
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		k := i*(len(q)+1) + j
		if memo[k] != 0 {
			return memo[k] > 0
		}
		var r bool
		switch {
		case i == len(p) && j == len(q):
			r = true
		case i < len(p) && p[i] == '*':
			// The star matches nothing, or swallows one more of q.
			r = rec(i+1, j) || (j < len(q) && rec(i, j+1))
		case j < len(q) && q[j] == '*':
			r = rec(i, j+1) || (i < len(p) && rec(i+1, j))
		case i == len(p) || j == len(q):
			r = false
		default:
			r = (p[i] == q[j] || p[i] == '?' || q[j] == '?') && rec(i+1, j+1)
		}
		if r {
			memo[k] = 1
		} else {
			memo[k] = -1
		}
		return r
	}
	return rec(0, 0)
}

// literalPrefix is a pattern's text before its first wildcard: every
// string it matches starts with it.
func literalPrefix(p string) string {
	if i := strings.IndexAny(p, "*?["); i >= 0 {
		return p[:i]
	}
	return p
}

// pathIndex finds overlapping patterns among many without comparing every
// pair: two patterns can only overlap when one's literal prefix is a
// prefix of the other's.
type pathIndex struct {
	entries  []pathEntry // sorted by prefix
	prefixes map[string][]int
	// lengths are the lengths the prefixes have, ascending: only those
	// are worth looking up (a bundle's names have a few dozen lengths).
	lengths []int
}

type pathEntry struct {
	prefix, pattern, owner string
}

func newPathIndex(entries []pathEntry) *pathIndex {
	for i := range entries {
		entries[i].prefix = literalPrefix(entries[i].pattern)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].prefix < entries[j].prefix })
	x := &pathIndex{entries: entries, prefixes: make(map[string][]int, len(entries))}
	for i, e := range entries {
		x.prefixes[e.prefix] = append(x.prefixes[e.prefix], i)
	}
	for p := range x.prefixes {
		x.lengths = append(x.lengths, len(p))
	}
	slices.Sort(x.lengths)
	x.lengths = slices.Compact(x.lengths)
	return x
}

// conflicts returns the owners (other than owner) of patterns that
// overlap pattern, sorted, each once.
func (x *pathIndex) conflicts(pattern, owner string) []string {
	pre := literalPrefix(pattern)
	var out []string
	check := func(e pathEntry) {
		if e.owner != owner && !slices.Contains(out, e.owner) && overlap(pattern, e.pattern) {
			out = append(out, e.owner)
		}
	}
	// Patterns whose prefix extends pre.
	start := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].prefix >= pre })
	for i := start; i < len(x.entries) && strings.HasPrefix(x.entries[i].prefix, pre); i++ {
		check(x.entries[i])
	}
	// Patterns whose prefix is a proper prefix of pre.
	for _, k := range x.lengths {
		if k >= len(pre) {
			break
		}
		for _, i := range x.prefixes[pre[:k]] {
			check(x.entries[i])
		}
	}
	sort.Strings(out)
	return out
}
