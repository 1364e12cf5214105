package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/rehearsal"
)

func init() {
	c := &command{
		name:    "rehearse",
		summary: "run a rehearsal ceremony on throwaway software keys (INSECURE; for training and trying Conclave)",
		usage:   "rehearse [--out DIR] [--requests N]",
	}
	c.run = func(ctx context.Context, env *environment, args []string) error {
		fs := newFlagSet(env, c)
		out := fs.String("out", "", "directory to write the metadata to (must be empty; default: a new temporary directory)")
		n := fs.Int("requests", 1000, "number of generated projects to delegate")
		if err := parseFlags(env, c, fs, args); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return usagef("rehearse takes no arguments")
		}
		if *n < 1 {
			return usagef("--requests must be at least 1")
		}
		dir := *out
		if dir == "" {
			d, err := os.MkdirTemp("", "conclave-rehearsal-")
			if err != nil {
				return fmt.Errorf("create a temporary directory: %w", err)
			}
			dir = d
		}
		// A real ceremony refuses a machine that fails the air-gap checks
		// unless a person overrides it with a recorded reason; a rehearsal
		// is by definition not a ceremony, so it reports and goes on.
		report := preflight.System().Run()
		if !report.OK() {
			var failed []string
			for _, r := range report.Results {
				if r.Status == preflight.Fail {
					failed = append(failed, r.Title)
				}
			}
			fmt.Fprintf(env.stdout, "Air-gap checks: %d failed (%s). Going on only because this is a rehearsal;\n", report.Failed, strings.Join(failed, ", "))
			fmt.Fprintf(env.stdout, "a real ceremony refuses this machine (see \"conclave preflight\").\n\n")
		} else {
			fmt.Fprintf(env.stdout, "Air-gap checks: all passed.\n\n")
		}
		res, err := rehearsal.Run(rehearsal.Options{Out: dir, Projects: *n, Now: time.Now(), Log: env.stdout})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "\nWrote and verified:\n")
		for _, f := range res.Files {
			fmt.Fprintf(env.stdout, "  %s\n", f)
		}
		fmt.Fprintf(env.stdout, "\nCheck them yourself:\n  conclave verify --trusted-root %s/root.json %s/targets.json %s/claimed.json\n", dir, dir, dir)
		return nil
	}
	register(c)
}
