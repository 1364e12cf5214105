package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verify"
)

// A ceremony signed at several sites ends at the last one: the other
// sites' vaults registered the payloads but kept their versions. Sync
// brings a vault up to the metadata the repository publishes once it is
// verified, so that every site's vault agrees on the current versions and
// the register.

// Errors a caller acts on.
var (
	// ErrBackwards: the published version of a role is older than the
	// vault's.
	ErrBackwards = errors.New("the published version is older than the vault's")
	// ErrNotVerified: the published metadata of a role does not verify
	// against the vault's root chain and targets (a threshold not met, a
	// signature by a key the vault does not know, expired).
	ErrNotVerified = errors.New("the published metadata does not verify against the vault")
	// ErrNotPublished: a role the policy signs has no published metadata.
	ErrNotPublished = errors.New("the role's metadata is not published")
)

// SyncInput is what a vault is synced with.
type SyncInput struct {
	// Published are the metadata files the repository serves, each named
	// as published ("claimed.json", "8.claimed.json"); files of roles the
	// policy does not sign are left alone.
	Published []verify.Input
	// Now is the instant expiry is judged at.
	Now time.Time
}

// SyncRole is what a sync found for one role.
type SyncRole struct {
	Role string
	// From is the vault's version, To the published one (equal when the
	// vault holds it already); Name is the published file taken.
	From, To int64
	Name     string
	// PayloadSHA256 is the SHA-256 of the published signed part.
	PayloadSHA256 string
}

// Changed reports whether the sync moves the role to a newer version.
func (r SyncRole) Changed() bool { return r.To != r.From }

// Sync checks the published metadata of every role the policy signs and
// returns, by role, what it found, and the files of the generation that
// follows v with each newer version taken (the manifest last), or no
// files when the vault holds every published version already.
//
// Each role's newest published version is walked as a client walks it
// (package verify) from the vault's first root through its root chain and
// its top-level targets, so that only metadata signed to threshold by the
// keys the vault trusts is taken. A version older than the vault's is
// refused (ErrBackwards); a version the register holds with another
// payload is refused (ErrRegisterConflict): one payload per (role,
// version), ever; the vault's own version with other bytes too.
func (v *Vault) Sync(ctx context.Context, in SyncInput) ([]SyncRole, []File, error) {
	byRole := map[string][]verify.Input{}
	for _, p := range in.Published {
		role, _ := verify.RoleFromName(p.Name)
		byRole[role] = append(byRole[role], p)
	}
	var out []SyncRole
	taken := map[string]*tuf.File{}
	for _, role := range v.Policy.SignedRoles() {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		pub, err := newest(role, byRole[role])
		if err != nil {
			return nil, nil, err
		}
		f, err := v.verifyPublished(ctx, role, pub, in.Now)
		if err != nil {
			return nil, nil, err
		}
		cur := v.Delegators[role]
		r := SyncRole{Role: role, From: cur.Version(), To: f.Version(), Name: pub.Name, PayloadSHA256: SHA256Hex(f.SignedBytes())}
		switch {
		case r.To < r.From:
			return nil, nil, fmt.Errorf("sync %s: %w: %s is version %d, the vault holds version %d", role, ErrBackwards, pub.Name, r.To, r.From)
		case r.To == r.From && !bytes.Equal(f.SignedBytes(), cur.SignedBytes()):
			return nil, nil, fmt.Errorf("sync %s: %w: %s is version %d with payload %s, the vault holds that version with payload %s",
				role, ErrRegisterConflict, pub.Name, r.To, r.PayloadSHA256, SHA256Hex(cur.SignedBytes()))
		}
		if reg, ok := v.Register.Lookup(role, r.To); ok && reg != r.PayloadSHA256 {
			return nil, nil, fmt.Errorf("sync %s: %w: %s is version %d with payload %s, the register holds %s for it",
				role, ErrRegisterConflict, pub.Name, r.To, r.PayloadSHA256, reg)
		}
		if r.Changed() {
			taken[role] = f
		}
		out = append(out, r)
	}
	if len(taken) == 0 {
		return out, nil, nil
	}
	files := make(map[string][]byte, len(v.files))
	for n, b := range v.files {
		files[n] = b
	}
	reg := v.Register.clone()
	// In role order, so that the same refusal is named every time.
	for _, role := range slices.Sorted(maps.Keys(taken)) {
		f := taken[role]
		if err := reg.Add(role, f.Version(), SHA256Hex(f.SignedBytes())); err != nil {
			return nil, nil, fmt.Errorf("sync: %w", err)
		}
		files[RoleFile(role)] = f.Bytes()
	}
	files[RegisterFile] = reg.marshal()
	next, err := seal(Manifest{
		Generation:     v.Manifest.Generation + 1,
		Previous:       v.Hash,
		LastCeremony:   v.Manifest.LastCeremony,
		LastCeremonyAt: v.Manifest.LastCeremonyAt,
	}, files)
	if err != nil {
		return nil, nil, fmt.Errorf("sync: %w", err)
	}
	return out, next, nil
}

// newest picks a role's newest published file: by version, as a client
// holds the newest it is given; two files of that version must hold the
// same bytes.
func newest(role string, files []verify.Input) (verify.Input, error) {
	if len(files) == 0 {
		return verify.Input{}, fmt.Errorf("sync %s: %w: neither %s.json nor N.%s.json is among the published files", role, ErrNotPublished, role, role)
	}
	type cand struct {
		in      verify.Input
		version int64
	}
	var cs []cand
	for _, in := range files {
		f, err := tuf.Parse(in.Name, in.Data)
		if err != nil {
			return verify.Input{}, fmt.Errorf("sync %s: %w", role, err)
		}
		cs = append(cs, cand{in, f.Version()})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].version > cs[j].version })
	for _, c := range cs[1:] {
		if c.version == cs[0].version && !bytes.Equal(c.in.Data, cs[0].in.Data) {
			return verify.Input{}, fmt.Errorf("sync %s: %s and %s both publish version %d, with other bytes", role, cs[0].in.Name, c.in.Name, c.version)
		}
	}
	return cs[0].in, nil
}

// verifyPublished walks the published file from the vault's first root,
// through its roots and top-level targets, and returns it parsed when it
// is valid.
func (v *Vault) verifyPublished(ctx context.Context, role string, pub verify.Input, now time.Time) (*tuf.File, error) {
	files := make([]verify.Input, 0, len(v.Roots)+1)
	for _, r := range v.Roots[1:] {
		files = append(files, verify.Input{Name: fmt.Sprintf("%d.root.json", r.Version()), Data: r.Bytes(), Parsed: r})
	}
	files = append(files, verify.Input{Name: "targets.json", Data: v.Targets.Bytes(), Parsed: v.Targets})
	files = append(files, verify.Input{Name: pub.Name, Data: pub.Data})
	report, err := verify.Walk(ctx, verify.Options{
		Trusted: verify.Input{Name: "1.root.json", Data: v.Roots[0].Bytes(), Parsed: v.Roots[0]},
		Files:   files,
		Now:     now,
	})
	if err != nil {
		return nil, fmt.Errorf("sync %s: %w", role, err)
	}
	for _, f := range report.Files {
		if f.Name != pub.Name {
			continue
		}
		if f.Verdict != verify.Valid {
			return nil, fmt.Errorf("sync %s: %w: %s is %s: %s", role, ErrNotVerified, pub.Name, f.Verdict, f.Reason())
		}
		return tuf.Parse(pub.Name, pub.Data)
	}
	return nil, fmt.Errorf("sync %s: %w: the walk did not reach %s", role, ErrNotVerified, pub.Name)
}
