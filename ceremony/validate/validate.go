// Package validate judges each request of a bundle against the validation
// rules and the trusted delegating metadata, and classes it for the review:
// invalid, needs judgement, or rule-approvable.
//
// Every finding has a stable code (package verdict) and one sentence a key
// holder can read aloud. The checks follow docs/design.md, "The trust model":
// the repository only asks; authority over a project's keys comes from
// its current keys (a threshold of them signs a typed key-change
// statement); a rotation or removal without it is a recovery, judged one
// by one after a notice period; a new project's keys are trusted on first
// use, so an add whose keyset the repository had not already published is
// flagged.
package validate

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Input is everything a bundle's requests are judged against.
type Input struct {
	Bundle *bundle.Bundle
	// Delegators are the trusted metadata of every delegating role, by
	// role name: the delegating role ("claimed"), or each of its shards.
	// A project delegated by any of them is delegated: an add for it is
	// a takeover, whichever role the policy gives its name now.
	Delegators map[string]*tuf.Targets
	// RoleFor names the role in Delegators that delegates, or will
	// delegate, a normalised project name (policy.Policy.ShardFor): the
	// version of that role's metadata is the base every possession and
	// key-change statement about the project must name. It must name a
	// role of Delegators for every name; nil when Delegators holds one
	// role, which then delegates every project.
	RoleFor func(project string) string
	Rules   rules.Rules
	// History is what earlier bundles carried; nil if none.
	History *history.History
	// Now is the ceremony's confirmed time: when this bundle is seen.
	Now time.Time
	// Waivers are the notice periods waived in the ceremony, by request
	// id (see Waiver); nil for none.
	Waivers map[string]Waiver

	// skipSignatures leaves out the signature checks, so the benchmark can
	// measure everything else. Only this package's tests set it.
	skipSignatures bool
}

// base is the role that delegates, or will delegate, project and the
// version of its trusted metadata: what a statement about the project is
// bound to. A role missing from Delegators is the caller's mistake (a
// vault opens only with the metadata of every role its policy signs), not
// something a bundle can cause.
func (in *Input) base(project string) (string, int64) {
	if in.RoleFor == nil {
		if len(in.Delegators) != 1 {
			panic(fmt.Sprintf("validate: Input.RoleFor is nil, and Delegators holds %d roles, not one", len(in.Delegators)))
		}
		for role, t := range in.Delegators {
			return role, t.Version
		}
	}
	role := in.RoleFor(project)
	t := in.Delegators[role]
	if t == nil {
		panic(fmt.Sprintf("validate: project %q falls to role %q, whose metadata Input.Delegators does not hold", project, role))
	}
	return role, t.Version
}

// current is one project as the trusted metadata delegates it.
type current struct {
	role   *tuf.DelegatedRole
	keys   map[string]*tuf.Key // keyid → key, the role's keys only
	keyset request.Keyset
}

// state is the trusted delegations, indexed.
type state struct {
	in       *Input
	projects map[string]*current // normalised name → delegation
	// owners maps a key fingerprint to the projects (normalised) the
	// trusted metadata delegates to it; proposed maps it to the requests
	// (by index in the bundle) that list it.
	owners   map[string][]string
	proposed map[string][]int
	paths    *pathIndex
	// idCount and nameCount find duplicates within the bundle.
	idCount, nameCount map[string]int
	// roles are the roles that are not projects (rules.RoleNames) and
	// the top-level ones, folded once.
	roles *request.Roles
}

