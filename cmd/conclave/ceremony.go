package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/conclave-keys/conclave/airgap/journal"
	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	pgpwords "github.com/conclave-keys/conclave/ceremony/words"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var ceremonyCommand = &command{
	name:    "ceremony",
	summary: "run a whole ceremony (import, decisions, build, signatures, export, close): in the terminal program, or from a script with PINs from --pin-fd or the terminal; --resume continues one",
	usage: "ceremony --vault DIR --in BUNDLE --out DIR [--present] [--high-contrast] [--softkey-dir DIR]\n" +
		"       conclave ceremony --vault DIR --in BUNDLE --out DIR --script FILE.yaml [--export-partial] [--pin-fd N] [--softkey-dir DIR]\n" +
		"       conclave ceremony --resume LOG --out DIR [--script FILE.yaml] [--export-partial] [--vault DIR] [--in BUNDLE] [--pin-fd N] [--softkey-dir DIR]\n" +
		"       conclave ceremony --resume LOG --abandon REASON --by NAME [--vault DIR]",
}

func init() {
	ceremonyCommand.run = runCeremony
	register(ceremonyCommand)
}

// killHookEnv names a TEST HOOK: when set to k, the process kills itself
// with SIGKILL right after the k-th line it appends to the ceremony's log
// is durable. The tests use it to crash a ceremony at every line and
// check that --resume loses nothing. It does nothing else, and nothing
// outside the tests sets it.
const killHookEnv = "CONCLAVE_TEST_HOOK_KILL_AFTER_APPEND"

// runCeremony reads the command line and the script, then runs the
// ceremony (runHeadless).
func runCeremony(ctx context.Context, env *environment, args []string) error {
	c := ceremonyCommand
	fs := newFlagSet(env, c)
	vaultPath := fs.String("vault", "", "the vault `DIR` (its current generation is opened and verified)")
	in := fs.String("in", "", "the `BUNDLE` directory on the transfer medium (with --resume, only when the log stopped before the bundle was read: afterwards the log keeps its copy)")
	out := fs.String("out", "", "the export `DIR` on the transfer medium: new, or empty")
	scriptPath := fs.String("script", "", "the ceremony script `FILE.yaml` (docs/ceremony-script.md)")
	resume := fs.String("resume", "", "continue the ceremony whose log is `LOG` (its journal directory VAULT/journal/ID, or the log.jsonl in it)")
	softkeys := fs.String("softkey-dir", "", "the software key store `DIR` of a rehearsal policy's softkey:name=NAME keys (INSECURE keys: rehearsals only)")
	exportPartial := fs.Bool("export-partial", false, "with --script: when the holders the script names do not meet every threshold, export the partly signed ceremony to --out for another site to continue (docs/two-sites.md)")
	pinFD := fs.Int("pin-fd", -1, "with --script: read each PIN, one line each in the order the tokens ask, from the open file descriptor `N` (3 or more); without it, PINs are typed at the terminal, not shown")
	present := fs.Bool("present", false, "without --script: the projector mode of the terminal program (high contrast, for a room reading from a distance)")
	contrast := fs.Bool("high-contrast", false, "without --script: the high-contrast theme of the terminal program")
	abandon := fs.String("abandon", "", "with --resume: abandon the ceremony for this `REASON` (recorded in its log): nothing is exported, the versions it built are burned (docs/ceremony.md)")
	by := fs.String("by", "", "with --abandon: the `NAME` of the participant or witness of the ceremony who abandons it")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("ceremony takes no arguments: name the bundle with --in")
	}
	abandoning := false
	fs.Visit(func(f *flag.Flag) { abandoning = abandoning || f.Name == "abandon" || f.Name == "by" })
	if abandoning {
		if *in != "" || *out != "" || *scriptPath != "" || *exportPartial || *pinFD >= 0 || *present || *contrast || *softkeys != "" {
			return usagef("--abandon takes only --resume LOG, --by NAME and --vault DIR: an abandoned ceremony reads no bundle, exports nothing and signs nothing")
		}
		return runAbandon(ctx, env, *vaultPath, *resume, *abandon, *by)
	}
	switch {
	case *out == "":
		return usagef("--out is required")
	case *resume == "" && (*vaultPath == "" || *in == ""):
		return usagef("name --vault and --in (a new ceremony), or --resume LOG (continue one)")
	case *scriptPath == "" && *pinFD >= 0:
		return usagef("--pin-fd is for a scripted ceremony (--script): the terminal program asks each PIN in its own field")
	case *scriptPath != "" && (*present || *contrast):
		return usagef("--present and --high-contrast are for the terminal program, which runs without --script")
	case *scriptPath == "" && *exportPartial:
		return usagef("--export-partial is for a scripted ceremony (--script)")
	}
	if *scriptPath == "" {
		_, err := runProgram(ctx, env, programOptions{Vault: *vaultPath, In: *in, Out: *out, Resume: *resume, SoftkeyDir: *softkeys, Present: *present, HighContrast: *contrast})
		return err
	}
	data, err := readNamedFile(*scriptPath)
	if err != nil {
		return fmt.Errorf("read the script: %w", err)
	}
	sc, err := parseScript(*scriptPath, data)
	if err != nil {
		return refused(err)
	}
	pins, err := openPINInput(*pinFD, env.stderr)
	if err != nil {
		return err
	}
	defer pins.Close()
	o := headlessOptions{Vault: *vaultPath, In: *in, Out: *out, Resume: *resume, Script: sc, Prompts: pins.prompts, Notice: env.stderr, SoftkeyDir: *softkeys, ExportPartial: *exportPartial}
	if v := os.Getenv(killHookEnv); v != "" {
		if o.killAfter, err = strconv.Atoi(v); err != nil || o.killAfter < 1 {
			return fmt.Errorf("%s=%q is not a line number", killHookEnv, v)
		}
	}
	_, err = runHeadless(ctx, env, o)
	return err
}

