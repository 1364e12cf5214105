// Package verify walks TUF metadata as a client updating from a trusted
// root does (TUF specification §5), and says of every file what was
// checked and what the verdict is. `conclave verify` prints its result; an
// audit reads the same result.
//
// # Decided by content
//
// The verdict does not depend on the order the files are given in, nor on
// their names where the content says it: root files are told by their
// _type and ordered by their version, the highest verified one is the last
// (the only root whose expiry a client checks, §5.3.10), and every other
// file is judged against it. A delegated role's name is the one thing a
// file does not say about itself (a client knows it from the delegation it
// followed), so it comes from the file name ("claimed.json",
// "7.claimed.json"). Delegated files are judged after every file that
// could delegate them, but for one that delegates them only through the
// file itself (a cycle, which a client walking down from targets never
// follows back, TUF §5.6.7.2); when two verified files delegate the same role
// name the walk refuses to pick one unless told which ([Options.Delegator]),
// so that no map order or argument order can choose a winner. Versions of
// one delegating role are not rivals: the newest given is the one a client
// holds.
package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Errors a file can fail with, besides those of package tuf (tuf.ErrExpired,
// tuf.ErrThreshold, tuf.ErrMalformed, ...).
var (
	// ErrAmbiguousDelegator: two verified files delegate the role.
	ErrAmbiguousDelegator = errors.New("more than one file delegates the role")
	// ErrRootConflict: two files hold the same root version with other bytes.
	ErrRootConflict = errors.New("two roots of the same version")
	// ErrNameMismatch: the file name says another role or version than the content.
	ErrNameMismatch = errors.New("file name does not match the metadata")
	// ErrNotTrustedRoot: the trusted root is not root metadata.
	ErrNotTrustedRoot = errors.New("the trusted root is not root metadata")
	// ErrUnread: the file could not be read.
	ErrUnread = errors.New("cannot read")
)

// Verdict is what became of one file, or of the whole walk.
type Verdict string

// The verdicts. Expired is kept apart from NotValid: an expired file's
// signatures are valid, which is a different story for an auditor.
const (
	Valid      Verdict = "valid"
	Expired    Verdict = "expired"
	NotValid   Verdict = "not-valid"
	NotChecked Verdict = "not-checked" // depends on a file that failed
	Skipped    Verdict = "skipped"     // the same bytes as a file that is judged
)

// Input is one file given to the walk. Name is how the file is called in
// the result (its path); for targets metadata it also gives the role name.
type Input struct {
	Name string
	Data []byte
	// Parsed, when set, is what tuf.Parse returned for exactly Data (as
	// export.CheckRead returns it): the walk uses it instead of parsing
	// the same bytes again.
	Parsed *tuf.File
	// Err is set when the file could not be read; Data is then ignored.
	Err error
}

// Options are the inputs of a walk.
type Options struct {
	// Trusted is the root metadata trusted out of band: where the walk
	// starts (TUF §5.2).
	Trusted Input
	Files   []Input
	// Delegator, when set, is the Name of the file among Files that a
	// delegated role is judged against when more than one verified file
	// delegates it.
	Delegator string
	// Now is the instant expiry is judged at.
	Now time.Time
}

// Note codes: remarks on a file that do not change its verdict.
const (
	NoteNonCanonicalTime = "non-canonical-time"
	NoteKeyIDMismatch    = "keyid-mismatch"
	NoteSuperseded       = "superseded-root"
	NoteDelegatorChosen  = "delegator-chosen"
)

// Note is a remark on a file: a code and a sentence.
type Note struct {
	Code     string
	Sentence string
	// KeyID is the keyid a keyid-mismatch note is about.
	KeyID string
}

// Signature is what became of one signature entry.
type Signature struct {
	KeyID string
	// KeyType and Scheme of the key the delegator lists under KeyID;
	// empty when it lists none.
	KeyType, Scheme string
	Status          tuf.SigStatus
}

// RoleCheck is the counting of a file's signatures against one role
// definition (a root update is counted twice: against the trusted root's
// root role and against its own).
type RoleCheck struct {
	// Role names the role and, for a root update, whose keys.
	Role      string
	Threshold int64
	// Signers are the keyids that counted, one per distinct public key.
	Signers    []string
	Signatures []Signature
	// MissingKeys are keyids the role lists that no key is defined for.
	MissingKeys []string
}

// File is the result for one file.
type File struct {
	Name string
	// Trusted marks the trusted root.
	Trusted bool
	// Type is the _type (root, targets, snapshot, timestamp); empty when
	// the file could not be read as metadata.
	Type string
	// Role is the role the file was judged as: its type for top-level
	// metadata, the name from the file name for a delegated role.
	Role    string
	Version int64
	// Expires is the signed expiry (in UTC); zero when unknown.
	Expires time.Time
	// ExpiryChecked is false for a superseded root and for files not judged.
	ExpiryChecked bool
	// Delegator is the Name of the file whose keys the signatures were
	// counted against (a root for top-level metadata and root updates).
	Delegator string
	Checks    []RoleCheck
	Notes     []Note
	Verdict   Verdict
	// Err says why the verdict is not Valid (nil when Valid); errors.Is
	// finds the family (tuf.ErrExpired, tuf.ErrThreshold, ErrAmbiguousDelegator, ...).
	Err error

	in        Input
	idx       int // its place among the files given
	parsed    *tuf.File
	digest    [sha256.Size]byte
	seq       int                           // when the walk judged it, from 1; 0 when decided before the walk
	delegates map[string]*tuf.DelegatedRole // its delegations.roles by name
	cands     []*File                       // the files that could delegate it (delegatorsOf)
}

// Reason is Err's text, or "" when there is none.
func (f *File) Reason() string {
	if f.Err == nil {
		return ""
	}
	return f.Err.Error()
}

// signaturesHeld reports whether the file's signatures were verified,
// whatever its expiry: its delegations are then authentic.
func (f *File) signaturesHeld() bool { return f.Verdict == Valid || f.Verdict == Expired }

// Report is the result of a walk.
type Report struct {
	At time.Time
	// Files holds the trusted root first, then one entry per input file
	// in the order the walk judged them, the order a client reads them:
	// roots by version, then top-level targets, snapshot and timestamp,
	// then delegated roles after their delegators; last the files judged
	// before the walk began (unreadable, malformed, misnamed, skipped),
	// in the order given.
	Files []*File
	// Verdict is NotValid when any file is not valid or could not be
	// checked, else Expired when any file has expired, else Valid.
	Verdict Verdict
	// Rehearsal is set when a root of the chain (the trusted root or a
	// root verified from it) carries tuf.RehearsalMark: the metadata was
	// made by a Conclave rehearsal with throwaway keys, whatever the
	// verdict, and must never be published.
	Rehearsal *Rehearsal
}

// Rehearsal names the first root of the chain that carries the rehearsal
// mark, and the mark's text.
type Rehearsal struct {
	File string
	Mark string
}

// Count returns how many files have verdict v.
func (r *Report) Count(v Verdict) int {
	n := 0
	for _, f := range r.Files {
		if f.Verdict == v {
			n++
		}
	}
	return n
}

// Walk judges every file. It returns an error only when ctx ends first.
func Walk(ctx context.Context, o Options) (*Report, error) {
	w := &walker{now: o.Now, delegator: o.Delegator}
	w.trusted = w.load(o.Trusted, true)
	for i, in := range o.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := w.load(in, false)
		f.idx = i
		w.files = append(w.files, f)
	}
	w.skipCopies()
	if err := w.run(ctx); err != nil {
		return nil, err
	}
	sort.SliceStable(w.files, func(i, j int) bool {
		a, b := w.files[i].seq, w.files[j].seq
		return a != 0 && (b == 0 || a < b)
	})
	r := &Report{At: o.Now, Files: append([]*File{w.trusted}, w.files...), Verdict: Valid, Rehearsal: w.rehearsal}
	for _, f := range r.Files {
		switch f.Verdict {
		case NotValid, NotChecked:
			r.Verdict = NotValid
		case Expired:
			if r.Verdict == Valid {
				r.Verdict = Expired
			}
		}
	}
	return r, nil
}

