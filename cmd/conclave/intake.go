package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/conclave-keys/conclave/intake"
	"github.com/conclave-keys/conclave/internal/termtext"
	"golang.org/x/term"
)

// The intake commands run on the ONLINE side (the repository, or a test):
// they write requests and bundles for the transfer media. Nothing they
// write is trusted by the ceremony until verified and approved.
var intakeCommand = &command{
	name:        "intake",
	summary:     "online side: write a delegation request, pack requests into a signed bundle, check an export before publishing it",
	usage:       "intake request|pack|check-export [flags]  (conclave intake SUBCOMMAND --help)",
	subcommands: []*command{intakeRequestCommand, intakePackCommand, intakeCheckExportCommand},
}

func init() {
	intakeRequestCommand.run = runIntakeRequest
	intakePackCommand.run = runIntakePack
	intakePackCommand.flagHints = map[string]string{
		"role": "name each delegating role with its metadata file: --delegator ROLE=FILE (once per role the ceremony signs)",
	}
	intakeCheckExportCommand.run = runIntakeCheckExport
	register(intakeCommand)
}

var intakeRequestCommand = &command{
	name:    "intake request",
	summary: "write a delegation request (docs/formats/request.md); developer keys sign the possession statement, current keys the key-change authorisation",
	usage: "intake request --kind add|rotate|remove|recover --id ID --project NAME [--key PUB]... [--threshold N]\n" +
		"         --requested-by TEXT [--delegator CLAIMED.json] [--sign-with KEYFILE]... [--authorise-with KEYFILE]...\n" +
		"         [--passphrase-file FILE] [--made TIME] --out FILE",
}

// requestKinds are the values of intake request --kind.
func requestKinds() []string {
	return []string{string(request.Add), string(request.Rotate), string(request.Remove), string(request.Recover)}
}

