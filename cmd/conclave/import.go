package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var importCommand = &command{
	name:    "import",
	summary: "judge a bundle of delegation requests from the transfer media (--dry-run: change nothing)",
	usage: "import --dry-run --delegator CLAIMED.json --intake-key KEY --repository NAME|--any-repository [--history FILE] [--now TIME] [--json] BUNDLE\n" +
		"       conclave import --history-out NEW --delegator CLAIMED.json --intake-key KEY --repository NAME|--any-repository [--history FILE] BUNDLE   (judge, and record the import)",
}

func init() {
	importCommand.flagHints = map[string]string{
		"check-export": "an export is checked on the online side: conclave intake check-export EXPORT-DIR",
	}
	importCommand.run = runImport
	register(importCommand)
}

// runImport judges a bundle and prints the verdicts; a refused bundle is
// a verdict (exit status 1).
func runImport(ctx context.Context, env *environment, args []string) error {
	c := importCommand
	fs := newFlagSet(env, c)
	dry := fs.Bool("dry-run", false, "judge the bundle and show the verdicts without changing anything (this or --history-out is required)")
	delegatorPath := fs.String("delegator", "", "the trusted delegating metadata `FILE` (e.g. 7.claimed.json) the requests are judged against")
	var intakeKeys multiFlag
	fs.Var(&intakeKeys, "intake-key", "a trusted intake public `KEY` file of the repository (PEM or TUF key JSON); repeatable")
	histPath := fs.String("history", "", "the history `FILE`: what earlier imports remembered (conclave-history/1 JSON); without it, nothing")
	histOut := fs.String("history-out", "", "record the import: write the history with what this bundle adds (its id, first sightings, published keys) to this `NEW` file, never replacing one (this or --dry-run is required)")
	nowFlag := fs.String("now", "", "the confirmed ceremony `TIME` (RFC 3339, e.g. 2027-01-01T00:00:00Z); default: the system clock")
	asJSON := fs.Bool("json", false, "print the machine-readable report (conclave-import-report/1)")
	rulesPath := fs.String("rules", "", "read the validation rules from this JSON `FILE` (the fields of ceremony/rules.Rules, durations in nanoseconds); --repository, --path-template, --role, --recovery-notice and --min-dwell override it")
	repo := fs.String("repository", "", "accept bundles only from the repository of this `NAME` (the manifest's source); required unless the rules name it or --any-repository is given")
	anyRepo := fs.Bool("any-repository", false, "accept a bundle whatever repository it says it comes from; the report says so")
	allowExpired := fs.Bool("allow-expired-delegator", false, "judge against a --delegator that has expired at --now (refused without it); the report says so")
	template := fs.String("path-template", "", "the path `TEMPLATE` of project delegations (default \"{name}/*\")")
	role := fs.String("role", "", "the `NAME` of the delegating role (default \"claimed\")")
	notice := fs.Duration("recovery-notice", 0, "notice period for recovery requests (default 336h, 14 days)")
	dwell := fs.Duration("min-dwell", 0, "how long an add's keys must have been published before (default: seen in any earlier bundle)")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	switch {
	case *dry && *histOut != "":
		return usagef("--dry-run changes nothing, so it takes no --history-out")
	case !*dry && *histOut == "":
		return usagef("name --dry-run (judge, changing nothing) or --history-out NEW (judge, and record the import in a new history file)")
	}
	if fs.NArg() != 1 {
		return usagef("name exactly one BUNDLE directory")
	}
	if *delegatorPath == "" || len(intakeKeys) == 0 {
		return usagef("--delegator and at least one --intake-key are required")
	}
	r := rules.Default()
	if *rulesPath != "" {
		data, err := readNamedFile(*rulesPath)
		if err != nil {
			return fmt.Errorf("read the rules: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("%s: %w", *rulesPath, err)
		}
	}
	fromFile := r
	if *repo != "" {
		r.Repository = *repo
	}
	switch {
	case r.Repository == "" && !*anyRepo:
		return usagef("name the repository whose bundles this ceremony takes (--repository NAME, the manifest's source), or accept any with --any-repository")
	case r.Repository != "" && *anyRepo:
		return usagef("--any-repository contradicts the repository named, %q", r.Repository)
	}
	if *template != "" {
		r.PathTemplate = *template
	}
	if *role != "" {
		r.DelegatingRole = *role
	}
	if *notice != 0 {
		r.RecoveryNotice = *notice
	}
	if *dwell != 0 {
		r.MinDwell = *dwell
	}
	if err := r.Check(); err != nil {
		// The same fault in the rules as read means the file is at
		// fault (it could not be used: status 3); otherwise a flag's
		// value is, a mistake in the command line (status 2).
		if fileErr := fromFile.Check(); fileErr != nil && fileErr.Error() == err.Error() {
			return fmt.Errorf("%s: %w", *rulesPath, err)
		}
		return usageError{msg: err.Error()}
	}
	now := time.Now().UTC()
	if *nowFlag != "" {
		t, err := parseTimeFlag("now", *nowFlag)
		if err != nil {
			return err
		}
		now = t.UTC()
	}
	// Until the verdicts are printed nothing is written, so a signal
	// stops the import at once, even in a read that hangs on a failing
	// medium.
	var report *verdict.Report
	var b *bundle.Bundle
	var hist *history.History
	var delegator *tuf.File
	expired := false
	// Started here, not in the work: main reads env.progress after an
	// interruption, while the abandoned work may still be running.
	prog := startProgress(env, "judging the bundle", 0)
	err := untilInterrupted(ctx, func() error {
		// A BUNDLE that is not there is a mistyped path, not a bundle
		// judged and refused: what is on the medium is judged below.
		if fi, err := os.Stat(fs.Arg(0)); err != nil {
			return fmt.Errorf("cannot read the bundle directory: %w", err)
		} else if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory: BUNDLE is the directory that holds manifest.json", fs.Arg(0))
		}
		in, err := loadImportTrust(*delegatorPath, intakeKeys, *histPath)
		if err != nil {
			return err
		}
		hist = in.hist
		d := in.delegator
		if expired = !d.Expires().After(now); expired && !*allowExpired {
			return withHint(refused(fmt.Errorf("%s: the trusted %s metadata, version %d, expired on %s, before the ceremony time %s", *delegatorPath,
				r.DelegatingRole, d.Version(), d.Expires().UTC().Format(time.RFC3339), now.Format(time.RFC3339))),
				"give the latest delegating metadata; if this is the latest and the ceremony is to renew it, add --allow-expired-delegator")
		}
		report, b = importBundle(fs.Arg(0), bundle.Trust{
			IntakeKeys: in.keys,
			Base:       bundle.Base{Role: r.DelegatingRole, Version: in.delegator.Version(), SHA256: bundle.SumHex(in.delegatorBytes)},
			Rules:      r,
			Seen:       hist.SeenBundle,
		}, in.delegator.Targets, hist, now)
		delegator = d
		return nil
	}, "nothing was written; the bundle was not judged to the end")
	prog.Done()
	if err != nil {
		return err
	}
	if report.Refused == nil && expired {
		report.Notes = append([]verdict.Finding{verdict.DelegatorExpiredNote(r.DelegatingRole, delegator.Version(), delegator.Expires().Time, now)}, report.Notes...)
	}
	if report.Refused == nil && *anyRepo {
		report.Notes = append([]verdict.Finding{verdict.AnyRepositoryNote(report.Source)}, report.Notes...)
	}
	if *asJSON {
		err = report.WriteJSON(env.stdout)
	} else {
		err = report.WriteText(env.stdout)
		if err == nil && *dry {
			fmt.Fprintln(env.stdout, "\n(dry run: nothing was changed)")
		}
	}
	if err != nil {
		return err
	}
	if report.Refused != nil {
		return exitError{1}
	}
	if *histOut != "" {
		if hist == nil {
			hist = &history.History{}
		}
		hist.Record(b, now)
		if ctx.Err() != nil {
			// The last safe point: the verdicts are printed, nothing
			// is recorded.
			return interrupted("nothing was recorded; %s was not written", *histOut)
		}
		if err := safefile.CreateNew(*histOut, hist.Marshal()); err != nil {
			return withHint(err, "the history is never overwritten: name a new file")
		}
		if !*asJSON {
			fmt.Fprintf(env.stdout, "\nrecorded bundle %s in %s\n", termtext.Safe(b.Manifest.BundleID), termtext.Safe(*histOut))
		}
	}
	return nil
}