// headlessOptions are what a headless ceremony runs with.
type headlessOptions struct {
	// Vault is the vault directory; with Resume it may be empty (the
	// journal lives in the vault, VAULT/journal/ID).
	Vault string
	// In is the bundle directory; on resume, needed only when the log
	// stopped before the bundle was read.
	In string
	// Out is the export directory.
	Out string
	// Resume is the journal directory (or its log) of a ceremony to
	// continue.
	Resume string
	Script *script
	// Prompts returns the callbacks for one holder's token.
	Prompts func(holder string) hsm.Prompts
	// Notice is where requests to the people in the room go (PIN asked,
	// "insert … again").
	Notice io.Writer
	// SoftkeyDir is the key store of a rehearsal's software keys.
	SoftkeyDir string
	// ExportPartial exports a partial when the holders who sign here do
	// not meet every threshold (docs/two-sites.md).
	ExportPartial bool
	// Join, at a next site, holds the partial read from the transfer
	// medium (readPartial), by file name; ID is then its ceremony id and
	// ConfirmDigest the summary digest the first site read out.
	Join          map[string][]byte
	ID            string
	ConfirmDigest string
	// killAfter is the test hook of killHookEnv (0: off).
	killAfter int
}

// headlessResult says where everything went.
type headlessResult struct {
	CeremonyID string
	Journal    string
	Export     string
	Generation string
	Head       string
	Lines      int64
	// generationHash is the hash of the generation written (its
	// manifest's SHA-256).
	generationHash string
}