type walker struct {
	seq       int // files judged so far
	now       time.Time
	delegator string
	trusted   *File
	files     []*File
	// root is the newest verified root, and rootFile the file holding it.
	root     *tuf.Root
	rootFile *File
	// rehearsal is the first root of the chain marked as a rehearsal's.
	rehearsal *Rehearsal
	// byRole lists the files whose delegations.roles name a role, and
	// bins the files with succinct hash bins (see index).
	byRole map[string][]*File
	bins   []*File
}

// load reads one input as metadata, deciding nothing but whether it is
// metadata at all and which role it holds.
func (w *walker) load(in Input, trusted bool) *File {
	f := &File{Name: in.Name, Trusted: trusted, in: in}
	if in.Err != nil {
		f.fail(fmt.Errorf("%w: %w", ErrUnread, in.Err))
		return f
	}
	f.digest = sha256.Sum256(in.Data)
	p := in.Parsed
	if p == nil {
		var err error
		if p, err = tuf.Parse(in.Name, in.Data); err != nil {
			f.fail(err)
			return f
		}
	}
	f.parsed = p
	f.Type, f.Version, f.Expires = p.Type(), p.Version(), p.Expires().Time
	if read := p.Expires().NonCanonical(); read != "" {
		f.note(Note{Code: NoteNonCanonicalTime, Sentence: fmt.Sprintf("expires %s is not in the form Conclave writes (YYYY-MM-DDTHH:MM:SSZ); read as the instant %s",
			strconv.Quote(read), p.Expires().Time.Format(time.RFC3339Nano))})
	}
	// The name says nothing a client would use but a delegated role's
	// name; where it says more (a version, a top-level role), it must
	// agree with the content, or something is not what it seems.
	nameRole, nameVersion := RoleFromName(in.Name)
	f.Role = f.Type
	if f.Type == tuf.TypeTargets {
		f.Role = nameRole
	}
	switch {
	case trusted && f.Type != tuf.TypeRoot:
		f.fail(fmt.Errorf("%w: it holds %s metadata", ErrNotTrustedRoot, f.Type))
	case nameVersion != 0 && nameVersion != f.Version:
		f.fail(fmt.Errorf("%w: the file name says version %d but the metadata is version %d", ErrNameMismatch, nameVersion, f.Version))
	case f.Type == tuf.TypeTargets && nameRole != tuf.TypeTargets && slices.Contains(tuf.TopLevelRoles, nameRole):
		f.fail(fmt.Errorf("%w: the file name says the top-level %s role, but it holds targets metadata", ErrNameMismatch, nameRole))
	case f.Type != tuf.TypeTargets && slices.Contains(tuf.TopLevelRoles, nameRole) && nameRole != f.Type:
		f.fail(fmt.Errorf("%w: the file name says the %s role, but it holds %s metadata", ErrNameMismatch, nameRole, f.Type))
	}
	return f
}