// Validate judges every request of the bundle. The verdicts are in the
// bundle's order; verdict.Order sorts them for the review.
//
// The proof-of-possession signatures, two or more per request and most of
// an import's work, are checked first on every core, while the index of
// the trusted delegations and the bundle is built beside them: the index
// is one goroutine's work, and this way no core waits for it.
func Validate(in Input) []verdict.Verdict {
	items := in.Bundle.Items
	roles := request.NewRoles(in.Rules.RoleNames())
	var st *state
	indexed := make(chan struct{})
	go func() {
		defer close(indexed)
		st = index(&in, roles)
	}()
	keyChecks := make([]keyCheck, len(items))
	parallel.For(len(items), 32, func(i int) {
		if r := items[i].Request; r != nil && r.Keys != nil {
			keyChecks[i] = prepare(r, &in, roles)
		}
	})
	<-indexed
	out := make([]verdict.Verdict, len(items))
	parallel.For(len(items), 32, func(i int) {
		v := st.judge(items[i], keyChecks[i])
		if r := items[i].Request; r != nil {
			if st.idCount[r.ID] > 1 {
				v.Add(verdict.Error, verdict.DuplicateID, "id", "Another request in this bundle has the same id %q; ids must be unique, so neither can be approved.", r.ID)
			}
			if r.Name != "" && st.nameCount[r.Name] > 1 {
				v.Add(verdict.Error, verdict.DuplicateProject, "project", "Another request in this bundle is for the same project %q; a bundle may change a project only once, so neither can be approved.", r.Name)
			}
		}
		out[i] = v
	})
	st.review(items, out)
	return out
}

// prepare judges what costs nothing of a request with keys, and then, if
// nothing of it refuses the request, verifies its proof of possession.
// What refuses a request whatever its signatures are must cost no
// verification: a key the policy refuses, a project name that is refused
// or that names a role, a possession statement that is not the one this
// request needs (judge says which).
func prepare(r *request.Request, in *Input, roles *request.Roles) keyCheck {
	kc := checkKeys(r, in.Rules)
	if !kc.ok || r.NameErr != nil || roles.Check(r.Name) != nil {
		return kc
	}
	env := r.Possession
	_, base := in.base(r.Name)
	kc.statement = r.HasPossession && r.PossessionErr == nil && env.PayloadType == request.TypePossession &&
		r.PossessionFor(base).Matches(env.Payload)
	if kc.statement && !in.skipSignatures {
		r.VerifyPossession()
		kc.verified = true
	}
	return kc
}

