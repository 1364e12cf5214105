package audit

import (
	"fmt"
	"maps"
	"slices"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verify"
)

// Discrepancy kinds: how published metadata differs from what was signed.
const (
	// PublishedMissing: a role the ceremony signed is not published.
	PublishedMissing = "signed-not-published"
	// PublishedUnsigned: a published version that no ceremony built.
	PublishedUnsigned = "published-never-signed"
	// PublishedVersion: the role is published at another version than
	// the one the ceremony signed.
	PublishedVersion = "version-differs"
	// PublishedBytes: the published version's signed bytes are not the
	// ones signed for it.
	PublishedBytes = "bytes-differ"
	// PublishedDelegation: the published metadata delegates a role or
	// project that the signed metadata does not.
	PublishedDelegation = "delegation-added-online"
	// PublishedUnreadable: a published file is not TUF metadata.
	PublishedUnreadable = "unreadable"
)

// signedRole is what was signed for one role: by this ceremony (its
// export), or before it (the vault).
type signedRole struct {
	version int64
	payload string
	file    *tuf.File
}

// published compares the metadata the repository serves with what was
// signed: the roles this ceremony exported, and, given the vault, every
// payload its register holds and its top-level targets.
func (a *audit) published() {
	p := &Published{Files: slices.Sorted(maps.Keys(a.in.Published)), Discrepancies: []Discrepancy{}}
	a.r.Published = p
	add := func(kind, role, file, format string, args ...any) {
		p.Discrepancies = append(p.Discrepancies, Discrepancy{Kind: kind, Role: role, File: file, Message: fmt.Sprintf(format, args...)})
	}
	signed := map[string]signedRole{}
	v := a.in.Vault
	if v != nil {
		for role, f := range v.Delegators {
			signed[role] = signedRole{version: f.Version(), payload: bundle.SumHex(f.SignedBytes()), file: f}
		}
	}
	exported := map[string]bool{}
	for role, f := range a.metadata {
		signed[role] = signedRole{version: f.Version(), payload: bundle.SumHex(f.SignedBytes()), file: f}
		exported[role] = true
	}
	seen := map[string]bool{}
	for _, name := range p.Files {
		f, err := tuf.Parse(name, a.in.Published[name])
		if err != nil {
			add(PublishedUnreadable, "", name, "%s is not TUF metadata: %v", name, err)
			continue
		}
		role, _ := verify.RoleFromName(name)
		if f.Type() != tuf.TypeTargets {
			continue // root, snapshot and timestamp are not signed in a ceremony
		}
		if role == tuf.TypeTargets {
			if v != nil {
				a.newDelegations(add, role, name, v.Targets, f)
			}
			continue
		}
		s, ok := signed[role]
		if !ok {
			continue // a project's own role: its developers sign it
		}
		seen[role] = true
		sum := bundle.SumHex(f.SignedBytes())
		reg, registered := "", false
		if v != nil {
			reg, registered = v.Register[role][f.Version()]
		}
		switch {
		case f.Version() == s.version && sum != s.payload:
			add(PublishedBytes, role, name, "%s version %d is published with payload %s; the payload signed is %s", role, f.Version(), sum, s.payload)
		case f.Version() == s.version:
			continue
		case registered && reg != sum:
			add(PublishedBytes, role, name, "%s version %d is published with payload %s; the vault's register holds %s for it", role, f.Version(), sum, reg)
		case f.Version() > s.version && !registered:
			add(PublishedUnsigned, role, name, "%s version %d is published, and no ceremony built it (the last version signed is %d)", role, f.Version(), s.version)
		case exported[role]:
			// An older version signed before: what it delegates was
			// signed then.
			add(PublishedVersion, role, name, "%s is published at version %d; the ceremony signed version %d", role, f.Version(), s.version)
			continue
		default:
			continue
		}
		a.newDelegations(add, role, name, s.file, f)
	}
	for _, role := range slices.Sorted(maps.Keys(exported)) {
		if !seen[role] {
			add(PublishedMissing, role, a.names[role], "%s version %d was signed and is not published", role, signed[role].version)
		}
	}
}

// newDelegations reports each delegation the published file has and the
// signed one does not.
func (a *audit) newDelegations(add func(kind, role, file, format string, args ...any), role, name string, signed, published *tuf.File) {
	had := map[string]bool{}
	if signed != nil && signed.Targets != nil && signed.Targets.Delegations != nil {
		for _, r := range signed.Targets.Delegations.Roles {
			had[r.Name] = true
		}
	}
	if published.Targets == nil || published.Targets.Delegations == nil {
		return
	}
	for _, r := range published.Targets.Delegations.Roles {
		if !had[r.Name] {
			add(PublishedDelegation, role, name, "the published %s delegates %q, which no signed %s delegates and no ceremony approved", role, r.Name, role)
		}
	}
}
