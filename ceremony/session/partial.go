package session

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/partial"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// A ceremony may be signed at several air-gapped sites, one after the
// other (docs/two-sites.md). The first site runs a ceremony to its
// signatures and exports a partial (PartialFiles, ExportedPartial)
// instead of the metadata. Each next site opens its own ceremony under
// the same ceremony id, on its own vault, and after its clock:
//
//	Join     the partial, kept as blobs beside the log (joined event)
//	Import   the bundle copy the partial carries (JoinedBundle)
//	Adopt    the first site's decisions (adopted event)
//	Build    the same steps; the payloads must be byte for byte the
//	         partial's, or nothing is recorded (*SiteMismatchError)
//	Merge    the partial's signatures, each checked against this vault's
//	         holders' keys and the rebuilt bytes (merged event)
//
// then signs as any ceremony does and exports the next partial, or the
// metadata once every threshold is met. Each site's log is its own; they
// share the ceremony id and record the same payload hashes.

// Event types of a ceremony signed at several sites.
const (
	TypeJoined  = "joined"
	TypeAdopted = "adopted"
	TypeMerged  = "merged"
)

// Errors a caller acts on.
var (
	// ErrOtherCeremony: the partial belongs to another ceremony than the
	// log's.
	ErrOtherCeremony = errors.New("the partial is from another ceremony")
	// ErrOtherVault: the partial was built on a vault that is not in the
	// state of this one.
	ErrOtherVault = errors.New("the partial was built on another vault, or on this vault in another state")
	// ErrSiteMismatch: a payload this site rebuilt is not the one the
	// partial carries (see SiteMismatchError).
	ErrSiteMismatch = errors.New("the payload rebuilt here is not the partial's")
	// ErrBadPartial: the partial's files are not what it lists, or its
	// metadata or a signature in it is refused.
	ErrBadPartial = errors.New("the partial is refused")
	// ErrJoinedDecisions: a joined ceremony takes the first site's
	// decisions and makes none of its own.
	ErrJoinedDecisions = errors.New("this site takes the first site's decisions; it decides nothing itself")
	// ErrNotMerged: at a joined site, nobody signs and nothing is
	// exported before the partial's signatures are merged: they would be
	// dropped.
	ErrNotMerged = errors.New("the signatures the partial carries are not merged yet")
	// ErrWaiverOneSite: a ceremony in which a recovery's notice period
	// was waived is signed at one site: the waiver's signatures are in
	// its log only, and the next site would judge the recovery without
	// them.
	ErrWaiverOneSite = errors.New("a notice period was waived in this ceremony: it is signed at one site, and exports no partial")
	// ErrComplete: every threshold is met, so the metadata is exported,
	// not a partial.
	ErrComplete = errors.New("every role's threshold is met: export the metadata, not a partial")
)

// Joined records the partial this site continues: the SHA-256 of its
// partial.json (kept as a blob, as are the files it lists), its ceremony
// time and the participant who received the medium.
type Joined struct {
	PartialSHA256 string `json:"partial_sha256"`
	CeremonyTime  string `json:"ceremony_time"`
	By            string `json:"by"`
}

// Adopted records that the partial's decisions were taken as this
// ceremony's: their count and the SHA-256 of their canonical list
// (decisionsHash), and who at this site confirmed them.
type Adopted struct {
	Count           int    `json:"count"`
	DecisionsSHA256 string `json:"decisions_sha256"`
	By              string `json:"by"`
}

// Merged records the signatures the partial carried, each added to the
// payload this site rebuilt.
type Merged struct {
	Signatures []MergedSignature `json:"signatures"`
}

// MergedSignature is one signature carried from an earlier site; the
// holder is the one this vault's policy enrols the key for.
type MergedSignature struct {
	Role      string `json:"role"`
	Version   int64  `json:"version"`
	Holder    string `json:"holder"`
	KeyID     string `json:"keyid"`
	Signature string `json:"signature"`
}

func (*Joined) eventType() string  { return TypeJoined }
func (*Adopted) eventType() string { return TypeAdopted }
func (*Merged) eventType() string  { return TypeMerged }

// site is what a joined ceremony carries from the partial.
type site struct {
	p        *partial.Partial
	sum      string               // SHA-256 of partial.json
	time     time.Time            // the ceremony time
	metadata map[string]*tuf.File // by role: the metadata carried
	adopted  bool
	merged   bool
}

