package main

import (
	"context"
	"fmt"

	"github.com/conclave-keys/conclave/airgap/preflight"
)

var preflightCommand = &command{
	name:    "preflight",
	summary: "check that this machine is air-gapped, show the clock to confirm and the removable media",
	usage:   "preflight [--json] [--override ID=REASON]... [--vault VAULT]",
}

func init() {
	preflightCommand.run = runPreflight
	register(preflightCommand)
}

// runPreflight runs the air-gap checks; a failed check is a verdict on
// this machine (exit status 1).
func runPreflight(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, preflightCommand)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	root := fs.String("root", "/", "read /sys, /proc and /dev under this `DIR` instead of / (for tests)")
	vaultPath := fs.String("vault", "", "also open and verify the `VAULT` and flag its roles in their warning period")
	var overrides multiFlag
	fs.Var(&overrides, "override", "go on although the check ID could not look, for the written REASON shown in the report (`ID=REASON`); repeatable")
	if err := parseFlags(env, preflightCommand, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("preflight takes no arguments")
	}
	checker := preflight.System()
	checker.Overrides = map[string]string{}
	for _, o := range overrides {
		id, reason, err := preflight.ParseOverride(o)
		if err != nil {
			return usagef("%v", err)
		}
		checker.Overrides[id] = reason
	}
	if *root != "/" {
		// A fixture tree: its mount points are not real, so free
		// space is not measured.
		checker.Root, checker.Statfs = *root, nil
	}
	report := checker.Run()
	if *vaultPath != "" {
		vd, v, err := openVault(*vaultPath)
		if err != nil {
			return err
		}
		vd.Close()
		report.Results = append(report.Results, expiryCheck(v, checker.Now()))
	}
	var err error
	if *asJSON {
		err = report.WriteJSON(env.stdout)
	} else {
		err = report.WriteText(env.stdout)
	}
	if err != nil {
		return fmt.Errorf("print the preflight report: %w", err)
	}
	if !report.OK() {
		// The report already says which checks failed and why.
		return exitError{code: exitRefused}
	}
	return nil
}