// runHeadless runs a ceremony from its script, or continues one from its
// log, to its close: every step the log already holds is replayed, not
// done again (no decision taken twice, no version built twice, no holder
// asked to sign again).
func runHeadless(ctx context.Context, env *environment, o headlessOptions) (*headlessResult, error) {
	sc := o.Script
	r, err := openCeremony(ceremonyOptions{
		Vault: o.Vault, In: o.In, Out: o.Out, Resume: o.Resume, ID: o.ID,
		Check: func(v *vault.Vault) error {
			if err := checkRehearsal(sc, v.Policy); err != nil {
				return err
			}
			return checkSigners(sc, v.Policy)
		},
		Opening: session.Opening{
			Rehearsal:       sc.Rehearsal != "",
			RehearsalReason: sc.Rehearsal,
			Participants:    sc.Participants,
			Witnesses:       sc.Witnesses,
		},
		Prompts:    o.Prompts,
		Notice:     o.Notice,
		SoftkeyDir: o.SoftkeyDir,
		Wait:       holders.Wait{Retries: sc.TokenRetries, Delay: sc.TokenDelay},
		killAfter:  o.killAfter,
	})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &headlessResult{CeremonyID: r.ID, Journal: r.Journal, Export: o.Out}
	switch {
	case r.Ended:
		fmt.Fprintf(env.stdout, "ceremony %s has ended: the vault's current generation %s holds its log\n", termtext.Safe(r.ID), termtext.Safe(r.V.Generation))
		printGeneration(env.stdout, r.V.Generation, r.V.Hash)
		res.Export, res.Generation = "", r.V.Generation
		return res, nil
	case o.Resume != "":
		fmt.Fprintf(env.stdout, "Resuming ceremony %s: %s replayed, state %s", termtext.Safe(r.ID), termtext.Plural(r.Replayed, "line"), r.S.State())
		if r.Cut > 0 {
			fmt.Fprintf(env.stdout, " (a torn last line of %s was cut)", termtext.Plural(r.Cut, "byte"))
		}
		fmt.Fprintln(env.stdout)
	default:
		fmt.Fprintf(env.stdout, "Ceremony %s opened on vault generation %s\n  its log: %s\n", termtext.Safe(r.ID), termtext.Safe(r.V.Generation), termtext.Safe(r.Journal))
	}
	s := r.S
	d := &driver{ctx: ctx, env: env, o: o, s: s, r: r, res: res}
	if err := d.run(); err != nil {
		if s.State() != session.StateClosed && s.State() != session.StateAbandoned {
			how := "conclave ceremony --resume %s --script FILE --out DIR"
			if s.Joined() || o.Join != nil {
				how = "conclave sign --resume %s --in PARTIAL --script FILE --out DIR --confirm-digest DIGEST"
			}
			err = addHint(err, fmt.Sprintf("the ceremony stopped in state %s, everything done is in its log; continue it with: "+how,
				s.State(), shellQuote(r.Journal)))
		}
		return res, err
	}
	return res, nil
}

// holdsLog reports whether the vault's generation keeps the log of the
// ceremony id, which therefore ended.
func holdsLog(v *vault.Vault, id string) bool {
	name := vault.CeremoniesDir + "/" + id + "/" + journal.LogName
	return slices.ContainsFunc(v.Files(), func(f vault.File) bool { return f.Name == name })
}

// addHint adds a hint line to err, after the hints it has.
func addHint(err error, hint string) error {
	var he *hintError
	if errors.As(err, &he) {
		he.hint += "\n" + hint
		return err
	}
	return withHint(err, hint)
}

// ceremonyPaths finds the vault and, on resume, the journal directory.
func ceremonyPaths(o ceremonyOptions) (vaultPath, journalDir string, err error) {
	if o.Resume == "" {
		return o.Vault, "", nil
	}
	journalDir = filepath.Clean(o.Resume)
	if filepath.Base(journalDir) == journal.LogName {
		journalDir = filepath.Dir(journalDir)
	}
	abs, err := filepath.Abs(journalDir)
	if err != nil {
		return "", "", err
	}
	parent := filepath.Dir(abs)
	if filepath.Base(parent) != vaultdir.JournalDirName {
		return "", "", usagef("--resume %s: a ceremony's log is in VAULT/%s/ID; this is not such a directory", o.Resume, vaultdir.JournalDirName)
	}
	owner := filepath.Dir(parent)
	if o.Vault != "" {
		named, err := filepath.Abs(o.Vault)
		if err != nil {
			return "", "", err
		}
		if named != owner {
			return "", "", usagef("--resume %s is the log of a ceremony of vault %s, not of --vault %s", o.Resume, owner, o.Vault)
		}
	}
	return owner, abs, nil
}

// checkOut checks the export directory before anything is signed: it
// goes on the transfer medium, so it is neither the vault nor anywhere in
// it (by the directories themselves, whatever path names them); no
// component of its path is a symbolic link; and a new ceremony's is new
// or empty. A resumed ceremony's may hold the export already written
// before a crash, which the export step compares with its own.
func checkOut(out, vaultPath string, resume bool) error {
	var vst syscall.Stat_t
	if err := syscall.Stat(vaultPath, &vst); err == nil {
		abs, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		for p := abs; ; p = filepath.Dir(p) {
			var st syscall.Stat_t
			if syscall.Stat(p, &st) == nil && st.Dev == vst.Dev && st.Ino == vst.Ino {
				return usagef("--out %s is in the vault %s: the export goes on the transfer medium, and nothing but the ceremony's own files is written into the vault", out, vaultPath)
			}
			if p == filepath.Dir(p) {
				break
			}
		}
	}
	err := safefile.CheckExportDir(out)
	if resume && errors.Is(err, safefile.ErrNotEmpty) {
		return nil
	}
	if errors.Is(err, safefile.ErrNotEmpty) {
		return withHint(err, "name a new directory on the transfer medium with --out; nothing was signed")
	}
	return err
}