// SiteMismatchError refuses a rebuilt payload that is not the partial's.
// It wraps ErrSiteMismatch.
type SiteMismatchError struct {
	Role string
	// Carried is what the partial says (version and payload SHA-256),
	// Rebuilt what this site built; a role built on one side only has
	// the other's empty.
	CarriedVersion, RebuiltVersion int64
	Carried, Rebuilt               string
}

func (e *SiteMismatchError) Error() string {
	switch {
	case e.Carried == "":
		return fmt.Sprintf("%s: this site built version %d (payload %s), the partial carries no %s", e.Role, e.RebuiltVersion, e.Rebuilt, e.Role)
	case e.Rebuilt == "":
		return fmt.Sprintf("%s: the partial carries version %d (payload %s), this site built no %s", e.Role, e.CarriedVersion, e.Carried, e.Role)
	}
	return fmt.Sprintf("%s: the partial carries version %d with payload %s, this site rebuilt version %d with payload %s; nobody signs here", e.Role, e.CarriedVersion, e.Carried, e.RebuiltVersion, e.Rebuilt)
}

func (e *SiteMismatchError) Unwrap() error { return ErrSiteMismatch }

// CeremonyTime is the time the bundle is judged and the expiry computed
// at: the confirmed time, or the first site's for a joined ceremony.
func (s *Session) CeremonyTime() time.Time {
	if s.site != nil {
		return s.site.time
	}
	return s.confirmed
}

// Joined reports whether this ceremony continues a partial.
func (s *Session) Joined() bool { return s.site != nil }

// Adopted reports whether the partial's decisions are taken, Merged
// whether its signatures are added.
func (s *Session) Adopted() bool { return s.site != nil && s.site.adopted }

// Merged reports whether the partial's signatures are added.
func (s *Session) Merged() bool { return s.site != nil && s.site.merged }

// VaultOf names the vault state a partial is built on.
func VaultOf(v *vault.Vault) (partial.Vault, error) {
	if v.Root == nil || v.Targets == nil {
		return partial.Vault{}, errors.New("the vault holds no root or no top-level targets")
	}
	return partial.Vault{
		RootVersion:   v.Root.Version(),
		RootSHA256:    bundle.SumHex(v.Root.Bytes()),
		TargetsSHA256: bundle.SumHex(v.Targets.Bytes()),
		PolicySHA256:  bundle.SumHex(v.PolicyBytes),
	}, nil
}

