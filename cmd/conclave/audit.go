package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/conclave-keys/conclave/airgap/journal"
	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/audit"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var auditCommand = &command{
	name:    "audit",
	summary: "check a finished ceremony: its log, its export, its signatures and decisions, and what was published",
	usage:   "audit CEREMONY_EXPORT [--vault VAULT] [--log DIR] [--published DIR] [--format text|json|html] [--json] [--out FILE]",
}

func init() {
	auditCommand.run = runAudit
	register(auditCommand)
}

// maxAuditFile bounds each file an audit reads: a payload of 200,000
// delegated projects, twice over (as verify's --max-size).
const maxAuditFile = defaultMaxMetadataSize

// runAudit reads the ceremony's export, its log (from the vault, or
// --log) and the vault generation it was opened on, has ceremony/audit
// check them, and prints or writes the report. Exit status 1 unless the
// audit passed.
func runAudit(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, auditCommand)
	vaultPath := fs.String("vault", "", "the vault `DIR` the ceremony ran on: the trust every signature, threshold and decision is checked against, and where the ceremony's log is kept")
	logDir := fs.String("log", "", "the ceremony's log `DIR` (log.jsonl, blobs/, head.json), when it is not taken from the vault")
	published := fs.String("published", "", "a `DIR` of metadata fetched from what the repository serves, compared with what was signed")
	format := fs.String("format", "text", "the report's `FORM`: text, json or html")
	asJSON := fs.Bool("json", false, "print a JSON report ("+audit.Format+") instead of text (the same as --format json)")
	out := fs.String("out", "", "write the report to this new `FILE` instead of the terminal (never replaced)")
	if err := parseFlags(env, auditCommand, fs, args); err != nil {
		return err
	}
	if *asJSON {
		*format = "json"
	}
	if !slices.Contains([]string{"text", "json", "html"}, *format) {
		return usagef("--format must be text, json or html, not %s", termtext.Quote(*format))
	}
	if fs.NArg() != 1 {
		return usagef("name one CEREMONY_EXPORT directory")
	}
	if *vaultPath == "" && *logDir == "" {
		return usagef("name the vault with --vault (or the ceremony's log with --log, to check its integrity alone)")
	}
	in := audit.Input{}
	var err error
	if in.Export, err = readDirFiles(fs.Arg(0), "the export"); err != nil {
		return err
	}
	if *logDir != "" {
		if err := readLogDir(*logDir, &in); err != nil {
			return err
		}
	}
	if *vaultPath != "" {
		if err := readVaultForAudit(*vaultPath, *logDir == "", &in); err != nil {
			return err
		}
	}
	if *published != "" {
		if in.Published, err = readDirFiles(*published, "the published metadata"); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	report, err := audit.Audit(ctx, in)
	if err != nil {
		return err
	}
	var doc bytes.Buffer
	switch *format {
	case "json":
		err = writeJSON(&doc, report)
	case "html":
		err = report.WriteHTML(&doc)
	default:
		err = report.WriteText(&doc)
	}
	if err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if *out == "" {
		if _, err := env.stdout.Write(doc.Bytes()); err != nil {
			return err
		}
	} else {
		if err := safefile.WriteFile(filepath.Dir(*out), filepath.Base(*out), doc.Bytes()); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s\nThe report is in %s.\n", report.VerdictLine(), termtext.Safe(*out))
	}
	if report.Verdict != audit.Pass {
		return exitError{1}
	}
	return nil
}

// readDirFiles reads every regular file of a directory (not below it),
// by name, each within maxAuditFile. Anything else in it is refused: an
// export or a set of metadata holds files only.
func readDirFiles(dir, what string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s %s: %w", what, termtext.Safe(dir), err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("%s %s holds %s, which is not a regular file", what, termtext.Safe(dir), termtext.Quote(e.Name()))
		}
		data, err := safefile.ReadNamed(filepath.Join(dir, e.Name()), maxAuditFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", what, err)
		}
		files[e.Name()] = data
	}
	return files, nil
}

