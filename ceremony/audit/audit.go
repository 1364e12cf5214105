// Package audit checks a finished ceremony afterwards, on any machine:
// its log, the files it exported and, given the vault generation it was
// opened on, everything the log claims — by replaying the log through the
// ceremony's own steps (session.Replay) and then checking the exported
// bytes themselves against the decisions, the policy and the root in
// force.
//
// # What is checked
//
//   - The log's hash chain, naming the first broken line
//     (transcript.Parse), and its end: the head and line count the
//     holders signed (head.json), and a closing line.
//   - Each exported file's SHA-256 against the log's exported line.
//   - Replay: the bundle judged again from its copy, every decision,
//     the payloads built again and compared with what the log registered,
//     every signature the log records verified.
//   - For each exported role: its payload is the one registered (one
//     payload per role and version, against the vault's register); its
//     expiry is the confirmed time plus the policy's period; every
//     signature is counted against the role's delegation (tuf), each
//     signing key is mapped to its holder, and the threshold is counted
//     by holders, one vote each however many keys a holder has; the
//     metadata walks from the vault's root as a client walks it
//     (verify.Walk).
//   - The changes in the exported bytes (build.Summarize, the summary
//     card's list) are exactly the approved requests: no change that no
//     approval covers, no rejected or deferred request applied, no
//     approved request left out. A recovery inside its notice period is
//     judged invalid again by the replay, at the confirmed time, and a log
//     that approves it does not replay.
//   - Given the published metadata, every difference between what is
//     published and what was signed (published.go).
//
// Without the vault only the chain, the head and the exported files'
// hashes can be checked, and the verdict is Incomplete.
//
// The report says what the log records about the ceremony — program and
// hash, vault generation, preflight checks and overrides with their
// reasons, the confirmed clock, who was present — as the log's word: the
// chain shows it was not changed afterwards, not that it was true.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/ceremony/verify"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Finding codes: stable, for machines (docs/formats/audit-report.md).
const (
	CodeLogBroken         = "log-broken"
	CodeLogTorn           = "log-torn"
	CodeLogNotEnded       = "log-not-ended"
	CodeLogTruncated      = "log-truncated"
	CodeLogExtended       = "log-extended"
	CodeHeadMismatch      = "head-mismatch"
	CodeHeadSignature     = "head-signature"
	CodeReplay            = "replay"
	CodeExportFile        = "export-file"
	CodeNoVault           = "no-vault"
	CodePayloadMismatch   = "payload-mismatch"
	CodePayloadRegistered = "payload-registered"
	CodeExpiry            = "expiry"
	CodeSignatureInvalid  = "signature-invalid"
	CodeSignatureUnlisted = "signature-unlisted"
	CodeSignatureNoHolder = "signature-not-holder"
	CodeSignatureUnlogged = "signature-not-logged"
	CodeThreshold         = "threshold-not-met"
	CodeVerify            = "verify"
	CodeChangeNotApproved = "change-not-approved"
	CodeRejectedApplied   = "rejected-applied"
	CodeDeferredApplied   = "deferred-applied"
	CodeChangeDiffers     = "change-differs"
	CodeApprovedMissing   = "approved-not-applied"
	CodeCard              = "card"
)

// HeadFormat names the payload of head.json, the envelope in which holders
// sign a closed log's head.
const HeadFormat = "conclave-transcript-head/1"

// HeadName is the file beside a closed ceremony's log that holds it.
const HeadName = "head.json"

// Input is what an audit reads. Everything in it is untrusted but Vault,
// which the caller opened and verified.
type Input struct {
	// Log is the ceremony's log.jsonl, and Blobs the files of blobs/
	// beside it (the bundle copy, the payloads) by name, each checked
	// against its name when it is used.
	Log   []byte
	Blobs map[string][]byte
	// Head is head.json beside the log; nil when the holders signed no
	// head.
	Head []byte
	// Export is the export directory's files by name, its manifest
	// included.
	Export map[string][]byte
	// Vault is the vault generation the ceremony was opened on (its
	// opened line names it); nil to check the log and export alone.
	Vault *vault.Vault
	// Published is metadata fetched from what the repository serves, by
	// file name; nil when not compared.
	Published map[string][]byte
	// Sites are the logs of the other sites of a ceremony signed at
	// several sites, in any order (sites.go); Log is then the log of the
	// site that exported what Export holds.
	Sites []Site
}

