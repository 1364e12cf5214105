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
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
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

// Pack describes a bundle to write.
type Pack struct {
	BundleID string
	Source   string
	Created  time.Time
	// Bases are the metadata of every delegating role the requests were
	// made against (the delegating role, or each shard), in any order:
	// the manifest lists them sorted by role.
	Bases []bundle.Base
	// Requests are the requests, each one request's JSON on one line
	// (as request.Draft.Encode writes it, without a newline), in the
	// order the batches carry them.
	Requests [][]byte
	// MaxBatchRequests and MaxBatchSize bound each batch file written:
	// its lines, and its bytes with their newlines. Zero takes the
	// default rules' (rules.Default), which a ceremony under the default
	// policy accepts.
	MaxBatchRequests int
	MaxBatchSize     int64
	// Published is the repository's published state (project, normalised
	// → keyset); nil writes none.
	Published map[string]request.Keyset
	Intake    Signer
}

// PublishedName is where Pack writes the published state.
const PublishedName = "published.json"

// BatchDir is the directory of the batch files in a bundle.
const BatchDir = "requests"

// BatchName is the path of the n-th batch (from 1) of a bundle of count
// batches: "requests/0001.jsonl". The number is zero-padded to four
// digits, or as many as count has, so that the names sort in batch order;
// they are 8.3-short in their stem, and ".jsonl" says what is inside
// (JSON Lines).
func BatchName(n, count int) string {
	return fmt.Sprintf("%s/%0*d.jsonl", BatchDir, max(4, len(strconv.Itoa(count))), n)
}

// file is one file of a bundle to write.
type file struct {
	name string
	data []byte
}

// batches cuts the requests into batch files of at most maxN lines and
// maxSize bytes each, in order.
func batches(reqs [][]byte, maxN int, maxSize int64) ([]file, error) {
	var out [][]byte
	var cur []byte
	n := 0
	for i, r := range reqs {
		switch {
		case len(r) == 0:
			return nil, fmt.Errorf("request %d is empty", i+1)
		case bytes.ContainsAny(r, "\r\n"):
			return nil, fmt.Errorf("request %d holds a line end; a request is one line of its batch (request.Draft.Encode writes it so)", i+1)
		case int64(len(r))+1 > maxSize:
			return nil, fmt.Errorf("request %d is %d bytes long; with its newline it does not fit a batch of at most %d bytes", i+1, len(r), maxSize)
		}
		if n == maxN || int64(len(cur)+len(r)+1) > maxSize {
			out, cur, n = append(out, cur), nil, 0
		}
		cur = append(append(cur, r...), '\n')
		n++
	}
	if n > 0 {
		out = append(out, cur)
	}
	files := make([]file, len(out))
	for i, b := range out {
		files[i] = file{name: BatchName(i+1, len(out)), data: b}
	}
	return files, nil
}

// Write creates the bundle directory dir (which must not exist) with the
// batch files, the published state and the signed manifest, each file
// created new (never replacing one) and synced, and each directory synced
// once before the manifest (package internal/durable). The manifest is
// written last: a bundle without one is incomplete and is refused. Before
// anything is written the manifest is checked with the rules the ceremony
// reads it by ([bundle.Manifest.Check]): a bundle id, source or base the
// ceremony would refuse is refused here, in the same words. The requests
// go into batches (BatchName) in their order, a new batch started when
// the next request would break MaxBatchRequests or MaxBatchSize.
func (p *Pack) Write(dir string) error { return p.WriteContext(context.Background(), dir) }

// WriteContext is Write that stops when ctx is cancelled, checked before
// each file: it then removes the directory it made, with what it had
// written, and returns ctx's error. The manifest is written last, so a
// bundle is never complete before every batch is in it.
func (p *Pack) WriteContext(ctx context.Context, dir string) (err error) {
	bases := slices.SortedFunc(slices.Values(p.Bases), func(a, b bundle.Base) int { return strings.Compare(a.Role, b.Role) })
	m := &bundle.Manifest{BundleID: p.BundleID, Source: p.Source, Created: p.Created.UTC().Truncate(time.Second), Bases: bases}
	maxN, maxSize := p.MaxBatchRequests, p.MaxBatchSize
	def := rules.Default()
	if maxN <= 0 {
		maxN = def.MaxBatchRequests
	}
	if maxSize <= 0 {
		maxSize = def.MaxBatchSize
	}
	files, err := batches(p.Requests, maxN, maxSize)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	for _, f := range files {
		m.Files = append(m.Files, bundle.Entry{Path: f.name, Kind: bundle.KindBatch, Size: int64(len(f.data)), SHA256: bundle.SumHex(f.data)})
	}
	if p.Published != nil {
		data := bundle.EncodePublished(p.Published)
		files = append(files, file{name: PublishedName, data: data})
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
	if len(p.Requests) > 0 {
		if err := durable.Mkdir(filepath.Join(dir, BatchDir), 0o755); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := durable.CreateInBatch(filepath.Join(dir, filepath.FromSlash(f.name)), f.data, 0o644); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(p.Requests) > 0 {
		if err := durable.SyncDir(filepath.Join(dir, BatchDir)); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	if err := durable.CreateNew(filepath.Join(dir, bundle.ManifestName), manifest, 0o644); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	return nil
}

// Line reads one request as the repository has it (a request file, or a
// line of JSON Lines) and returns it as a line of a batch: its canonical
// JSON in file form (control characters escaped, so that it has no line
// end), and its id. A request Conclave would not read under lim is
// refused, with the parser's reason.
func Line(data []byte, lim request.Limits) (line []byte, id string, err error) {
	r, err := request.Parse(data, lim)
	if err != nil {
		return nil, "", err
	}
	v, err := cjson.ParseWith(data, cjson.Options{MaxDepth: lim.MaxDepth})
	if err != nil {
		return nil, "", err
	}
	e := cjson.Encoder{FileForm: true}
	e.Value(v)
	if line, err = e.Bytes(); err != nil {
		return nil, "", err
	}
	return line, r.ID, nil
}