// Join continues the partial read from the transfer medium: files holds
// partial.json (partial.Name) and every file it lists, by name. It is
// called once the clock is confirmed, before anything is imported: the
// partial must be of this log's ceremony, built on a vault in this
// vault's state, at a ceremony time not after this site's confirmed
// clock; its metadata files must hold the payloads it names. Each file is
// kept as a blob beside the log, so that a replay and an auditor read the
// same bytes.
func (s *Session) Join(files map[string][]byte, by string) error {
	if err := s.need("join the partial", StateImport); err != nil {
		return err
	}
	data, ok := files[partial.Name]
	if !ok {
		return fmt.Errorf("join the partial: %w: no %s", ErrBadPartial, partial.Name)
	}
	p, err := partial.Parse(data)
	if err != nil {
		return fmt.Errorf("join the partial: %w: %w", ErrBadPartial, err)
	}
	want := map[string]string{
		partial.Name:     bundle.SumHex(data),
		partial.CopyName: p.Bundle.CopySHA256,
	}
	for _, r := range p.Roles {
		want[r.Metadata] = r.MetadataSHA256
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if _, listed := want[name]; !listed {
			return fmt.Errorf("join the partial: %w: %s is not a file the partial lists", ErrBadPartial, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		b, ok := files[name]
		if !ok {
			return fmt.Errorf("join the partial: %w: %s is missing", ErrBadPartial, name)
		}
		if got := bundle.SumHex(b); got != want[name] {
			return fmt.Errorf("join the partial: %w: %s has SHA-256 %s, the partial lists %s", ErrBadPartial, name, got, want[name])
		}
		if _, err := s.d.Blobs.Put(b); err != nil {
			return fmt.Errorf("join the partial: keep %s: %w", name, err)
		}
	}
	if err := s.commit(&Joined{PartialSHA256: want[partial.Name], CeremonyTime: p.CeremonyTime, By: by}); err != nil {
		return fmt.Errorf("join the partial: %w", err)
	}
	return nil
}

func (s *Session) stepJoined(e *Joined) (func(), error) {
	if err := s.need("join the partial", StateImport); err != nil {
		return nil, err
	}
	if s.site != nil {
		return nil, errors.New("the ceremony has joined a partial already")
	}
	if err := s.checkPresent(e.By); err != nil {
		return nil, err
	}
	data, err := s.d.Blobs.Get(e.PartialSHA256)
	if err != nil {
		return nil, fmt.Errorf("read the partial: %w", err)
	}
	p, err := partial.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPartial, err)
	}
	if p.Ceremony != s.d.Log.CeremonyID() {
		return nil, fmt.Errorf("%w: the partial is of ceremony %s, this log is of ceremony %s", ErrOtherCeremony, p.Ceremony, s.d.Log.CeremonyID())
	}
	if p.CeremonyTime != e.CeremonyTime {
		return nil, fmt.Errorf("%w: the partial's ceremony time is %s, the log says %s", ErrBadPartial, p.CeremonyTime, e.CeremonyTime)
	}
	switch {
	case p.Rehearsal && !s.opened.Rehearsal:
		return nil, fmt.Errorf("%w: the partial is a rehearsal's, this ceremony is not a rehearsal", ErrOtherVault)
	case !p.Rehearsal && s.opened.Rehearsal:
		return nil, fmt.Errorf("%w: this ceremony is a rehearsal, the partial is not a rehearsal's", ErrOtherVault)
	}
	mine, err := VaultOf(s.d.Vault)
	if err != nil {
		return nil, err
	}
	if err := sameVault(p.Vault, mine); err != nil {
		return nil, err
	}
	t := p.Time()
	if t.After(s.confirmed) {
		return nil, fmt.Errorf("%w: its ceremony time %s is after this site's confirmed time %s", ErrBadPartial, p.CeremonyTime, s.confirmed.Format(time.RFC3339))
	}
	st := &site{p: p, sum: e.PartialSHA256, time: t, metadata: map[string]*tuf.File{}}
	for _, r := range p.Roles {
		b, err := s.d.Blobs.Get(r.MetadataSHA256)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", r.Metadata, err)
		}
		f, err := tuf.Parse(r.Metadata, b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadPartial, err)
		}
		switch {
		case string(f.Bytes()) != string(b):
			return nil, fmt.Errorf("%w: %s is not in exact canonical form", ErrBadPartial, r.Metadata)
		case f.Targets == nil:
			return nil, fmt.Errorf("%w: %s is %s metadata, not targets", ErrBadPartial, r.Metadata, f.Type())
		case f.Version() != r.Version || bundle.SumHex(f.SignedBytes()) != r.PayloadSHA256:
			return nil, fmt.Errorf("%w: %s holds version %d with payload %s, the partial lists version %d with payload %s",
				ErrBadPartial, r.Metadata, f.Version(), bundle.SumHex(f.SignedBytes()), r.Version, r.PayloadSHA256)
		}
		st.metadata[r.Role] = f
	}
	if _, err := s.d.Blobs.Get(p.Bundle.CopySHA256); err != nil {
		return nil, fmt.Errorf("read the bundle copy: %w", err)
	}
	return func() { s.site = st }, nil
}

// sameVault names the first way the partial's vault differs from this one.
func sameVault(carried, mine partial.Vault) error {
	switch {
	case carried.RootVersion != mine.RootVersion || carried.RootSHA256 != mine.RootSHA256:
		return fmt.Errorf("%w: its root is version %d (SHA-256 %s), this vault's is version %d (SHA-256 %s)",
			ErrOtherVault, carried.RootVersion, carried.RootSHA256, mine.RootVersion, mine.RootSHA256)
	case carried.TargetsSHA256 != mine.TargetsSHA256:
		return fmt.Errorf("%w: its top-level targets has SHA-256 %s, this vault's %s", ErrOtherVault, carried.TargetsSHA256, mine.TargetsSHA256)
	case carried.PolicySHA256 != mine.PolicySHA256:
		return fmt.Errorf("%w: its policy has SHA-256 %s, this vault's %s", ErrOtherVault, carried.PolicySHA256, mine.PolicySHA256)
	}
	return nil
}