// audit is one audit under way.
type audit struct {
	in      Input
	r       *Report
	entries []transcript.Entry
	// events found in the log (decoded leniently: Replay is strict).
	opened   *session.Opened
	built    *session.Built
	exported *session.Exported
	signed   []session.Signed
	// metadata are the exported metadata files, by role.
	metadata map[string]*tuf.File
	names    map[string]string // role → exported file name
	s        *session.Session
	// replayed is set when the whole log replayed.
	replayed bool
	// parsed gives the replay the exported files as read (Deps.Parsed).
	parsed func(payloadSHA256 string) *tuf.File
	// sums are the SHA-256 of each exported metadata file's signed part,
	// computed once: a large role's is tens of megabytes.
	sums map[*tuf.File]string
}

// Audit checks a ceremony. An error is returned only for a cancelled
// context; everything wrong with the input is a finding in the report.
func Audit(ctx context.Context, in Input) (*Report, error) {
	a := &audit{in: in, metadata: map[string]*tuf.File{}, names: map[string]string{}, sums: map[*tuf.File]string{}}
	a.r = &Report{
		Format:       Format,
		End:          "open",
		Participants: []string{},
		Witnesses:    []string{},
		Preflight:    []session.PreflightEvent{},
		Decisions:    []Decision{},
		Roles:        []Role{},
		Files:        []FileCheck{},
		Notes:        []session.Noted{},
		Sites:        []SiteReport{},
		Waivers:      []Waiver{},
		Findings:     []Finding{},
	}
	a.r.Log.HeadSignatures = []HeadSignature{}
	if a.chain() {
		a.events()
		a.readWaivers()
		a.r.Vault.Checked = in.Vault != nil
		a.head()
		sites := a.joinSites(ctx)
		if in.Vault == nil {
			a.files()
			a.find(CodeNoVault, 0, "", "no vault was given: the log and the exported files were checked for integrity, but not the signatures, thresholds, expiry or decisions, which need the vault generation the ceremony was opened on")
			a.payloadsOnly()
		} else {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			// The replay and reading the exported files run side by side,
			// each with its own findings, in this order in the report.
			// The replayed build's card reads an exported file whose
			// signed part is its payload as read, rather than parse the
			// same bytes again.
			replayed := &audit{in: in, entries: a.entries, r: &Report{}}
			read := make(chan struct{})
			replayed.parsed = func(sum string) *tuf.File {
				<-read
				// In name order: two files of the same payload are
				// equally good, and no map order picks between them.
				for _, name := range slices.Sorted(maps.Keys(a.metadata)) {
					if f := a.metadata[name]; a.signedSum(f) == sum {
						return f
					}
				}
				return nil
			}
			go func() {
				defer close(read)
				a.files()
			}()
			replayed.replay()
			<-read
			a.s, a.replayed = replayed.s, replayed.replayed
			a.r.Findings = append(a.r.Findings, replayed.r.Findings...)
			if err := a.roles(ctx); err != nil {
				return nil, err
			}
		}
		a.reportSites(sites)
		if in.Published != nil {
			a.published()
		}
	}
	a.r.Verdict = Pass
	failed := a.r.Published != nil && len(a.r.Published.Discrepancies) > 0
	incomplete := false // a log, of this site or another, checked without its vault
	for _, f := range a.r.Findings {
		failed = failed || f.Code != CodeNoVault
		incomplete = incomplete || f.Code == CodeNoVault
	}
	switch {
	case failed:
		a.r.Verdict = Fail
	case incomplete:
		a.r.Verdict = Incomplete
	}
	return a.r, nil
}

func (a *audit) find(code string, line int64, role, format string, args ...any) {
	a.r.Findings = append(a.r.Findings, Finding{Code: code, Line: line, Role: role, Message: fmt.Sprintf(format, args...)})
}

