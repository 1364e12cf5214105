package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/conclave-keys/conclave/airgap/journal"
	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verify"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// ceremonyOptions open a ceremony, new or continued. The headless driver
// and the terminal program open theirs through openCeremony, and take each
// step that touches the machine (preflight checks, bundle, export, vault)
// through a ceremonyRun, so both do these steps the same way.
type ceremonyOptions struct {
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
	// ID, when set, is the new ceremony's id instead of a fresh one: a
	// site that continues a partial opens its ceremony under the
	// partial's id.
	ID string
	// Check is called once the vault is open and verified, before its
	// journal is touched: a refusal leaves nothing behind.
	Check func(v *vault.Vault) error
	// Opening names the people and says whether this is a rehearsal; the
	// program's version and hash are filled in. Unused on resume.
	Opening session.Opening
	// Prompts returns the callbacks for one holder's token.
	Prompts func(holder string) hsm.Prompts
	// Notice is where requests to the people in the room go (PIN asked,
	// "insert … again").
	Notice io.Writer
	// SoftkeyDir is the key store of a rehearsal's software keys.
	SoftkeyDir string
	// Wait is how long a token is waited for.
	Wait holders.Wait
	// killAfter is the test hook of killHookEnv (0: off).
	killAfter int
}

// ceremonyRun is an opened ceremony: its vault, its log, the holders'
// tokens and the session.
type ceremonyRun struct {
	o       ceremonyOptions
	ID      string
	Journal string
	vd      *vaultdir.Dir
	V       *vault.Vault
	j       *journal.Journal
	Tokens  *holders.Tokens
	// S is nil when Ended.
	S *session.Session
	// lock keeps other ceremonies out of the vault's journals while this
	// one runs.
	lock io.Closer
	// update is what the session's Close returned, for the next
	// generation.
	update *vault.Update
	// head is the envelope over the closed log's head, with the
	// signatures of the holders who signed it (signHeadAs).
	head *envelope.Envelope
	// Ended: the ceremony resumed had ended and its generation is the
	// vault's current one; nothing is left to do.
	Ended bool
	// Replayed is the number of lines a resume replayed, Cut the bytes of
	// a torn last line it cut.
	Replayed, Cut int
}

// openCeremony opens the vault, then starts a new log or replays the
// one named by Resume. Close releases what it opened.
func openCeremony(o ceremonyOptions) (*ceremonyRun, error) {
	r, err := prepareCeremony(o)
	if err != nil || r.S != nil || r.Ended {
		return r, err
	}
	if err := r.start(o.Opening); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// prepareCeremony opens and checks the vault; for a resume, it also
// replays the log. A new ceremony's log is not written until start.
func prepareCeremony(o ceremonyOptions) (_ *ceremonyRun, err error) {
	vaultPath, journalDir, err := ceremonyPaths(o)
	if err != nil {
		return nil, err
	}
	if err := checkOut(o.Out, vaultPath, o.Resume != ""); err != nil {
		return nil, err
	}
	if o.In != "" {
		if err := checkBundleDir(o.In); err != nil {
			return nil, err
		}
	}
	r := &ceremonyRun{o: o}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.vd, r.V, err = openVault(vaultPath); err != nil {
		return nil, err
	}
	if r.lock, err = r.vd.LockJournals(); err != nil {
		return nil, err
	}
	if o.Check != nil {
		if err := o.Check(r.V); err != nil {
			return nil, err
		}
	}
	if o.Resume == "" {
		if err := checkNoUnfinished(r.vd, r.V); err != nil {
			return nil, err
		}
		if r.ID = o.ID; r.ID == "" {
			if r.ID, err = newCeremonyID(); err != nil {
				return nil, err
			}
		}
		r.Journal = r.vd.JournalDir(r.ID)
		return r, nil
	}
	r.ID, r.Journal = filepath.Base(journalDir), journalDir
	if r.V.LastCeremonyID == r.ID || holdsLog(r.V, r.ID) {
		// Ended, and its generation written (the last one, or one before
		// it: every generation keeps the logs of the ceremonies before
		// it): nothing is left to do.
		r.Ended = true
		return r, nil
	}
	existing, app, deps, err := r.openLog()
	if err != nil {
		return nil, err
	}
	entries, _, err := transcript.Parse(existing)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(r.Journal, journal.LogName), err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s holds no line: start the ceremony again, without --resume", filepath.Join(r.Journal, journal.LogName))
	}
	if deps.Log, err = transcript.Resume(app, entries); err != nil {
		return nil, err
	}
	if r.S, err = session.Replay(entries, deps); err != nil {
		return nil, err
	}
	r.Replayed, r.Cut = len(entries), r.j.Cut()
	return r, nil
}

