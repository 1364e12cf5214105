//go:build cgo

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/conclave-keys/conclave/airgap/journal"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/rehearsal"
)

// checkRehearsalSoftware names the Debian package of the first program
// the rehearsal's tokens need that is missing.
func checkRehearsalSoftware() error { return rehearsal.CheckTokenSoftware() }

// rehearse runs the rehearsal in dir, with a notice as soon as it is
// interrupted; inProgram runs its ceremony in the terminal program.
func rehearse(ctx context.Context, env *environment, dir string, n int, inProgram bool) (err error) {
	// Every line the rehearsal prints goes through a recorder, so that at
	// the end it can check no PIN was ever shown.
	rec := &pinWatch{}
	term := env
	env = &environment{stdin: env.stdin, stdout: io.MultiWriter(env.stdout, rec), stderr: io.MultiWriter(env.stderr, rec)}
	now := time.Now().UTC().Truncate(time.Second)
	fmt.Fprintln(env.stdout, "REHEARSAL — virtual YubiKeys and a SoftHSM token, started for this rehearsal and stopped after it.")
	fmt.Fprintf(env.stdout, "Ceremony time %s; %d requests; holders Alice, Bob (YubiKeys), Carol (SoftHSM), threshold %d of 3.\n\n",
		now.Format(time.RFC3339), n, rehearsal.Threshold)

	var notice sync.Once
	finished := make(chan struct{})
	var watching sync.WaitGroup
	watching.Add(1)
	go func() {
		defer watching.Done()
		select {
		case <-ctx.Done():
			notice.Do(func() {
				fmt.Fprintln(env.stderr, "interrupted: stopping at the next safe point, then stopping the tokens and removing what was written")
			})
		case <-finished:
		}
	}()
	defer func() {
		close(finished)
		watching.Wait()
	}()

	s, err := rehearsal.Prepare(ctx, rehearsal.Options{Out: dir, Requests: n, Now: now, Log: env.stdout})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if aerr := s.Abandon(); aerr != nil {
				err = fmt.Errorf("%w (and cleaning up: %v)", err, aerr)
			}
			return
		}
		if serr := s.Stop(); serr != nil {
			err = fmt.Errorf("stop the rehearsal's tokens: %w", serr)
		}
	}()
	var ceremony *headlessResult
	if inProgram {
		// The program draws on the terminal itself, not through the
		// recorder: it never shows a PIN, and the rehearsal types them.
		ceremony, err = rehearsalProgram(ctx, term, s)
	} else {
		ceremony, err = rehearsalCeremony(ctx, env, s)
	}
	if err != nil {
		return err
	}
	var res *rehearsal.Result
	if inProgram {
		// People decided and chose who signs, so the script's plan is not
		// what to compare with; the program read the export back and
		// verified it from the vault's root before the close.
		res, err = programExport(s)
	} else {
		res, err = s.Verify(ctx)
	}
	if err != nil {
		return err
	}
	// The PINs are cleared when the tokens stop: look for them first.
	if leaked := rec.found(s.PINs()); leaked != "" {
		return fmt.Errorf("%s PIN was printed: this must never happen", leaked)
	}
	if err := s.Stop(); err != nil {
		return fmt.Errorf("stop the rehearsal's tokens: %w", err)
	}
	fmt.Fprintf(env.stdout, "  %s\n", "tokens stopped, their private directory removed")
	writeRehearsalPlaces(env.stdout, s, ceremony, res)
	return nil
}

