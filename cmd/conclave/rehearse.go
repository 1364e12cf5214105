package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/conclave-keys/conclave/rehearsal"
)

var rehearseCommand = &command{
	name:    "rehearse",
	summary: "run a whole REHEARSAL ceremony on virtual YubiKeys and SoftHSM, started and stopped by the rehearsal itself (for training and trying Conclave)",
	usage:   "rehearse [--out DIR] [--requests N] [--tui]",
}

func init() {
	rehearseCommand.run = runRehearse
	register(rehearseCommand)
}

// runRehearse sets a rehearsal up (rehearsal.Prepare: tokens, repository,
// vault, bundle, script), runs the headless ceremony on it, verifies the
// export, and says where everything went. The tokens are stopped however
// it ends. On SIGINT or SIGTERM (ctx cancelled) it stops at the next safe
// point, removes what it wrote, and the error returned wraps
// context.Canceled.
func runRehearse(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, rehearseCommand)
	out := fs.String("out", "", "the `DIR` to write everything to (must be empty; default: a new temporary directory)")
	n := fs.Int("requests", 1000, "number of generated requests in the bundle")
	inProgram := fs.Bool("tui", false, "walk through the rehearsal's ceremony in the terminal program, as a guided tour (the rehearsal enters the holders' throwaway PINs itself)")
	if err := parseFlags(env, rehearseCommand, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("rehearse takes no arguments")
	}
	if *n < rehearsal.MinRequests {
		return usagef("--requests must be at least %d, so that every kind of request is shown", rehearsal.MinRequests)
	}
	if err := checkRehearsalSoftware(); err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		d, err := os.MkdirTemp("", "conclave-rehearsal-")
		if err != nil {
			return fmt.Errorf("create a temporary directory: %w", err)
		}
		dir = d
	}
	err := rehearse(ctx, env, dir, *n, *inProgram)
	if err != nil && *out == "" {
		// The rehearsal removed what it wrote; the directory is ours.
		os.Remove(dir)
	}
	if err != nil && ctx.Err() != nil {
		return interrupted("rehearsal interrupted; the tokens were stopped and what it had written removed")
	}
	return err
}

// shellQuote returns s as one word for a POSIX shell: as it is when it
// holds only characters no shell treats specially, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:+,=@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