// runIntakeRequest writes one request file.
func runIntakeRequest(ctx context.Context, env *environment, args []string) error {
	c := intakeRequestCommand
	fs := newFlagSet(env, c)
	kind := fs.String("kind", "", "the `KIND` of request: add, rotate, remove or recover")
	id := fs.String("id", "", "the request `ID` (letters, digits, . _ -; at most 64)")
	project := fs.String("project", "", "the project `NAME` (PEP 508 characters)")
	var pubs, signWith, authWith multiFlag
	fs.Var(&pubs, "key", "a developer public `KEY` file (PEM or TUF key JSON); repeatable")
	threshold := fs.Int64("threshold", 0, "how many of the keys must sign (default: all of them)")
	by := fs.String("requested-by", "", "who asked: free `TEXT` shown to the key holders")
	fs.Var(&signWith, "sign-with", "a developer private `KEYFILE` (encrypted PKCS#8 PEM) that signs the possession statement; repeatable")
	fs.Var(&authWith, "authorise-with", "a current key's private `KEYFILE` that signs the key-change authorisation (rotate, remove); repeatable")
	delegatorPath := fs.String("delegator", "", "the metadata `FILE` of the role that delegates, or will delegate, the project (the delegating role, or the project's shard): its version is bound into the possession statement and the authorisation")
	passFile := fs.String("passphrase-file", "", "read the passphrase of the private key files from the first line of this `FILE`; without it, the passphrase is asked at the terminal and not shown")
	made := fs.String("made", "", "the `TIME` the request was made (RFC 3339); default: now")
	out := fs.String("out", "", "the request `FILE` to create (never replaced)")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if *out == "" || *id == "" || *project == "" || *kind == "" {
		return usagef("--kind, --id, --project and --out are required")
	}
	if kinds := requestKinds(); !slices.Contains(kinds, *kind) {
		ue := usageError{msg: fmt.Sprintf("--kind %q is not one of %s", *kind, strings.Join(kinds, ", "))}
		if s := suggest(*kind, kinds); s != "" {
			ue.hint = "did you mean --kind " + s + "?"
		}
		return ue
	}
	keys := make([]*tuf.Key, 0, len(pubs))
	for _, p := range pubs {
		k, err := loadPublicKey(p)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		keys = nil
	}
	th := *threshold
	if th == 0 {
		th = int64(len(keys))
	}
	when := time.Now().UTC()
	if *made != "" {
		t, err := parseTimeFlag("made", *made)
		if err != nil {
			return err
		}
		when = t
	}
	if len(signWith) > 0 && *delegatorPath == "" {
		return usagef("--sign-with needs --delegator: the possession statement is bound to its version")
	}
	if len(authWith) > 0 && *delegatorPath == "" {
		return usagef("--authorise-with needs --delegator: the authorisation is bound to its version")
	}
	var del *tuf.File
	var base int64
	if *delegatorPath != "" {
		data, err := readNamedFile(*delegatorPath)
		if err != nil {
			return err
		}
		if del, err = tuf.Parse(*delegatorPath, data); err != nil {
			return err
		}
		if del.Targets == nil {
			return fmt.Errorf("%s: not targets metadata", *delegatorPath)
		}
		base = del.Version()
	}
	d, err := intake.NewDraft(intake.Request{ID: *id, Kind: request.Kind(*kind), Project: *project, Keys: keys, Threshold: th, Made: when, RequestedBy: *by, BaseVersion: base})
	if err != nil {
		// Everything NewDraft checks came from a flag.
		return usageError{msg: err.Error()}
	}
	var pass []byte
	if len(signWith)+len(authWith) > 0 {
		if pass, err = readPassphrase(*passFile, "the private key files ("+strings.Join(append(append([]string{}, signWith...), authWith...), ", ")+")"); err != nil {
			return err
		}
	}
	if len(signWith) > 0 {
		signers, err := loadSigners(signWith, pass)
		if err != nil {
			return err
		}
		if err := intake.SignPossession(d, signers); err != nil {
			return err
		}
	}
	if len(authWith) > 0 {
		name, err := request.Normalize(*project, 1<<10)
		if err != nil {
			return err
		}
		var role *tuf.DelegatedRole
		if del.Targets.Delegations != nil {
			for _, r := range del.Targets.Delegations.Roles {
				// A delegation whose name is no project name matches none.
				if n, err := request.Normalize(r.Name, 1<<10); err != nil || n != name {
					continue
				}
				if role != nil {
					return fmt.Errorf("%s delegates project %s twice (as %s and %s): which keys authorise the change is unclear", termtext.Safe(*delegatorPath), termtext.Quote(name), termtext.Quote(role.Name), termtext.Quote(r.Name))
				}
				role = r
			}
		}
		if role == nil {
			return fmt.Errorf("%s does not delegate project %s", termtext.Safe(*delegatorPath), termtext.Quote(name))
		}
		var newKeys []*tuf.Key
		if d.Kind != request.Remove {
			newKeys = keys
		}
		envl, err := intake.KeyChange(name, del.Version(), role, newKeys, th)
		if err != nil {
			return err
		}
		signers, err := loadSigners(authWith, pass)
		if err != nil {
			return err
		}
		for _, s := range signers {
			if err := intake.SignEnvelope(envl, s); err != nil {
				return err
			}
		}
		d.Authorisation = envl
	}
	if err := safefile.CreateNew(*out, d.Encode()); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s request %s for %s to %s\n", termtext.Safe(string(d.Kind)), termtext.Safe(d.ID), termtext.Safe(d.Project), termtext.Safe(*out))
	return nil
}

var intakePackCommand = &command{
	name:    "intake pack",
	summary: "pack requests into a bundle directory of batch files, the manifest signed by the intake key (transport integrity only)",
	usage: "intake pack --id BUNDLE-ID --source REPOSITORY --delegator ROLE=FILE... --intake-key KEYFILE [--passphrase-file FILE] [--published FILE] --out DIR REQUEST.json|DIR|-...\n" +
		"         (a DIR gives every *.json request file in it, in name order; - reads requests from standard input, one a line)",
}

