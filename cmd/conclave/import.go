package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

var importCommand = &command{
	name:    "import",
	summary: "judge a bundle of delegation requests from the transfer media against the vault, changing nothing (--dry-run)",
	usage:   "import --vault DIR --dry-run [--now TIME] [--allow-expired-delegator] [--json] BUNDLE",
}

func init() {
	importCommand.flagHints = map[string]string{
		"check-export":    "an export is checked on the online side: conclave intake check-export EXPORT-DIR",
		"history-out":     "an import is recorded in the vault by the ceremony that approves it: conclave ceremony",
		"delegator":       "the trusted metadata, intake keys, rules and history come from the vault: name it with --vault DIR",
		"intake-key":      "the intake keys come from the vault's policy: name the vault with --vault DIR",
		"repository":      "the repository comes from the vault's policy: name the vault with --vault DIR",
		"history":         "the history comes from the vault: name it with --vault DIR",
		"rules":           "the rules come from the vault's policy: name the vault with --vault DIR",
		"any-repository":  "the repository comes from the vault's policy: name the vault with --vault DIR",
		"path-template":   "the path template comes from the vault's policy: name the vault with --vault DIR",
		"role":            "the delegating role comes from the vault's policy: name the vault with --vault DIR",
		"recovery-notice": "the notice period comes from the vault's policy: name the vault with --vault DIR",
		"min-dwell":       "the dwell time comes from the vault's policy: name the vault with --vault DIR",
	}
	importCommand.run = runImport
	register(importCommand)
}

// runImport judges a bundle against the vault and prints the verdicts;
// a refused bundle is a verdict (exit status 1). It changes nothing: the
// ceremony (conclave ceremony) is what imports for real.
func runImport(ctx context.Context, env *environment, args []string) error {
	c := importCommand
	fs := newFlagSet(env, c)
	dry := fs.Bool("dry-run", false, "judge the bundle and show the verdicts, changing nothing (required: a bundle is imported by conclave ceremony)")
	vaultPath := fs.String("vault", "", "the vault `DIR`: its current generation is opened and verified, and gives the trusted delegating metadata, the intake keys, the rules and the history")
	nowFlag := fs.String("now", "", "the confirmed ceremony `TIME` (RFC 3339, e.g. 2027-01-01T00:00:00Z); default: the system clock")
	asJSON := fs.Bool("json", false, "print the machine-readable report (conclave-import-report/1)")
	allowExpired := fs.Bool("allow-expired-delegator", false, "judge against the vault's delegating metadata even if it has expired at --now (refused without it); the report says so")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if !*dry {
		return withHint(usagef("name --dry-run: import judges a bundle and changes nothing"),
			"a bundle is imported, decided and signed in a ceremony: conclave ceremony --vault DIR --in BUNDLE --out DIR --script FILE")
	}
	if fs.NArg() != 1 {
		return usagef("name exactly one BUNDLE directory")
	}
	if *vaultPath == "" {
		return usagef("--vault is required: the bundle is judged against the vault")
	}
	now := time.Now().UTC()
	if *nowFlag != "" {
		t, err := parseTimeFlag("now", *nowFlag)
		if err != nil {
			return err
		}
		now = t.UTC()
	}
	// Nothing is written, so a signal stops the import at once, even in a
	// read that hangs on a failing medium.
	var report *verdict.Report
	var delegator *tuf.File
	var role string
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
		vd, v, err := openVault(*vaultPath)
		if err != nil {
			return err
		}
		vd.Close()
		trust, delegators, err := session.ImportTrust(v)
		if err != nil {
			return err
		}
		// The first expired role, in role order, is the one named.
		for _, b := range trust.Bases {
			if d := v.Delegators[b.Role]; !d.Expires().After(now) {
				role, delegator, expired = b.Role, d, true
				break
			}
		}
		if expired && !*allowExpired {
			return withHint(refused(fmt.Errorf("vault %s: the trusted %s metadata, version %d, expired on %s, before the ceremony time %s", *vaultPath,
				role, delegator.Version(), delegator.Expires().UTC().Format(time.RFC3339), now.Format(time.RFC3339))),
				"if the ceremony is to renew it, add --allow-expired-delegator")
		}
		report, _ = importBundle(fs.Arg(0), trust, delegators, v.Policy.ShardFor, v.History, now)
		return nil
	}, "nothing was written; the bundle was not judged to the end")
	prog.Done()
	if err != nil {
		return err
	}
	if report.Refused == nil && expired {
		report.Notes = append([]verdict.Finding{verdict.DelegatorExpiredNote(role, delegator.Version(), delegator.Expires().Time, now)}, report.Notes...)
	}
	if *asJSON {
		err = report.WriteJSON(env.stdout)
	} else {
		err = report.WriteText(env.stdout)
		if err == nil {
			fmt.Fprintln(env.stdout, "\n(dry run: nothing was changed)")
		}
	}
	if err != nil {
		return err
	}
	if report.Refused != nil {
		return exitError{1}
	}
	return nil
}

