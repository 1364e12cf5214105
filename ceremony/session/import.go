package session

import (
	"errors"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// ErrShardedImport: a bundle names one base, the delegating metadata it
// was made against (docs/formats/bundle.md); a vault whose projects are
// delegated by shards has one per shard, so no bundle can name them.
var ErrShardedImport = errors.New("a bundle names one base metadata; a policy with shards has several")

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
	trust, delegator, err := s.trust()
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
	imp := s.judge(blob, b, rec.files[bundle.ManifestName], len(rec.files), delegator)
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

// trust is what the bundle is judged against, all from the vault.
func (s *Session) trust() (bundle.Trust, *tuf.Targets, error) {
	v := s.d.Vault
	p := v.Policy
	if len(p.Shards) > 0 {
		return bundle.Trust{}, nil, ErrShardedImport
	}
	f := v.Delegators[p.DelegatingRole]
	if f == nil || f.Targets == nil {
		return bundle.Trust{}, nil, fmt.Errorf("the vault holds no targets metadata for %s", p.DelegatingRole)
	}
	keys := make(map[string]*tuf.Key, len(p.IntakeKeys))
	for _, k := range p.IntakeKeys {
		keys[k.ID()] = k
	}
	return bundle.Trust{
		IntakeKeys: keys,
		Base:       bundle.Base{Role: p.DelegatingRole, Version: f.Version(), SHA256: bundle.SumHex(f.Bytes())},
		Rules:      p.Rules,
		Seen:       v.History.SeenBundle,
	}, f.Targets, nil
}

// judge validates a loaded bundle at the confirmed time.
func (s *Session) judge(blob string, b *bundle.Bundle, manifest []byte, files int, delegator *tuf.Targets) *imported {
	vs := validate.Validate(validate.Input{
		Bundle:    b,
		Delegator: delegator,
		Rules:     s.d.Vault.Policy.Rules,
		History:   s.d.Vault.History,
		Now:       s.confirmed,
	})
	imp := &imported{blob: blob, bundle: b, manifest: bundle.SumHex(manifest), files: files, verdicts: vs, byID: make(map[string]int, len(vs))}
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
	trust, delegator, err := s.trust()
	if err != nil {
		return nil, err
	}
	b, err := bundle.Load(c, trust)
	if err != nil {
		return nil, fmt.Errorf("the bundle copy is refused on replay: %w", err)
	}
	return s.judge(blob, b, c.files[bundle.ManifestName], len(c.files), delegator), nil
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
	return func() {
		s.imp = imp
		s.derivedImport = nil
		s.state = StateReview
	}, nil
}