// writeRehearsalPlaces says where everything went, how to check the
// export independently, and that all of it is a rehearsal's.
func writeRehearsalPlaces(w io.Writer, s *rehearsal.Setup, ceremony *headlessResult, res *rehearsal.Result) {
	self, err := os.Executable()
	if err != nil {
		self = "conclave"
	}
	q := func(p string) string { return termtext.Safe(shellQuote(p)) }
	fmt.Fprintf(w, "\nWhere everything is:\n")
	for _, p := range []struct{ what, path string }{
		{"the generated repository (version 1) and policy", s.Path(rehearsal.RepositoryDir)},
		{"the vault it was adopted into", s.Path(rehearsal.VaultDir)},
		{"the bundle imported (transfer medium in)", s.Path(rehearsal.BundleDir)},
		{"the ceremony script", s.Path(rehearsal.ScriptFile)},
		{"the ceremony's log, in the vault's new generation", s.Path(rehearsal.VaultDir, ceremony.Generation, vault.CeremoniesDir, ceremony.CeremonyID, journal.LogName)},
		{"the export (transfer medium out)", s.Path(rehearsal.ExportDir)},
	} {
		fmt.Fprintf(w, "  %-50s %s\n", p.what, q(p.path))
	}
	args := []string{q(self), "verify", "--trusted-root", q(s.Path(rehearsal.RepositoryDir, "root.json")), q(s.Path(rehearsal.RepositoryDir, "targets.json"))}
	for _, f := range res.Signed {
		args = append(args, q(f))
	}
	fmt.Fprintf(w, "\nCheck the export yourself:\n  %s\n", strings.Join(args, " "))
	fmt.Fprintf(w, "\nEverything above is a REHEARSAL: its keys were on virtual tokens that no longer exist,\nits vault and policy are marked rehearsal, and no production ceremony accepts them.\n")
}

// pinWatch records what the rehearsal printed, to check afterwards that
// no PIN is in it.
type pinWatch struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *pinWatch) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

// found names the holder whose PIN was printed, or "" when none was.
func (p *pinWatch) found(pins map[string][]byte) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, holder := range slices.Sorted(maps.Keys(pins)) {
		pin := pins[holder]
		if len(pin) > 0 && bytes.Contains(p.buf.Bytes(), pin) {
			return holder + "'s"
		}
	}
	return ""
}

// rehearsalCeremony runs the headless ceremony (runHeadless, what
// `conclave ceremony --script` runs) on the rehearsal's vault, bundle and
// script, with the rehearsal's prompts: the PINs set on its tokens, never
// on a command line, a file descriptor or the screen.
func rehearsalCeremony(ctx context.Context, env *environment, s *rehearsal.Setup) (*headlessResult, error) {
	name := s.Path(rehearsal.ScriptFile)
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	sc, err := parseScript(name, data)
	if err != nil {
		return nil, fmt.Errorf("the rehearsal's own script: %w", err)
	}
	fmt.Fprintf(env.stdout, "\nThe ceremony (conclave ceremony --script %s):\n", termtext.Safe(shellQuote(name)))
	start := time.Now()
	res, err := runHeadless(ctx, env, headlessOptions{
		Vault:   s.Path(rehearsal.VaultDir),
		In:      s.Path(rehearsal.BundleDir),
		Out:     s.Claim(rehearsal.ExportDir),
		Script:  sc,
		Prompts: s.Prompts,
		Notice:  env.stderr,
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.stdout, "  %-56s %12s\n\n", "the ceremony, from opening to close", termtext.Duration(time.Since(start)))
	fmt.Fprintf(env.stdout, "Checking what it exported (ceremony %s):\n", termtext.Safe(res.CeremonyID))
	return res, nil
}

// rehearsalProgram runs the rehearsal's ceremony in the terminal program
// (what `conclave ceremony` without --script runs), with the rehearsal's
// prompts: the throwaway PINs are entered by the rehearsal, never shown.
func rehearsalProgram(ctx context.Context, env *environment, s *rehearsal.Setup) (*headlessResult, error) {
	res, err := runProgram(ctx, env, programOptions{
		Vault:   s.Path(rehearsal.VaultDir),
		In:      s.Path(rehearsal.BundleDir),
		Out:     s.Claim(rehearsal.ExportDir),
		Prompts: s.Prompts,
	})
	if err != nil {
		return nil, err
	}
	if res.Generation == "" {
		return nil, errors.New("the rehearsal's ceremony was left before its close")
	}
	return res, nil
}

// programExport lists the metadata the program exported (read back and
// verified by the program before the close).
func programExport(s *rehearsal.Setup) (*rehearsal.Result, error) {
	signed, err := filepath.Glob(s.Path(rehearsal.ExportDir, "*."+rehearsal.DelegatingRole+".json"))
	if err != nil || len(signed) == 0 {
		return nil, fmt.Errorf("the export %s holds no %s metadata (%v)", s.Path(rehearsal.ExportDir), rehearsal.DelegatingRole, err)
	}
	return &rehearsal.Result{Signed: signed}, nil
}