func index(in *Input, roles *request.Roles) *state {
	// Sized up front: growing maps of 100,000 entries step by step was a
	// third of this serial step.
	n, nkeys := len(in.Bundle.Items), 0
	for _, it := range in.Bundle.Items {
		if it.Request != nil {
			nkeys += len(it.Request.Keys)
		}
	}
	// Every delegating role, in role order: a project any of them
	// delegates is taken, and its keys and paths are someone's, whatever
	// role the policy gives its name.
	roleNames := make([]string, 0, len(in.Delegators))
	nroles := 0
	for role, t := range in.Delegators {
		roleNames = append(roleNames, role)
		if d := t.Delegations; d != nil {
			nroles, nkeys = nroles+len(d.Roles), nkeys+len(d.Keys)
		}
	}
	sort.Strings(roleNames)
	st := &state{
		in:        in,
		projects:  make(map[string]*current, nroles),
		owners:    make(map[string][]string, nkeys),
		proposed:  make(map[string][]int, nkeys),
		idCount:   make(map[string]int, n),
		nameCount: make(map[string]int, n),
		roles:     roles,
	}
	entries := make([]pathEntry, 0, nroles+n)
	for _, role := range roleNames {
		d := in.Delegators[role].Delegations
		if d == nil {
			continue
		}
		for _, role := range d.Roles {
			name, err := request.Normalize(role.Name, 1<<10)
			if err != nil {
				name = role.Name // not a project name; still guards its paths
			}
			c := &current{role: role, keys: make(map[string]*tuf.Key, len(role.KeyIDs)), keyset: request.NewKeyset(role.KeyIDs, role.Threshold)}
			for _, id := range role.KeyIDs {
				if k, ok := d.Keys[id]; ok {
					c.keys[id] = k
					st.owners[k.Fingerprint()] = appendOnce(st.owners[k.Fingerprint()], name)
				}
			}
			st.projects[name] = c
			for _, p := range role.Paths {
				entries = append(entries, pathEntry{pattern: p, owner: name})
			}
		}
	}
	for i, it := range in.Bundle.Items {
		r := it.Request
		if r == nil {
			continue
		}
		st.idCount[r.ID]++
		if r.Name == "" {
			continue
		}
		st.nameCount[r.Name]++
		for _, e := range r.Keys {
			if e.Key != nil {
				st.proposed[e.Key.Fingerprint()] = append(st.proposed[e.Key.Fingerprint()], i)
			}
		}
		if r.Kind == request.Add {
			if _, delegated := st.projects[r.Name]; !delegated {
				for _, p := range delegation.Paths(in.Rules.PathTemplate, r.Name) {
					entries = append(entries, pathEntry{pattern: p, owner: r.Name})
				}
			}
		}
	}
	st.paths = newPathIndex(entries)
	return st
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// judge runs every check on one request; kc is what checkKeys found.
func (st *state) judge(it bundle.Item, kc keyCheck) verdict.Verdict {
	v := verdict.Verdict{Batch: it.Batch, Line: it.Line}
	if it.Err != nil {
		v.Add(verdict.Error, it.Err.Code, it.Err.Path, "%s", sentenceFor(it.Err))
		return v
	}
	r := it.Request
	v.RequestID, v.Kind, v.Project = r.ID, string(r.Kind), r.Name
	if r.NameErr != nil {
		v.Project = ""
		v.Add(verdict.Error, verdict.ProjectName, "project", "The project name %q is refused: %v.", r.Project, r.NameErr)
		return v
	}
	if !st.checkNotRole(&v, r) {
		return v
	}
	cur, delegated := st.projects[r.Name]
	switch {
	case r.Kind == request.Add && delegated:
		name := fmt.Sprintf("%q", r.Name)
		if r.Project != r.Name {
			name = fmt.Sprintf("%q (written %q)", r.Name, r.Project)
		}
		v.Add(verdict.Error, verdict.TakeoverAdd, "project", "Project %s is already delegated to other keys; adding it again would hand it to new keys without its owners' consent (a takeover attempt).", name)
		return v
	case r.Kind != request.Add && !delegated:
		v.Add(verdict.Error, verdict.NotDelegated, "project", "Project %q is not delegated, so there is nothing to %s.", r.Name, r.Kind)
		return v
	}

	if r.Keys != nil {
		if !st.applyKeys(&v, r, kc) {
			return v
		}
		st.checkPossession(&v, r, kc)
	}
	switch r.Kind {
	case request.Add:
		st.checkAdd(&v, r)
	case request.Rotate, request.Remove:
		if !r.Removes() && r.Keyset().Equal(cur.keyset) {
			v.Add(verdict.Error, verdict.NoChange, "keys", "The request asks for exactly the keys and threshold project %q already has.", r.Name)
		}
		st.checkAuthorisation(&v, r, cur)
	case request.Recover:
		st.checkRecover(&v, r)
	}
	return v
}

// checkNotRole refuses a project name a client could take for a role that
// is not a project, or for that role's metadata file (request.CheckNotRole
// holds the rule).
func (st *state) checkNotRole(v *verdict.Verdict, r *request.Request) bool {
	err := st.roles.Check(r.Name)
	if err == nil {
		return true
	}
	v.Add(verdict.Error, verdict.ProjectRoleName, "project", "The project name %q is refused: %v.", r.Project, err)
	return false
}

func sentenceFor(e *request.Error) string {
	switch e.Code {
	case verdict.JSONInvalid:
		return "The request is not strict JSON: " + e.Error() + "."
	case verdict.TooManyKeys, verdict.RequestTooLarge:
		return "The request " + e.Msg + "."
	}
	return "The request breaks the request format: " + e.Error() + "."
}

// checkPossession: every key listed signed the typed possession statement
// for exactly this request.
func (st *state) checkPossession(v *verdict.Verdict, r *request.Request, kc keyCheck) {
	if !r.HasPossession {
		if st.in.Rules.PossessionOptional {
			return
		}
		v.Add(verdict.Error, verdict.PossessionMissing, "possession", "The request carries no proof that the developer holds these keys; each key must sign a possession statement.")
		return
	}
	env := r.Possession
	if r.PossessionErr != nil {
		v.Add(verdict.Error, verdict.PossessionInvalid, "possession", "The proof of possession is not a typed Conclave envelope: %v.", r.PossessionErr)
		return
	}
	if env.PayloadType != request.TypePossession {
		v.Add(verdict.Error, verdict.PossessionInvalid, "possession.payloadType", "The proof of possession is an envelope of type %q, not a possession statement.", env.PayloadType)
		return
	}
	// The statement must be exactly the canonical JSON Conclave expects
	// for this request: a byte comparison (made in prepare, before the
	// signatures), with a reading of what was signed instead only to
	// explain a difference.
	if !kc.statement {
		role, base := st.in.base(r.Name)
		want := r.PossessionFor(base)
		got, err := request.ParsePossession(env.Payload)
		switch {
		case err != nil:
			v.Add(verdict.Error, verdict.PossessionWrong, "possession.payload", "The signed possession statement cannot be read: %v.", err)
		case got.BaseVersion != want.BaseVersion:
			possessionBase(v, role, got.BaseVersion, want.BaseVersion)
		case got.RequestID != want.RequestID || got.Project != want.Project || !got.Keyset.Equal(want.Keyset):
			v.Add(verdict.Error, verdict.PossessionWrong, "possession.payload", "The possession statement the keys signed is about something else (request %q, project %q, %s, threshold %d), not this request.",
				got.RequestID, got.Project, termtext.Plural(len(got.Keyset.KeyIDs), "key"), got.Keyset.Threshold)
		default:
			v.Add(verdict.Error, verdict.PossessionWrong, "possession.payload", "The possession statement is not written as canonical JSON; it must be byte for byte the statement the format defines.")
		}
		return
	}
	if st.in.skipSignatures {
		return
	}
	st.checkPossessionSignatures(v, r)
}

// possessionBase refuses a possession statement made against another
// version of the role that delegates the project: an old request sent
// again (a replay, perhaps after the project was removed), one made
// before the last ceremony that changed that role, or one bound to
// another shard's version; the developer must sign it again.
func possessionBase(v *verdict.Verdict, role string, got, trusted int64) {
	v.Add(verdict.Error, verdict.PossessionBase, "possession.payload", "The possession statement was signed for version %d of the delegating metadata, but the trusted version of %s, the role that delegates this project, is %d; an old statement cannot be reused, so the developer must sign it again for version %d.", got, role, trusted, trusted)
}

// checkAuthorisation: a threshold of the project's current keys signed a
// typed key-change statement bound to this project, its current keyset,
// this change and the trusted base version.
func (st *state) checkAuthorisation(v *verdict.Verdict, r *request.Request, cur *current) {
	if !r.HasAuth {
		v.Add(verdict.Error, verdict.KeyChangeMissing, "authorisation", "The request carries no key-change authorisation from the project's current keys. Without it, it can only be a recovery request, judged on its own after a notice period.")
		return
	}
	env := r.Authorisation
	if r.AuthErr != nil {
		v.Add(verdict.Error, verdict.KeyChangeNotEnv, "authorisation", "The key-change authorisation is not a typed Conclave envelope: %v.", r.AuthErr)
		return
	}
	if env.PayloadType != request.TypeKeyChange {
		v.Add(verdict.Error, verdict.KeyChangeNotEnv, "authorisation.payloadType", "The key-change authorisation is an envelope of type %q, not a key-change statement.", env.PayloadType)
		return
	}
	kc, err := request.ParseKeyChange(env.Payload)
	if err != nil {
		v.Add(verdict.Error, verdict.KeyChangeNotEnv, "authorisation.payload", "The signed key-change statement cannot be read: %v.", err)
		return
	}
	wantChange := request.ChangeRotate
	if r.Removes() {
		wantChange = request.ChangeRemove
	}
	switch {
	case kc.Project != r.Name:
		v.Add(verdict.Error, verdict.KeyChangeMismatch, "authorisation.payload", "The key-change authorisation is for project %q, not %q.", kc.Project, r.Name)
		return
	case kc.Change != wantChange:
		v.Add(verdict.Error, verdict.KeyChangeMismatch, "authorisation.payload", "The key-change authorisation allows a %s, but the request asks for a %s.", kc.Change, wantChange)
		return
	case wantChange == request.ChangeRotate && !kc.NewKeyset.Equal(r.Keyset()):
		v.Add(verdict.Error, verdict.KeyChangeMismatch, "authorisation.payload", "The key-change authorisation names other new keys or another threshold than the request.")
		return
	case kc.CurrentKeyset != cur.keyset.Hash():
		v.Add(verdict.Error, verdict.KeyChangeKeyset, "authorisation.payload", "The key-change authorisation was made for another set of current keys than the ones project %q has now; it may be old or meant for another state.", r.Name)
		return
	}
	if role, base := st.in.base(r.Name); kc.BaseVersion != base {
		v.Add(verdict.Error, verdict.KeyChangeBase, "authorisation.payload", "The key-change authorisation applies to version %d of the delegating metadata, but the trusted version of %s, the role that delegates this project, is %d.", kc.BaseVersion, role, base)
		return
	}
	if st.in.skipSignatures {
		return
	}
	st.checkAuthorisationSignatures(v, r, cur)
}

func (st *state) checkAdd(v *verdict.Verdict, r *request.Request) {
	for _, p := range delegation.Paths(st.in.Rules.PathTemplate, r.Name) {
		if others := st.paths.conflicts(p, r.Name); len(others) > 0 {
			v.Add(verdict.Error, verdict.PathOverlap, "project", "The paths %q this project would get overlap those of %s under the loosest wildcard rules a client uses (where * also matches /), so one could claim the other's files.", p, termtext.List(others, 3))
		}
	}
	if len(r.Keys) == 0 {
		return
	}
	since, ok := st.in.History.PublishedSince(r.Name, r.Keyset())
	dwell := st.in.Rules.MinDwell
	switch {
	case !ok || !since.Before(st.in.Now):
		v.Add(verdict.Warning, verdict.NoDwell, "keys", "The repository had not published these exact keys for project %q in an earlier bundle; keys trusted on first use should have been public, unchanged, for a while before they are approved.", r.Name)
	case st.in.Now.Sub(since) < dwell:
		v.Add(verdict.Warning, verdict.NoDwell, "keys", "The repository first published these exact keys for project %q on %s; the policy wants them published unchanged for at least %s before they are trusted on first use.",
			r.Name, since.UTC().Format(request.TimeLayout), fmtDuration(dwell))
	}
}

func (st *state) checkRecover(v *verdict.Verdict, r *request.Request) {
	what := "replace its keys"
	if r.Removes() {
		what = "end its delegation"
	}
	v.Add(verdict.Warning, verdict.Recovery, "kind", "This is a recovery: it would %s for project %q without the consent of the project's current keys. Decide it on its own.", what, r.Name)
	first := st.in.History.FirstSeenAt(r.ChangeDigest(), st.in.Now)
	due := first.Add(st.in.Rules.RecoveryNotice)
	if st.in.Now.Before(due) && !st.waived(v, r, first, due) {
		v.Add(verdict.Error, verdict.RecoverNotice, "kind", "Conclave first saw this recovery on %s; its notice period of %s ends on %s, and it cannot be approved before then.",
			first.UTC().Format(request.TimeLayout), fmtDuration(st.in.Rules.RecoveryNotice), due.UTC().Format(request.TimeLayout))
	}
}

func fmtDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return d.String()
}