// RoleFromName is the role a file holds by its name, as TUF names files
// (§5, consistent snapshots): "claimed.json" and "3.claimed.json" hold
// "claimed", the second at version 3 (0 when the name has no version).
func RoleFromName(path string) (role string, version int64) {
	base := strings.TrimSuffix(filepath.Base(path), ".json")
	if v, rest, ok := strings.Cut(base, "."); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return rest, n
		}
	}
	return base, 0
}

// fail records err as the reason the file is not valid; nil records nothing.
func (f *File) fail(err error) {
	if err != nil && f.Verdict == "" {
		f.Verdict, f.Err = NotValid, err
	}
}

func (f *File) notChecked(format string, a ...any) {
	if f.Verdict == "" {
		f.Verdict, f.Err = NotChecked, fmt.Errorf(format, a...)
	}
}

func (f *File) note(n Note) { f.Notes = append(f.Notes, n) }

// pending reports whether the file is still to be judged.
func (f *File) pending() bool { return f.Verdict == "" }

// skipCopies skips a file with the same bytes as the trusted root, or as
// an earlier file judged as the same role: judging it again says nothing
// new, and a repository holds such copies (root.json beside N.root.json).
func (w *walker) skipCopies() {
	type copyKey struct {
		role   string
		digest [sha256.Size]byte
	}
	first := map[copyKey]*File{}
	for _, f := range w.files {
		// Only a file the walk is yet to judge is skipped, and only for
		// one it will judge: one refused already says why on its own.
		if !f.pending() {
			continue
		}
		if f.digest == w.trusted.digest && w.trusted.in.Err == nil && bytes.Equal(f.in.Data, w.trusted.in.Data) {
			f.Verdict, f.Err = Skipped, fmt.Errorf("the same bytes as the trusted root (%s)", w.trusted.Name)
			continue
		}
		k := copyKey{f.Role, f.digest}
		if g := first[k]; g != nil && bytes.Equal(g.in.Data, f.in.Data) {
			f.Verdict, f.Err = Skipped, fmt.Errorf("the same bytes as %s", g.Name)
			continue
		}
		first[k] = f
	}
}

