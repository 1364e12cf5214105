package main

import (
	"context"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/genesis"
	"github.com/conclave-keys/conclave/ceremony/policy"
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
	flags := addRootFlags(fs, "a holder's key `KEYREF`, as the policy enrols it; repeat it until every refreshed role's threshold is met", false)
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	switch {
	case *vaultPath == "":
		return usagef("refresh needs --vault VAULT")
	case len(flags.sign) == 0:
		return usagef("refresh needs --sign KEYREF for each holder who signs")
	}
	vd, v, err := openVault(*vaultPath)
	if err != nil {
		return namedWrong(err)
	}
	defer vd.Close()
	if err := checkNoUnfinished(vd, v); err != nil {
		return err
	}
	now, err := rootCeremonyTime(v.Policy, v, *flags.at)
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
	return rootCeremony{
		kind: genesis.KindRefresh, vd: vd, v: v, pol: v.Policy, pols: []*policy.Policy{v.Policy}, plan: plan, now: now, flags: flags,
	}.run(ctx, env)
}
