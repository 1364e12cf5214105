package validate

import (
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// review finishes the verdicts once every request has all its errors:
// the key-shared warnings, which depend on which other requests are
// valid, then the class, then what approving each request would trust.
func (st *state) review(items []bundle.Item, out []verdict.Verdict) {
	invalid := make([]bool, len(out))
	for i := range out {
		for _, f := range out[i].Findings {
			if f.Severity == verdict.Error {
				invalid[i] = true
				break
			}
		}
	}
	sh := newSharing(st.proposed, invalid)
	parallel.For(len(out), 32, func(i int) {
		v, r := &out[i], items[i].Request
		if r != nil && !invalid[i] {
			st.shareKeys(v, r, items, sh, invalid)
		}
		v.Settle()
		if r != nil {
			st.describe(v, r)
		}
	})
}

// sharedShown is how many other projects a key-shared warning names; it
// counts the rest.
const sharedShown = 3

// sharing is, for a key several requests of the bundle list, the valid
// ones among them: the first sharedShown+1 (one of them may be the
// request being judged) and how many in all. Counted once per key, so
// that a bundle of requests all listing one key costs each of them the
// same as a key of its own, not a pass over all the others.
type sharing map[string]proposers

type proposers struct {
	first []int // indexes in the bundle
	valid int
}

// newSharing counts only keys listed by more requests than a warning
// names: for the others, proposers reads the short list directly.
func newSharing(proposed map[string][]int, invalid []bool) sharing {
	sh := sharing{}
	for fp, list := range proposed {
		if len(list) > sharedShown+1 {
			sh[fp] = validProposers(list, invalid)
		}
	}
	return sh
}

func validProposers(list []int, invalid []bool) proposers {
	var p proposers
	for _, j := range list {
		if !invalid[j] {
			if len(p.first) <= sharedShown {
				p.first = append(p.first, j)
			}
			p.valid++
		}
	}
	return p
}

// proposers are the valid requests listing the key with fingerprint fp.
func (sh sharing) proposers(st *state, fp string, invalid []bool) proposers {
	if p, ok := sh[fp]; ok {
		return p
	}
	return validProposers(st.proposed[fp], invalid)
}

// shareKeys warns about each key of r that another project also has: one
// the trusted metadata delegates to it now, or one another valid request
// of this bundle proposes for another project. A key proposed only by an
// invalid request is nobody's: that request can never be approved.
// Whoever holds a shared key can sign for every project that has it.
//
// r is valid, so no other valid request is for its project (two requests
// for one project are both invalid): every valid proposer but r itself is
// another project's.
func (st *state) shareKeys(v *verdict.Verdict, r *request.Request, items []bundle.Item, sh sharing, invalid []bool) {
	for n, e := range r.Keys {
		fp := e.Key.Fingerprint()
		var shown []string
		total := 0
		delegated := false
		for _, p := range st.owners[fp] {
			if p != r.Name {
				if len(shown) < sharedShown {
					shown = append(shown, fmt.Sprintf("project %q (delegated now)", p))
				}
				total++
				delegated = true
			}
		}
		ps := sh.proposers(st, fp, invalid)
		for _, j := range ps.first {
			if o := items[j].Request; o.Name != r.Name && len(shown) < sharedShown {
				shown = append(shown, fmt.Sprintf("project %q (only proposed, by request %q in this bundle)", o.Name, o.ID))
			}
		}
		total += ps.valid
		if r.Name != "" { // r is one of the proposers
			total--
		}
		if total == 0 {
			continue
		}
		can, all := "could", "both"
		if delegated {
			can = "can"
		}
		if total > 1 {
			all = "all of them"
		}
		v.Add(verdict.Warning, verdict.KeyShared, e.Path, "Key %d is also a key of %s; whoever holds it %s sign for %s.", n+1, termtext.Series(shown, total), can, all)
	}
}

// describe records who asked for the request and when, as the request
// says, and, for a request that could be approved, the project's
// delegation now and after approval: every key with its keyid and
// fingerprint, the threshold, and the paths the build derives from the
// path template.
func (st *state) describe(v *verdict.Verdict, r *request.Request) {
	v.RequestedBy = r.RequestedBy
	if !r.Made.IsZero() {
		v.Made = r.Made.UTC().Format(request.TimeLayout)
	}
	if v.Class == verdict.Invalid {
		return
	}
	c := &verdict.Change{}
	if cur, ok := st.projects[r.Name]; ok {
		c.Before = delegationOf(nil, cur.role.Threshold, cur.role.Paths)
		for _, id := range cur.role.KeyIDs {
			k := verdict.Key{KeyID: id} // a keyid the metadata does not define shows as such
			if key := cur.keys[id]; key != nil {
				k = verdict.Key{KeyID: id, Fingerprint: key.Fingerprint(), Scheme: key.Scheme}
			}
			c.Before.Keys = append(c.Before.Keys, k)
		}
	}
	if !r.Removes() {
		keys := make([]*tuf.Key, len(r.Keys))
		for i, e := range r.Keys {
			keys[i] = e.Key
		}
		c.After = delegationOf(keys, r.Threshold, delegation.Paths(st.in.Rules.PathTemplate, r.Name))
	}
	v.Change = c
}

// delegationOf shares paths with its caller: neither ever changes them.
func delegationOf(keys []*tuf.Key, threshold int64, paths []string) *verdict.Delegation {
	if paths == nil {
		paths = []string{} // "paths": [], never null
	}
	d := &verdict.Delegation{Keys: make([]verdict.Key, len(keys)), Threshold: threshold, Paths: paths}
	for i, k := range keys {
		d.Keys[i] = verdict.Key{KeyID: k.ID(), Fingerprint: k.Fingerprint(), Scheme: k.Scheme}
	}
	return d
}