// checkBundleDir checks that --in names a bundle before the ceremony
// opens its log: a directory holding a bundle's manifest. An export, a
// vault or another directory named by mistake is a mistake in the
// command line, not a bundle to refuse (a refused bundle ends the
// ceremony). What the manifest holds is judged by the import.
func checkBundleDir(dir string) error {
	if err := readableDir("the bundle directory", dir); err != nil {
		return err
	}
	has := func(name string) bool {
		_, err := os.Lstat(filepath.Join(dir, name))
		return err == nil
	}
	switch {
	case has(bundle.ManifestName):
		return nil
	case has(export.ManifestName):
		return usagef("--in %s is the export of a ceremony (it holds %s), not a bundle: name the bundle directory the online side packed (it holds %s)", dir, export.ManifestName, bundle.ManifestName)
	case has(vaultdir.CurrentFile):
		return usagef("--in %s is a vault (it holds %s), not a bundle: name the vault with --vault, and the bundle directory with --in", dir, vaultdir.CurrentFile)
	}
	return usagef("--in %s holds no %s, so it is not a bundle: name the bundle directory the online side packed", dir, bundle.ManifestName)
}

// checkSigners refuses, before the ceremony opens its log, a script
// whose signing or close.sign_head names someone the vault's policy does
// not list as a holder: the ceremony would otherwise stop there, after
// the review.
func checkSigners(sc *script, p *policy.Policy) error {
	for _, l := range []struct {
		field string
		names []string
	}{{"signing", sc.Signing}, {"close.sign_head", sc.SignHead}, {"waive_notice", waiverHolders(sc)}} {
		for _, name := range l.names {
			if !slices.ContainsFunc(p.Holders, func(h policy.Holder) bool { return h.Name == name }) {
				return refused(fmt.Errorf("%s: %s is not a holder of the vault's policy (its holders: %s)", l.field, termtext.Quote(name), holderNames(p)))
			}
		}
	}
	return nil
}

// waiverHolders are the holders every waiver of the script names.
func waiverHolders(sc *script) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(sc.Waivers)) {
		out = append(out, sc.Waivers[id].Holders...)
	}
	return out
}

// holderNames lists the policy's holders for a message.
func holderNames(p *policy.Policy) string {
	names := make([]string, len(p.Holders))
	for i, h := range p.Holders {
		names[i] = h.Name
	}
	return strings.Join(names, ", ")
}

// checkRehearsal matches the script and the vault: a rehearsal runs on a
// rehearsal vault, with its reason; a given clock is for rehearsals only.
func checkRehearsal(sc *script, p *policy.Policy) error {
	switch {
	case p.Rehearsal && sc.Rehearsal == "":
		return refused(withHint(errors.New("the vault's policy is a rehearsal policy, and the script does not say this is a rehearsal"),
			"add rehearsal: REASON to the script (docs/ceremony-script.md)"))
	case !p.Rehearsal && sc.Rehearsal != "":
		return refused(errors.New("the script says this is a rehearsal, but the vault is a production vault: a rehearsal runs on a rehearsal vault, never on the one that signs for real"))
	case !p.Rehearsal && !sc.ConfirmSystemClock:
		return refused(errors.New("the script gives the time (clock.time), which only a rehearsal may do: a production ceremony confirms the system clock (clock: {confirm: system})"))
	}
	return nil
}

// newCeremonyID names a new ceremony: the UTC time it began and a random
// suffix, so that two ceremonies never share a journal.
func newCeremonyID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:]), nil
}

// conclaveVersion is the module version the binary was built from.
func conclaveVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(unknown)"
}

// killHook is the TEST HOOK of killHookEnv.
type killHook struct {
	a transcript.Appender
	n int
	k int
}

func (h *killHook) Append(line []byte) error {
	err := h.a.Append(line)
	h.n++
	if h.n == h.k {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL cannot be caught: the process ends here
	}
	return err
}

// sessionTokens gives the session the holders' tokens.
type sessionTokens struct{ t *holders.Tokens }

func (s sessionTokens) Signer(ctx context.Context, h policy.Holder, k policy.HolderKey) (session.Signer, error) {
	signer, err := s.t.Signer(ctx, h, k)
	if err != nil {
		return nil, err
	}
	return signer, nil
}

