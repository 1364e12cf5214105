package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verify"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var verifyCommand = &command{
	name:    "verify",
	summary: "verify TUF metadata as a client would: signatures, thresholds, versions and expiry",
	usage:   "verify --trusted-root ROOT.json [--delegator TARGETS.json] [--at TIME] [--max-size BYTES] [--json] FILE...",
}

func init() {
	verifyCommand.run = runVerify
	register(verifyCommand)
}

// defaultMaxMetadataSize is twice the targets metadata of 200,000
// delegated projects with two keys each (about 125 MB), the most a bundle
// may ask for.
const defaultMaxMetadataSize = 256 << 20

// runVerify reads the files, has ceremony/verify walk them as a client
// would, and prints the result. Exit status 1 when any file is not valid,
// has expired or could not be checked; 3 when one cannot be read.
func runVerify(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, verifyCommand)
	trusted := fs.String("trusted-root", "", "the root metadata `FILE` you trust (obtained out of band): the start of the chain")
	delegator := fs.String("delegator", "", "the targets metadata `FILE` to judge delegated FILEs against when more than one file delegates them (verified like a FILE)")
	at := fs.String("at", "", "judge expiry at this `TIME` (RFC 3339, e.g. 2027-01-01T00:00:00Z) instead of now")
	maxSize := fs.Int64("max-size", defaultMaxMetadataSize, "read no file larger than this many bytes")
	asJSON := fs.Bool("json", false, "print a JSON report ("+verify.Format+") instead of text")
	if err := parseFlags(env, verifyCommand, fs, args); err != nil {
		return err
	}
	if *trusted == "" {
		return usagef("--trusted-root is required")
	}
	names := fs.Args()
	if *delegator != "" && !slices.Contains(names, *delegator) {
		names = append([]string{*delegator}, names...)
	}
	if len(names) == 0 {
		return usagef("name at least one FILE to verify")
	}
	now := time.Now()
	if *at != "" {
		t, err := parseTimeFlag("at", *at)
		if err != nil {
			return err
		}
		now = t
	}
	if *maxSize < 1 {
		return usagef("--max-size must be a positive number of bytes")
	}

	opts := verify.Options{Delegator: *delegator, Now: now}
	var err error
	if opts.Trusted, err = readMetadata("the trusted root", *trusted, *maxSize); err != nil {
		return err
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		in, err := readMetadata("", name, *maxSize)
		if err != nil {
			return err
		}
		opts.Files = append(opts.Files, in)
	}
	report, err := verify.Walk(ctx, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := report.JSON()
		if err != nil {
			return fmt.Errorf("encode the report: %w", err)
		}
		if _, err := env.stdout.Write(b); err != nil {
			return err
		}
	} else {
		printVerifyReport(env.stdout, report, terminalWidth(env.stdout))
	}
	if report.Verdict != verify.Valid {
		return exitError{1}
	}
	return nil
}

// readMetadata reads one named file for the walk (what, when set, says
// which: "the trusted root"). A file that cannot be read — missing, not a
// regular file, over --max-size — is no verdict on its content: the
// command stops with status 3 before judging anything, so that a typo in
// a path is never mistaken for a file that is NOT VALID
// (docs/exit-codes.md).
func readMetadata(what, name string, max int64) (verify.Input, error) {
	data, err := safefile.ReadNamed(name, max)
	if err != nil {
		err = fmt.Errorf("cannot read %s: %w", strings.TrimSpace(what+" "+name), err)
		if errors.Is(err, safefile.ErrLimit) {
			err = withHint(err, "--max-size sets another limit")
		}
		return verify.Input{}, err
	}
	return verify.Input{Name: name, Data: data}, nil
}

// sentenceMax caps one reason or note on the screen: long enough for two
// paths and a keyid, short enough that no file can push the verdict away.
const sentenceMax = 600

// printVerifyReport writes the report for people. Every string from the
// files or the command line goes through termtext: a forged file must not
// be able to write over the verdict.
func printVerifyReport(out io.Writer, r *verify.Report, width int) {
	p := &textPrinter{out: out, width: width}
	if m := r.Rehearsal; m != nil {
		// First, before any verdict: valid or not, this is no production
		// metadata. The mark is the files' text, so it is escaped.
		p.line(0, "REHEARSAL — "+termtext.Safe(m.File)+" is marked "+tuf.RehearsalMark+": \""+
			termtext.Cap(m.Mark, sentenceMax)+"\"; everything trusted through it was made by a rehearsal and must never be published")
	}
	for _, f := range r.Files {
		p.file(f)
	}
	fmt.Fprintf(out, "\n%s\n", resultLine(r))
}