// chain verifies the log's hash chain; false when it is broken (nothing
// in it can then be taken as what was written).
func (a *audit) chain() bool {
	entries, torn, err := transcript.Parse(a.in.Log)
	var ce *transcript.ChainError
	if errors.As(err, &ce) {
		a.find(CodeLogBroken, int64(ce.Line), "", "%s", ce.Reason)
		return false
	}
	if err != nil {
		a.find(CodeLogBroken, 0, "", "%v", err)
		return false
	}
	if len(entries) == 0 {
		a.find(CodeLogBroken, 1, "", "the log holds no line")
		return false
	}
	a.entries = entries
	last := entries[len(entries)-1]
	a.r.Log.Lines, a.r.Log.Head, a.r.Log.Torn = last.Seq, last.Hash, torn
	if torn {
		a.find(CodeLogTorn, last.Seq+1, "", "the log ends in a line without its newline (a write a crash interrupted); a finished ceremony's log has none")
	}
	return true
}

// events reads what the report shows from the log's lines. Bodies are
// decoded leniently here; Replay decodes them strictly and says which
// line it refuses.
func (a *audit) events() {
	for _, e := range a.entries {
		switch e.Type {
		case session.TypeOpened:
			var o session.Opened
			if json.Unmarshal(e.Body, &o) == nil {
				a.opened = &o
				a.r.Ceremony = o.Ceremony
				a.r.Program = Program{ConclaveVersion: o.ConclaveVersion, BinarySHA256: o.BinarySHA256}
				a.r.Vault = VaultRef{Generation: o.VaultGeneration, Hash: o.VaultHash, PolicySHA256: o.PolicySHA256}
				a.r.Rehearsal, a.r.RehearsalReason = o.Rehearsal, o.RehearsalReason
				a.r.Participants = nonNil(o.Participants)
				a.r.Witnesses = nonNil(o.Witnesses)
			}
		case session.TypePreflight:
			var p session.PreflightEvent
			if json.Unmarshal(e.Body, &p) == nil {
				a.r.Preflight = append(a.r.Preflight, p)
			}
		case session.TypeClock:
			var c session.ClockEvent
			if json.Unmarshal(e.Body, &c) == nil {
				a.r.Clock = &c
			}
		case session.TypeImported:
			var im session.Imported
			if json.Unmarshal(e.Body, &im) == nil {
				a.r.Bundle = &Bundle{ID: im.BundleID, Source: im.Source, ManifestSHA256: im.ManifestSHA256, Counts: im.Counts}
			}
		case session.TypeBuilt:
			var b session.Built
			if json.Unmarshal(e.Body, &b) == nil {
				a.built = &b
			}
		case session.TypeSigned:
			var sg session.Signed
			if json.Unmarshal(e.Body, &sg) == nil {
				a.signed = append(a.signed, sg)
			}
		case session.TypeExported:
			var x session.Exported
			if json.Unmarshal(e.Body, &x) == nil {
				a.exported = &x
			}
		case session.TypeNoted:
			var n session.Noted
			if json.Unmarshal(e.Body, &n) == nil {
				a.r.Notes = append(a.r.Notes, n)
			}
		case session.TypeClosed:
			a.r.End = "closed"
		case session.TypeAbandoned:
			a.r.End = "abandoned"
		}
	}
	last := a.entries[len(a.entries)-1]
	if last.Type != session.TypeClosed && last.Type != session.TypeAbandoned {
		a.find(CodeLogNotEnded, last.Seq+1, "", "the log ends at line %d (%s) without a closed or abandoned line: it was cut, or the ceremony did not finish", last.Seq, last.Type)
	}
}

// headPayload is head.json's payload.
type headPayload struct {
	Ceremony string `json:"ceremony"`
	Format   string `json:"format"`
	Head     string `json:"head"`
	Lines    int64  `json:"lines"`
}