// readLogDir reads a ceremony's log directory: log.jsonl, head.json when
// there is one, and blobs/.
func readLogDir(dir string, in *audit.Input) error {
	var err error
	if in.Log, err = safefile.ReadNamed(filepath.Join(dir, journal.LogName), journal.MaxLog); err != nil {
		return fmt.Errorf("cannot read the ceremony's log: %w", err)
	}
	head, err := safefile.ReadNamed(filepath.Join(dir, audit.HeadName), maxAuditFile)
	switch {
	case err == nil:
		in.Head = head
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot read the log's signed head: %w", err)
	}
	blobsDir := filepath.Join(dir, journal.BlobsName)
	if _, err := os.Lstat(blobsDir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	in.Blobs, err = readDirFiles(blobsDir, "the log's blobs")
	return err
}

// readVaultForAudit opens the vault. Unless the log was given, the log of
// the ceremony that wrote the export is taken from the current
// generation, which keeps the log of every closed ceremony
// (ceremonies/ID/). The generation the log says the ceremony was opened
// on is then opened and verified: the trust of the audit. The log and its
// blobs need no verified generation around them: the audit checks the
// log's chain, its signed head and its replay, and each blob against its
// name.
func readVaultForAudit(path string, findLog bool, in *audit.Input) error {
	vd, err := vaultdir.Open(path)
	if err != nil {
		return err
	}
	defer vd.Close()
	if findLog {
		rd, _, err := vd.Current()
		if err != nil {
			return err
		}
		err = logFromVault(rd, in)
		rd.(io.Closer).Close()
		if err != nil {
			return err
		}
	}
	gen, ok := audit.OpenedOn(in.Log)
	if !ok {
		// The audit finds the log broken at its first line; no vault
		// generation is named to check anything else against.
		return nil
	}
	if in.Vault, err = vd.OpenGeneration(gen); err != nil {
		return fmt.Errorf("the generation the ceremony was opened on: %w", err)
	}
	return nil
}

// logFromVault finds, among the logs a generation keeps, the one whose
// exported line names the export's manifest, and reads it with its blobs
// and signed head.
func logFromVault(rd vault.Reader, in *audit.Input) error {
	manifest, ok := in.Export[export.ManifestName]
	if !ok {
		return fmt.Errorf("the export holds no %s, so the ceremony that wrote it cannot be found in the vault: name its log with --log", export.ManifestName)
	}
	sum := []byte(bundle.SumHex(manifest))
	ids, err := rd.ReadDir(vault.CeremoniesDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var id string
	for _, d := range ids {
		d, isDir := strings.CutSuffix(d, "/")
		if !isDir {
			continue
		}
		log, err := rd.ReadFile(vault.CeremoniesDir + "/" + d + "/" + journal.LogName)
		if err != nil {
			return err
		}
		if !bytes.Contains(log, sum) {
			continue
		}
		if id != "" {
			return fmt.Errorf("two ceremonies of the vault, %s and %s, name this export: name the log with --log", termtext.Safe(id), termtext.Safe(d))
		}
		id, in.Log = d, log
	}
	if id == "" {
		return withHint(fmt.Errorf("no ceremony log in the vault's current generation names this export's manifest (SHA-256 %s)", sum),
			"a ceremony's log is kept in the vault once it closed; for one that did not, name its journal with --log")
	}
	dir := vault.CeremoniesDir + "/" + id + "/"
	if in.Head, err = rd.ReadFile(dir + audit.HeadName); errors.Is(err, fs.ErrNotExist) {
		in.Head = nil
	} else if err != nil {
		return err
	}
	blobs, err := rd.ReadDir(dir + journal.BlobsName)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	in.Blobs = map[string][]byte{}
	for _, b := range blobs {
		if in.Blobs[b], err = rd.ReadFile(dir + journal.BlobsName + "/" + b); err != nil {
			return err
		}
	}
	return nil
}