// driver runs a ceremony's steps from where its session stands.
type driver struct {
	ctx context.Context
	env *environment
	o   headlessOptions
	s   *session.Session
	r   *ceremonyRun
	res *headlessResult
}

// run takes the ceremony from its state to its close. Each step is
// skipped when the log already holds it.
func (d *driver) run() error {
	for {
		if err := d.ctx.Err(); err != nil {
			return interrupted("the ceremony stopped at a safe point, in state %s; everything done is in its log", d.s.State())
		}
		var err error
		switch d.s.State() {
		case session.StatePreflight:
			err = d.preflight()
		case session.StateImport:
			if d.o.Join != nil || d.s.Joined() {
				err = d.join()
			} else {
				err = d.importBundle()
			}
		case session.StateReview:
			if d.s.Joined() {
				err = d.rebuild()
			} else {
				err = d.review()
			}
		case session.StateBuild, session.StateSign:
			if d.s.Joined() && !d.s.Merged() {
				err = d.merge()
			} else {
				err = d.sign()
			}
		case session.StateExport:
			err = d.close()
		case session.StateClosed, session.StateAbandoned:
			return d.writeGeneration()
		}
		if err != nil {
			return err
		}
	}
}

// preflight runs the machine's checks and records them with the script's
// overrides, then confirms the clock.
func (d *driver) preflight() error {
	sc := d.o.Script
	out := d.env.stdout
	report, checks := preflightChecks(d.r.V)
	fmt.Fprintf(out, "\nPreflight: %d checks", len(checks))
	if report.Failed+report.Unchecked > 0 {
		fmt.Fprintf(out, ", %d failed, %d could not look", report.Failed, report.Unchecked)
	}
	fmt.Fprintln(out)
	for _, r := range report.Results {
		if r.Status == preflight.Fail || r.Status == preflight.Unchecked {
			fmt.Fprintf(out, "  %s %s: %s\n", r.Status, r.ID, termtext.Safe(r.Message))
		}
	}
	if err := d.s.Preflight(checks, sc.Overrides); err != nil {
		var pe *session.PreflightError
		if errors.As(err, &pe) {
			return refused(withHint(err, "fix the machine and resume; a check that could not look takes an override in the script, preflight.overrides"))
		}
		return err
	}
	if d.s.Rehearsal() && report.Failed+report.Unchecked > 0 {
		fmt.Fprintf(out, "  going on only because this is a rehearsal\n")
	}
	at := sc.Time
	how := "given by the script (rehearsal)"
	if sc.ConfirmSystemClock {
		at = time.Now().UTC()
		how = "the system clock, confirmed by " + sc.Decisions.By
	}
	if err := d.s.ConfirmClock(at, sc.Decisions.By); err != nil {
		if errors.Is(err, session.ErrClockNotLater) {
			return refused(err)
		}
		return err
	}
	fmt.Fprintf(out, "Clock: %s, %s\n", d.s.Confirmed().Format(time.RFC3339), termtext.Safe(how))
	return nil
}

// importBundle reads the bundle from the transfer medium and judges it
// against the vault. A refused bundle ends the ceremony: it is abandoned,
// with the refusal as its reason.
func (d *driver) importBundle() error {
	err := d.r.importBundle()
	var be *verdict.BundleError
	if errors.As(err, &be) {
		fmt.Fprintf(d.env.stdout, "\nThe bundle is REFUSED: %s\n", termtext.Safe(be.Sentence))
		if _, aerr := d.s.Abandon("the bundle was refused: "+be.Sentence, d.o.Script.Decisions.By); aerr != nil {
			return aerr
		}
		if gerr := d.writeGeneration(); gerr != nil {
			return gerr
		}
		return exitError{exitRefused}
	}
	return err
}