// JoinedBundle serves the bundle copy the partial carries, for Import.
func (s *Session) JoinedBundle() (bundle.Source, error) {
	if s.site == nil {
		return nil, errors.New("the ceremony has joined no partial")
	}
	data, err := s.d.Blobs.Get(s.site.p.Bundle.CopySHA256)
	if err != nil {
		return nil, fmt.Errorf("read the bundle copy: %w", err)
	}
	return parseCopy(data)
}

// checkJoinedImport refuses, in a joined ceremony, a bundle that is not
// the one the partial names.
func (s *Session) checkJoinedImport(imp *imported) error {
	if s.site == nil {
		return nil
	}
	b := s.site.p.Bundle
	if imp.blob != b.CopySHA256 || imp.bundle.Manifest.BundleID != b.ID || imp.manifest != b.ManifestSHA256 {
		return fmt.Errorf("%w: it names bundle %s (manifest %s, copy %s); the bundle imported is %s (manifest %s, copy %s)",
			ErrBadPartial, b.ID, b.ManifestSHA256, b.CopySHA256, imp.bundle.Manifest.BundleID, imp.manifest, imp.blob)
	}
	return nil
}

// Adopt takes the partial's decisions as this ceremony's, confirmed by a
// participant: each goes through the checks a decision made here would
// (a request of the bundle, valid, a reason for a rejection or a
// deferral). Nothing may be decided here before or after.
func (s *Session) Adopt(by string) error {
	if err := s.need("adopt the decisions", StateReview); err != nil {
		return err
	}
	if s.site == nil {
		return errors.New("adopt the decisions: the ceremony has joined no partial")
	}
	ds := s.site.p.Decisions
	if err := s.commit(&Adopted{Count: len(ds), DecisionsSHA256: decisionsHash(ds), By: by}); err != nil {
		return fmt.Errorf("adopt the decisions: %w", err)
	}
	return nil
}