func (w *walker) run(ctx context.Context) error {
	t := w.trusted
	trustedFailed := func() error {
		for _, f := range w.files {
			f.notChecked("cannot be checked because the trusted root (%s) failed", t.Name)
		}
		return nil
	}
	if t.parsed == nil || t.Type != tuf.TypeRoot {
		return trustedFailed()
	}
	// The trusted root is trusted as given (TUF §5.2), but it must hold
	// its own threshold of signatures, as clients check when they load it
	// (python-tuf does); a root that does not is no start for a chain.
	res, err := t.parsed.VerifyWithRoot(t.parsed.Root)
	t.Delegator = t.Name
	t.addCheck(res, t.parsed.Root.Keys)
	t.keyMismatches(t.parsed.Root.Keys)
	t.fail(err)
	if t.Verdict == NotValid {
		return trustedFailed()
	}
	w.trust(t)

	if err := w.roots(ctx); err != nil {
		return err
	}
	// Only the last root's expiry is checked (§5.3.10).
	if last := w.rootFile; last.Verdict == "" {
		last.ExpiryChecked = true
		last.judgeExpiry(w.now)
		if last.Verdict == "" {
			last.Verdict = Valid
		}
	}

	// Top-level targets, snapshot and timestamp: against the last root.
	for _, f := range w.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !f.pending() || f.Type == tuf.TypeRoot || (f.Type == tuf.TypeTargets && f.Role != tuf.TypeTargets) {
			continue
		}
		w.judging(f)
		res, err := f.parsed.VerifyWithRoot(w.root)
		f.Delegator = w.rootFile.Name
		f.addCheck(res, w.root.Keys)
		f.finish(err, w.now)
	}
	w.index()
	return w.delegated(ctx)
}

// judging records that the walk judges f now: the report lists files in
// that order.
func (w *walker) judging(fs ...*File) {
	for _, f := range fs {
		w.seq++
		f.seq = w.seq
	}
}

// roots walks the root files by version from the trusted root up (TUF
// §5.3): each must be version N+1 of the last verified root, signed by a
// threshold of that root's root keys and of its own.
func (w *walker) roots(ctx context.Context) error {
	var roots []*File
	for _, f := range w.files {
		if f.pending() && f.Type == tuf.TypeRoot {
			roots = append(roots, f)
		}
	}
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].Version < roots[j].Version })
	trustedVersion := w.root.Version
	blocked := ""
	for i := 0; i < len(roots); {
		if err := ctx.Err(); err != nil {
			return err
		}
		v := roots[i].Version
		j := i
		for j < len(roots) && roots[j].Version == v {
			j++
		}
		group := roots[i:j]
		i = j
		w.judging(group...)
		switch {
		case v < trustedVersion:
			for _, f := range group {
				f.notChecked("root version %d is older than the trusted root (version %d): a client starting from the trusted root never reads it", v, trustedVersion)
			}
			continue
		case v == trustedVersion:
			for _, f := range group {
				f.fail(fmt.Errorf("%w: root version %d is the trusted root's version, with other bytes", ErrRootConflict, v))
			}
			continue
		case blocked != "":
			for _, f := range group {
				f.notChecked("%s", blocked)
			}
			continue
		case len(group) > 1:
			names := fileNames(group)
			for _, f := range group {
				f.fail(fmt.Errorf("%w: %s hold root version %d, with different bytes", ErrRootConflict, names, v))
			}
			blocked = fmt.Sprintf("cannot be checked because root version %d is ambiguous (%s)", v, names)
			continue
		case v != w.root.Version+1:
			blocked = fmt.Sprintf("cannot be checked because root version %d is missing (a root must follow the one before it, TUF §5.3.5)", w.root.Version+1)
			group[0].notChecked("%s", blocked)
			continue
		}
		f := group[0]
		up, err := tuf.VerifyRootUpdate(w.root, f.parsed)
		f.Delegator = w.rootFile.Name
		if up != nil {
			f.addCheck(up.ByTrusted, w.root.Keys)
			f.addCheck(up.BySelf, f.parsed.Root.Keys)
		}
		f.keyMismatches(f.parsed.Root.Keys)
		if err != nil {
			f.fail(err)
			blocked = fmt.Sprintf("cannot be checked because root version %d (%s) failed", v, f.Name)
			continue
		}
		w.supersede()
		w.trust(f)
	}
	return nil
}