// runIntakePack writes a bundle directory.
func runIntakePack(ctx context.Context, env *environment, args []string) error {
	c := intakePackCommand
	fs := newFlagSet(env, c)
	id := fs.String("id", "", "the bundle `ID` (unique: a bundle is imported once)")
	source := fs.String("source", "", "the `REPOSITORY`'s name")
	var delegators multiFlag
	fs.Var(&delegators, "delegator", "`ROLE=FILE`: a delegating role and its metadata file the requests were made against (its version and SHA-256 go in the manifest); once per role the ceremony signs, the delegating role (claimed=7.claimed.json) or each shard")
	keyFile := fs.String("intake-key", "", "the intake private `KEYFILE` (encrypted PKCS#8 PEM)")
	passFile := fs.String("passphrase-file", "", "read the intake key's passphrase from the first line of this `FILE`; without it, the passphrase is asked at the terminal and not shown")
	published := fs.String("published", "", "the repository's published state `FILE` (conclave-published/1 JSON)")
	out := fs.String("out", "", "the bundle `DIR` to create (never an existing one)")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if *id == "" || *source == "" || len(delegators) == 0 || *keyFile == "" || *out == "" {
		return usagef("--id, --source, --delegator, --intake-key and --out are required")
	}
	if fs.NArg() == 0 {
		return usagef("name at least one REQUEST file, a DIR of them, or - to read requests from standard input")
	}
	if _, err := os.Lstat(*out); err == nil {
		return usagef("--out %s is already there: name a new directory, the bundle's", termtext.Safe(*out))
	}
	var bases []bundle.Base
	for _, d := range delegators {
		role, path, ok := strings.Cut(d, "=")
		if !ok || role == "" || path == "" {
			return usagef("--delegator %s: write ROLE=FILE, such as claimed=7.claimed.json", termtext.Quote(d))
		}
		if slices.ContainsFunc(bases, func(b bundle.Base) bool { return b.Role == role }) {
			return usagef("--delegator: role %s is named twice", termtext.Safe(role))
		}
		data, err := readNamedFile(path)
		if err != nil {
			return err
		}
		del, err := tuf.Parse(path, data)
		if err != nil {
			return err
		}
		bases = append(bases, bundle.Base{Role: role, Version: del.Version(), SHA256: bundle.SumHex(data)})
	}
	pass, err := readPassphrase(*passFile, "the intake key "+*keyFile)
	if err != nil {
		return err
	}
	signers, err := loadSigners([]string{*keyFile}, pass)
	if err != nil {
		return err
	}
	p := &intake.Pack{
		BundleID: *id, Source: *source, Created: time.Now().UTC(),
		Bases:  bases,
		Intake: signers[0],
	}
	r := rules.Default()
	lim := request.Limits{MaxDepth: r.MaxJSONDepth, MaxProjectName: r.MaxProjectName, MaxRequestedBy: r.MaxRequestedBy, MaxKeys: r.MaxKeys}
	if p.Requests, err = packRequests(ctx, env, fs.Args(), lim, r.MaxRequestSize); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return interrupted("nothing was written; %s was not made", *out)
		}
		return err
	}
	if *published != "" {
		data, err := readNamedFile(*published)
		if err != nil {
			return err
		}
		if p.Published, err = bundle.ParsePublished(data, r.MaxJSONDepth, r.MaxProjectName); err != nil {
			return fmt.Errorf("%s: %w", *published, err)
		}
	}
	prog := startProgress(env, "writing the bundle", 0)
	err = p.WriteContext(ctx, *out)
	prog.Done()
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return interrupted("removed the half-made bundle %s", *out)
	}
	if ce := (*bundle.CheckError)(nil); errors.As(err, &ce) {
		// What --id or --source says breaks the format: nothing was written.
		return usageError{msg: err.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote bundle %s with %s to %s\n", termtext.Safe(*id), termtext.Plural(len(p.Requests), "request"), termtext.Safe(*out))
	return nil
}

// packRequests reads the requests named by args — request files,
// directories of them, and "-" for JSON Lines on standard input — each as
// a batch line (intake.Line), in the order given. A request Conclave would
// not read, or a second request with an id already given, is refused with
// where both came from: the ceremony would judge neither. A file named
// twice, and standard input that holds no request, are usage errors.
func packRequests(ctx context.Context, env *environment, args []string, lim request.Limits, maxLine int64) ([][]byte, error) {
	var out [][]byte
	seen := map[string]string{}
	add := func(data []byte, where string) error {
		line, id, err := intake.Line(data, lim)
		if err != nil {
			return refused(fmt.Errorf("%s: %w", termtext.Safe(where), err))
		}
		if first, ok := seen[id]; ok {
			return refused(fmt.Errorf("%s: request id %s is also the id of %s; each request of a bundle has its own id", termtext.Safe(where), termtext.Quote(id), termtext.Safe(first)))
		}
		seen[id] = where
		out = append(out, line)
		return nil
	}
	stdinRead, named := false, map[string]bool{}
	for _, arg := range args {
		if arg == "-" {
			if stdinRead {
				return nil, usagef("- (standard input) is named twice")
			}
			stdinRead = true
			before := len(out)
			if err := readJSONLines(ctx, env.stdin, maxLine, add); err != nil {
				return nil, err
			}
			if len(out) == before {
				// A pipe from a command that failed brings nothing: an
				// empty bundle would only hide it.
				return nil, usagef("standard input holds no request (JSON Lines: one request a line)")
			}
			continue
		}
		names := []string{arg}
		if st, err := os.Stat(arg); err == nil && st.IsDir() {
			entries, err := os.ReadDir(arg)
			if err != nil {
				return nil, err
			}
			names = names[:0]
			for _, e := range entries { // in name order
				if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
					names = append(names, filepath.Join(arg, e.Name()))
				}
			}
			if len(names) == 0 {
				return nil, usagef("the directory %s holds no request file (*.json)", termtext.Safe(arg))
			}
		}
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if named[filepath.Clean(name)] {
				return nil, usagef("%s is named twice", termtext.Safe(name))
			}
			named[filepath.Clean(name)] = true
			data, err := readNamedFile(name)
			if err != nil {
				// A directory, device or pipe named *.json in a DIR given
				// is not a request file: nothing was judged.
				return nil, namedWrong(err)
			}
			if err := add(data, name); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// readJSONLines passes each line of r to add, named "standard input, line
// N". A line may end in LF or CR LF; empty lines are skipped. A line
// longer than maxLine bytes is refused: the ceremony would refuse it.
func readJSONLines(ctx context.Context, r io.Reader, maxLine int64, add func(data []byte, where string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), int(maxLine)+2) // the line, CR and LF
	n := 0
	for sc.Scan() {
		n++
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if len(sc.Bytes()) == 0 {
			continue
		}
		if int64(len(sc.Bytes())) > maxLine {
			return refused(fmt.Errorf("standard input, line %d: longer than %d bytes, the most a request may be", n, maxLine))
		}
		if err := add(sc.Bytes(), fmt.Sprintf("standard input, line %d", n)); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return refused(fmt.Errorf("standard input, line %d: longer than %d bytes, the most a request may be", n+1, maxLine))
	}
	if sc.Err() != nil {
		return fmt.Errorf("read standard input: %w", sc.Err())
	}
	return nil
}

var intakeCheckExportCommand = &command{
	name:    "intake check-export",
	summary: "check that an export directory from the ceremony holds exactly the canonical files its manifest lists, and nothing else, before publishing it",
	usage:   "intake check-export EXPORT-DIR",
}

// runIntakeCheckExport checks an export; one that is not exact is refused
// (exit status 1) and must not be published.
func runIntakeCheckExport(ctx context.Context, env *environment, args []string) error {
	c := intakeCheckExportCommand
	fs := newFlagSet(env, c)
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("name exactly one EXPORT-DIR")
	}
	dir := fs.Arg(0)
	if err := readableDir("the export directory", dir); err != nil {
		return err
	}
	listing, err := checkExport(dir)
	if err != nil {
		return refused(withHint(err, "do not publish this export: ask the key holders for a fresh copy"))
	}
	for _, l := range listing {
		fmt.Fprintf(env.stdout, "%s  %s  sha256 %s\n", termtext.Safe(l.Name), termtext.Plural(int(l.Size), "byte"), l.SHA256)
	}
	fmt.Fprintf(env.stdout, "export %s: exact; %s as listed, nothing else\n", termtext.Safe(dir), termtext.Plural(len(listing), "file"))
	return nil
}

