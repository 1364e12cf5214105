package session

import (
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// Import reads the bundle from src, judges it against the vault (its
// intake keys, its delegating metadata as the base, its rules and history,
// at the confirmed time), keeps a copy of exactly the bytes read beside the
// log, and appends the imported event. A refused bundle (a
// *verdict.BundleError) appends nothing: the ceremony stays in the import
// state, and people note the refusal or abandon.
func (s *Session) Import(src bundle.Source) error {
	if err := s.need("import", StateImport); err != nil {
		return err
	}
	trust, delegators, err := ImportTrust(s.d.Vault)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	rec := newRecorder(src)
	b, err := bundle.Load(rec, trust)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	blob, err := s.d.Blobs.Put(encodeCopy(rec.files))
	if err != nil {
		return fmt.Errorf("import: keep the bundle copy: %w", err)
	}
	imp := s.judge(blob, b, bundle.SumHex(rec.files[bundle.ManifestName]), len(rec.files), delegators, nil)
	s.derivedImport = imp
	err = s.commit(&Imported{
		BundleID:       b.Manifest.BundleID,
		Source:         b.Manifest.Source,
		ManifestSHA256: imp.manifest,
		BundleBlob:     blob,
		Files:          imp.files,
		Counts:         imp.counts,
	})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}

// ImportTrust is what a bundle is judged against, all from the vault: its
// intake keys; as the bundle's bases, the metadata of every role the
// policy signs (the delegating role, or each shard), sorted by role; its
// rules and its history of bundles seen. delegators are the same roles'
// targets metadata, by role name, for validate.Input.
func ImportTrust(v *vault.Vault) (trust bundle.Trust, delegators map[string]*tuf.Targets, err error) {
	p := v.Policy
	roles := p.SignedRoles() // sorted
	delegators = make(map[string]*tuf.Targets, len(roles))
	bases := make([]bundle.Base, 0, len(roles))
	for _, role := range roles {
		f := v.Delegators[role]
		if f == nil || f.Targets == nil {
			return bundle.Trust{}, nil, fmt.Errorf("vault generation %s holds no targets metadata for %s", v.Generation, role)
		}
		delegators[role] = f.Targets
		bases = append(bases, bundle.Base{Role: role, Version: f.Version(), SHA256: bundle.SumHex(f.Bytes())})
	}
	keys := make(map[string]*tuf.Key, len(p.IntakeKeys))
	for _, k := range p.IntakeKeys {
		keys[k.ID()] = k
	}
	return bundle.Trust{
		IntakeKeys: keys,
		Bases:      bases,
		Rules:      p.Rules,
		Seen:       v.History.SeenBundle,
	}, delegators, nil
}

// judge validates a loaded bundle at the confirmed time, with the notice
// periods waived so far (nil at the import).
func (s *Session) judge(blob string, b *bundle.Bundle, manifest string, files int, delegators map[string]*tuf.Targets, waivers map[string]validate.Waiver) *imported {
	vs := validate.Validate(validate.Input{
		Bundle:     b,
		Delegators: delegators,
		RoleFor:    s.d.Vault.Policy.ShardFor,
		Rules:      s.d.Vault.Policy.Rules,
		History:    s.d.Vault.History,
		Now:        s.CeremonyTime(),
		Waivers:    waivers,
	})
	imp := &imported{blob: blob, bundle: b, manifest: manifest, files: files, verdicts: vs, byID: make(map[string]int, len(vs)), waivers: waivers}
	for i, v := range vs {
		if _, twice := imp.byID[v.RequestID]; twice {
			imp.byID[v.RequestID] = -1
		} else {
			imp.byID[v.RequestID] = i
		}
		switch v.Class {
		case verdict.RuleApprovable:
			imp.counts.RuleApprovable++
		case verdict.NeedsJudgement:
			imp.counts.NeedsJudgement++
		default:
			imp.counts.Invalid++
		}
	}
	return imp
}

// deriveImport judges the bundle again from its copy, as a replay does.
func (s *Session) deriveImport(blob string) (*imported, error) {
	data, err := s.d.Blobs.Get(blob)
	if err != nil {
		return nil, fmt.Errorf("read the bundle copy: %w", err)
	}
	c, err := parseCopy(data)
	if err != nil {
		return nil, err
	}
	trust, delegators, err := ImportTrust(s.d.Vault)
	if err != nil {
		return nil, err
	}
	b, err := bundle.Load(c, trust)
	if err != nil {
		return nil, fmt.Errorf("the bundle copy is refused on replay: %w", err)
	}
	return s.judge(blob, b, bundle.SumHex(c.files[bundle.ManifestName]), len(c.files), delegators, nil), nil
}

func (s *Session) stepImported(e *Imported) (func(), error) {
	if err := s.need("import", StateImport); err != nil {
		return nil, err
	}
	imp := s.derivedImport
	if imp == nil || imp.blob != e.BundleBlob {
		var err error
		if imp, err = s.deriveImport(e.BundleBlob); err != nil {
			return nil, err
		}
	}
	m := imp.bundle.Manifest
	if m.BundleID != e.BundleID || m.Source != e.Source || imp.manifest != e.ManifestSHA256 || imp.files != e.Files || imp.counts != e.Counts {
		return nil, fmt.Errorf("the bundle judged again is not the one the log records (bundle %s, %d files, counts %+v; the log says %s, %d files, counts %+v)",
			m.BundleID, imp.files, imp.counts, e.BundleID, e.Files, e.Counts)
	}
	if err := s.checkJoinedImport(imp); err != nil {
		return nil, err
	}
	return func() {
		s.imp = imp
		s.derivedImport = nil
		s.state = StateReview
	}, nil
}