// importTrust is what a bundle is judged against, read from the files
// named on the command line.
type importTrust struct {
	delegatorBytes []byte
	delegator      *tuf.File
	keys           map[string]*tuf.Key
	hist           *history.History
}

func loadImportTrust(delegatorPath string, intakeKeys []string, histPath string) (*importTrust, error) {
	in := &importTrust{keys: map[string]*tuf.Key{}}
	var err error
	if in.delegatorBytes, err = readNamedFile(delegatorPath); err != nil {
		return nil, fmt.Errorf("read the trusted delegating metadata: %w", err)
	}
	if in.delegator, err = tuf.Parse(delegatorPath, in.delegatorBytes); err != nil {
		return nil, err
	}
	if in.delegator.Targets == nil {
		return nil, fmt.Errorf("%s: the delegating metadata must be targets metadata, not %s", delegatorPath, in.delegator.Type())
	}
	for _, p := range intakeKeys {
		k, err := loadPublicKey(p)
		if err != nil {
			return nil, err
		}
		in.keys[k.ID()] = k
	}
	if histPath != "" {
		data, err := readNamedFile(histPath)
		if err != nil {
			return nil, fmt.Errorf("read the history: %w", err)
		}
		if in.hist, err = history.Parse(data); err != nil {
			return nil, fmt.Errorf("%s: %w", histPath, err)
		}
	}
	return in, nil
}

