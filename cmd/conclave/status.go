package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/genesis"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var statusCommand = &command{
	name:    "status",
	summary: "open and verify a vault and show each role's version, expiry and warning period, its threshold and keys, and the deadline for rotating out a token reported lost",
	usage:   "status VAULT [--at TIME] [--lost HOLDER=TIME...] [--json]",
}

func init() {
	statusCommand.run = runStatus
	register(statusCommand)
}

// statusFormat names the --json document (docs/formats/schema/status.schema.json).
const statusFormat = "conclave-status/1"

type statusReport struct {
	Format     string               `json:"format"`
	Vault      string               `json:"vault"`
	Generation string               `json:"generation"`
	At         time.Time            `json:"at"`
	Roles      []genesis.RoleStatus `json:"roles"`
	Lost       []*genesis.Lost      `json:"lost"`
	// LostTokenDeadline is the policy's, in its own notation ("7d").
	LostTokenDeadline string `json:"lost_token_deadline"`
	// VaultCopies is the policy's custody.vault_copies.
	VaultCopies int `json:"vault_copies"`
	// Spares are the holders' spare tokens' keys, in the policy's order.
	Spares []spareJSON `json:"spares"`
}

// spareJSON is a spare token's key: whose, which, on what token, and
// the roles it is placed in (none: kept in reserve, in no metadata).
type spareJSON struct {
	Holder string   `json:"holder"`
	KeyID  string   `json:"keyid"`
	Token  string   `json:"token"`
	Roles  []string `json:"roles"`
}

// spares lists the policy's spare keys, with where each is and its roles.
func spares(p *policy.Policy) []spareJSON {
	out := []spareJSON{}
	for _, h := range p.Holders {
		for _, k := range h.Keys {
			if k.Spare {
				out = append(out, spareJSON{Holder: h.Name, KeyID: k.KeyID, Token: tokenText(k), Roles: append([]string{}, p.KeyRoles[k.KeyID]...)})
			}
		}
	}
	return out
}

// runStatus shows where each role of a vault stands.
func runStatus(ctx context.Context, env *environment, args []string) error {
	c := statusCommand
	fs := newFlagSet(env, c)
	asJSON := fs.Bool("json", false, "print a JSON report instead of text")
	at := fs.String("at", "", "judge expiry at `TIME` (RFC 3339) instead of now")
	var lost multiFlag
	fs.Var(&lost, "lost", "a holder's token reported lost or stolen, `HOLDER=TIME` (RFC 3339): show the policy's deadline for rotating it out (repeat it)")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("name exactly one VAULT directory")
	}
	now := time.Now().UTC().Truncate(time.Second)
	if *at != "" {
		var err error
		if now, err = parseTimeFlag("at", *at); err != nil {
			return err
		}
	}
	type report struct {
		holder string
		at     time.Time
	}
	var reports []report
	for _, l := range lost {
		name, when, ok := strings.Cut(l, "=")
		if !ok || name == "" {
			return usagef("--lost %s: write HOLDER=TIME, such as --lost 'Alice Martin=2027-01-10T09:00:00Z'", termtext.Safe(l))
		}
		t, err := parseTimeFlag("lost", when)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(reports, func(r report) bool { return r.holder == name }) {
			return usagef("--lost: holder %s is named twice", termtext.Safe(name))
		}
		reports = append(reports, report{name, t})
	}
	vd, v, err := openVault(fs.Arg(0))
	if err != nil {
		return namedWrong(err)
	}
	defer vd.Close()
	s := genesis.Status(v, now)
	r := statusReport{Format: statusFormat, Vault: fs.Arg(0), Generation: v.Generation, At: s.At, Roles: s.Roles,
		Lost: []*genesis.Lost{}, LostTokenDeadline: policy.FormatDuration(v.Policy.LostTokenDeadline),
		VaultCopies: v.Policy.VaultCopies, Spares: spares(v.Policy)}
	for _, rep := range reports {
		l, err := genesis.LostToken(v, rep.holder, rep.at, now)
		if err != nil {
			return usagef("--lost %s: %v", termtext.Safe(rep.holder), err)
		}
		r.Lost = append(r.Lost, l)
	}
	if *asJSON {
		return writeJSON(env.stdout, r)
	}
	writeStatus(env.stdout, r)
	return nil
}

// idVaultExpiry is the preflight result of the vault's expiries.
const idVaultExpiry = "vault.expiry"