// checkNoUnfinished refuses to start a ceremony while another one on the
// vault has a log but never reached a new generation: its built versions
// are registered only in that log, so a new ceremony would build the same
// versions again with other bytes — two signed payloads for one (role,
// version), one of them perhaps already on a transfer medium.
func checkNoUnfinished(vd *vaultdir.Dir, v *vault.Vault) error {
	dir := filepath.Join(vd.Path(), vaultdir.JournalDirName)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list the vault's journals in %s: %w", dir, err)
	}
	for _, e := range entries {
		id := e.Name()
		if !e.IsDir() || id == v.LastCeremonyID || holdsLog(v, id) {
			continue
		}
		log := filepath.Join(dir, id, journal.LogName)
		st, err := os.Lstat(log)
		if errors.Is(err, os.ErrNotExist) || err == nil && st.Size() == 0 {
			continue // opened, nothing recorded: nothing to finish
		}
		if rootLog(log) {
			continue // a root ceremony that stopped: nothing to resume (root_ceremony.go)
		}
		return withHint(fmt.Errorf("ceremony %s on this vault is unfinished (its log is %s): finish it before another starts, or the versions it built could be built again with other contents", termtext.Safe(id), termtext.Safe(log)),
			"continue it with: conclave ceremony --resume "+termtext.Safe(filepath.Join(dir, id))+" (with --script to finish it headless, or in the terminal program); or abandon it, burning the versions it built, with: conclave ceremony --resume "+termtext.Safe(filepath.Join(dir, id))+" --abandon REASON --by NAME")
	}
	return nil
}

// start opens a new ceremony's log with the people named.
func (r *ceremonyRun) start(op session.Opening) error {
	existing, app, deps, err := r.openLog()
	if err != nil {
		return err
	}
	deps.Log = transcript.New(app, r.ID)
	if len(existing) != 0 {
		return fmt.Errorf("journal %s already holds a log: continue it with --resume", r.Journal)
	}
	op.ConclaveVersion = conclaveVersion()
	if op.BinarySHA256, err = selfHash(); err != nil {
		return err
	}
	s, err := session.Open(deps, op)
	if err != nil {
		return err
	}
	r.S = s
	return nil
}

// openLog opens the ceremony's journal and the holders' tokens, and
// returns the log's bytes, what appends to it, and the session's
// dependencies but its Log.
func (r *ceremonyRun) openLog() ([]byte, transcript.Appender, session.Deps, error) {
	j, existing, err := journal.Open(r.Journal)
	if err != nil {
		return nil, nil, session.Deps{}, err
	}
	r.j = j
	var app transcript.Appender = j
	if r.o.killAfter > 0 {
		app = &killHook{a: j, k: r.o.killAfter}
	}
	r.Tokens = holders.New(holders.Options{
		Policy:     r.V.Policy,
		Keys:       holders.MetadataKeys(r.V.Root.Root, r.V.Targets.Targets),
		Prompts:    r.o.Prompts,
		Wait:       r.o.Wait,
		Notice:     r.o.Notice,
		SoftkeyDir: r.o.SoftkeyDir,
	})
	deps := session.Deps{Vault: r.V, Blobs: j.Blobs(), Tokens: sessionTokens{r.Tokens}}
	return existing, app, deps, nil
}

// Close logs the tokens out and closes the log and the vault.
func (r *ceremonyRun) Close() {
	if r.Tokens != nil {
		r.Tokens.Close()
	}
	if r.j != nil {
		r.j.Close()
	}
	if r.lock != nil {
		r.lock.Close()
	}
	if r.vd != nil {
		r.vd.Close()
	}
}

// preflightChecks runs the machine's checks, and the vault's roles
// against their warning periods (expiryCheck), in the form the session
// records.
func preflightChecks(v *vault.Vault) (*preflight.Report, []session.Check) {
	report := preflight.System().Run()
	if v != nil {
		report.Results = append(report.Results, expiryCheck(v, time.Now()))
		// Every ceremony run here delegates or recovers; init, rotate
		// and refresh, which sign a root, do not come this way.
		rt := rootTokensCheck(context.Background(), v.Policy, roomTokens(v.Policy))
		if rt.Status == preflight.Fail {
			report.Failed++
		}
		report.Results = append(report.Results, rt)
	}
	checks := make([]session.Check, 0, len(report.Results))
	for _, res := range report.Results {
		checks = append(checks, session.Check{ID: res.ID, Status: string(res.Status), Message: res.Message})
	}
	return report, checks
}

