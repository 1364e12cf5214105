// Package intaketest builds bundles for tests and rehearsals: a trusted
// delegating role with two projects, deterministic developer and intake
// keys (ed25519 from fixed seeds: INSECURE, for tests only), and helpers
// that write valid requests, which tests then break one way at a time.
package intaketest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/intake"
)

// Now is the fixture's ceremony time.
var Now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// BaseVersion is the version of the fixture's trusted delegating role.
const BaseVersion = 7

// Fixture is a trusted state and the keys to write requests against it.
type Fixture struct {
	Rules rules.Rules
	// Intake is the repository's intake key.
	Intake intake.Signer
	// Delegator is the trusted "claimed" role: "existing-a" delegated to
	// keys a1, a2 (threshold 2), "existing-b" to b1 (threshold 1).
	Delegator      *tuf.File
	DelegatorBytes []byte
	// Bases is the one base, the trusted "claimed".
	Bases []bundle.Base
}

// Key returns the deterministic ed25519 key named name.
func Key(name string) intake.Signer {
	seed := sha256.Sum256([]byte("conclave intaketest key " + name))
	s, err := intake.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		panic(err)
	}
	return s
}

// New builds the fixture.
func New(t testing.TB) *Fixture {
	t.Helper()
	f := &Fixture{Rules: rules.Default(), Intake: Key("intake")}
	f.Rules.Repository = "example.org"
	projects := []delegation.Project{
		{Name: "existing-a", Keys: []*tuf.Key{Key("a1").Key, Key("a2").Key}, Threshold: 2},
		{Name: "existing-b", Keys: []*tuf.Key{Key("b1").Key}, Threshold: 1},
	}
	targets, err := delegation.Build(projects, f.Rules.PathTemplate, f.Rules.RoleNames(), BaseVersion, Now.Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	file, err := tuf.NewTargetsFile(targets)
	if err != nil {
		t.Fatal(err)
	}
	owner := Key("claimed-owner")
	if err := file.Sign(map[string]*tuf.Key{owner.Key.ID(): owner.Key}, owner.Key.ID(), owner.Signer); err != nil {
		t.Fatal(err)
	}
	f.Delegator = file
	f.DelegatorBytes = file.Bytes()
	f.Bases = []bundle.Base{{Role: "claimed", Version: BaseVersion, SHA256: bundle.SumHex(f.DelegatorBytes)}}
	return f
}

// Role returns a project's delegation in the trusted role.
func (f *Fixture) Role(name string) *tuf.DelegatedRole {
	for _, r := range f.Delegator.Targets.Delegations.Roles {
		if r.Name == name {
			return r
		}
	}
	panic("intaketest: no role " + name)
}

func keys(names []string) ([]*tuf.Key, []intake.Signer) {
	ks := make([]*tuf.Key, len(names))
	ss := make([]intake.Signer, len(names))
	for i, n := range names {
		ss[i] = Key(n)
		ks[i] = ss[i].Key
	}
	return ks, ss
}

func draft(t testing.TB, r intake.Request) *request.Draft {
	t.Helper()
	if r.Made.IsZero() {
		r.Made = Now.Add(-time.Hour)
	}
	if r.RequestedBy == "" {
		r.RequestedBy = "intake test"
	}
	if r.BaseVersion == 0 {
		r.BaseVersion = BaseVersion
	}
	d, err := intake.NewDraft(r)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Add writes an add request for project with the named keys, threshold
// the number of keys, possession signed by every key.
func (f *Fixture) Add(t testing.TB, id, project string, keyNames ...string) *request.Draft {
	t.Helper()
	return f.AddAt(t, BaseVersion, id, project, keyNames...)
}

// AddAt writes an add as Add does, made against version base of the
// delegating metadata.
func (f *Fixture) AddAt(t testing.TB, base int64, id, project string, keyNames ...string) *request.Draft {
	t.Helper()
	ks, ss := keys(keyNames)
	d := draft(t, intake.Request{ID: id, Kind: request.Add, Project: project, Keys: ks, Threshold: int64(len(ks)), BaseVersion: base})
	if err := intake.SignPossession(d, ss); err != nil {
		t.Fatal(err)
	}
	return d
}

// Rotate writes a rotation of an existing project to the named keys,
// authorised by the keys named in authBy.
func (f *Fixture) Rotate(t testing.TB, id, project string, authBy []string, keyNames ...string) *request.Draft {
	t.Helper()
	ks, ss := keys(keyNames)
	d := draft(t, intake.Request{ID: id, Kind: request.Rotate, Project: project, Keys: ks, Threshold: int64(len(ks))})
	if err := intake.SignPossession(d, ss); err != nil {
		t.Fatal(err)
	}
	d.Authorisation = f.Authorise(t, project, BaseVersion, ks, int64(len(ks)), authBy...)
	return d
}

// Authorise makes a key-change statement for project signed by authBy.
func (f *Fixture) Authorise(t testing.TB, project string, base int64, newKeys []*tuf.Key, threshold int64, authBy ...string) *envelope.Envelope {
	t.Helper()
	env, err := intake.KeyChange(project, base, f.Role(project), newKeys, threshold)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range authBy {
		if err := intake.SignEnvelope(env, Key(n)); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// Remove writes a removal authorised by authBy.
func (f *Fixture) Remove(t testing.TB, id, project string, authBy ...string) *request.Draft {
	t.Helper()
	d := draft(t, intake.Request{ID: id, Kind: request.Remove, Project: project})
	d.Authorisation = f.Authorise(t, project, BaseVersion, nil, 0, authBy...)
	return d
}

// Recover writes a recovery: to the named keys, or a removal if none.
func (f *Fixture) Recover(t testing.TB, id, project string, keyNames ...string) *request.Draft {
	t.Helper()
	if len(keyNames) == 0 {
		return draft(t, intake.Request{ID: id, Kind: request.Recover, Project: project})
	}
	ks, ss := keys(keyNames)
	d := draft(t, intake.Request{ID: id, Kind: request.Recover, Project: project, Keys: ks, Threshold: int64(len(ks))})
	if err := intake.SignPossession(d, ss); err != nil {
		t.Fatal(err)
	}
	return d
}

// Pack returns a bundle of the requests (one JSON line each) against the
// trusted base, signed by the intake key; tests change its fields before
// writing it.
func (f *Fixture) Pack(id string, requests ...[]byte) *intake.Pack {
	return &intake.Pack{
		BundleID: id,
		Source:   f.Rules.Repository,
		Created:  Now.Add(-30 * time.Minute),
		Bases:    slices.Clone(f.Bases),
		Requests: requests,
		Intake:   f.Intake,
	}
}

// Lines encodes drafts, each one line of a batch.
func Lines(ds ...*request.Draft) [][]byte {
	out := make([][]byte, len(ds))
	for i, d := range ds {
		out[i] = d.Encode()
	}
	return out
}

// Published is the published state of n projects
// ("published-project-000000" on), each with two keyids, threshold 1: a
// repository's state of n recently claimed projects, about 188 bytes
// each once written.
func Published(n int) map[string]request.Keyset {
	ps := make(map[string]request.Keyset, n)
	for i := range n {
		var ids []string
		for k := range 2 {
			s := sha256.Sum256(fmt.Appendf(nil, "%d/%d", i, k))
			ids = append(ids, fmt.Sprintf("%x", s))
		}
		ps[fmt.Sprintf("published-project-%06d", i)] = request.NewKeyset(ids, 1)
	}
	return ps
}

// DirSource reads a bundle directory with plain os calls, for domain
// tests that need no protection from the medium: it FOLLOWS LINKS and
// reads anything. The ceremony reads media with airgap/safefile.
type DirSource struct{ Dir string }

// ReadManifest reads the manifest.
func (s DirSource) ReadManifest() ([]byte, error) {
	return os.ReadFile(filepath.Join(s.Dir, bundle.ManifestName))
}

// Listed returns the files.
func (s DirSource) Listed(names []string, _ string) (bundle.Files, error) {
	set := map[string]bool{bundle.ManifestName: true}
	for _, n := range names {
		set[n] = true
	}
	return dirFiles{dir: s.Dir, names: set}, nil
}

type dirFiles struct {
	dir   string
	names map[string]bool
}

func (d dirFiles) ReadFile(name string) ([]byte, error) {
	if !d.names[name] {
		return nil, fmt.Errorf("%q is not listed", name)
	}
	return os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(name)))
}

func (d dirFiles) Extra() ([]string, error) {
	var extra []string
	err := filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.dir, p)
		if e.IsDir() {
			return nil
		}
		if !d.names[filepath.ToSlash(rel)] {
			extra = append(extra, strconv.Quote(filepath.ToSlash(rel)))
		}
		return nil
	})
	return extra, err
}