// review prints the judged bundle and applies the script's decisions:
// one by one first, then the rule-approvable ones together.
func (d *driver) review() error {
	sc := d.o.Script
	dec := sc.Decisions
	out := d.env.stdout
	rep := d.s.Report()
	fmt.Fprintf(out, "\nBundle %s from %s: %s\n", termtext.Safe(rep.BundleID), termtext.Safe(rep.Source), termtext.Plural(len(rep.Requests), "request"))
	if err := d.waive(); err != nil {
		return err
	}
	nj, ra := d.s.Undecided()
	fmt.Fprintf(out, "  undecided: %d need judgement, %d rule-approvable\n", nj, ra)
	type one struct{ id, decision, reason string }
	var ones []one
	for _, id := range dec.Approve {
		ones = append(ones, one{id, session.Approve, ""})
	}
	for _, id := range sortedKeys(dec.Reject) {
		ones = append(ones, one{id, session.Reject, dec.Reject[id]})
	}
	for _, id := range sortedKeys(dec.Defer) {
		ones = append(ones, one{id, session.Defer, dec.Defer[id]})
	}
	for _, o := range ones {
		if prev, ok := d.s.Decision(o.id); ok && prev.Decision == o.decision && prev.Reason == strings.TrimSpace(o.reason) {
			continue // in the log already
		}
		if err := d.s.Decide(o.id, o.decision, o.reason, dec.By); err != nil {
			return refused(err)
		}
		fmt.Fprintf(out, "  %s %s\n", o.decision, termtext.Safe(o.id))
	}
	if _, ra := d.s.Undecided(); dec.RuleApprovable && ra > 0 {
		if err := d.s.BulkApprove(dec.RuleApprovableCount, dec.By); err != nil {
			return refused(withHint(err, "decisions.approve_rule_approvable.count is the number of rule-approvable requests the explicit decisions leave"))
		}
		fmt.Fprintf(out, "  approved %s together (count confirmed by %s)\n", termtext.Plural(dec.RuleApprovableCount, "rule-approvable request"), termtext.Safe(dec.By))
	}
	if err := d.s.Build(); err != nil {
		if errors.Is(err, session.ErrUndecided) {
			return refused(withHint(err, "name every request in the script's decisions (defer what cannot be decided today), then resume"))
		}
		if errors.Is(err, session.ErrPayloadRegistered) {
			return refused(err)
		}
		return err
	}
	return nil
}