// PublishedNotes compares the repository's published state with the
// trusted delegations: a project the state lists that is already
// delegated, but to other keys, may mean a rotation is pending — or that
// the repository shows users keys the holders never approved. The state
// comes from the same possibly compromised server, so this is hygiene,
// not proof; the sentences go to the holders as notes, not verdicts.
//
// delegators are the trusted metadata of every delegating role (the
// delegating role, or each shard), by role name.
func PublishedNotes(b *bundle.Bundle, delegators map[string]*tuf.Targets) []verdict.Finding {
	if b.Published == nil {
		return nil
	}
	current := map[string]request.Keyset{}
	// In role order, so that no map order decides anything.
	for _, role := range slices.Sorted(maps.Keys(delegators)) {
		t := delegators[role]
		if t.Delegations == nil {
			continue
		}
		for _, r := range t.Delegations.Roles {
			if n, err := request.Normalize(r.Name, 1<<10); err == nil {
				current[n] = request.NewKeyset(r.KeyIDs, r.Threshold)
			}
		}
	}
	names := make([]string, 0, len(b.Published))
	for n := range b.Published {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []verdict.Finding
	for _, n := range names {
		if cur, ok := current[n]; ok && !cur.Equal(b.Published[n]) {
			out = append(out, verdict.Finding{
				Code:     verdict.PublishedDiffers,
				Severity: verdict.Warning,
				Sentence: fmt.Sprintf("The repository says it publishes other keys for project %q than the ones the trusted metadata delegates to; unless a rotation for it is in this bundle, ask the repository why.", n),
			})
		}
	}
	return out
}
