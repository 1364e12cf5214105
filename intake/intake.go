// Package intake is the online repository's side of the request format:
// it writes delegation requests and packs them into signed bundles for the
// transfer media (docs/formats/). A repository service written in Go uses
// it directly; one in another language follows the formats' JSON Schemas.
//
// Keys are crypto.Signer values: developer keys sign possession and
// key-change statements, the intake key signs the bundle manifest. The
// intake signature is transport integrity only: it authorises nothing.
package intake

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/durable"
)

// Signer is a key and the signer that holds it.
type Signer struct {
	Key    *tuf.Key
	Signer crypto.Signer
}

// NewSigner makes the TUF key object for a signer's public key.
func NewSigner(s crypto.Signer) (Signer, error) {
	k, err := tuf.KeyFromPublic(s.Public())
	if err != nil {
		return Signer{}, err
	}
	return Signer{Key: k, Signer: s}, nil
}

// Request describes a request to write.
type Request struct {
	ID          string
	Kind        request.Kind
	Project     string
	Keys        []*tuf.Key // nil for a removal
	Threshold   int64
	Made        time.Time
	RequestedBy string
	// BaseVersion is the version of the delegating metadata the request
	// is made against: the possession statement is bound to it.
	BaseVersion int64
}

// NewDraft checks what can be checked before signing and makes a draft.
func NewDraft(r Request) (*request.Draft, error) {
	if err := request.CheckID(r.ID); err != nil {
		return nil, fmt.Errorf("request id %q: %w", r.ID, err)
	}
	if _, err := request.Normalize(r.Project, 1<<10); err != nil {
		return nil, fmt.Errorf("project %q: %w", r.Project, err)
	}
	if err := request.CheckText(r.RequestedBy, 1<<10); err != nil {
		return nil, fmt.Errorf("requested_by %w", err)
	}
	switch r.Kind {
	case request.Add, request.Rotate:
		if len(r.Keys) == 0 {
			return nil, fmt.Errorf("an %s request needs keys", r.Kind)
		}
	case request.Remove:
		if r.Keys != nil {
			return nil, errors.New("a remove request has no keys")
		}
	case request.Recover:
	default:
		return nil, fmt.Errorf("unknown request kind %q", r.Kind)
	}
	return &request.Draft{
		ID: r.ID, Kind: r.Kind, Project: r.Project, Keys: r.Keys, Threshold: r.Threshold,
		Made: r.Made.UTC().Truncate(time.Second), RequestedBy: r.RequestedBy, BaseVersion: r.BaseVersion,
	}, nil
}