// trust makes f, a verified root, the root the rest is judged against,
// and notes the first root of the chain marked as a rehearsal's: a chain
// that began in a rehearsal, or reached one, is a rehearsal's however it
// goes on.
func (w *walker) trust(f *File) {
	w.root, w.rootFile = f.parsed.Root, f
	if text, marked := f.parsed.Root.Rehearsal(); marked && w.rehearsal == nil {
		w.rehearsal = &Rehearsal{File: f.Name, Mark: text}
	}
}

// supersede closes the root that a newer verified root replaces: valid
// (unless it failed its own signatures), its expiry not checked.
func (w *walker) supersede() {
	old := w.rootFile
	old.note(Note{Code: NoteSuperseded, Sentence: "expiry not checked: a later root supersedes this one (TUF §5.3.10)"})
	if old.Verdict == "" {
		old.Verdict = Valid
	}
}

// delegated judges delegated targets metadata top-down from the verified
// files, as a client walks down from the top-level targets (TUF §5.6.7):
// each file after every file that could delegate it, so that the order
// given never matters. A delegator that can only be reached through the
// file itself, a delegation cycle back to it, does not hold it back: a
// client reaches the file first and skips a role already visited
// (§5.6.7.2).
func (w *walker) delegated(ctx context.Context) error {
	var pending []*File
	for _, f := range w.files {
		if f.pending() && f.Type == tuf.TypeTargets {
			f.cands = w.delegatorsOf(f)
			pending = append(pending, f)
		}
	}
	return w.settle(ctx, pending)
}

// settle judges group, files not judged yet whose candidate delegators
// outside group are all judged. It takes the groups of files that wait
// for each other (strongly connected components of "waits for a candidate
// delegator"), those waited for first. A file of a cycle with a verified
// delegator outside the cycle is judged against the delegators judged
// before it; the rest of the cycle is settled again after it. A cycle with
// no way in is not checked, and only its own files are named.
func (w *walker) settle(ctx context.Context, group []*File) error {
	for _, s := range components(group) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(s) == 1 {
			w.judgeDelegated(s[0], s[0].cands)
			continue
		}
		var ready []*File
		var decided [][]*File
		for _, f := range s {
			judged := slices.DeleteFunc(slices.Clone(f.cands), (*File).pending)
			if slices.ContainsFunc(judged, (*File).signaturesHeld) {
				ready = append(ready, f)
				decided = append(decided, judged)
			}
		}
		if len(ready) == 0 {
			names := fileNames(s)
			w.judging(s...)
			for _, f := range s {
				f.notChecked("cannot be checked: its possible delegators delegate each other in a cycle (%s)", names)
			}
			continue
		}
		// Every file of this round is judged against the delegators
		// judged before the round, so that the order within it does not
		// matter.
		for i, f := range ready {
			w.judgeDelegated(f, decided[i])
		}
		if err := w.settle(ctx, slices.DeleteFunc(slices.Clone(s), func(f *File) bool { return !f.pending() })); err != nil {
			return err
		}
	}
	return nil
}

