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
	usage: "audit CEREMONY_EXPORT [--vault VAULT]... [--log DIR]... [--published DIR] [--format text|json|html] [--json] [--out FILE]\n" +
		"       (a ceremony signed at several sites: --vault once for each site's vault, or --log once for each site's log)",
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
	var vaults, logs multiFlag
	fs.Var(&vaults, "vault", "the vault `DIR` the ceremony ran on: the trust every signature, threshold and decision is checked against, and where the ceremony's log is kept; once for each site's vault of a ceremony signed at several sites")
	fs.Var(&logs, "log", "the ceremony's log `DIR` (log.jsonl, blobs/, head.json), when it is not taken from the vault; once for each site's log of a ceremony signed at several sites")
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
	if len(vaults) == 0 && len(logs) == 0 {
		return usagef("name the vault with --vault (or the ceremony's log with --log, to check its integrity alone)")
	}
	in := audit.Input{}
	var err error
	if in.Export, err = readDirFiles(fs.Arg(0), "the export"); err != nil {
		return err
	}
	if err := readAuditSites(vaults, logs, &in); err != nil {
		return err
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

// readAuditSites reads the log of every site and the vault generation
// each was opened on. Unless the logs are named with --log, they are taken
// from the vaults' current generations, which keep the log of every
// closed ceremony (ceremonies/ID/): the log whose exported line names the
// export's manifest, and in each other vault the log of the same
// ceremony id. The log naming the manifest is the export's site; the
// others are in.Sites. Each log is checked against the generation its
// first line names, in the vault holding it with the hash the line
// records: the trust of the audit. The logs and their blobs need no
// verified generation around them: the audit checks each log's chain,
// its signed head and its replay, and each blob against its name.
func readAuditSites(vaults, logs []string, in *audit.Input) error {
	var sites []audit.Site
	if len(logs) > 0 {
		for _, dir := range logs {
			var one audit.Input
			if err := readLogDir(dir, &one); err != nil {
				return fmt.Errorf("%s: %w", termtext.Safe(dir), err)
			}
			sites = append(sites, audit.Site{Log: one.Log, Blobs: one.Blobs, Head: one.Head})
		}
	} else {
		var err error
		if sites, err = logsFromVaults(vaults, in.Export); err != nil {
			return err
		}
	}
	main := 0
	if manifest, ok := in.Export[export.ManifestName]; ok {
		sum := []byte(bundle.SumHex(manifest))
		if i := slices.IndexFunc(sites, func(s audit.Site) bool { return bytes.Contains(s.Log, sum) }); i > 0 {
			main = i
		}
	}
	for i := range sites {
		var err error
		if sites[i].Vault, err = openedVault(vaults, sites[i].Log); err != nil {
			return err
		}
	}
	in.Log, in.Blobs, in.Head, in.Vault = sites[main].Log, sites[main].Blobs, sites[main].Head, sites[main].Vault
	in.Sites = slices.Delete(sites, main, main+1)
	return nil
}

// openedVault opens the generation a log's first line names, from the
// vault that holds it with the hash the line records, or else from the
// first that holds a generation of that name (the replay then finds the
// vault is not the one the log names). Nil when no vault is given or the
// first line names none: the audit finds the log broken at its first
// line, with no generation named to check anything else against.
func openedVault(vaults []string, log []byte) (*vault.Vault, error) {
	gen, hash, ok := audit.OpenedOnHash(log)
	if !ok || len(vaults) == 0 {
		return nil, nil
	}
	var first *vault.Vault
	var firstErr error
	for _, path := range vaults {
		v, err := openGeneration(path, gen)
		switch {
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
		case v.Hash == hash:
			return v, nil
		case first == nil:
			first = v
		}
	}
	if first == nil {
		return nil, fmt.Errorf("the generation the ceremony was opened on: %w", firstErr)
	}
	return first, nil
}

func openGeneration(path, gen string) (*vault.Vault, error) {
	vd, err := vaultdir.Open(path)
	if err != nil {
		return nil, err
	}
	defer vd.Close()
	return vd.OpenGeneration(gen)
}

// logsFromVaults reads, from the vaults' current generations, the log of
// the ceremony that wrote the export (the one whose exported line names
// its manifest) and, from every other vault, the log of the same
// ceremony id: each site keeps its own.
func logsFromVaults(vaults []string, exported map[string][]byte) ([]audit.Site, error) {
	manifest, ok := exported[export.ManifestName]
	if !ok {
		return nil, fmt.Errorf("the export holds no %s, so the ceremony that wrote it cannot be found in the vault: name its log with --log", export.ManifestName)
	}
	sum := []byte(bundle.SumHex(manifest))
	readers := make([]vault.Reader, len(vaults))
	for i, path := range vaults {
		vd, err := vaultdir.Open(path)
		if err != nil {
			return nil, err
		}
		rd, _, err := vd.Current()
		vd.Close()
		if err != nil {
			return nil, err
		}
		defer rd.(io.Closer).Close()
		readers[i] = rd
	}
	id, at := "", -1
	for i, rd := range readers {
		found, err := exportLog(rd, sum)
		if err != nil {
			return nil, fmt.Errorf("vault %s: %w", termtext.Safe(vaults[i]), err)
		}
		if found == "" {
			continue
		}
		if at >= 0 {
			return nil, fmt.Errorf("vaults %s and %s both keep a log naming this export: name the logs with --log", termtext.Safe(vaults[at]), termtext.Safe(vaults[i]))
		}
		id, at = found, i
	}
	if at < 0 {
		return nil, withHint(fmt.Errorf("no ceremony log in the vault's current generation names this export's manifest (SHA-256 %s)", sum),
			"a ceremony's log is kept in the vault once it closed; for one that did not, name its journal with --log")
	}
	sites := make([]audit.Site, len(readers))
	for i, rd := range readers {
		var err error
		if sites[i], err = vaultLog(rd, id); errors.Is(err, fs.ErrNotExist) {
			return nil, withHint(fmt.Errorf("vault %s keeps no log of ceremony %s in its current generation", termtext.Safe(vaults[i]), termtext.Safe(id)),
				"name the vault of each site that signed the ceremony, or each site's log with --log")
		} else if err != nil {
			return nil, fmt.Errorf("vault %s: %w", termtext.Safe(vaults[i]), err)
		}
	}
	return sites, nil
}

// exportLog finds, among the logs a generation keeps, the one whose
// exported line names the export's manifest hash, and returns its
// ceremony id ("" for none).
func exportLog(rd vault.Reader, sum []byte) (string, error) {
	ids, err := rd.ReadDir(vault.CeremoniesDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var id string
	for _, d := range ids {
		d, isDir := strings.CutSuffix(d, "/")
		if !isDir {
			continue
		}
		log, err := rd.ReadFile(vault.CeremoniesDir + "/" + d + "/" + journal.LogName)
		if err != nil {
			return "", err
		}
		if !bytes.Contains(log, sum) {
			continue
		}
		if id != "" {
			return "", fmt.Errorf("two ceremonies of the vault, %s and %s, name this export: name the log with --log", termtext.Safe(id), termtext.Safe(d))
		}
		id = d
	}
	return id, nil
}

// vaultLog reads a ceremony's log from a generation, with its blobs and
// signed head.
func vaultLog(rd vault.Reader, id string) (audit.Site, error) {
	var s audit.Site
	dir := vault.CeremoniesDir + "/" + id + "/"
	var err error
	if s.Log, err = rd.ReadFile(dir + journal.LogName); err != nil {
		return s, err
	}
	if s.Head, err = rd.ReadFile(dir + audit.HeadName); errors.Is(err, fs.ErrNotExist) {
		s.Head = nil
	} else if err != nil {
		return s, err
	}
	blobs, err := rd.ReadDir(dir + journal.BlobsName)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	s.Blobs = map[string][]byte{}
	for _, b := range blobs {
		if s.Blobs[b], err = rd.ReadFile(dir + journal.BlobsName + "/" + b); err != nil {
			return s, err
		}
	}
	return s, nil
}