// SignPossession has every listed key sign the possession statement. The
// signers must hold exactly the draft's keys, in any order.
func SignPossession(d *request.Draft, signers []Signer) error {
	if d.BaseVersion < 1 {
		return fmt.Errorf("possession statement: no base version; it is bound to the version of the delegating metadata the request is made against")
	}
	st, err := d.PossessionStatement()
	if err != nil {
		return err
	}
	env := &envelope.Envelope{PayloadType: request.TypePossession, Payload: st.Payload()}
	for _, k := range d.Keys {
		found := false
		for _, s := range signers {
			if s.Key.Fingerprint() == k.Fingerprint() {
				if err := env.Sign(s.Signer, k); err != nil {
					return fmt.Errorf("possession statement: %w", err)
				}
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("possession statement: no signer for key %s", k.ID())
		}
	}
	d.Possession = env
	return nil
}

// KeyChange makes the key-change statement a project's current keys sign
// to authorise replacing them (newKeys non-nil) or removing the delegation
// (newKeys nil). current is the project's delegation in the delegating
// metadata of version baseVersion.
func KeyChange(project string, baseVersion int64, current *tuf.DelegatedRole, newKeys []*tuf.Key, newThreshold int64) (*envelope.Envelope, error) {
	name, err := request.Normalize(project, 1<<10)
	if err != nil {
		return nil, err
	}
	kc := request.KeyChange{
		Project:       name,
		BaseVersion:   baseVersion,
		CurrentKeyset: request.NewKeyset(current.KeyIDs, current.Threshold).Hash(),
		Change:        request.ChangeRemove,
	}
	if newKeys != nil {
		ids := make([]string, len(newKeys))
		for i, k := range newKeys {
			ids[i] = k.ID()
		}
		kc.Change = request.ChangeRotate
		kc.NewKeyset = request.NewKeyset(ids, newThreshold)
	}
	return &envelope.Envelope{PayloadType: request.TypeKeyChange, Payload: kc.Payload()}, nil
}

// SignEnvelope adds one signature (a developer's key on a key-change
// statement, each holder in turn).
func SignEnvelope(env *envelope.Envelope, s Signer) error {
	return env.Sign(s.Signer, s.Key)
}

// File is one request file for a bundle.
type File struct {
	// Name is the path inside the bundle, such as "requests/r1.json".
	Name string
	Data []byte
}

// RequestFile names a request's file by its id.
func RequestFile(d *request.Draft) File {
	return File{Name: "requests/" + d.ID + ".json", Data: d.Encode()}
}

// Pack describes a bundle to write.
type Pack struct {
	BundleID string
	Source   string
	Created  time.Time
	// Bases are the metadata of every delegating role the requests were
	// made against (the delegating role, or each shard), in any order:
	// the manifest lists them sorted by role.
	Bases    []bundle.Base
	Requests []File
	// Published is the repository's published state (project, normalised
	// → keyset); nil writes none.
	Published map[string]request.Keyset
	Intake    Signer
}

// PublishedName is where Pack writes the published state.
const PublishedName = "published.json"

// MaxPerDirectory is the most request files Write puts in one directory.
// FAT32, still the file system of many USB sticks, allows 65,536 entries
// per directory, and a name longer than 8.3 takes up to 21 of them, so a
// bundle of 100,000 requests in one directory cannot be written there.
// Larger bundles are spread over numbered subdirectories of this many.
const MaxPerDirectory = 2048

// Write creates the bundle directory dir (which must not exist) with the
// request files, the published state and the signed manifest, each file
// created new (never replacing one) and synced, and each directory synced
// once before the manifest (package internal/durable). The manifest is written last: a bundle
// without one is incomplete and is refused. Before anything is written
// the manifest is checked with the rules the ceremony reads it by
// ([bundle.Manifest.Check]): a bundle id, source, base or path the
// ceremony would refuse is refused here, in the same words. With more than
// MaxPerDirectory requests, each file goes into a numbered subdirectory of
// the directory its name gives ("requests/r1.json" becomes
// "requests/000/r1.json"); the manifest lists the paths as written.
func (p *Pack) Write(dir string) error { return p.WriteContext(context.Background(), dir) }

// WriteContext is Write that stops when ctx is cancelled, checked before
// each file: it then removes the directory it made, with what it had
// written, and returns ctx's error. The manifest is written last, so a
// bundle is never complete before every request file is in it.
func (p *Pack) WriteContext(ctx context.Context, dir string) (err error) {
	bases := slices.SortedFunc(slices.Values(p.Bases), func(a, b bundle.Base) int { return strings.Compare(a.Role, b.Role) })
	m := &bundle.Manifest{BundleID: p.BundleID, Source: p.Source, Created: p.Created.UTC().Truncate(time.Second), Bases: bases}
	files := append([]File(nil), p.Requests...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for i, f := range files {
		switch {
		case i > 0 && f.Name == files[i-1].Name:
			return fmt.Errorf("pack: two request files are both named %q; give each its own name", f.Name)
		case f.Name == PublishedName:
			return fmt.Errorf("pack: a request file may not be named %q; the bundle uses that name for the published state", f.Name)
		}
	}
	if len(files) > MaxPerDirectory {
		for i := range files {
			parent, base := path.Split(files[i].Name)
			files[i].Name = fmt.Sprintf("%s%03d/%s", parent, i/MaxPerDirectory, base)
		}
	}
	for _, f := range files {
		m.Files = append(m.Files, bundle.Entry{Path: f.Name, Kind: bundle.KindRequest, Size: int64(len(f.Data)), SHA256: bundle.SumHex(f.Data)})
	}
	if p.Published != nil {
		data := bundle.EncodePublished(p.Published)
		files = append(files, File{Name: PublishedName, Data: data})
		m.Files = append(m.Files, bundle.Entry{Path: PublishedName, Kind: bundle.KindPublished, Size: int64(len(data)), SHA256: bundle.SumHex(data)})
	}
	if err := m.Check(); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	manifest, err := bundle.SignManifest(m, func(e *envelope.Envelope) error { return e.Sign(p.Intake.Signer, p.Intake.Key) })
	if err != nil {
		return fmt.Errorf("pack: sign the manifest: %w", err)
	}
	if err := durable.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	defer func() {
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// Made by this call (Mkdir refuses an existing one), so
			// everything under it is this call's.
			if rmErr := os.RemoveAll(dir); rmErr != nil {
				err = fmt.Errorf("pack: stopped, and could not remove the half-made %s: %w", dir, rmErr)
			}
		}
	}()
	// Each file is synced, and each directory once, after its last file
	// and before the manifest: until the manifest is on the disk, nothing
	// written counts (durable.CreateInBatch).
	made := map[string]bool{".": true}
	written := map[string]bool{} // directories with files
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		sub := path.Dir(f.Name)
		if err := mkdirs(dir, sub, made); err != nil {
			return err
		}
		if err := durable.CreateInBatch(filepath.Join(dir, filepath.FromSlash(f.Name)), f.Data, 0o644); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		written[sub] = true
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, sub := range slices.Sorted(maps.Keys(written)) {
		if err := durable.SyncDir(filepath.Join(dir, filepath.FromSlash(sub))); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
	}
	if err := durable.CreateNew(filepath.Join(dir, bundle.ManifestName), manifest, 0o644); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	return nil
}

// mkdirs creates the directory sub of the bundle directory dir and those
// above it, each synced into its parent, unless made says it exists.
func mkdirs(dir, sub string, made map[string]bool) error {
	if made[sub] {
		return nil
	}
	if err := mkdirs(dir, path.Dir(sub), made); err != nil {
		return err
	}
	if err := durable.Mkdir(filepath.Join(dir, filepath.FromSlash(sub)), 0o755); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	made[sub] = true
	return nil
}
