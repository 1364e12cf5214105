package review

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// row is what the table shows of one request, computed once when the
// review opens: a frame formats only the rows on screen, and a filter
// keystroke compares plain strings, never a verdict.
type row struct {
	v *verdict.Verdict

	// Shown through termtext.Safe: the bundle wrote them.
	id, project, kind, change, flags string

	// name and rawID are what a filter matches: the normalised project
	// and the request id as the bundle wrote them.
	name, rawID string

	problem bool // needs judgement or invalid
	valid   bool // open to a decision
}

// rowKey is what a filter reads of a row, kept apart from what the row
// shows: a keystroke's pass over 100,000 rows then reads 56 bytes of each
// rather than the whole row.
type rowKey struct {
	name, id, kind string // as the bundle wrote them
	problem, valid bool
}

// newRows prepares every request of the report, in the report's order.
func newRows(vs []verdict.Verdict) ([]row, []rowKey) {
	rows := make([]row, len(vs))
	keys := make([]rowKey, len(vs))
	for i := range vs {
		v := &vs[i]
		rows[i] = row{
			v:       v,
			id:      termtext.Safe(v.RequestID),
			project: termtext.Safe(v.Project),
			kind:    termtext.Safe(v.Kind),
			change:  changeText(v.Change),
			flags:   flagText(v),
			name:    v.Project,
			rawID:   v.RequestID,
			problem: v.Class != verdict.RuleApprovable,
			valid:   v.Class != verdict.Invalid,
		}
		if rows[i].project == "" {
			rows[i].project = "-"
		}
		keys[i] = rowKey{name: v.Project, id: v.RequestID, kind: v.Kind, problem: rows[i].problem, valid: rows[i].valid}
	}
	return rows, keys
}

// changeText sums a change up in a few cells: "new: 2 keys, t2",
// "2→3 keys (+1 −0), t1→2", "ends: 2 keys". It runs once per request when
// the screen opens, so it joins strings rather than formatting them.
func changeText(c *verdict.Change) string {
	itoa := strconv.Itoa
	switch {
	case c == nil:
		return "-"
	case c.Before == nil && c.After == nil:
		return "-"
	case c.Before == nil:
		return "new: " + termtext.Plural(len(c.After.Keys), "key") + ", t" + i64(c.After.Threshold)
	case c.After == nil:
		return "ends: " + termtext.Plural(len(c.Before.Keys), "key")
	}
	added := len(missing(c.After, c.Before))
	removed := len(missing(c.Before, c.After))
	t := "t" + i64(c.After.Threshold)
	if c.Before.Threshold != c.After.Threshold {
		t = "t" + i64(c.Before.Threshold) + "→" + i64(c.After.Threshold)
	}
	return itoa(len(c.Before.Keys)) + "→" + itoa(len(c.After.Keys)) + " keys (+" + itoa(added) + " −" + itoa(removed) + "), " + t
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// missing lists the keys of d that other does not hold, compared by
// fingerprint: the key itself, whatever keyid it is listed under.
func missing(d, other *verdict.Delegation) []verdict.Key {
	if d == nil {
		return nil
	}
	var out []verdict.Key
	for _, k := range d.Keys {
		if !holds(other, k.Fingerprint) {
			out = append(out, k)
		}
	}
	return out
}

func holds(d *verdict.Delegation, fingerprint string) bool {
	if d == nil {
		return false
	}
	for _, k := range d.Keys {
		if k.Fingerprint == fingerprint {
			return true
		}
	}
	return false
}

// flagText lists a verdict's codes, errors and warnings alike.
func flagText(v *verdict.Verdict) string {
	codes := make([]string, len(v.Findings))
	for i, f := range v.Findings {
		codes[i] = string(f.Code)
	}
	return termtext.Safe(strings.Join(codes, ","))
}

// Match is how the typed pattern is compared with project names and
// request ids.
type Match int

// The match modes. There is no fuzzy match: a near miss that looks like
// a hit would be read as one.
const (
	Prefix Match = iota // the name starts with the pattern
	Exact               // the name is the pattern
	Regexp              // the pattern is an RE2 regular expression
)

// MaxPattern bounds a filter pattern, in bytes: RE2 runs in linear time,
// but compiling a long pattern still costs on every keystroke.
const MaxPattern = 100

func (m Match) String() string {
	switch m {
	case Exact:
		return "exact"
	case Regexp:
		return "regex"
	}
	return "prefix"
}

// sigil marks the pattern's mode in the filter line: "/numpy" (prefix),
// "=numpy" (exact), "~^num.*py$" (regex).
func (m Match) sigil() string {
	switch m {
	case Exact:
		return "="
	case Regexp:
		return "~"
	}
	return "/"
}

// Kinds a filter can narrow to, in the order the key cycles them.
var kinds = []string{"", "add", "rotate", "remove", "recover"}

// filter is the set of filters in force; they combine (all must hold).
type filter struct {
	problems   bool // needs judgement or invalid only
	unreviewed bool // valid and not decided only
	kind       string
	mode       Match
	pattern    string
	re         *regexp.Regexp // compiled from pattern in Regexp mode
	reErr      string         // why pattern does not compile
}

// setPattern sets the text pattern, compiling it once here rather than
// per row. A pattern that does not compile matches nothing, and says why.
func (f *filter) setPattern(p string, mode Match) {
	f.pattern, f.mode, f.re, f.reErr = p, mode, nil, ""
	if mode != Regexp || p == "" {
		return
	}
	re, err := regexp.Compile(p)
	if err != nil {
		f.reErr = strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		return
	}
	f.re = re
}

// words describes the filters in force for the filter line.
func (f *filter) words() []string {
	var out []string
	if f.problems {
		out = append(out, "problems only")
	}
	if f.unreviewed {
		out = append(out, "undecided only")
	}
	if f.kind != "" {
		out = append(out, f.kind+" only")
	}
	if f.pattern != "" {
		out = append(out, f.mode.sigil()+termtext.Safe(f.pattern))
	}
	return out
}

// keep reports whether row i passes every filter; hits holds, by row,
// whether a regex pattern matched (see match).
func (f *filter) keep(r *rowKey, i int, decided bool, hits []bool) bool {
	if f.problems && !r.problem {
		return false
	}
	if f.unreviewed && (decided || !r.valid) {
		return false
	}
	if f.kind != "" && r.kind != f.kind {
		return false
	}
	if f.pattern == "" {
		return true
	}
	switch f.mode {
	case Exact:
		return r.name == f.pattern || r.id == f.pattern
	case Regexp:
		// Before the first answer every row passes: the line says the
		// pattern is being matched.
		return f.re != nil && (hits == nil || hits[i])
	}
	return strings.HasPrefix(r.name, f.pattern) || strings.HasPrefix(r.id, f.pattern)
}