// components is group's strongly connected components under "waits for
// a candidate delegator in group" (Tarjan's algorithm), a component after
// every component it waits for.
func components(group []*File) [][]*File {
	type node struct {
		index, low int
		onStack    bool
	}
	nodes := make(map[*File]*node, len(group))
	for _, f := range group {
		nodes[f] = nil
	}
	var stack []*File
	var out [][]*File
	next := 0
	var visit func(f *File) *node
	visit = func(f *File) *node {
		n := &node{index: next, low: next, onStack: true}
		next++
		nodes[f] = n
		stack = append(stack, f)
		for _, c := range f.cands {
			m, in := nodes[c]
			switch {
			case !in:
			case m == nil:
				n.low = min(n.low, visit(c).low)
			case m.onStack:
				n.low = min(n.low, m.index)
			}
		}
		if n.low == n.index {
			i := len(stack) - 1
			for stack[i] != f {
				i--
			}
			comp := slices.Clone(stack[i:])
			for _, g := range comp {
				nodes[g].onStack = false
			}
			stack = stack[:i]
			out = append(out, comp)
		}
		return n
	}
	for _, f := range group {
		if nodes[f] == nil {
			visit(f)
		}
	}
	return out
}

// index lists, once, which files delegate which role names, so that
// finding a role's delegators does not read every delegation of every file
// for every file (quadratic for a claimed role of 100,000 projects given
// with their 100,000 files). A file refused before the walk (a name that
// does not match its content) cannot delegate, but is indexed to be named
// when nothing else delegates the role.
func (w *walker) index() {
	w.byRole = map[string][]*File{}
	for _, g := range w.files {
		if g.parsed == nil || g.parsed.Targets == nil || g.parsed.Targets.Delegations == nil || g.Verdict == Skipped {
			continue
		}
		d := g.parsed.Targets.Delegations
		if d.SuccinctRoles != nil {
			w.bins = append(w.bins, g)
		}
		// Parse refuses a role name delegated twice by one file.
		g.delegates = make(map[string]*tuf.DelegatedRole, len(d.Roles))
		for _, r := range d.Roles {
			g.delegates[r.Name] = r
			w.byRole[r.Name] = append(w.byRole[r.Name], g)
		}
	}
}

// delegatorsOf lists the files that delegate f's role (a listed role or a
// succinct hash bin), in the order given.
func (w *walker) delegatorsOf(f *File) []*File {
	var out []*File
	for _, g := range w.byRole[f.Role] {
		if g != f {
			out = append(out, g)
		}
	}
	for _, g := range w.bins {
		if g != f && g.parsed.Targets.Delegations.SuccinctRoles.IsBin(f.Role) {
			out = append(out, g)
		}
	}
	if len(w.bins) > 0 {
		sort.SliceStable(out, func(i, j int) bool { return out[i].idx < out[j].idx })
	}
	return out
}

// delegation is the keyids and threshold g delegates role to; g is one of
// delegatorsOf's files for role.
func (g *File) delegation(role string) ([]string, int64) {
	if r := g.delegates[role]; r != nil {
		return r.KeyIDs, r.Threshold
	}
	s := g.parsed.Targets.Delegations.SuccinctRoles
	return s.KeyIDs, s.Threshold
}