// expiryCheck is a preflight result for the vault's roles at now: those
// in their warning period or expired, to be refreshed (conclave
// refresh). It is information, never a block: a ceremony that renews the
// delegating role is what an expiring one needs.
func expiryCheck(v *vault.Vault, now time.Time) preflight.Result {
	res := preflight.Result{ID: idVaultExpiry, Title: "Roles near expiry", Status: preflight.Info,
		Message: "every role of the vault is valid beyond its warning period"}
	var due []string
	for _, s := range genesis.Status(v, now).Roles {
		switch s.State {
		case genesis.StateWarning:
			due = append(due, termtext.Safe(s.Role))
			res.Details = append(res.Details, fmt.Sprintf("%s version %d expires %s, in its warning period since %s",
				termtext.Safe(s.Role), s.Version, s.Expires.Format(time.RFC3339), s.WarnFrom.Format(time.RFC3339)))
		case genesis.StateExpired:
			due = append(due, termtext.Safe(s.Role))
			res.Details = append(res.Details, fmt.Sprintf("%s version %d EXPIRED at %s", termtext.Safe(s.Role), s.Version, s.Expires.Format(time.RFC3339)))
		}
	}
	if len(due) > 0 {
		res.Message = "near expiry or expired: " + strings.Join(due, ", ") + "; refresh them (conclave refresh, docs/genesis.md)"
	}
	return res
}

// writeStatus prints the report as text. Everything read from the vault
// goes through termtext.
func writeStatus(w io.Writer, r statusReport) {
	fmt.Fprintf(w, "vault %s: verified, generation %s\n", termtext.Safe(r.Vault), r.Generation)
	fmt.Fprintf(w, "at %s\n", r.At.Format(time.RFC3339))
	for _, s := range r.Roles {
		if s.State == genesis.StateOnline {
			fmt.Fprintf(w, "%-10s online, threshold %d of %d keys\n", termtext.Safe(s.Role), s.Threshold, len(s.Keys))
		} else {
			verdict := "ok"
			switch s.State {
			case genesis.StateWarning:
				verdict = "WARNING: in its warning period, refresh it (conclave refresh)"
			case genesis.StateExpired:
				verdict = "EXPIRED: clients refuse it, refresh it (conclave refresh)"
			}
			fmt.Fprintf(w, "%-10s version %d, expires %s, warning from %s: %s\n", termtext.Safe(s.Role), s.Version,
				s.Expires.Format(time.RFC3339), s.WarnFrom.Format(time.RFC3339), verdict)
			fmt.Fprintf(w, "           threshold %d of %d keys\n", s.Threshold, len(s.Keys))
		}
		for _, k := range s.Keys {
			fmt.Fprintf(w, "             %s %s\n", k.KeyID, keyOwner(k))
		}
	}
	fmt.Fprintf(w, "vault copies: %d, each brought up to date after every ceremony (policy custody.vault_copies)\n", r.VaultCopies)
	for _, sp := range r.Spares {
		fmt.Fprintf(w, "spare token: %s's, %s, key %s: %s\n", termtext.Safe(sp.Holder), sp.Token, sp.KeyID, spareRoles(sp.Roles))
	}
	for _, l := range r.Lost {
		verdict := "rotate them out by then (conclave rotate)"
		if l.Overdue {
			verdict = "OVERDUE: rotate them out now (conclave rotate)"
		}
		fmt.Fprintf(w, "lost token: %s's, reported %s; the policy gives %s: deadline %s, %s\n", termtext.Safe(l.Holder),
			l.Reported.Format(time.RFC3339), r.LostTokenDeadline, l.Deadline.Format(time.RFC3339), verdict)
		for _, id := range l.Keys {
			fmt.Fprintf(w, "  key %s\n", id)
		}
	}
}

// spareRoles says where a spare key is: in reserve, or in its roles.
func spareRoles(roles []string) string {
	if len(roles) == 0 {
		return "in reserve, in no role (a rotation places it)"
	}
	return "in roles " + safeJoin(roles)
}

// printVaultCopies is the last line of a ceremony that wrote a vault
// generation: the copies the policy asks for are made in the room.
func printVaultCopies(w io.Writer, p *policy.Policy) {
	fmt.Fprintf(w, "Copy the vault to %d media before the room is cleared, each to its own safe (policy custody.vault_copies; see the runbook).\n", p.VaultCopies)
}