// head checks the log against the head its holders signed: a log cut or
// changed at its end keeps a whole chain, and only the head kept outside
// it shows that (docs/formats/transcript.md, "The head").
func (a *audit) head() {
	if a.in.Head == nil {
		return
	}
	v, err := cjson.Parse(a.in.Head)
	if err != nil {
		a.find(CodeHeadSignature, 0, "", "%s: %v", HeadName, err)
		return
	}
	env, err := envelope.Parse(v, HeadName)
	if err != nil {
		a.find(CodeHeadSignature, 0, "", "%v", err)
		return
	}
	var p headPayload
	dec := json.NewDecoder(strings.NewReader(string(env.Payload)))
	dec.DisallowUnknownFields()
	if env.PayloadType != envelope.TypeTranscriptHead || dec.Decode(&p) != nil || p.Format != HeadFormat {
		a.find(CodeHeadSignature, 0, "", "%s is not a signed log head (%s)", HeadName, HeadFormat)
		return
	}
	n := a.r.Log.Lines
	switch {
	case p.Ceremony != a.r.Ceremony:
		a.find(CodeHeadMismatch, 1, "", "the signed head is of ceremony %q, the log is of %q", p.Ceremony, a.r.Ceremony)
	case p.Lines > n:
		a.find(CodeLogTruncated, n+1, "", "the log ends at line %d; the head its holders signed names %d lines: lines %d to %d are missing", n, p.Lines, n+1, p.Lines)
	case p.Lines < n:
		a.find(CodeLogExtended, p.Lines+1, "", "the head its holders signed names %d lines; lines %d to %d were added after it", p.Lines, p.Lines+1, n)
	case p.Head != a.r.Log.Head:
		a.find(CodeHeadMismatch, n, "", "line %d is not the line whose hash the holders signed as the head (%s)", n, p.Head)
	}
	keys := a.holderKeys()
	for _, sig := range env.Signatures {
		hs := HeadSignature{KeyID: sig.KeyID, Holder: a.holderOf(sig.KeyID)}
		if k := keys[sig.KeyID]; k != nil && hs.Holder != "" {
			one := &envelope.Envelope{PayloadType: env.PayloadType, Payload: env.Payload, Signatures: []envelope.Signature{sig}}
			_, err := one.Verify(envelope.TypeTranscriptHead, map[string]*tuf.Key{sig.KeyID: k})
			hs.Valid = err == nil
		}
		a.r.Log.HeadSignatures = append(a.r.Log.HeadSignatures, hs)
		if a.in.Vault != nil && !hs.Valid {
			a.find(CodeHeadSignature, 0, "", "the signature over the log's head by key %s is not a valid signature by a holder's enrolled key", sig.KeyID)
		}
	}
}

// holderKeys are the keys a holder may sign with: those the root and the
// top-level targets define (the keys the vault's policy binds holders to).
func (a *audit) holderKeys() map[string]*tuf.Key {
	keys := map[string]*tuf.Key{}
	v := a.in.Vault
	if v == nil {
		return keys
	}
	if v.Root != nil && v.Root.Root != nil {
		maps.Copy(keys, v.Root.Root.Keys)
	}
	if v.Targets != nil && v.Targets.Targets != nil && v.Targets.Targets.Delegations != nil {
		maps.Copy(keys, v.Targets.Targets.Delegations.Keys)
	}
	return keys
}

// holderOf names the holder whose enrolled key keyid is ("" for none).
func (a *audit) holderOf(keyid string) string {
	if a.in.Vault == nil {
		return ""
	}
	for _, h := range a.in.Vault.Policy.Holders {
		for _, k := range h.Keys {
			if k.KeyID == keyid {
				return h.Name
			}
		}
	}
	return ""
}