type textPrinter struct {
	out   io.Writer
	width int
}

// line writes text indented by indent spaces, wrapped at the width, its
// continuation lines indented four spaces more.
func (p *textPrinter) line(indent int, text string) {
	pad := strings.Repeat(" ", indent)
	fmt.Fprintln(p.out, termtext.Wrap(text, max(p.width, 40), pad, pad+"    "))
}

func (p *textPrinter) file(f *verify.File) {
	name := termtext.Safe(f.Name)
	switch {
	case f.Verdict == verify.Skipped:
		p.line(0, name+": skipped: "+termtext.Cap(f.Reason(), sentenceMax))
		return
	case f.Type == "" && errors.Is(f.Err, tuf.ErrMalformed):
		// The parser's message starts with the file name already.
		p.line(0, "NOT VALID: "+termtext.Cap(f.Reason(), sentenceMax))
		return
	case f.Type == "":
		p.line(0, name+": NOT VALID: "+termtext.Cap(f.Reason(), sentenceMax))
		return
	}
	head := fmt.Sprintf("%s: %s version %d", name, f.Type, f.Version)
	if f.Trusted {
		head += " (trusted root)"
	}
	p.line(0, head)
	if f.Type == tuf.TypeTargets && f.Role != tuf.TypeTargets && f.Delegator != "" {
		p.line(2, "role "+termtext.Safe(f.Role)+", delegated by "+termtext.Safe(f.Delegator))
	}
	for _, c := range f.Checks {
		p.line(2, fmt.Sprintf("%s: signed by %s; threshold %d", termtext.Safe(c.Role), termtext.Plural(len(c.Signers), "distinct key"), c.Threshold))
		for _, s := range c.Signatures {
			desc := ""
			if s.KeyType != "" {
				desc = " (" + termtext.Safe(s.KeyType) + "/" + termtext.Safe(s.Scheme) + ")"
			}
			p.line(4, "keyid "+termtext.ShortHex(s.KeyID)+desc+": "+s.Status.Sentence())
		}
		for _, id := range c.MissingKeys {
			p.line(4, "keyid "+termtext.ShortHex(id)+": listed by the role but no such key is defined")
		}
	}
	for _, n := range f.Notes {
		switch n.Code {
		case verify.NoteKeyIDMismatch:
			p.line(2, "WARNING: "+termtext.Cap(n.Sentence, sentenceMax))
		case verify.NoteSuperseded:
			p.line(2, termtext.Cap(n.Sentence, sentenceMax))
		default:
			p.line(2, "note: "+termtext.Cap(n.Sentence, sentenceMax))
		}
	}
	switch f.Verdict {
	case verify.Valid:
		if f.ExpiryChecked {
			p.line(2, "valid; expires "+f.Expires.UTC().Format(time.RFC3339Nano))
		} else {
			p.line(2, "valid")
		}
	case verify.Expired:
		p.line(2, "EXPIRED (the signatures are valid): "+termtext.Cap(f.Reason(), sentenceMax))
	case verify.NotChecked:
		p.line(2, "NOT CHECKED: "+termtext.Cap(f.Reason(), sentenceMax))
	default:
		p.line(2, "NOT VALID: "+termtext.Cap(f.Reason(), sentenceMax))
	}
}

// resultLine is the last line: the verdict with the counts behind it.
// EXPIRED is its own verdict: the signatures of an expired file are valid.
func resultLine(r *verify.Report) string {
	var parts []string
	add := func(v verify.Verdict, one, many string) {
		if n := r.Count(v); n > 0 {
			parts = append(parts, termtext.Plural(n, one, many))
		}
	}
	switch r.Verdict {
	case verify.Valid:
		s := "RESULT: all files valid"
		if n := r.Count(verify.Skipped); n > 0 {
			s += fmt.Sprintf(" (%s: the same bytes as a file judged)", termtext.Plural(n, "file skipped", "files skipped"))
		}
		return s
	case verify.Expired:
		add(verify.Expired, "file expired", "files expired")
		add(verify.Valid, "valid", "valid")
		add(verify.Skipped, "skipped", "skipped")
		return "RESULT: EXPIRED — " + strings.Join(parts, ", ") + "; the signatures are valid"
	}
	add(verify.NotValid, "file not valid", "files not valid")
	add(verify.NotChecked, "not checked", "not checked")
	add(verify.Expired, "expired", "expired")
	add(verify.Valid, "valid", "valid")
	add(verify.Skipped, "skipped", "skipped")
	return "RESULT: NOT VALID — " + strings.Join(parts, ", ") + "; see above"
}

// plural writes "1 file", "2 files".