// waive has the script's holders waive the notice period of each
// recovery named in waive_notice, before any decision; a waiver the log
// holds already is not asked for again.
func (d *driver) waive() error {
	out := d.env.stdout
	for _, id := range slices.Sorted(maps.Keys(d.o.Script.Waivers)) {
		if d.s.Waived(id) {
			continue
		}
		w := d.o.Script.Waivers[id]
		err := d.s.WaiveNotice(d.ctx, id, w.Reason, w.Holders)
		for _, target := range []error{session.ErrNotWaivable, session.ErrWaiverThreshold, session.ErrWaiverReason, session.ErrWaiverStatement, session.ErrNotHolder, session.ErrNotPresent} {
			if errors.Is(err, target) {
				return refused(withHint(err, "correct waive_notice in the script (docs/recover.md), then resume"))
			}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  notice period of %s waived by %s\n", termtext.Safe(id), termtext.Safe(strings.Join(w.Holders, ", ")))
	}
	return nil
}

// printCards prints what the holders approve by signing: each role's
// summary card and the digest over all of them, as hex groups and words
// to read aloud.
func (d *driver) printCards() {
	out := d.env.stdout
	cards, digest := d.s.Cards()
	fmt.Fprintf(out, "\nWhat is signed (compare the digest with a second machine's):\n")
	for _, c := range cards {
		days := c.Expires.Sub(d.s.CeremonyTime()).Hours() / 24
		fmt.Fprintf(out, "  %s version %d\n", termtext.Safe(c.Role), c.Version)
		fmt.Fprintf(out, "    expires  %s (%.0f days after the confirmed time)\n", c.Expires.UTC().Format(time.RFC3339), days)
		fmt.Fprintf(out, "    changes  %d added, %d rotated, %d removed\n", c.Added, c.Rotated, c.Removed)
		fmt.Fprintf(out, "    changes digest %s\n", strings.Join(pgpwords.Groups(c.Digest), " "))
	}
	writeDigest(out, "  ", "digest of everything signed:", digest)
}

// writeDigest prints a hex SHA-256 under a heading, as numbered hex
// groups and then PGP words, eight to a line, to read aloud.
func writeDigest(w io.Writer, indent, heading, hexstr string) {
	fmt.Fprintf(w, "%s%s\n%s  %s\n", indent, heading, indent, strings.Join(pgpwords.Groups(hexstr), " "))
	if b, err := hex.DecodeString(hexstr); err == nil {
		ws := pgpwords.PGP(b)
		for i := 0; i < len(ws); i += 8 {
			fmt.Fprintf(w, "%s  %s\n", indent, strings.Join(ws[i:min(i+8, len(ws))], " "))
		}
	}
}

// sign has the script's holders sign, in order, until every role's
// threshold is met, then exports.
func (d *driver) sign() error {
	out := d.env.stdout
	d.printCards()
	for _, name := range d.o.Script.Signing {
		if complete(d.s.Progress()) {
			break
		}
		if err := d.ctx.Err(); err != nil {
			return interrupted("the ceremony stopped at a safe point, before %s signed; the signatures made are in its log", name)
		}
		roles, err := d.s.SignAs(d.ctx, name)
		for _, r := range roles {
			fmt.Fprintf(out, "  %s signed %s\n", termtext.Safe(name), termtext.Safe(r))
		}
		if errors.Is(err, session.ErrNotHolder) {
			return refused(err)
		}
		if err != nil {
			return err
		}
	}
	progress := d.s.Progress()
	for _, p := range progress {
		fmt.Fprintf(out, "  %s\n", termtext.Safe(p.String()))
	}
	if !complete(progress) {
		if d.o.ExportPartial || d.s.Joined() {
			return d.exportPartial()
		}
		return withHint(errors.New("the holders the script names have signed, and a role's threshold is not met"),
			"add holders to the script's signing list, then resume; or resume with --export-partial to carry the signatures to another site (docs/two-sites.md)")
	}
	return d.export()
}

func complete(ps []session.Progress) bool {
	for _, p := range ps {
		if !p.Complete() {
			return false
		}
	}
	return len(ps) > 0
}

// export writes the signed files to the transfer medium, reads them
// back and verifies them (ceremonyRun.export), and lists them.
func (d *driver) export() error {
	files, _, err := d.r.export(d.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.env.stdout, "\nExported to %s, read back and verified as a TUF client would:\n", termtext.Safe(d.o.Out))
	for _, f := range files {
		fmt.Fprintf(d.env.stdout, "  %s\n", termtext.Safe(f.Name))
	}
	return nil
}

// close closes the ceremony; the vault's next generation is written
// next (writeGeneration), also when a resumed log ends closed.
func (d *driver) close() error { return d.r.close() }

// writeGeneration writes the vault generation that follows the ceremony,
// with its log, and prints the log's head for the paper log.
func (d *driver) writeGeneration() error {
	out := d.env.stdout
	name, hash, err := d.r.writeGeneration(d.ctx, d.o.Script.SignHead, func(holder string) {
		fmt.Fprintf(out, "  %s signed the log's head\n", termtext.Safe(holder))
	})
	if err != nil {
		return err
	}
	if name != "" {
		d.res.Generation, d.res.generationHash = name, hash
	}
	d.res.Head, d.res.Lines = d.s.Head(), d.s.Lines()
	fmt.Fprintf(out, "\nCeremony %s %s after %s.\n", termtext.Safe(d.res.CeremonyID), d.s.State(), termtext.Plural(int(d.s.Lines()), "line"))
	writeDigest(out, "", "Write on the paper log the log's head:", d.s.Head())
	if d.res.Generation != "" {
		printGeneration(out, d.res.Generation, d.res.generationHash)
		printVaultCopies(out, d.r.V.Policy)
	}
	return nil
}

// printGeneration prints a vault generation's hash for the paper log.
func printGeneration(w io.Writer, generation, hash string) {
	writeDigest(w, "", fmt.Sprintf("and the hash of the vault's generation %s:", termtext.Safe(generation)), hash)
}

// journalFiles reads a journal directory's files (the log and its blobs)
// for the vault, named relative to the directory; each blob names its
// file as the one to link.
func journalFiles(dir string) ([]vault.File, error) {
	var out []vault.File
	data, err := safefile.ReadNamed(filepath.Join(dir, journal.LogName), journal.MaxLog)
	if err != nil {
		return nil, err
	}
	out = append(out, vault.File{Name: journal.LogName, Data: data})
	entries, err := os.ReadDir(filepath.Join(dir, journal.BlobsName))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // a blob being written when the process stopped
		}
		path := filepath.Join(dir, journal.BlobsName, e.Name())
		b, err := safefile.ReadNamed(path, journal.MaxBlob)
		if err != nil {
			return nil, err
		}
		// A blob is never changed once stored: the vault may link it
		// instead of writing it again (vaultdir).
		out = append(out, vault.File{Name: journal.BlobsName + "/" + e.Name(), Data: b, Link: path})
	}
	slices.SortFunc(out, func(a, b vault.File) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
