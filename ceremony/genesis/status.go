package genesis

import (
	"errors"
	"fmt"
	"time"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// A role's state at an instant.
const (
	StateOK      = "ok"
	StateWarning = "warning" // within the policy's warning period
	StateExpired = "expired"
	// StateOnline: snapshot and timestamp, which the online repository
	// signs and the vault holds no copy of.
	StateOnline = "online"
)

// VaultStatus is the state of a vault's roles at an instant.
type VaultStatus struct {
	At    time.Time    `json:"at"`
	Roles []RoleStatus `json:"roles"`
}

// RoleStatus is one role's version, expiry and keys.
//
// File, Version, Expires and WarnFrom are empty for snapshot and
// timestamp (StateOnline).
type RoleStatus struct {
	Role    string     `json:"role"`
	File    string     `json:"file,omitempty"`
	Version int64      `json:"version,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	// WarnFrom is when the policy's warning period begins.
	WarnFrom  *time.Time `json:"warn_from,omitempty"`
	State     string     `json:"state"`
	Threshold int64      `json:"threshold"`
	// Keys are the role's keys, each with its holder ("" for an online
	// key or one the policy names for no holder).
	Keys []KeyRef `json:"keys"`
}

// Status reports each role of the vault — root, targets, each signed
// role, then snapshot and timestamp (keys only: the online repository
// signs them, and the vault holds no copy) — at the instant at.
func Status(v *vault.Vault, at time.Time) *VaultStatus {
	s := &VaultStatus{At: at.UTC()}
	root := v.Root.Root
	holder := func(id string) string {
		if h, ok := v.Policy.Holder(id); ok {
			return h.Name
		}
		return ""
	}
	refs := func(ids []string) []KeyRef {
		out := []KeyRef{}
		for _, id := range ids {
			out = append(out, KeyRef{id, holder(id)})
		}
		return out
	}
	for _, x := range v.Expiries() {
		expires := x.Expires.UTC()
		warn := expires.Add(-v.Policy.Expiry(x.Role).Warning)
		rs := RoleStatus{Role: x.Role, File: x.File, Version: x.Version, Expires: &expires, WarnFrom: &warn}
		switch {
		case !at.Before(expires):
			rs.State = StateExpired
		case !at.Before(warn):
			rs.State = StateWarning
		default:
			rs.State = StateOK
		}
		if rk, ok := root.Roles[x.Role]; ok && (x.Role == tuf.TypeRoot || x.Role == tuf.TypeTargets) {
			rs.Threshold, rs.Keys = rk.Threshold, refs(rk.KeyIDs)
		} else if ids, t, ok := v.Targets.Targets.Delegation(x.Role); ok {
			rs.Threshold, rs.Keys = t, refs(ids)
		}
		s.Roles = append(s.Roles, rs)
	}
	for _, role := range OnlineRoles {
		rk := root.Roles[role]
		s.Roles = append(s.Roles, RoleStatus{Role: role, State: StateOnline, Threshold: rk.Threshold, Keys: refs(rk.KeyIDs)})
	}
	return s
}

// ErrUnknownHolder: a lost token reported for a holder the policy does
// not name.
var ErrUnknownHolder = errors.New("the policy names no such holder")

// ErrLostTime: a lost token's report whose deadline has no RFC 3339 form
// (section 5.6: four-digit years). Its text ends a sentence that names
// the deadline.
var ErrLostTime = errors.New("is after the year 9999")

// Lost is a holder's token reported lost or stolen, and the deadline the
// policy sets for rotating its keys out.
type Lost struct {
	Holder   string    `json:"holder"`
	Reported time.Time `json:"reported"`
	Deadline time.Time `json:"deadline"`
	// Keys are the holder's enrolled keys, each still in the metadata
	// until a rotation removes it.
	Keys []string `json:"keyids"`
	// Overdue is set when the deadline has passed at the status's instant.
	Overdue bool `json:"overdue"`
}

// LostToken is the deadline for rotating out the keys of a holder whose
// token was reported lost at reported: reported plus the policy's
// lost_token_deadline.
func LostToken(v *vault.Vault, holder string, reported, at time.Time) (*Lost, error) {
	for _, h := range v.Policy.Holders {
		if h.Name != holder {
			continue
		}
		l := &Lost{Holder: h.Name, Reported: reported.UTC(), Deadline: reported.Add(v.Policy.LostTokenDeadline).UTC(), Keys: []string{}}
		if l.Deadline.Year() > 9999 {
			return nil, fmt.Errorf("the deadline %s after %s %w", policy.FormatDuration(v.Policy.LostTokenDeadline), l.Reported.Format(time.RFC3339), ErrLostTime)
		}
		for _, k := range h.Keys {
			l.Keys = append(l.Keys, k.KeyID)
		}
		l.Overdue = !at.Before(l.Deadline)
		return l, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownHolder, holder)
}
