package validate

import (
	"fmt"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/parallel"
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
	parallel.For(len(out), 32, func(i int) {
		v, r := &out[i], items[i].Request
		if r != nil && !invalid[i] {
			st.shareKeys(v, r, items, invalid)
		}
		v.Settle()
		if r != nil {
			st.describe(v, r)
		}
	})
}

// shareKeys warns about each key of r that another project also has: one
// the trusted metadata delegates to it now, or one another valid request
// of this bundle proposes for another project. A key proposed only by an
// invalid request is nobody's: that request can never be approved.
// Whoever holds a shared key can sign for every project that has it.
func (st *state) shareKeys(v *verdict.Verdict, r *request.Request, items []bundle.Item, invalid []bool) {
	for n, e := range r.Keys {
		fp := e.Key.Fingerprint()
		var others []string
		delegated := false
		for _, p := range st.owners[fp] {
			if p != r.Name {
				others = append(others, fmt.Sprintf("project %q (delegated now)", p))
				delegated = true
			}
		}
		for _, j := range st.proposed[fp] {
			if o := items[j].Request; !invalid[j] && o.Name != r.Name {
				others = append(others, fmt.Sprintf("project %q (only proposed, by request %q in this bundle)", o.Name, o.ID))
			}
		}
		if len(others) == 0 {
			continue
		}
		can, all := "could", "both"
		if delegated {
			can = "can"
		}
		if len(others) > 1 {
			all = "all of them"
		}
		if len(others) > 3 {
			others = append(others[:3], fmt.Sprintf("%d more", len(others)-3))
		}
		list := others[0]
		if len(others) > 1 {
			list = strings.Join(others[:len(others)-1], ", of ") + " and of " + others[len(others)-1]
		}
		v.Add(verdict.Warning, verdict.KeyShared, e.Path, "Key %d is also a key of %s; whoever holds it %s sign for %s.", n+1, list, can, all)
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