// importBundle reads the bundle from the transfer medium and has the
// session judge it against the vault. A refused bundle is a
// *verdict.BundleError.
func (r *ceremonyRun) importBundle() error {
	if r.o.In == "" {
		return usagef("the ceremony stopped before its bundle was read, so its log holds no copy of it: name the bundle with --in")
	}
	src := bundleMedia(r.o.In, r.V.Policy.Rules)
	defer src.close()
	return r.S.Import(bundleSource{src})
}

// export writes the signed files to the transfer medium (all or
// nothing), reads them back, verifies them as a TUF client would against
// the vault's root, and records their hashes. It returns the files and
// each one's SHA-256.
func (r *ceremonyRun) export(ctx context.Context) ([]export.File, map[string]string, error) {
	files, err := r.S.ExportFiles()
	if err != nil {
		return nil, nil, err
	}
	want, ex := exportPlan(files)
	err = safefile.ExportFiles(r.o.Out, ex)
	if errors.Is(err, safefile.ErrNotEmpty) {
		// Written before a crash, and not recorded: it counts only if it
		// is exactly what the ceremony would write now.
		same, serr := sameExport(r.o.Out, want)
		if serr != nil {
			// Not a whole export, or unreadable: say which, not only
			// that it differs.
			err = fmt.Errorf("%w (%w)", err, serr)
		}
		if !same {
			return nil, nil, withHint(err, "the export directory holds something else: name a new one with --out")
		}
		err = nil
	}
	if err != nil {
		return nil, nil, err
	}
	sums, err := r.readBack(ctx, want)
	if err != nil {
		return nil, nil, err
	}
	if err := r.S.Exported(sums); err != nil {
		return nil, nil, err
	}
	return files, sums, nil
}

// sameExport reports whether dir holds exactly the files wanted.
func sameExport(dir string, want map[string][]byte) (bool, error) {
	listing, err := checkExport(dir)
	if err != nil {
		return false, err
	}
	if len(listing) != len(want)-1 { // the manifest lists the others
		return false, nil
	}
	for _, l := range listing {
		data, ok := want[l.Name]
		if !ok || l.SHA256 != vault.SHA256Hex(data) {
			return false, nil
		}
	}
	return true, nil
}

// readBack reads the export again as the online side will (export.Check
// through the media reader), compares every file with what was written,
// and walks the metadata from the vault's root as a TUF client does. It
// returns each file's SHA-256. Each file is read from the medium once:
// the walk verifies the bytes export.CheckRead read, hashed and parsed.
func (r *ceremonyRun) readBack(ctx context.Context, want map[string][]byte) (map[string]string, error) {
	m := &mediaDir{dir: r.o.Out, manifest: export.ManifestName}
	defer m.close()
	read, err := export.CheckRead(exportSource{m})
	if err != nil {
		return nil, fmt.Errorf("reading the export back: %w", err)
	}
	sums := map[string]string{export.ManifestName: vault.SHA256Hex(want[export.ManifestName])}
	var metadata []verify.Input
	for _, f := range read {
		w, ok := want[f.Name]
		if !ok || !bytes.Equal(f.Data, w) {
			return nil, fmt.Errorf("reading the export back: %s is not what was written", f.Name)
		}
		sums[f.Name] = f.SHA256
		if f.Name != export.DecisionsName {
			metadata = append(metadata, verify.Input{Name: f.Name, Data: f.Data, Parsed: f.Parsed})
		}
	}
	if len(sums) != len(want) {
		return nil, fmt.Errorf("reading the export back: %d files listed, %d written", len(sums), len(want))
	}
	opts := verify.Options{
		Trusted: verify.Input{Name: "root.json", Data: r.V.Root.Bytes()},
		Files:   append([]verify.Input{{Name: "targets.json", Data: r.V.Targets.Bytes()}}, metadata...),
		Now:     r.S.Confirmed(),
	}
	report, err := verify.Walk(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("verifying the export: %w", err)
	}
	for _, f := range report.Files {
		if f.Verdict != verify.Valid && f.Verdict != verify.Skipped {
			return nil, fmt.Errorf("verifying the export: %s is %s: %s", f.Name, f.Verdict, f.Reason())
		}
	}
	return sums, nil
}

// close closes the ceremony; the vault's next generation is written
// next (writeGeneration), also when a resumed log ends closed.
func (r *ceremonyRun) close() error {
	u, err := r.S.Close()
	r.update = u
	return err
}