// importBundle reads and judges a bundle directory. The bundle is nil
// when it was refused.
func importBundle(dir string, trust bundle.Trust, delegator *tuf.Targets, hist *history.History, now time.Time) (*verdict.Report, *bundle.Bundle) {
	report := &verdict.Report{Format: verdict.ReportFormat}
	src := &mediaDir{
		dir:         dir,
		manifest:    bundle.ManifestName,
		limits:      safefile.Limits{MaxFiles: trust.Rules.MaxFiles + 1, MaxFileSize: trust.Rules.MaxFileSize, MaxTotalSize: trust.Rules.MaxTotalSize + trust.Rules.MaxManifestSize},
		manifestMax: trust.Rules.MaxManifestSize,
		mapErr:      mediaError,
	}
	defer src.close()
	b, err := bundle.Load(bundleSource{src}, trust)
	if err != nil {
		var be *verdict.BundleError
		if !errors.As(err, &be) {
			be = verdict.Refuse(verdict.BundleUnreadable, err, "%v", err)
		}
		report.Refused = &verdict.Refusal{Code: be.Code, Sentence: be.Sentence}
		return report, nil
	}
	report.BundleID, report.Source = b.Manifest.BundleID, b.Manifest.Source
	report.Notes = validate.PublishedNotes(b, delegator)
	report.Requests = validate.Validate(validate.Input{Bundle: b, Delegator: delegator, Rules: trust.Rules, History: hist, Now: now})
	verdict.Order(report.Requests)
	report.Tally()
	return report, b
}

// bundleSource is a mediaDir as bundle.Load reads it.
type bundleSource struct{ *mediaDir }

func (s bundleSource) Listed(names []string) (bundle.Files, error) { return s.listed(names) }

// mediaError gives the reader's refusals their verdict codes.
func mediaError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, safefile.ErrLimit):
		return verdict.Refuse(verdict.BundleLimit, err, "%v", err)
	}
	return verdict.Refuse(verdict.BundleUnreadable, err, "%v", err)
}

// loadPublicKey reads a public key file: a PEM "PUBLIC KEY" block, or a
// TUF key object in JSON.
func loadPublicKey(path string) (*tuf.Key, error) {
	data, err := readNamedFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	if strings.HasPrefix(strings.TrimSpace(string(data)), "-----BEGIN") {
		block, rest := pem.Decode(data)
		if block == nil || block.Type != "PUBLIC KEY" || strings.TrimSpace(string(rest)) != "" {
			return nil, fmt.Errorf("%s: expected exactly one PEM block of type PUBLIC KEY", path)
		}
		pub, err := parsePKIX(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		k, err := tuf.KeyFromPublic(pub)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	v, err := cjson.ParseWith(data, cjson.Options{MaxDepth: 4})
	if err != nil {
		return nil, fmt.Errorf("%s: not a PEM public key nor a TUF key object: %w", path, err)
	}
	k, err := tuf.ParseKey(v, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func parsePKIX(der []byte) (any, error) { return x509.ParsePKIXPublicKey(der) }