// decisionsHash is the hex SHA-256 of the decisions, one per line:
// request id, decision, reason and who decided, each as a quoted Go
// string (so no newline or space inside one can shift the others).
func decisionsHash(ds []partial.Decision) string {
	h := sha256.New()
	for _, d := range ds {
		fmt.Fprintf(h, "%q %q %q %q\n", d.RequestID, d.Decision, d.Reason, d.By)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Session) stepAdopted(e *Adopted) (func(), error) {
	if err := s.need("adopt the decisions", StateReview); err != nil {
		return nil, err
	}
	if s.site == nil || s.site.adopted {
		return nil, errors.New("the ceremony has no partial decisions to adopt")
	}
	if err := s.checkPresent(e.By); err != nil {
		return nil, err
	}
	if len(s.decisions) > 0 {
		return nil, ErrJoinedDecisions
	}
	ds := s.site.p.Decisions
	if e.Count != len(ds) || e.DecisionsSHA256 != decisionsHash(ds) {
		return nil, fmt.Errorf("%w: it holds %d decisions (SHA-256 %s), the log says %d (%s)", ErrBadPartial, len(ds), decisionsHash(ds), e.Count, e.DecisionsSHA256)
	}
	for i, d := range ds {
		ev := &Decided{RequestID: d.RequestID, Decision: d.Decision, Reason: d.Reason, By: d.By}
		if err := s.checkDecision(ev); err != nil {
			return nil, fmt.Errorf("%w: decisions[%d] (request %q): %w", ErrBadPartial, i, d.RequestID, err)
		}
	}
	return func() {
		for _, d := range ds {
			s.decisions[d.RequestID] = Decided{RequestID: d.RequestID, Decision: d.Decision, Reason: d.Reason, By: d.By}
		}
		s.site.adopted = true
	}, nil
}

// checkRebuilt compares, in a joined ceremony, the payloads built with
// the partial's, role by role in name order.
func (s *Session) checkRebuilt(res *buildResult) error {
	if s.site == nil {
		return nil
	}
	if !s.site.adopted {
		return errors.New("the partial's decisions are not adopted yet")
	}
	carried := map[string]partial.Role{}
	for _, r := range s.site.p.Roles {
		carried[r.Role] = r
	}
	roles := map[string]bool{}
	for r := range carried {
		roles[r] = true
	}
	for r := range res.byRole {
		roles[r] = true
	}
	for _, role := range slices.Sorted(maps.Keys(roles)) {
		c, p := carried[role], res.byRole[role]
		e := &SiteMismatchError{Role: role, CarriedVersion: c.Version, Carried: c.PayloadSHA256}
		if p != nil {
			e.RebuiltVersion, e.Rebuilt = p.Version, p.SHA256
		}
		if e.Carried != e.Rebuilt || e.CarriedVersion != e.RebuiltVersion {
			return e
		}
	}
	if res.digest != s.site.p.Digest {
		return fmt.Errorf("%w: the summary digest rebuilt is %s, the partial's is %s", ErrSiteMismatch, res.digest, s.site.p.Digest)
	}
	return nil
}

// Merge adds the signatures the partial carries to the payloads this
// site rebuilt, as one event: each signature's key must be one that the
// role's delegation lists and this vault's policy enrols for a holder,
// each must verify over the rebuilt bytes, and no holder or key may sign
// a role twice. It returns the signatures added.
func (s *Session) Merge() ([]MergedSignature, error) {
	if err := s.need("merge the partial's signatures", StateBuild); err != nil {
		return nil, err
	}
	if s.site == nil {
		return nil, errors.New("merge the partial's signatures: the ceremony has joined no partial")
	}
	ev := &Merged{Signatures: []MergedSignature{}}
	for _, r := range s.site.p.Roles {
		for _, sig := range s.site.metadata[r.Role].Signatures {
			ev.Signatures = append(ev.Signatures, MergedSignature{
				Role: r.Role, Version: r.Version, Holder: s.holderOfKey(sig.KeyID), KeyID: sig.KeyID, Signature: sig.Sig,
			})
		}
	}
	if err := s.commit(ev); err != nil {
		return nil, fmt.Errorf("merge the partial's signatures: %w", err)
	}
	return ev.Signatures, nil
}

// holderOfKey names the holder the policy enrols a key for ("" for none).
func (s *Session) holderOfKey(keyid string) string {
	for _, h := range s.d.Vault.Policy.Holders {
		for _, k := range h.Keys {
			if k.KeyID == keyid {
				return h.Name
			}
		}
	}
	return ""
}

func (s *Session) stepMerged(e *Merged) (func(), error) {
	if err := s.need("merge the partial's signatures", StateBuild); err != nil {
		return nil, err
	}
	if s.site == nil || s.site.merged {
		return nil, errors.New("the ceremony has no partial signatures to merge")
	}
	var carried []MergedSignature
	for _, r := range s.site.p.Roles {
		for _, sig := range s.site.metadata[r.Role].Signatures {
			carried = append(carried, MergedSignature{Role: r.Role, Version: r.Version, Holder: s.holderOfKey(sig.KeyID), KeyID: sig.KeyID, Signature: sig.Sig})
		}
	}
	if !slices.Equal(carried, e.Signatures) {
		return nil, fmt.Errorf("%w: the log merges %d signatures, the partial carries %d others", ErrBadPartial, len(e.Signatures), len(carried))
	}
	type vote struct{ role, holder string }
	seen := map[vote]string{} // → the key that signed
	for _, m := range e.Signatures {
		p := s.built.byRole[m.Role]
		if p == nil || p.Version != m.Version {
			return nil, fmt.Errorf("%w: it carries a signature of %s version %d, which was not built", ErrBadPartial, m.Role, m.Version)
		}
		if m.Holder == "" {
			return nil, fmt.Errorf("%w: key %s signed %s, and this vault's policy enrols it for no holder", ErrBadPartial, m.KeyID, m.Role)
		}
		// A key signs once per file (tuf.Parse refuses a keyid twice); a
		// holder with two keys the delegation lists is still one vote.
		if first, twice := seen[vote{m.Role, m.Holder}]; twice {
			return nil, fmt.Errorf("%w: %s signs %s twice, with keys %s and %s", ErrBadPartial, m.Holder, m.Role, first, m.KeyID)
		}
		seen[vote{m.Role, m.Holder}] = m.KeyID
		if err := s.checkSignature(p, m.Holder, m.KeyID, m.Signature); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadPartial, err)
		}
	}
	return func() {
		for _, m := range e.Signatures {
			p := s.built.byRole[m.Role]
			p.File.Signatures = append(p.File.Signatures, tuf.Signature{KeyID: m.KeyID, Sig: m.Signature})
			p.signed[m.Holder] = m.KeyID
			s.state = StateSign
		}
		s.site.merged = true
	}, nil
}