// readPassphrase reads the passphrase of what (named in the prompt): the
// first line of the file at path, or, without one, typed at the terminal
// with no echo. The terminal is the controlling one (/dev/tty), not stdin,
// as ssh and gpg do, so that input piped to the command is never taken
// for a passphrase.
func readPassphrase(path, what string) ([]byte, error) {
	if path != "" {
		data, err := readNamedFile(path)
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		return bytes.TrimSuffix(line, []byte("\r")), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		if tty != nil {
			tty.Close()
		}
		return nil, usageError{
			msg:  "give the passphrase of " + what + " with --passphrase-file FILE",
			hint: "or run the command at a terminal, which asks for it without showing it",
		}
	}
	defer tty.Close()
	fmt.Fprintf(tty, "passphrase of %s: ", termtext.Safe(what))
	pass, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("read the passphrase from the terminal: %w", err)
	}
	if len(pass) == 0 {
		return nil, usagef("the passphrase is empty")
	}
	return pass, nil
}

func loadSigners(paths []string, pass []byte) ([]intake.Signer, error) {
	out := make([]intake.Signer, 0, len(paths))
	for _, p := range paths {
		data, err := readNamedFile(p)
		if err != nil {
			return nil, err
		}
		var s crypto.Signer
		if s, err = softkey.Parse(data, pass); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		is, err := intake.NewSigner(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, is)
	}
	return out, nil
}