// writeGeneration writes the vault generation that follows an ended
// ceremony, with its log and, when signHead names holders, the envelope
// in which they signed the closed log's head (signed is told each name as
// it signs), and reads it back. It returns the generation's name and
// hash, or "" when the session has nothing to write.
func (r *ceremonyRun) writeGeneration(ctx context.Context, signHead []string, signed func(holder string)) (name, hash string, err error) {
	u := r.update
	if u == nil {
		if u, err = r.S.Update(); err != nil || u == nil {
			return "", "", err
		}
	}
	if u.Logs, err = journalFiles(r.j.Dir()); err != nil {
		return "", "", err
	}
	if r.S.State() == session.StateClosed && len(signHead) > 0 {
		if err := r.signHead(ctx, signHead, signed); err != nil {
			return "", "", err
		}
	}
	if r.head != nil && len(r.head.Signatures) > 0 {
		u.Logs = append(u.Logs, vault.File{Name: headFile, Data: r.head.Marshal()})
	}
	files, err := r.V.Next(*u)
	if err != nil {
		return "", "", err
	}
	if name, err = r.vd.WriteGeneration(files); err != nil {
		return "", "", err
	}
	if err := readBackGeneration(r.vd, name, files); err != nil {
		return "", "", err
	}
	return name, vault.SHA256Hex(files[len(files)-1].Data), nil
}

// readBackGeneration reads the vault's current generation back from the
// medium and compares each file with what was written. vault.Next opened
// exactly these bytes before they were written (vault.Open is a function
// of the bytes alone), so equal bytes on the medium open as that
// generation did; parsing them a second time would check nothing more.
func readBackGeneration(vd *vaultdir.Dir, name string, files []vault.File) error {
	rd, current, err := vd.Current()
	if err != nil {
		return fmt.Errorf("reading the vault's new generation back: %w", err)
	}
	defer rd.(io.Closer).Close()
	if current != name {
		return fmt.Errorf("reading the vault's new generation back: the current generation is %s, not %s, which was just written", current, name)
	}
	for _, f := range files {
		data, err := rd.ReadFile(f.Name)
		if err != nil {
			return fmt.Errorf("reading the vault's new generation back: %w", err)
		}
		if !bytes.Equal(data, f.Data) {
			return fmt.Errorf("reading the vault's new generation back: %s/%s is not what was written", name, f.Name)
		}
	}
	return nil
}

// headFile is the name, beside a closed ceremony's log in the vault, of
// the envelope in which holders signed the log's head.
const headFile = "head.json"

// headFormat names the payload of the head envelope.
const headFormat = "conclave-transcript-head/1"

// signHead has the holders named sign the closed log's head (signHeadAs),
// one after the other; signed is told each name as it signs.
func (r *ceremonyRun) signHead(ctx context.Context, names []string, signed func(holder string)) error {
	for _, name := range names {
		if err := r.signHeadAs(ctx, name); err != nil {
			return err
		}
		if signed != nil {
			signed(name)
		}
	}
	return nil
}

// signHeadAs has one holder sign the closed log's head: a typed envelope
// (envelope.TypeTranscriptHead, DSSE) over the ceremony id, the head hash
// and the number of lines, so that the signature can never be taken for
// TUF metadata. The envelope gathers the signatures of every holder who
// signs; writeGeneration stores it beside the log. The holder signs with
// the first of their enrolled keys that is not a root key
// (policy.CeremonyKey), checked as for the metadata.
func (r *ceremonyRun) signHeadAs(ctx context.Context, name string) error {
	if r.S.State() != session.StateClosed {
		return &session.StateError{Action: "sign the log's head", Want: session.StateClosed, Have: r.S.State()}
	}
	i := slices.IndexFunc(r.V.Policy.Holders, func(h policy.Holder) bool { return h.Name == name })
	if i < 0 || len(r.V.Policy.Holders[i].Keys) == 0 {
		return refused(fmt.Errorf("close.sign_head: %q is not a holder of the vault's policy", name))
	}
	if r.head == nil {
		enc := cjson.Encoder{FileForm: true}
		enc.BeginObject()
		enc.Name("ceremony")
		enc.String(r.ID)
		enc.Name("format")
		enc.String(headFormat)
		enc.Name("head")
		enc.String(r.S.Head())
		enc.Name("lines")
		enc.Int(r.S.Lines())
		enc.EndObject()
		payload, err := enc.Bytes()
		if err != nil {
			return err
		}
		r.head = &envelope.Envelope{PayloadType: envelope.TypeTranscriptHead, Payload: payload}
	}
	h := r.V.Policy.Holders[i]
	hk := r.V.Policy.CeremonyKey(h)
	signer, err := r.Tokens.Signer(ctx, h, hk)
	if err != nil {
		return fmt.Errorf("%s signing the log's head: %w", name, err)
	}
	keys := holders.MetadataKeys(r.V.Root.Root, r.V.Targets.Targets)
	if err := r.head.Sign(signer, keys[hk.KeyID]); err != nil {
		return fmt.Errorf("%s signing the log's head: %w", name, err)
	}
	return nil
}