// PartialFiles plans a partial export (package partial): partial.json,
// the metadata of each role built with the signatures so far, and the
// bundle copy. A ceremony whose every threshold is met exports the
// metadata instead (ErrComplete). The caller writes the files to the
// transfer medium, reads them back, and reports their hashes with
// ExportedPartial.
func (s *Session) PartialFiles() ([]export.File, error) {
	if err := s.need("export a partial", StateSign, StateBuild); err != nil {
		return nil, err
	}
	if s.site != nil && !s.site.merged {
		return nil, fmt.Errorf("export a partial: %w", ErrNotMerged)
	}
	files, err := s.planPartial()
	if err != nil {
		return nil, err
	}
	s.planned, s.plannedSeq = plannedSums(files), s.lastSeq
	return files, nil
}

func (s *Session) planPartial() ([]export.File, error) {
	if len(s.imp.waivers) > 0 {
		return nil, ErrWaiverOneSite
	}
	if complete := len(s.Progress()) > 0 && !slices.ContainsFunc(s.Progress(), func(p Progress) bool { return !p.Complete() }); complete {
		return nil, ErrComplete
	}
	v, err := VaultOf(s.d.Vault)
	if err != nil {
		return nil, err
	}
	_, digest := s.Cards()
	p := &partial.Partial{
		Format:       partial.Format,
		Ceremony:     s.d.Log.CeremonyID(),
		CeremonyTime: s.CeremonyTime().UTC().Format(time.RFC3339),
		Rehearsal:    s.opened.Rehearsal,
		Vault:        v,
		Bundle: partial.Bundle{
			ID:             s.imp.bundle.Manifest.BundleID,
			ManifestSHA256: s.imp.manifest,
			CopySHA256:     s.imp.blob,
		},
		Decisions: []partial.Decision{},
		Digest:    digest,
		Roles:     []partial.Role{},
	}
	for _, id := range slices.Sorted(maps.Keys(s.decisions)) {
		d := s.decisions[id]
		p.Decisions = append(p.Decisions, partial.Decision{RequestID: id, Decision: d.Decision, Reason: d.Reason, By: d.By})
	}
	copyData, err := s.d.Blobs.Get(s.imp.blob)
	if err != nil {
		return nil, fmt.Errorf("read the bundle copy: %w", err)
	}
	files := []export.File{{Name: partial.CopyName, Data: copyData}}
	for _, b := range s.built.payloads {
		name := export.MetadataName(b.Role, b.Version, false)
		data := b.File.Bytes()
		p.Roles = append(p.Roles, partial.Role{
			Role: b.Role, Version: b.Version, PayloadSHA256: b.SHA256,
			Metadata: name, MetadataSHA256: bundle.SumHex(data),
		})
		files = append(files, export.File{Name: name, Data: data})
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	files = append(files, export.File{Name: partial.Name, Data: p.Encode()})
	slices.SortFunc(files, func(a, b export.File) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}

// ExportedPartial records a partial export, once the caller has written
// every file PartialFiles planned and read each back: files maps each
// name to the hex SHA-256 read back, and must be exactly the plan. The
// ceremony then closes as any exported one; its vault registers the
// payloads and keeps its current versions until the signed metadata
// comes back (vault sync).
func (s *Session) ExportedPartial(files map[string]string) error {
	if err := s.need("record the partial export", StateSign, StateBuild); err != nil {
		return err
	}
	if err := s.commit(&Exported{Files: maps.Clone(files), Partial: true}); err != nil {
		return fmt.Errorf("record the partial export: %w", err)
	}
	return nil
}

func (s *Session) stepExportedPartial(e *Exported) (func(), error) {
	if s.site != nil && !s.site.merged {
		return nil, ErrNotMerged
	}
	want := s.planned
	if want == nil || s.plannedSeq != s.lastSeq {
		planned, err := s.planPartial()
		if err != nil {
			return nil, err
		}
		want = plannedSums(planned)
	}
	if !maps.Equal(want, e.Files) {
		names := slices.Sorted(maps.Keys(want))
		return nil, fmt.Errorf("the files read back are not the partial export planned (%s with their hashes)", strings.Join(names, ", "))
	}
	return func() {
		s.partialExported = true
		s.state = StateExport
	}, nil
}

// PartialExported reports whether the ceremony exported a partial.
func (s *Session) PartialExported() bool { return s.partialExported }
