package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// maxAbandonReason bounds the reason given to abandon a ceremony, in
// characters: a sentence or a paragraph, read aloud and kept in the log.
const maxAbandonReason = 1000

// runAbandon ends an unfinished ceremony without export (conclave
// ceremony --resume LOG --abandon REASON --by NAME): its log is replayed,
// the abandonment is appended with the reason and the person who gave
// it, and the vault's next generation is written as after a refused
// bundle: the versions built stay registered, burned, the bundle is not
// recorded as imported, and the log is kept in the generation.
func runAbandon(ctx context.Context, env *environment, vaultPath, resume, reason, by string) error {
	reason = strings.TrimSpace(reason)
	switch n := utf8.RuneCountInString(reason); {
	case resume == "":
		return usagef("--abandon needs --resume LOG: the log of the ceremony to abandon (VAULT/journal/ID)")
	case n == 0:
		return usagef("--abandon needs a reason, for the log: say why the ceremony stops (--abandon \"the summary digests differ\")")
	case n > maxAbandonReason:
		return usagef("--abandon: the reason is %d characters long, at most %d are allowed", n, maxAbandonReason)
	case strings.TrimSpace(by) == "":
		return usagef("--abandon needs --by NAME: the participant or witness of the ceremony who abandons it")
	}
	sc := &script{}
	r, err := openCeremony(ceremonyOptions{Vault: vaultPath, Resume: resume, Notice: env.stderr})
	if err != nil {
		return err
	}
	defer r.Close()
	if r.Ended {
		return refused(fmt.Errorf("ceremony %s has ended: the vault's current generation %s holds its log, so there is nothing to abandon", termtext.Safe(r.ID), termtext.Safe(r.V.Generation)))
	}
	s := r.S
	res := &headlessResult{CeremonyID: r.ID, Journal: r.Journal}
	d := &driver{ctx: ctx, env: env, o: headlessOptions{Resume: resume, Script: sc}, s: s, r: r, res: res}
	switch s.State() {
	case session.StateClosed:
		return refused(withHint(fmt.Errorf("ceremony %s is closed: its export is written and recorded, so it cannot be abandoned", termtext.Safe(r.ID)),
			"write its vault generation with: conclave ceremony --resume "+shellQuote(r.Journal)+" --script FILE --out DIR"))
	case session.StateAbandoned:
		// Abandoned before, and stopped before its generation was
		// written: write it; the log keeps the first reason.
		fmt.Fprintf(env.stdout, "Ceremony %s was abandoned already; its log is not changed.\n", termtext.Safe(r.ID))
		return d.writeGeneration()
	}
	fmt.Fprintf(env.stdout, "Abandoning ceremony %s (%s replayed, state %s) for the reason given by %s:\n  %s\n",
		termtext.Safe(r.ID), termtext.Plural(r.Replayed, "line"), s.State(), termtext.Safe(by), termtext.Safe(reason))
	if _, err := s.Abandon(reason, by); err != nil {
		if errors.Is(err, session.ErrNotPresent) {
			return refused(withHint(fmt.Errorf("--by %s: %w", termtext.Quote(by), session.ErrNotPresent),
				"name with --by one of the people the ceremony's log names as present"))
		}
		return err
	}
	return d.writeGeneration()
}