func (w *walker) judgeDelegated(f *File, cands []*File) {
	w.judging(f)
	var held, failed []*File
	for _, c := range cands {
		if c.signaturesHeld() {
			held = append(held, c)
		} else {
			failed = append(failed, c)
		}
	}
	var by *File
	if w.delegator != "" {
		for _, c := range cands {
			if c.Name == w.delegator {
				by = c
			}
		}
	}
	switch {
	case by != nil && !by.signaturesHeld():
		f.notChecked("%s cannot be checked because its delegator %s (%s) failed", quoteRole(f.Role), quoteRole(by.Role), by.Name)
		return
	case by != nil:
		if len(held) > 1 {
			f.note(Note{Code: NoteDelegatorChosen, Sentence: fmt.Sprintf("judged against %s, as --delegator says; also delegated by %s", by.Name, fileNames(others(held, by)))})
		}
	case len(newest(held)) == 1:
		by = newest(held)[0]
		if len(held) > 1 {
			f.note(Note{Code: NoteDelegatorChosen, Sentence: fmt.Sprintf("judged against %s, the newest version of %s given; also delegated by the older %s", by.Name, quoteRole(by.Role), fileNames(others(held, by)))})
		}
	case len(held) > 1:
		held = newest(held)
		all := "all"
		if len(held) == 2 {
			all = "both"
		}
		f.fail(fmt.Errorf("%w: %s are %s verified and %s delegate the role %s; name the one to judge it against with --delegator", ErrAmbiguousDelegator, fileNames(held), all, all, quoteRole(f.Role)))
		return
	case len(failed) > 0:
		f.notChecked("%s cannot be checked because its delegator %s failed", quoteRole(f.Role), describe(failed))
		return
	default:
		f.fail(fmt.Errorf("%w: none of the files verified delegates a role named %s", tuf.ErrNotDelegated, quoteRole(f.Role)))
		return
	}
	keyids, threshold := by.delegation(f.Role)
	res := f.parsed.VerifyRole(f.Role, by.parsed.Targets.Delegations.Keys, keyids, threshold)
	f.Delegator = by.Name
	f.addCheck(res, by.parsed.Targets.Delegations.Keys)
	f.finish(res.Err(), w.now)
}

// newest keeps, of each role, the files of its highest version: a client
// holds only the newest version of a role, so older versions of one
// delegator are not rivals of the newest. Two roles, or two files of one
// version, remain rivals.
func newest(fs []*File) []*File {
	top := map[string]int64{}
	for _, f := range fs {
		top[f.Role] = max(top[f.Role], f.Version)
	}
	var out []*File
	for _, f := range fs {
		if f.Version == top[f.Role] {
			out = append(out, f)
		}
	}
	return out
}

func others(fs []*File, not *File) []*File {
	var out []*File
	for _, f := range fs {
		if f != not {
			out = append(out, f)
		}
	}
	return out
}

// listMax is how many files a reason names before it says how many more:
// a reason stays one line whatever the number of files given.
const listMax = 5

// describe names failed delegators: `targets (targets.json)`, or when
// several failed, their files.
func describe(fs []*File) string {
	if len(fs) == 1 {
		return quoteRole(fs[0].Role) + " (" + fs[0].Name + ")"
	}
	return fileNames(fs)
}

// fileNames lists the files' names, at most listMax of them.
func fileNames(fs []*File) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Name
	}
	return termtext.List(parts, listMax)
}

// quoteRole quotes a role name when it could be mistaken for words. The
// quotes are plain: the text printer escapes what the name holds.
func quoteRole(role string) string {
	for _, r := range role {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return `"` + role + `"`
		}
	}
	if role == "" {
		return `""`
	}
	return role
}

// finish records the verdict of a file whose signatures were counted.
func (f *File) finish(err error, now time.Time) {
	f.keyMismatchesOfDelegations()
	if err != nil {
		f.fail(err)
		return
	}
	f.ExpiryChecked = true
	f.judgeExpiry(now)
	if f.Verdict == "" {
		f.Verdict = Valid
	}
}

func (f *File) judgeExpiry(now time.Time) {
	if err := f.parsed.CheckExpiry(now); err != nil && f.Verdict == "" {
		f.Verdict, f.Err = Expired, err
	}
}

func (f *File) addCheck(res *tuf.ThresholdResult, keys map[string]*tuf.Key) {
	if res == nil {
		return
	}
	c := RoleCheck{Role: res.Role, Threshold: res.Threshold, Signers: res.Signers, MissingKeys: res.MissingKeys}
	for _, s := range res.Checks {
		sig := Signature{KeyID: s.KeyID, Status: s.Status}
		if k, ok := keys[s.KeyID]; ok {
			sig.KeyType, sig.Scheme = k.Type, k.Scheme
		}
		c.Signatures = append(c.Signatures, sig)
	}
	f.Checks = append(f.Checks, c)
}

func (f *File) keyMismatches(keys map[string]*tuf.Key) {
	for _, id := range tuf.KeyIDMismatches(keys) {
		f.note(Note{Code: NoteKeyIDMismatch, KeyID: id, Sentence: fmt.Sprintf("keyid %s does not match its key (the key hashes to %s); clients still accept it, but Conclave will not build on this metadata", id, keys[id].ID())})
	}
}

