package build

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/parallel"
)

// Summarize derives the summary card of role's next version from the
// bytes of the last signed version and of the next one: each file is
// parsed from its bytes unless tuf.Parse made it and its typed values
// still encode to exactly its signed bytes, so the card says what the
// bytes say, whatever the typed values beside them hold. docs/formats/summary-card.md
// defines the card and its digest, with a script that recomputes them.
//
// A project is added when only the next file delegates it, removed when
// only the last signed one does, and rotated when both do with other
// keyids, another threshold or other paths. Summarize refuses a next file
// that is not targets metadata like the last one, whose version is not
// greater, whose delegations store a key under a keyid that is not the
// key's, or that differs from the last one in anything the card does not
// show: it must be exactly the last file with the card's changes applied
// as Conclave applies them (delegation.Apply), a new version and an
// expiry.
func Summarize(role string, last, next *tuf.File) (*Card, error) {
	// The two files are read side by side: for a role of 100,000
	// delegations each parse is a large part of the card's cost.
	var o, n *tuf.File
	errs := make([]error, 2)
	parallel.For(2, 1, func(i int) {
		if i == 0 {
			o, errs[0] = asParsed(role+" (last signed)", last)
		} else {
			n, errs[1] = asParsed(role+" (new)", next)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("summarize %s: %w", role, err)
	}
	if o.Type() != n.Type() {
		return nil, fmt.Errorf("summarize %s: the last signed version is %s metadata, the new one %s", role, o.Type(), n.Type())
	}
	if o.Targets == nil {
		return nil, fmt.Errorf("summarize %s: it is %s metadata, not targets metadata that delegates projects", role, o.Type())
	}
	if n.Version() <= o.Version() {
		return nil, fmt.Errorf("summarize %s: the new version %d is not after the last signed version %d", role, n.Version(), o.Version())
	}
	before, err := delegationsOf(o.Targets)
	if err != nil {
		return nil, fmt.Errorf("summarize %s: the last signed version: %w", role, err)
	}
	after, err := delegationsOf(n.Targets)
	if err != nil {
		return nil, fmt.Errorf("summarize %s: the new version: %w", role, err)
	}
	if d := n.Targets.Delegations; d != nil {
		if bad := tuf.KeyIDMismatches(d.Keys); len(bad) > 0 {
			return nil, fmt.Errorf("summarize %s: the new version stores a key under keyid %s, which is not its keyid %s", role, bad[0], d.Keys[bad[0]].ID())
		}
	}
	card := &Card{Role: role, Version: n.Version(), Expires: n.Expires().Time}
	names := make([]string, 0, len(before)+len(after))
	for name := range before {
		names = append(names, name)
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		b, a := before[name], after[name]
		switch {
		case b == nil:
			card.Added++
		case a == nil:
			card.Removed++
		case b.equal(a):
			continue
		default:
			card.Rotated++
		}
		card.Changes = append(card.Changes, Change{Project: name, Before: b, After: a})
	}
	if err := checkComplete(role, o, n, card); err != nil {
		return nil, err
	}
	card.Digest = changesDigest(card.Changes)
	return card, nil
}

// delegationsOf reads each delegation's keyids (sorted), threshold and
// paths by role name.
func delegationsOf(t *tuf.Targets) (map[string]*Delegation, error) {
	d := t.Delegations
	if d == nil {
		return map[string]*Delegation{}, nil
	}
	if d.SuccinctRoles != nil {
		return nil, fmt.Errorf("the delegations are hash bins (succinct_roles), not projects by name")
	}
	out := make(map[string]*Delegation, len(d.Roles))
	for _, r := range d.Roles {
		if r.Paths == nil {
			return nil, fmt.Errorf("delegation %q lists path hash prefixes, not paths", r.Name)
		}
		ids := slices.Clone(r.KeyIDs)
		sort.Strings(ids)
		out[r.Name] = &Delegation{KeyIDs: ids, Threshold: r.Threshold, Paths: r.Paths}
	}
	return out, nil
}

func (d *Delegation) equal(o *Delegation) bool {
	return d.Threshold == o.Threshold && slices.Equal(d.KeyIDs, o.KeyIDs) && slices.Equal(d.Paths, o.Paths)
}

// checkComplete refuses a new file that is not exactly the old one with
// the card's changes applied: a change the card does not show (a target,
// a delegation's order or terminating flag, an unknown field, a key
// object) must not pass unseen.
func checkComplete(role string, o, n *tuf.File, card *Card) error {
	var keys map[string]*tuf.Key
	if d := n.Targets.Delegations; d != nil {
		keys = d.Keys
	}
	var set []delegation.Project
	var remove []string
	paths := map[string][]string{}
	for _, c := range card.Changes {
		if c.After == nil {
			remove = append(remove, c.Project)
			continue
		}
		p := delegation.Project{Name: c.Project, Threshold: c.After.Threshold}
		for _, id := range c.After.KeyIDs {
			k := keys[id]
			if k == nil {
				return fmt.Errorf("summarize %s: the new version delegates project %q to keyid %s, which it does not define", role, c.Project, id)
			}
			p.Keys = append(p.Keys, k)
		}
		set = append(set, p)
		paths[c.Project] = c.After.Paths
	}
	want, err := delegation.Apply(o.Targets, set, remove, "{name}", nil, n.Version(), n.Expires().Time)
	if err != nil {
		return fmt.Errorf("summarize %s: the new version is not one Conclave writes: %w", role, err)
	}
	// The card's paths, not a template's: the card shows them, so the
	// comparison is about everything else.
	for _, r := range want.Delegations.Roles {
		if p, ok := paths[r.Name]; ok {
			r.Paths = p
		}
	}
	// Encoded without tuf.NewTargetsFile's checks: the bytes are only
	// compared, and equal bytes are the file as Conclave writes it.
	b, err := (&tuf.File{Targets: want}).EncodeSigned()
	if err != nil {
		return fmt.Errorf("summarize %s: the new version is not one Conclave writes: %w", role, err)
	}
	if !bytes.Equal(b, n.SignedBytes()) {
		return fmt.Errorf("summarize %s: the new version changes more than its delegations' keys, thresholds and paths, its version and its expiry; the card could not show it all", role)
	}
	return nil
}

// changesDigest is the hex SHA-256 of the canonical JSON of the changes
// (docs/formats/summary-card.md): a list, in project order, of
// {"after": D|null, "before": D|null, "project": name} with
// D = {"keyids": [sorted], "paths": [...], "threshold": n}.
func changesDigest(changes []Change) string {
	var e cjson.Encoder
	e.BeginArray()
	for _, c := range changes {
		e.BeginObject()
		e.Name("after")
		writeDelegation(&e, c.After)
		e.Name("before")
		writeDelegation(&e, c.Before)
		e.Name("project")
		e.String(c.Project)
		e.EndObject()
	}
	e.EndArray()
	return encodedHash(&e)
}

func writeDelegation(e *cjson.Encoder, d *Delegation) {
	if d == nil {
		e.Null()
		return
	}
	e.BeginObject()
	e.Name("keyids")
	writeStrings(e, d.KeyIDs)
	e.Name("paths")
	writeStrings(e, d.Paths)
	e.Name("threshold")
	e.Int(d.Threshold)
	e.EndObject()
}

func writeStrings(e *cjson.Encoder, ss []string) {
	e.BeginArray()
	for _, s := range ss {
		e.String(s)
	}
	e.EndArray()
}

func encodedHash(e *cjson.Encoder) string {
	b, err := e.Bytes()
	if err != nil {
		panic("build: digest encoding: " + err.Error()) // the calls above are in canonical order
	}
	return hashHex(b)
}

// Digest is the digest of a ceremony that builds several files: the hex
// SHA-256 of the canonical JSON list, in role order, of
// {"payload_sha256": hash, "role": role, "version": n}, where hash is the
// payload's SHA-256 from payloadSHA256 by role (docs/formats/summary-card.md).
func Digest(cards []*Card, payloadSHA256 map[string]string) string {
	sorted := slices.Clone(cards)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Role < sorted[j].Role })
	var e cjson.Encoder
	e.BeginArray()
	for _, c := range sorted {
		e.BeginObject()
		e.Name("payload_sha256")
		e.String(payloadSHA256[c.Role])
		e.Name("role")
		e.String(c.Role)
		e.Name("version")
		e.Int(c.Version)
		e.EndObject()
	}
	e.EndArray()
	return encodedHash(&e)
}

// asParsed returns what parsing f's bytes gives: f itself when tuf.Parse
// made it (the vault's current metadata, parsed and verified when the
// vault was opened; a file conclave diff read) and its typed values still
// encode to exactly its signed bytes; otherwise f's bytes parsed. Parse
// reads the same bytes the same way every time, encoding is a fraction of
// a parse's cost (no key decoded, no tree built), and equal bytes mean the
// card reads the same values either way. A file Conclave built (tuf.NewTargetsFile)
// is always parsed: its bytes must be ones the strict parser accepts.
func asParsed(name string, f *tuf.File) (*tuf.File, error) {
	if f.Parsed() {
		if enc, err := f.EncodeSigned(); err == nil && bytes.Equal(enc, f.SignedBytes()) {
			return f, nil
		}
	}
	return tuf.Parse(name, f.Bytes())
}
