package main

import (
	"context"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/genesis"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var refreshCommand = &command{
	name:    "refresh",
	summary: "re-sign roles nearing expiry: a new version of each role named (or of each in its warning period) with a new expiry and nothing else changed",
	usage:   "refresh --vault VAULT [ROLE...] --sign KEYREF... [--pin-fd N]",
}

func init() {
	refreshCommand.run = runRefresh
	register(refreshCommand)
}

// runRefresh is the expiry refresh ceremony (docs/genesis.md).
func runRefresh(ctx context.Context, env *environment, args []string) error {
	c := refreshCommand
	fs := newFlagSet(env, c)
	vaultPath := fs.String("vault", "", "the `VAULT` directory")
	var sign multiFlag
	fs.Var(&sign, "sign", "a holder's key `KEYREF`, as the policy enrols it; repeat it until every refreshed role's threshold is met")
	pinFD := fs.Int("pin-fd", -1, "read each PIN asked for, one line each, from file descriptor `N` (default: ask at the terminal, without showing it)")
	at := fs.String("at", "", "the ceremony's `TIME` (RFC 3339), for a rehearsal policy only; otherwise the system clock")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	switch {
	case *vaultPath == "":
		return usagef("refresh needs --vault VAULT")
	case len(sign) == 0:
		return usagef("refresh needs --sign KEYREF for each holder who signs")
	}
	vd, v, err := openVault(*vaultPath)
	if err != nil {
		return err
	}
	defer vd.Close()
	if err := checkNoUnfinished(vd, v); err != nil {
		return err
	}
	now, err := rootCeremonyTime(v.Policy, v, *at)
	if err != nil {
		return err
	}
	plan, err := genesis.Refresh(v, fs.Args(), now)
	if err != nil {
		return refused(err)
	}
	fmt.Fprintf(env.stdout, "refresh at confirmed time %s\n", genesis.ConfirmedString(now))
	for _, d := range plan.Docs {
		fmt.Fprintf(env.stdout, "  %s: version %d -> %d\n", termtext.Safe(d.Role), d.File.Version()-1, d.File.Version())
	}
	rs, err := rootSigners(plan, []*policy.Policy{v.Policy}, sign)
	if err != nil {
		return err
	}
	r, err := startRootRun(env, vd, now)
	if err != nil {
		return err
	}
	defer r.Close()
	opened, err := r.opened(genesis.KindRefresh, v.Policy, v, nil, nil, "")
	if err != nil {
		return err
	}
	for _, d := range plan.Docs {
		opened.Roles = append(opened.Roles, d.Role)
	}
	if err := r.append(genesis.TypeRootOpened, opened); err != nil {
		return err
	}
	if err := r.append(genesis.TypeRootBuilt, plan.BuiltEvent(nil)); err != nil {
		return err
	}
	if err := r.sign(ctx, plan, v.Policy, rs, *pinFD); err != nil {
		return err
	}
	return r.finish(func(logs []vault.File) ([]vault.File, error) {
		u := plan.RootUpdate(r.id, now)
		u.Logs = logs
		return v.NextRoot(u)
	})
}