func (f *File) keyMismatchesOfDelegations() {
	if t := f.parsed.Targets; t != nil && t.Delegations != nil {
		f.keyMismatches(t.Delegations.Keys)
	}
}

// Format names the JSON report's format (docs/formats/schema/verify-report.schema.json).
const Format = "conclave-verify-report/1"

// JSON is the report as the JSON document `conclave verify --json`
// prints: exact strings (keyids in full), times in RFC 3339 UTC.
func (r *Report) JSON() ([]byte, error) {
	type sig struct {
		KeyID   string        `json:"keyid"`
		KeyType string        `json:"keytype,omitempty"`
		Scheme  string        `json:"scheme,omitempty"`
		Status  tuf.SigStatus `json:"status"`
	}
	type check struct {
		Role        string   `json:"role"`
		Threshold   int64    `json:"threshold"`
		Signers     []string `json:"signers"`
		Signatures  []sig    `json:"signatures"`
		MissingKeys []string `json:"missing_keys,omitempty"`
	}
	type note struct {
		Code     string `json:"code"`
		Sentence string `json:"sentence"`
		KeyID    string `json:"keyid,omitempty"`
	}
	type file struct {
		File          string  `json:"file"`
		TrustedRoot   bool    `json:"trusted_root,omitempty"`
		Type          string  `json:"type,omitempty"`
		Role          string  `json:"role,omitempty"`
		Version       int64   `json:"version,omitempty"`
		Expires       string  `json:"expires,omitempty"`
		ExpiryChecked bool    `json:"expiry_checked"`
		Delegator     string  `json:"delegator,omitempty"`
		Verdict       Verdict `json:"verdict"`
		Reason        string  `json:"reason,omitempty"`
		Checks        []check `json:"checks"`
		Notes         []note  `json:"notes"`
	}
	type counts struct {
		Valid      int `json:"valid"`
		Expired    int `json:"expired"`
		NotValid   int `json:"not_valid"`
		NotChecked int `json:"not_checked"`
		Skipped    int `json:"skipped"`
	}
	type rehearsal struct {
		Root string `json:"root"`
		Mark string `json:"mark"`
	}
	doc := struct {
		Format    string     `json:"format"`
		At        string     `json:"at"`
		Verdict   Verdict    `json:"verdict"`
		Rehearsal *rehearsal `json:"rehearsal,omitempty"`
		Counts    counts     `json:"counts"`
		Files     []file     `json:"files"`
	}{
		Format:  Format,
		At:      r.At.UTC().Format(time.RFC3339Nano),
		Verdict: r.Verdict,
		Counts:  counts{r.Count(Valid), r.Count(Expired), r.Count(NotValid), r.Count(NotChecked), r.Count(Skipped)},
		Files:   []file{},
	}
	if r.Rehearsal != nil {
		doc.Rehearsal = &rehearsal{Root: r.Rehearsal.File, Mark: r.Rehearsal.Mark}
	}
	for _, f := range r.Files {
		jf := file{File: f.Name, TrustedRoot: f.Trusted, Type: f.Type, Role: f.Role, Version: f.Version,
			ExpiryChecked: f.ExpiryChecked, Delegator: f.Delegator, Verdict: f.Verdict, Reason: f.Reason(),
			Checks: []check{}, Notes: []note{}}
		if f.Type != "" {
			jf.Expires = f.Expires.UTC().Format(time.RFC3339Nano)
		}
		for _, c := range f.Checks {
			jc := check{Role: c.Role, Threshold: c.Threshold, Signers: c.Signers, Signatures: []sig{}, MissingKeys: c.MissingKeys}
			if jc.Signers == nil {
				jc.Signers = []string{}
			}
			for _, s := range c.Signatures {
				jc.Signatures = append(jc.Signatures, sig(s))
			}
			jf.Checks = append(jf.Checks, jc)
		}
		for _, n := range f.Notes {
			jf.Notes = append(jf.Notes, note(n))
		}
		doc.Files = append(doc.Files, jf)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