// openVault opens a vault directory and its current generation, verified.
// A generation that fails verification is a verdict on the vault (status
// 1); a directory that cannot be read is not (status 3). The caller closes
// the directory.
func openVault(dir string) (*vaultdir.Dir, *vault.Vault, error) {
	vd, err := vaultdir.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	v, err := vd.OpenCurrent()
	if err != nil {
		vd.Close()
		return nil, nil, vaultRefused(err)
	}
	return vd, v, nil
}

// vaultRefused makes an error about what a vault holds a refusal
// (status 1); one about reading it (a missing CURRENT, a failing medium)
// stays as it is (status 3).
func vaultRefused(err error) error {
	var oe *vault.OpenError
	if errors.As(err, &oe) || errors.Is(err, vaultdir.ErrDamaged) || errors.Is(err, vaultdir.ErrSymlink) || errors.Is(err, vaultdir.ErrNotRegular) {
		return refused(err)
	}
	return err
}

// bundleMedia reads a bundle directory on the transfer medium within the
// rules' limits: each batch file within MaxBatchSize, the published
// state within MaxPublishedSize (bundleSource.Listed).
func bundleMedia(dir string, r rules.Rules) *mediaDir {
	return &mediaDir{
		dir:          dir,
		manifest:     bundle.ManifestName,
		limits:       safefile.Limits{MaxFiles: r.MaxFiles + 1, MaxFileSize: r.MaxBatchSize, MaxTotalSize: r.MaxTotalSize + r.MaxManifestSize},
		publishedMax: r.MaxPublishedSize,
		manifestMax:  r.MaxManifestSize,
		mapErr:       mediaError,
	}
}

// importBundle reads and judges a bundle directory. The bundle is nil
// when it was refused.
func importBundle(dir string, trust bundle.Trust, delegators map[string]*tuf.Targets, roleFor func(string) string, hist *history.History, now time.Time) (*verdict.Report, *bundle.Bundle) {
	report := &verdict.Report{Format: verdict.ReportFormat}
	src := bundleMedia(dir, trust.Rules)
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
	report.Notes = validate.PublishedNotes(b, delegators)
	report.Requests = validate.Validate(validate.Input{Bundle: b, Delegators: delegators, RoleFor: roleFor, Rules: trust.Rules, History: hist, Now: now})
	verdict.Order(report.Requests)
	report.Tally()
	return report, b
}

// bundleSource is a mediaDir as bundle.Load reads it.
type bundleSource struct{ *mediaDir }

// Listed makes the names readable, each within the per-file limit, but
// the published state, which is read alone within its own: it names every
// project whose keys the repository published, so it grows with the
// repository.
func (s bundleSource) Listed(names []string, published string) (bundle.Files, error) {
	f, err := s.listed(names)
	if err != nil || published == "" {
		return f, err
	}
	d, err := safefile.OpenDir(s.dir, []string{published}, safefile.Limits{MaxFiles: 1, MaxFileSize: s.publishedMax, MaxTotalSize: s.publishedMax})
	if err != nil {
		return nil, s.wrap(err)
	}
	s.open = append(s.open, d)
	return publishedFiles{mediaFiles: f, name: published, d: d}, nil
}

// publishedFiles reads the published state through its own safefile.Dir
// and every other file as mediaFiles does.
type publishedFiles struct {
	mediaFiles
	name string
	d    *safefile.Dir
}

func (f publishedFiles) ReadFile(name string) ([]byte, error) {
	if name != f.name {
		return f.mediaFiles.ReadFile(name)
	}
	data, err := f.d.ReadFile(name)
	return data, f.m.wrap(err)
}

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
