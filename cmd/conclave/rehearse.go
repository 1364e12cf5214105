package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/rehearsal"
)

var rehearseCommand = &command{
	name:    "rehearse",
	summary: "run a rehearsal ceremony on throwaway software keys (INSECURE; for training and trying Conclave)",
	usage:   "rehearse [--out DIR] [--requests N]",
}

func init() {
	rehearseCommand.run = runRehearse
	register(rehearseCommand)
}

// runRehearse runs the rehearsal and tells how to check its output. On
// SIGINT or SIGTERM (ctx cancelled) the rehearsal stops at its next safe
// point and removes what it had written; the error returned then wraps
// context.Canceled.
func runRehearse(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, rehearseCommand)
	out := fs.String("out", "", "the `DIR` to write the metadata to (must be empty; default: a new temporary directory)")
	n := fs.Int("requests", 1000, "number of generated projects to delegate")
	if err := parseFlags(env, rehearseCommand, fs, args); err != nil {
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
	res, err := rehearse(ctx, env, dir, *n)
	if err != nil {
		if *out == "" {
			// The rehearsal removed its files; the directory is ours.
			os.Remove(dir)
		}
		var ie *rehearsal.InterruptedError
		if errors.As(err, &ie) {
			return interrupted("%s", ie.Error()) // main escapes it for the terminal
		}
		return err
	}
	fmt.Fprintf(env.stdout, "\nWrote and verified:\n")
	for _, f := range res.Files {
		fmt.Fprintf(env.stdout, "  %s\n", termtext.Safe(f))
	}
	// The binary that ran, not a name that PATH may resolve to another one.
	self, err := os.Executable()
	if err != nil {
		self = "conclave"
	}
	verifyArgs := []string{self, "verify", "--trusted-root", filepath.Join(dir, "root.json"),
		filepath.Join(dir, "targets.json"), filepath.Join(dir, "claimed.json")}
	for i, a := range verifyArgs {
		verifyArgs[i] = termtext.Safe(shellQuote(a))
	}
	fmt.Fprintf(env.stdout, "\nCheck them yourself:\n  %s\n", strings.Join(verifyArgs, " "))
	return nil
}

// rehearse reports the air-gap checks, then runs the rehearsal with a
// progress line on a terminal and a notice as soon as it is interrupted.
func rehearse(ctx context.Context, env *environment, dir string, n int) (*rehearsal.Result, error) {
	// A ceremony machine must pass the air-gap checks (or a person
	// overrides a failure with a recorded reason); a rehearsal is by
	// definition not a ceremony, so it reports and goes on.
	report := preflight.System().Run()
	if !report.OK() {
		var failed []string
		for _, r := range report.Results {
			if r.Status == preflight.Fail {
				failed = append(failed, r.Title)
			}
		}
		fmt.Fprintf(env.stdout, "Air-gap checks: %d failed (%s).\n", report.Failed, strings.Join(failed, ", "))
		fmt.Fprintf(env.stdout, "Going on only because this is a rehearsal; a ceremony machine must pass\nthem (see \"conclave preflight\").\n\n")
	} else {
		fmt.Fprintf(env.stdout, "Air-gap checks: all passed.\n\n")
	}

	progress := &rehearsalProgress{env: env}
	defer progress.End()
	// Say at once that the interruption was heard: the next safe point may
	// be a few seconds away.
	var notice sync.Once
	notify := func() {
		notice.Do(func() {
			progress.End()
			fmt.Fprintln(env.stderr, "interrupted: stopping at the next safe point, then removing what was written")
		})
	}
	finished := make(chan struct{})
	var watching sync.WaitGroup
	watching.Add(1)
	go func() {
		defer watching.Done()
		select {
		case <-ctx.Done():
			notify()
		case <-finished:
		}
	}()
	res, err := rehearsal.Run(ctx, rehearsal.Options{Out: dir, Projects: n, Now: time.Now(), Log: env.stdout, Progress: progress})
	close(finished)
	watching.Wait()
	if err != nil && ctx.Err() != nil {
		notify()
	}
	return res, err
}

// rehearsalProgress shows the rehearsal's long phases on a progress line.
type rehearsalProgress struct {
	env *environment
	mu  sync.Mutex
	p   *progress
}

func (r *rehearsalProgress) Begin(phase string, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil {
		r.p.Done()
	}
	r.p = startProgress(r.env, "  "+phase, total)
}

func (r *rehearsalProgress) Add(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil {
		r.p.Add(n)
	}
}

func (r *rehearsalProgress) End() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil {
		r.p.Done()
	}
}

// shellQuote returns s as one word for a POSIX shell: as it is when it
// holds only characters no shell treats specially, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:+,=@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