// files compares the export directory with the log's exported line, and
// reads the exported metadata.
func (a *audit) files() {
	logged := map[string]string{}
	if a.exported != nil {
		logged = a.exported.Files
	} else if a.r.End == "closed" || len(a.in.Export) > 0 {
		a.find(CodeExportFile, 0, "", "the log records no export, and the export directory holds %d files", len(a.in.Export))
	}
	names := slices.Sorted(maps.Keys(a.in.Export))
	for n := range logged {
		if _, ok := a.in.Export[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fc := FileCheck{Name: n, Logged: logged[n]}
		data, ok := a.in.Export[n]
		if ok {
			fc.SHA256 = bundle.SumHex(data)
		}
		fc.Match = ok && fc.SHA256 == fc.Logged
		a.r.Files = append(a.r.Files, fc)
		switch {
		case !ok:
			a.find(CodeExportFile, 0, "", "%s: the log records it as exported, and the export does not hold it", n)
		case fc.Logged == "" && a.exported == nil:
			// Said once, above.
		case fc.Logged == "":
			a.find(CodeExportFile, 0, "", "%s: in the export, but the log records no such file exported", n)
		case !fc.Match:
			a.find(CodeExportFile, 0, "", "%s: SHA-256 %s, the log records %s", n, fc.SHA256, fc.Logged)
		}
		if !ok || n == export.ManifestName || n == export.DecisionsName {
			continue
		}
		role, _ := verify.RoleFromName(n)
		f, err := tuf.Parse(n, data)
		if err != nil {
			a.find(CodeExportFile, 0, role, "%s: %v", n, err)
			continue
		}
		a.metadata[role], a.names[role] = f, n
		a.signedSum(f)
	}
}

// signedSum is the SHA-256 of f's signed part, computed once per file.
func (a *audit) signedSum(f *tuf.File) string {
	sum, ok := a.sums[f]
	if !ok {
		sum = bundle.SumHex(f.SignedBytes())
		a.sums[f] = sum
	}
	return sum
}

// payloadsOnly compares the exported metadata with the payloads the log
// registered, which needs no vault.
func (a *audit) payloadsOnly() {
	if a.built == nil {
		return
	}
	for _, p := range a.built.Payloads {
		role := Role{Role: p.Role, Version: p.Version, PayloadSHA256: p.PayloadSHA256, Expires: p.Expires, File: a.names[p.Role],
			Added: p.Added, Rotated: p.Rotated, Removed: p.Removed, CardDigest: p.CardDigest,
			Holders: []string{}, Signatures: []Signature{}, SignedBy: []string{}}
		a.checkPayload(p, a.metadata[p.Role])
		a.r.Roles = append(a.r.Roles, role)
	}
}

// checkPayload compares an exported file with the payload the log
// registered for its role.
func (a *audit) checkPayload(p session.BuiltPayload, f *tuf.File) {
	if f == nil {
		if a.r.End == "closed" {
			a.find(CodeExportFile, 0, p.Role, "%s version %d was built and the export holds no file of it", p.Role, p.Version)
		}
		return
	}
	if sum := a.signedSum(f); f.Version() != p.Version || sum != p.PayloadSHA256 {
		a.find(CodePayloadMismatch, a.lineOf(session.TypeBuilt), p.Role, "%s: exported version %d with payload %s; the log registered version %d with payload %s", p.Role, f.Version(), sum, p.Version, p.PayloadSHA256)
	}
}

// lineOf is the first line of a type (0 when there is none).
func (a *audit) lineOf(typ string) int64 {
	for _, e := range a.entries {
		if e.Type == typ {
			return e.Seq
		}
	}
	return 0
}

// nopAppender lets a log be resumed for a replay that appends nothing.
type nopAppender struct{}

func (nopAppender) Append([]byte) error { return errors.New("an audit appends nothing to the log") }

// memBlobs are the blobs of a log as read, for a replay.
type memBlobs map[string][]byte

func (memBlobs) Put([]byte) (string, error) {
	return "", errors.New("an audit stores no blob")
}

func (m memBlobs) Get(sum string) ([]byte, error) {
	data, ok := m[sum]
	if !ok {
		return nil, fmt.Errorf("blob %s: not beside the log", sum)
	}
	if got := bundle.SumHex(data); got != sum {
		return nil, fmt.Errorf("blob %s: its bytes hash to %s", sum, got)
	}
	return data, nil
}

// replay replays the log on the vault. A refusal is a finding at its
// line, and the lines before it are replayed again, so that the checks
// of the exported bytes still have the decisions to compare with.
func (a *audit) replay() {
	s, err := a.replayUpTo(len(a.entries))
	if err == nil {
		a.s, a.replayed = s, true
		return
	}
	var re *session.ReplayError
	if !errors.As(err, &re) {
		a.find(CodeReplay, 0, "", "%v", err)
		return
	}
	a.find(CodeReplay, re.Seq, "", "the %s line does not replay on vault generation %s: %v", re.Type, a.in.Vault.Generation, re.Err)
	if re.Seq > 1 {
		a.s, _ = a.replayUpTo(int(re.Seq) - 1)
	}
}

func (a *audit) replayUpTo(n int) (*session.Session, error) {
	entries := a.entries[:n]
	log, err := transcript.Resume(nopAppender{}, entries)
	if err != nil {
		return nil, err
	}
	return session.Replay(entries, session.Deps{Vault: a.in.Vault, Log: log, Blobs: memBlobs(a.in.Blobs), Parsed: a.parsed})
}

// roles checks each built role's exported bytes.
func (a *audit) roles(ctx context.Context) error {
	decisions := a.decisions()
	// The expiry is computed at the ceremony time: this site's confirmed
	// time, or the first site's for a ceremony signed at several sites.
	var confirmed time.Time
	if a.s != nil {
		confirmed = a.s.CeremonyTime()
	}
	var payloads []session.BuiltPayload
	if a.built != nil {
		payloads = a.built.Payloads
	}
	applied := map[string]bool{} // request ids whose change is in the bytes
	covered := map[string]bool{} // roles whose bytes were compared
	for _, p := range payloads {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := a.metadata[p.Role]
		a.checkPayload(p, f)
		role := Role{Role: p.Role, Version: p.Version, PayloadSHA256: p.PayloadSHA256, File: a.names[p.Role],
			Holders: []string{}, Signatures: []Signature{}, SignedBy: []string{}}
		if f == nil {
			a.r.Roles = append(a.r.Roles, role)
			continue
		}
		covered[p.Role] = true
		role.PayloadSHA256 = a.signedSum(f)
		role.Expires = f.Expires().String()
		a.checkRegister(p.Role, f)
		if !confirmed.IsZero() {
			want := tuf.NewExpiry(confirmed.Add(a.in.Vault.Policy.Expiry(p.Role).Expiry))
			role.ExpectedExpires = want.String()
			if !f.Expires().Time.Equal(want.Time) {
				a.find(CodeExpiry, 0, p.Role, "%s version %d expires %s; the confirmed time %s plus the policy's period for %s gives %s",
					p.Role, f.Version(), role.Expires, confirmed.UTC().Format(time.RFC3339), p.Role, want)
			}
		}
		a.signatures(&role, f)
		if card := a.replayedCard(p, f); card != nil {
			role.Added, role.Rotated, role.Removed, role.CardDigest = card.Added, card.Rotated, card.Removed, card.Digest
			a.changes(card, decisions, applied)
		} else if last := a.in.Vault.Delegators[p.Role]; last == nil {
			a.find(CodeCard, 0, p.Role, "the vault holds no last signed version of %s to compare with", p.Role)
		} else if card, err := build.Summarize(p.Role, last, f); err != nil {
			a.find(CodeCard, 0, p.Role, "the changes in %s cannot be derived from its bytes: %v", a.names[p.Role], err)
		} else {
			role.Added, role.Rotated, role.Removed, role.CardDigest = card.Added, card.Rotated, card.Removed, card.Digest
			if card.Digest != p.CardDigest {
				a.find(CodeCard, a.lineOf(session.TypeBuilt), p.Role, "the summary card of %s recomputed from its bytes has digest %s; the log registered %s", p.Role, card.Digest, p.CardDigest)
			}
			a.changes(card, decisions, applied)
		}
		a.r.Roles = append(a.r.Roles, role)
	}
	if a.s != nil {
		a.walk(ctx)
	}
	// Approved requests whose change is in none of the roles compared.
	for _, d := range a.r.Decisions {
		if d.Decision != DecisionApproved || applied[d.RequestID] {
			continue
		}
		role := a.in.Vault.Policy.ShardFor(d.Project)
		if covered[role] || a.r.End == "closed" {
			a.find(CodeApprovedMissing, 0, role, "request %s (%s %s) was approved and its change is not in the signed metadata", d.RequestID, d.Kind, d.Project)
		}
	}
	for i := range a.r.Decisions {
		a.r.Decisions[i].Applied = applied[a.r.Decisions[i].RequestID]
	}
	return nil
}

// replayedCard is the card the replay derived (build.Summarize) from the
// payload it built, when the whole log replayed and the exported file's
// signed part is exactly that payload: the card of these bytes, which
// need not be read a second time. Nil otherwise.
func (a *audit) replayedCard(p session.BuiltPayload, f *tuf.File) *build.Card {
	if !a.replayed || a.signedSum(f) != p.PayloadSHA256 {
		return nil
	}
	cards, _ := a.s.Cards()
	for _, c := range cards {
		if c.Role == p.Role && c.Version == f.Version() && c.Digest == p.CardDigest {
			return c
		}
	}
	return nil
}

// decisionsByProject are the verdicts and decisions of a project's
// requests, in the bundle's order.
type decided struct {
	v verdict.Verdict
	d *Decision
}

// decisions fills the report's decisions from the replayed session, and
// returns them by project.
func (a *audit) decisions() map[string][]decided {
	out := map[string][]decided{}
	if a.s == nil || a.s.Report() == nil {
		return out
	}
	rep := a.s.Report()
	a.r.Decisions = make([]Decision, len(rep.Requests))
	for i, v := range rep.Requests {
		d := &a.r.Decisions[i]
		*d = Decision{RequestID: v.RequestID, Kind: v.Kind, Project: v.Project, Class: string(v.Class), Decision: DecisionUndecided, Codes: codeStrings(v.Codes())}
		if v.Class == verdict.Invalid {
			d.Decision = DecisionInvalid
		} else if dec, ok := a.s.Decision(v.RequestID); ok {
			d.Reason, d.By = dec.Reason, dec.By
			switch dec.Decision {
			case session.Approve:
				d.Decision = DecisionApproved
			case session.Reject:
				d.Decision = DecisionRejected
			case session.Defer:
				d.Decision = DecisionDeferred
			}
		}
		if v.Project != "" {
			out[v.Project] = append(out[v.Project], decided{v: v, d: d})
		}
	}
	return out
}

// changes checks a role's changes, read from its bytes, against the
// decisions: each change must be an approved request's, exactly.
func (a *audit) changes(card *build.Card, byProject map[string][]decided, applied map[string]bool) {
	for _, c := range card.Changes {
		var match *decided
		var other []decided
		for _, dd := range byProject[c.Project] {
			if dd.d.Decision == DecisionApproved {
				dd := dd
				match = &dd
			} else {
				other = append(other, dd)
			}
		}
		if match != nil {
			applied[match.d.RequestID] = true
			if !sameAfter(c.After, match.v.Change) {
				a.find(CodeChangeDiffers, 0, card.Role, "%s in %s version %d is not the change request %s asked for and people approved", c.Project, card.Role, card.Version, match.d.RequestID)
			}
			continue
		}
		found := false
		for _, dd := range other {
			switch dd.d.Decision {
			case DecisionRejected:
				a.find(CodeRejectedApplied, 0, card.Role, "request %s (%s %s) was rejected by %s, and its change is in %s version %d", dd.d.RequestID, dd.d.Kind, c.Project, dd.d.By, card.Role, card.Version)
			case DecisionDeferred:
				a.find(CodeDeferredApplied, 0, card.Role, "request %s (%s %s) was deferred by %s, and its change is in %s version %d", dd.d.RequestID, dd.d.Kind, c.Project, dd.d.By, card.Role, card.Version)
			default:
				continue
			}
			applied[dd.d.RequestID] = true
			found = true
		}
		if !found {
			a.find(CodeChangeNotApproved, 0, card.Role, "%s version %d %s %s, and no approved request covers it", card.Role, card.Version, changeVerb(c), c.Project)
		}
	}
}

func changeVerb(c build.Change) string {
	switch {
	case c.Before == nil:
		return "adds"
	case c.After == nil:
		return "removes"
	}
	return "changes the keys of"
}

// sameAfter reports whether a delegation read from the bytes is the one
// the request's verdict says approval writes.
func sameAfter(got *build.Delegation, ch *verdict.Change) bool {
	if ch == nil {
		return false
	}
	want := ch.After
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	ids := make([]string, len(want.Keys))
	for i, k := range want.Keys {
		ids[i] = k.KeyID
	}
	sort.Strings(ids)
	return slices.Equal(got.KeyIDs, ids) && got.Threshold == want.Threshold && slices.Equal(got.Paths, want.Paths)
}

// checkRegister holds each (role, version) to one payload: the vault's
// register lists every payload ever built.
func (a *audit) checkRegister(role string, f *tuf.File) {
	sum := a.signedSum(f)
	if reg, ok := a.in.Vault.Register[role][f.Version()]; ok && reg != sum {
		a.find(CodePayloadRegistered, 0, role, "%s version %d: the vault's register holds payload %s, the export holds %s; a version has one payload, ever", role, f.Version(), reg, sum)
	}
	if cur := a.in.Vault.Delegators[role]; cur != nil && f.Version() <= cur.Version() {
		a.find(CodePayloadRegistered, 0, role, "%s version %d is not after the vault's version %d", role, f.Version(), cur.Version())
	}
}

// signatures counts an exported file's signatures against its role's
// delegation, by holder: one vote each, however many keys a holder has.
func (a *audit) signatures(role *Role, f *tuf.File) {
	t := a.in.Vault.Targets
	var del *tuf.DelegatedRole
	if t != nil && t.Targets != nil && t.Targets.Delegations != nil {
		for i := range t.Targets.Delegations.Roles {
			if t.Targets.Delegations.Roles[i].Name == role.Role {
				del = t.Targets.Delegations.Roles[i]
			}
		}
	}
	if del == nil {
		a.find(CodeVerify, 0, role.Role, "the vault's targets metadata does not delegate %s", role.Role)
		return
	}
	role.Threshold = del.Threshold
	for _, h := range a.in.Vault.Policy.Holders {
		if slices.ContainsFunc(h.Keys, func(k policy.HolderKey) bool { return slices.Contains(del.KeyIDs, k.KeyID) }) {
			role.Holders = append(role.Holders, h.Name)
		}
	}
	sort.Strings(role.Holders)
	res := f.VerifyRole(role.Role, t.Targets.Delegations.Keys, del.KeyIDs, del.Threshold)
	votes := map[string]bool{}
	for _, c := range res.Checks {
		sig := Signature{KeyID: c.KeyID, Holder: a.holderOf(c.KeyID), Status: string(c.Status)}
		for _, l := range a.signed {
			if l.Role == role.Role && l.Version == role.Version && l.KeyID == c.KeyID {
				sig.Logged, sig.Token = true, l.Token
			}
		}
		role.Signatures = append(role.Signatures, sig)
		switch c.Status {
		case tuf.SigCounted:
			if sig.Holder == "" {
				a.find(CodeSignatureNoHolder, 0, role.Role, "%s version %d is signed by key %s, which the delegation lists and no holder of the policy holds", role.Role, role.Version, c.KeyID)
				continue
			}
			if !sig.Logged {
				a.find(CodeSignatureUnlogged, 0, role.Role, "%s version %d carries a signature by %s (key %s) that the log does not record", role.Role, role.Version, sig.Holder, c.KeyID)
			}
			votes[sig.Holder] = true
		case tuf.SigDuplicateKey:
		case tuf.SigUnknownKey:
			a.find(CodeSignatureUnlisted, 0, role.Role, "%s version %d carries a signature by key %s, which its delegation does not list", role.Role, role.Version, c.KeyID)
		default:
			a.find(CodeSignatureInvalid, 0, role.Role, "%s version %d carries a signature by key %s that is not valid: %s", role.Role, role.Version, c.KeyID, c.Status.Sentence())
		}
	}
	role.SignedBy = slices.Sorted(maps.Keys(votes))
	if role.SignedBy == nil {
		role.SignedBy = []string{}
	}
	role.ThresholdMet = int64(len(votes)) >= del.Threshold
	if !role.ThresholdMet {
		a.find(CodeThreshold, 0, role.Role, "%s version %d is signed by %s (%s) of the %d its threshold needs; a holder is one vote however many keys they hold",
			role.Role, role.Version, termtext.Plural(len(votes), "holder"), strings.Join(role.SignedBy, ", "), del.Threshold)
	}
}

// walk verifies the exported metadata from the vault's root as a TUF
// client does (verify.Walk), at the confirmed time.
func (a *audit) walk(ctx context.Context) {
	v := a.in.Vault
	opts := verify.Options{
		Trusted: verify.Input{Name: "root.json", Data: v.Root.Bytes()},
		Files:   []verify.Input{{Name: "targets.json", Data: v.Targets.Bytes()}},
		Now:     a.s.Confirmed(),
	}
	for _, role := range slices.Sorted(maps.Keys(a.metadata)) {
		f := a.metadata[role]
		opts.Files = append(opts.Files, verify.Input{Name: a.names[role], Data: f.Bytes(), Parsed: f})
	}
	if len(opts.Files) == 1 {
		return
	}
	rep, err := verify.Walk(ctx, opts)
	if err != nil {
		a.find(CodeVerify, 0, "", "%v", err)
		return
	}
	for _, f := range rep.Files {
		if f.Verdict != verify.Valid && f.Verdict != verify.Skipped {
			a.find(CodeVerify, 0, f.Role, "%s is %s as a TUF client walks it from the vault's root: %s", f.Name, f.Verdict, f.Reason())
		}
	}
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func codeStrings(cs []verdict.Code) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

// OpenedOn is the vault generation a log's first line says the ceremony
// was opened on: the generation an audit checks it against. ok is false
// when the first line is not a whole, well-formed opened line.
func OpenedOn(log []byte) (generation string, ok bool) {
	generation, _, ok = OpenedOnHash(log)
	return generation, ok
}
