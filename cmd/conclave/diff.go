package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verify"
	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var diffCommand = &command{
	name:    "diff",
	summary: "recompute the summary card of a new version from the bytes of the last signed one and the new one",
	usage:   "diff [--json] OLD NEW [OLD NEW ...]",
}

func init() {
	diffCommand.run = runDiff
	register(diffCommand)
}

// diffFormat names the JSON form of conclave diff.
const diffFormat = "conclave-diff-report/1"

// diffReport is conclave diff's JSON form (docs/formats/summary-card.md).
type diffReport struct {
	Format string     `json:"format"`
	Cards  []diffCard `json:"cards"`
	// Digest is the ceremony digest over every card (build.Digest).
	Digest string `json:"digest"`
}

type diffCard struct {
	Role          string       `json:"role"`
	Version       int64        `json:"version"`
	Expires       string       `json:"expires"`
	Added         int          `json:"added"`
	Rotated       int          `json:"rotated"`
	Removed       int          `json:"removed"`
	Digest        string       `json:"digest"`
	PayloadSHA256 string       `json:"payload_sha256"`
	Changes       []diffChange `json:"changes"`
}

// diffChange is one entry of the list the card's digest is taken over,
// with the same members.
type diffChange struct {
	Project string          `json:"project"`
	Before  *diffDelegation `json:"before"`
	After   *diffDelegation `json:"after"`
}

type diffDelegation struct {
	KeyIDs    []string `json:"keyids"`
	Paths     []string `json:"paths"`
	Threshold int64    `json:"threshold"`
}

// runDiff reads each pair of files, the last signed version of a role and
// the new one, and prints the summary card build.Summarize derives from
// their bytes, then the ceremony digest over them all: in text, the
// lines docs/formats/summary-card.md's script prints, so that the two can
// be compared line by line. The role is named by the new file's name
// (ROLE.json or N.ROLE.json), as in an export. Exit status 1 when a card
// cannot be made (the new file changes more than a card shows).
func runDiff(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, diffCommand)
	asJSON := fs.Bool("json", false, "print a JSON report ("+diffFormat+") instead of text")
	if err := parseFlags(env, diffCommand, fs, args); err != nil {
		return err
	}
	names := fs.Args()
	if len(names) == 0 || len(names)%2 != 0 {
		return usagef("name the files in pairs: the last signed version of a role, then the new one")
	}
	report := diffReport{Format: diffFormat, Cards: []diffCard{}}
	var cards []*build.Card
	sums := map[string]string{}
	for i := 0; i < len(names); i += 2 {
		if err := ctx.Err(); err != nil {
			return err
		}
		oldName, newName := names[i], names[i+1]
		role, _ := verify.RoleFromName(newName)
		if oldRole, _ := verify.RoleFromName(oldName); oldRole != role {
			return usagef("%s names role %s and %s names role %s: pair the two versions of one role", termtext.Safe(oldName), termtext.Quote(oldRole), termtext.Safe(newName), termtext.Quote(role))
		}
		if _, twice := sums[role]; twice {
			return usagef("role %s is named twice", termtext.Quote(role))
		}
		// Read side by side: each file of a role of 100,000 delegations
		// takes a large part of the diff to parse, and Summarize uses the
		// files as read (build.Summarize parses neither again).
		files := make([]*tuf.File, 2)
		errs := make([]error, 2)
		parallel.For(2, 1, func(j int) { files[j], errs[j] = readDiffFile(names[i+j]) })
		if err := cmp.Or(errs...); err != nil {
			return err
		}
		last, next := files[0], files[1]
		card, err := build.Summarize(role, last, next)
		if err != nil {
			fmt.Fprintf(env.stderr, "error: %s\n", termtext.Safe(err.Error()))
			return exitError{1}
		}
		cards = append(cards, card)
		sums[role] = bundle.SumHex(next.SignedBytes())
		report.Cards = append(report.Cards, diffCardOf(card, sums[role]))
	}
	report.Digest = build.Digest(cards, sums)
	if *asJSON {
		return writeJSON(env.stdout, report)
	}
	printDiff(env.stdout, report)
	return nil
}

func readDiffFile(name string) (*tuf.File, error) {
	data, err := safefile.ReadNamed(name, defaultMaxMetadataSize)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", termtext.Safe(name), err)
	}
	f, err := tuf.Parse(name, data)
	if err != nil {
		return nil, refused(err)
	}
	return f, nil
}

func diffCardOf(c *build.Card, payload string) diffCard {
	d := diffCard{Role: c.Role, Version: c.Version, Expires: c.Expires.UTC().Format(time.RFC3339), Added: c.Added, Rotated: c.Rotated, Removed: c.Removed,
		Digest: c.Digest, PayloadSHA256: payload, Changes: make([]diffChange, len(c.Changes))}
	for i, ch := range c.Changes {
		d.Changes[i] = diffChange{Project: ch.Project, Before: diffDelegationOf(ch.Before), After: diffDelegationOf(ch.After)}
	}
	return d
}

func diffDelegationOf(d *build.Delegation) *diffDelegation {
	if d == nil {
		return nil
	}
	return &diffDelegation{KeyIDs: d.KeyIDs, Paths: d.Paths, Threshold: d.Threshold}
}

// printDiff writes what summary-card.py writes, line for line; names from
// the files pass through termtext.
func printDiff(w io.Writer, r diffReport) {
	for _, c := range r.Cards {
		fmt.Fprintf(w, "%s version %d expires %s\n", termtext.Safe(c.Role), c.Version, c.Expires)
		fmt.Fprintf(w, "  added %d rotated %d removed %d\n", c.Added, c.Rotated, c.Removed)
		fmt.Fprintf(w, "  digest %s\n", c.Digest)
	}
	fmt.Fprintf(w, "ceremony digest %s\n", r.Digest)
}
