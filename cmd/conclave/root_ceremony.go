package main

import (
	"context"
	"errors"
	"flag"

	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/journal"
	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/enrolment"
	"github.com/conclave-keys/conclave/ceremony/genesis"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// The root ceremonies (conclave init, rotate, refresh) share one flow:
// plan the files (package genesis), check that the keys named with
// --sign can meet every threshold before any token is touched, open the
// log, show what is signed, have each key sign, check the thresholds,
// and write the vault generation with the log.

// rootSigning is the --sign keys of a root ceremony and how to reach
// their tokens.
type rootSigning struct {
	keys       []adoptKey
	softkeyDir string
}

// rootSigners resolves each --sign KEYREF to a holder key of one of the
// policies (the new policy first: a key being rotated out is found in
// the vault's), refuses a key the plan does not need and one named twice,
// and checks that the keys named meet every threshold of the plan, so
// that a ceremony that could not end is refused before any PIN is asked.
func rootSigners(plan *genesis.Plan, pols []*policy.Policy, refs []string) (*rootSigning, error) {
	rs := &rootSigning{}
	seen := map[string]string{}
	for _, ref := range refs {
		var k adoptKey
		var err error
		for _, p := range pols {
			if k, err = enrolledAt(p, ref); err == nil {
				break
			}
		}
		if err != nil {
			return nil, err
		}
		if docs, binding := plan.Wants(k.key.KeyID); len(docs) == 0 && !binding {
			return nil, usagef("--sign %s: %s's key %s signs nothing in this ceremony", termtext.Safe(ref), termtext.Safe(k.holder.Name), k.key.KeyID)
		}
		if other, dup := seen[k.key.KeyID]; dup {
			return nil, usagef("--sign %s: the same key as --sign %s", termtext.Safe(ref), termtext.Safe(other))
		}
		if k.softkeyDir != "" {
			if rs.softkeyDir != "" && rs.softkeyDir != k.softkeyDir {
				return nil, usagef("--sign %s: software keys are read from one key store, and another --sign names %s", termtext.Safe(ref), termtext.Safe(rs.softkeyDir))
			}
			rs.softkeyDir = k.softkeyDir
		}
		seen[k.key.KeyID] = ref
		rs.keys = append(rs.keys, k)
	}
	for _, pr := range plan.Progress() {
		for _, g := range pr.Groups {
			n := int64(0)
			for _, k := range rs.keys {
				if slices.Contains(groupKeyIDs(plan, pr.Name, g.Label), k.key.KeyID) {
					n++
				}
			}
			if n < g.Threshold {
				return nil, usagef("%s needs %d of %s, and --sign names %d of them", pr.Name, g.Threshold, g.Label, n)
			}
		}
	}
	return rs, nil
}

// groupKeyIDs are the keyids of the group labelled label of the file (or
// binding) named name.
func groupKeyIDs(plan *genesis.Plan, name, label string) []string {
	if name == vault.BindingFile {
		return plan.BindingGroup.KeyIDs
	}
	for _, d := range plan.Docs {
		if d.Name != name {
			continue
		}
		for _, g := range d.Groups {
			if g.Label == label {
				return g.KeyIDs
			}
		}
	}
	return nil
}

// planKeys are the public keys of every group of the plan, by keyid: the
// keys a holder's token is checked against.
func planKeys(plan *genesis.Plan) map[string]*tuf.Key {
	keys := map[string]*tuf.Key{}
	for _, d := range plan.Docs {
		for _, g := range d.Groups {
			for _, id := range g.KeyIDs {
				keys[id] = g.Keys[id]
			}
		}
	}
	for _, id := range plan.BindingGroup.KeyIDs {
		keys[id] = plan.BindingGroup.Keys[id]
	}
	return keys
}

// rootFlags are the flags every root ceremony takes.
type rootFlags struct {
	sign     multiFlag
	pinFD    *int
	at       *string
	rootsDir *string
}

// addRootFlags defines them; signHelp says which keys --sign names, and
// --attestation-roots is for a ceremony that reads enrolment records.
func addRootFlags(fs *flag.FlagSet, signHelp string, records bool) *rootFlags {
	f := &rootFlags{rootsDir: new(string)}
	fs.Var(&f.sign, "sign", signHelp)
	f.pinFD = fs.Int("pin-fd", -1, "read each PIN asked for, one line each, from file descriptor `N` (default: ask at the terminal, without showing it)")
	f.at = fs.String("at", "", "the ceremony's `TIME` (RFC 3339), for a rehearsal policy only; otherwise the system clock")
	if records {
		f.rootsDir = fs.String("attestation-roots", "", "check YubiKey attestations against the PEM certificates in `DIR` instead of Yubico's roots (a test or rehearsal CA)")
	}
	return f
}

// rootCeremony is a planned root ceremony.
type rootCeremony struct {
	kind string
	// out is the new vault's directory (init); vd and v the vault a
	// rotation or refresh starts from.
	out string
	vd  *vaultdir.Dir
	v   *vault.Vault
	// pol is the policy the new generation binds; pols are the policies
	// --sign keys are looked up in.
	pol  *policy.Policy
	pols []*policy.Policy
	plan *genesis.Plan
	// change is a rotation's.
	change  *genesis.Change
	records []genesis.Record
	online  map[string]*tuf.Key
	force   string
	now     time.Time
	flags   *rootFlags
}

// run has the ceremony signed and written: the --sign keys are checked
// to meet every threshold before any token is touched (or the vault
// directory of init made), the log opened with what the ceremony is and
// what it builds, each key signs, and the generation is written with the
// log and read back.
func (c rootCeremony) run(ctx context.Context, env *environment) error {
	rs, err := rootSigners(c.plan, c.pols, c.flags.sign)
	if err != nil {
		return err
	}
	if c.vd == nil {
		if c.vd, err = vaultdir.Create(c.out); err != nil {
			return err
		}
		defer c.vd.Close()
	}
	r, err := startRootRun(env, c.vd, c.now)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := c.signAndWrite(ctx, r, rs); err != nil {
		// The log says why it ended: an auditor finds every root
		// ceremony that was begun, and the vault is unchanged.
		if r.log.Len() > 0 {
			if aerr := r.append(genesis.TypeRootAbandoned, genesis.Abandoned{Reason: err.Error()}); aerr != nil {
				return errors.Join(err, aerr)
			}
		}
		return err
	}
	return nil
}

// signAndWrite records what the ceremony is and builds, has the keys
// sign and writes the generation.
func (c rootCeremony) signAndWrite(ctx context.Context, r *rootRun, rs *rootSigning) error {
	opened, err := c.opened()
	if err != nil {
		return err
	}
	if err := r.append(genesis.TypeRootOpened, opened); err != nil {
		return err
	}
	if err := r.append(genesis.TypeRootBuilt, c.plan.BuiltEvent(c.change)); err != nil {
		return err
	}
	if err := r.sign(ctx, c.plan, c.pol, rs, *c.flags.pinFD); err != nil {
		return err
	}
	err = r.finish(func(logs []vault.File) ([]vault.File, error) {
		if c.v == nil {
			return vault.Create(c.plan.AdoptInput(), r.id, c.now, logs)
		}
		u := c.plan.RootUpdate(r.id, c.now)
		u.Logs = logs
		return c.v.NextRoot(u)
	})
	if err == nil {
		printVaultCopies(r.env.stdout, c.pol)
	}
	return err
}

// opened is the log's first event.
func (c rootCeremony) opened() (genesis.Opened, error) {
	o := genesis.Opened{
		Kind: c.kind, ConclaveVersion: conclaveVersion(), PolicySHA256: c.pol.SHA256, Rehearsal: c.pol.Rehearsal,
		Confirmed: genesis.ConfirmedString(c.now), Records: []genesis.KeyRef{}, Online: map[string]string{},
		ForceThreshold: c.force, Roles: []string{},
	}
	var err error
	if o.BinarySHA256, err = selfHash(); err != nil {
		return o, err
	}
	if c.v != nil {
		o.VaultGeneration, o.VaultHash = c.v.Generation, c.v.Hash
	}
	for _, rec := range c.records {
		o.Records = append(o.Records, genesis.KeyRef{KeyID: rec.Key.ID(), Holder: rec.Holder})
	}
	for role, k := range c.online {
		o.Online[role] = k.ID()
	}
	if c.kind == genesis.KindRefresh {
		for _, d := range c.plan.Docs {
			o.Roles = append(o.Roles, d.Role)
		}
	}
	return o, nil
}

// rootLog reports whether the log at path is a root ceremony's (its
// first line is root-opened). A root ceremony is never resumed: one that
// stopped wrote nothing to the vault and registered nothing, so it does
// not hold back the next ceremony; its log stays in the journal
// directory for the record.
func rootLog(path string) bool {
	data, err := safefile.ReadNamed(path, journal.MaxLog)
	if err != nil {
		return false
	}
	entries, _, err := transcript.Parse(data)
	return err == nil && len(entries) > 0 && entries[0].Type == genesis.TypeRootOpened
}

// rootRun is one root ceremony's log under way.
type rootRun struct {
	env  *environment
	vd   *vaultdir.Dir
	id   string
	j    *journal.Journal
	log  *transcript.Log
	lock io.Closer
	now  time.Time
}

// startRootRun opens a new ceremony's log in the vault directory.
func startRootRun(env *environment, vd *vaultdir.Dir, now time.Time) (*rootRun, error) {
	lock, err := vd.LockJournals()
	if err != nil {
		return nil, err
	}
	id, err := newCeremonyID()
	if err != nil {
		lock.Close()
		return nil, err
	}
	j, existing, err := journal.Open(vd.JournalDir(id))
	if err != nil {
		lock.Close()
		return nil, err
	}
	if len(existing) != 0 {
		j.Close()
		lock.Close()
		return nil, fmt.Errorf("journal %s already holds a log", vd.JournalDir(id))
	}
	return &rootRun{env: env, vd: vd, id: id, j: j, log: transcript.New(j, id), lock: lock, now: now}, nil
}

func (r *rootRun) Close() {
	r.j.Close()
	r.lock.Close()
}

// append writes one event, at the ceremony's confirmed time.
func (r *rootRun) append(typ string, body any) error {
	_, err := r.log.Append(typ, r.now, body)
	return err
}

// sign shows what is signed, then has each key sign every file it signs,
// logging each key's signatures, and checks the thresholds.
func (r *rootRun) sign(ctx context.Context, plan *genesis.Plan, pol *policy.Policy, rs *rootSigning, pinFD int) error {
	out := r.env.stdout
	fmt.Fprintln(out, "To be signed:")
	for _, d := range plan.Docs {
		fmt.Fprintf(out, "  %s: %s version %d, expires %s\n", d.Name, termtext.Safe(d.Role), d.File.Version(), d.File.Expires().String())
		writeDigest(out, "    ", "signed part sha256:", vault.SHA256Hex(d.File.SignedBytes()))
	}
	if plan.Binding != nil {
		fmt.Fprintf(out, "  %s: the policy (sha256 %s) bound to the new root\n", vault.BindingFile, pol.SHA256)
		writeDigest(out, "    ", "binding payload sha256:", vault.SHA256Hex(plan.Binding.Payload))
	}
	pins, err := openPINInput(pinFD, r.env.stderr)
	if err != nil {
		return err
	}
	defer pins.Close()
	tokens := holders.New(holders.Options{
		Policy:       pol,
		Keys:         planKeys(plan),
		Prompts:      pins.prompts,
		Notice:       r.env.stderr,
		SoftkeyDir:   rs.softkeyDir,
		RootCeremony: true,
	})
	defer tokens.Close()
	for _, k := range rs.keys {
		if err := ctx.Err(); err != nil {
			return interrupted("interrupted before %s signed; nothing was written to the vault, the log is in %s", k.holder.Name, r.j.Dir())
		}
		s, err := tokens.Signer(ctx, k.holder, k.key)
		if err != nil {
			return err
		}
		signed, err := plan.Sign(k.key.KeyID, s)
		if err != nil {
			return fmt.Errorf("holder %s signs: %w", k.holder.Name, err)
		}
		if err := r.append(genesis.TypeRootSigned, genesis.SignedEvent{Holder: k.holder.Name, KeyID: k.key.KeyID, Signed: signed}); err != nil {
			return err
		}
		names := make([]string, len(signed))
		for i, sg := range signed {
			names[i] = sg.Name
		}
		fmt.Fprintf(out, "%s signed %s with %s\n", termtext.Safe(k.holder.Name), strings.Join(names, ", "), termtext.Safe(s.Describe()))
	}
	if err := plan.Complete(); err != nil {
		return refused(err)
	}
	return r.append(genesis.TypeRootClosed, plan.ClosedEvent())
}

// finish writes the generation files make returns (given the ceremony's
// log) and reads it back.
func (r *rootRun) finish(makeFiles func(logs []vault.File) ([]vault.File, error)) error {
	logs, err := journalFiles(r.j.Dir())
	if err != nil {
		return err
	}
	files, err := makeFiles(logs)
	if err != nil {
		return refused(err)
	}
	name, err := r.vd.WriteGeneration(files)
	if err != nil {
		return err
	}
	if err := readBackGeneration(r.vd, name, files); err != nil {
		return err
	}
	fmt.Fprintf(r.env.stdout, "vault %s: %s written and made current\n", termtext.Safe(r.vd.Path()), name)
	writeDigest(r.env.stdout, "", "generation hash (write it on the paper log):", vault.SHA256Hex(files[len(files)-1].Data))
	writeDigest(r.env.stdout, "", fmt.Sprintf("log head after %d lines (write it on the paper log):", r.log.Len()), r.log.Head())
	return nil
}

// confirmedTime is the ceremony's time: the system clock, or --at, which
// only a rehearsal policy may give (its tests and training need a fixed
// clock; a production ceremony's expiries count from the real one).
func confirmedTime(pol *policy.Policy, at string) (time.Time, error) {
	if at == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	if !pol.Rehearsal {
		return time.Time{}, usagef("--at gives the time, which only a rehearsal may do: a production root ceremony uses the system clock")
	}
	return parseTimeFlag("at", at)
}

// readRecords reads and checks enrolment records: each parsed strictly
// and its proof of possession and attestation checked against the
// policy (enrolment.Verify; the attestation against Yubico's roots, or
// those in rootsDir), then shown with its fingerprint for the holder to
// read out.
func readRecords(w io.Writer, pol *policy.Policy, paths []string, rootsDir string) ([]genesis.Record, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	checker, err := enrolmentAttestationChecker(rootsDir)
	if err != nil {
		return nil, err
	}
	var out []genesis.Record
	for _, p := range paths {
		data, err := readNamedFile(p)
		if err != nil {
			return nil, err
		}
		rec, err := enrolment.Parse(data)
		if err != nil {
			return nil, refused(fmt.Errorf("enrolment record %s: %w", p, err))
		}
		if _, err := enrolment.Verify(rec, enrolment.VerifyOptions{Attestation: checker, Policy: &pol.Attestation}); err != nil {
			return nil, refused(fmt.Errorf("enrolment record %s: %w", p, err))
		}
		fmt.Fprintf(w, "enrolment record %s: %s, key %s\n", termtext.Safe(p), termtext.Safe(rec.Holder.Name), rec.KeyID())
		writeDigest(w, "  ", "record fingerprint:", rec.Fingerprint())
		out = append(out, genesis.Record{
			Holder: rec.Holder.Name, Contact: rec.Holder.Contact, Key: rec.Key,
			Token: rec.Token.Kind, Serial: rec.Token.Serial, Slot: rec.Token.Slot, URI: rec.Token.URI,
		})
	}
	return out, nil
}

// parseOnlineKeys reads each --online-keys snapshot=FILE,timestamp=FILE:
// each file a TUF public key object. A role in delegated (the policy's
// online roles) may be named more than once, a key each time; its keys are
// returned apart.
func parseOnlineKeys(specs []string, delegated []string) (map[string]*tuf.Key, map[string][]*tuf.Key, error) {
	out, more := map[string]*tuf.Key{}, map[string][]*tuf.Key{}
	known := func(role string) bool {
		return slices.Contains(genesis.OnlineRoles, role) || slices.Contains(delegated, role)
	}
	var parts []string
	for _, spec := range specs {
		// A value is cut at "," only where a role taken here and "="
		// follow: a file's path may hold "," and "=".
		first := len(parts)
		for i, p := range strings.Split(spec, ",") {
			if role, _, ok := strings.Cut(p, "="); i > 0 && !(ok && known(role)) {
				parts[len(parts)-1] += "," + p
				continue
			}
			parts = append(parts, p)
		}
		for _, part := range parts[first:] {
			role, file, ok := strings.Cut(part, "=")
			if !ok || file == "" || !known(role) {
				return nil, nil, usagef("--online-keys %s: write snapshot=FILE,timestamp=FILE (and ROLE=FILE for each of the policy's online_roles)", termtext.Safe(spec))
			}
		}
	}
	for _, part := range parts {
		role, file, _ := strings.Cut(part, "=")
		top := slices.Contains(genesis.OnlineRoles, role)
		if _, dup := out[role]; dup {
			return nil, nil, usagef("--online-keys: %s is named twice", role)
		}
		data, err := readNamedFile(file)
		if err != nil {
			return nil, nil, err
		}
		v, err := cjson.Parse(data)
		if err != nil {
			return nil, nil, refused(fmt.Errorf("online key %s: %w", file, err))
		}
		k, err := tuf.ParseKey(v, "key")
		if err != nil {
			return nil, nil, refused(fmt.Errorf("online key %s: %w", file, err))
		}
		// Every member of a key object is part of its keyid and goes
		// into the metadata as it is: a keyval.private beside the
		// public key would be published.
		for _, m := range v.Members() {
			if m.Name != "keyval" {
				continue
			}
			for _, kv := range m.Value.Members() {
				if kv.Name != "public" {
					return nil, nil, refused(fmt.Errorf("online key %s: keyval.%s: the file holds more than the public key; give the public key alone", file, termtext.Cap(kv.Name, 40)))
				}
			}
		}
		if top {
			out[role] = k
		} else {
			more[role] = append(more[role], k)
		}
	}
	return out, more, nil
}
