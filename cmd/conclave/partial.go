package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/partial"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// A ceremony signed at several sites (docs/two-sites.md): the first site
// runs `conclave ceremony --export-partial`, which exports a partial when
// its holders do not meet every threshold; each next site runs `conclave
// sign`, which continues the partial in a ceremony of its own. The driver
// steps both through the same ceremonyRun; this file holds what is
// particular to a partial.

// maxPartialFile bounds one file of a partial directory.
const maxPartialFile = 1<<30 + 128<<20

// readPartial reads a partial directory from the transfer medium (see
// package partial): partial.json, then exactly the files it lists,
// through the media reader (no links, regular files only, limits), and
// nothing else may be there. It returns the files by name and the parsed
// partial.json.
func readPartial(dir string) (map[string][]byte, *partial.Partial, error) {
	if err := readableDir("the partial directory", dir); err != nil {
		return nil, nil, err
	}
	m := &mediaDir{dir: dir, manifest: partial.Name, manifestMax: partial.MaxSize}
	defer m.close()
	data, err := m.ReadManifest()
	if err != nil {
		return nil, nil, refused(fmt.Errorf("read %s: %w", partial.Name, err))
	}
	p, err := partial.Parse(data)
	if err != nil {
		return nil, nil, refused(err)
	}
	names := p.Files()
	// The bundle copy is as large as the bundle the first site read,
	// which its rules allow up to 1 GiB with a 64 MiB manifest and a
	// 64 MiB published state (rules.Default); each metadata file is
	// bounded as verify bounds one.
	m.limits = safefile.Limits{
		MaxFiles:     len(names) + 1,
		MaxFileSize:  maxPartialFile,
		MaxTotalSize: maxPartialFile + int64(len(p.Roles))*defaultMaxMetadataSize,
	}
	f, err := m.listed(names)
	if err != nil {
		return nil, nil, refused(err)
	}
	files := map[string][]byte{partial.Name: data}
	for _, n := range names {
		if files[n], err = f.ReadFile(n); err != nil {
			return nil, nil, refused(fmt.Errorf("read %s: %w", n, err))
		}
	}
	extra, err := f.Extra()
	if err != nil {
		return nil, nil, refused(err)
	}
	if len(extra) > 0 {
		return nil, nil, refused(fmt.Errorf("the partial directory holds %s, which %s does not list", strings.Join(extra, ", "), partial.Name))
	}
	return files, p, nil
}

// refusedPartial reports whether err refuses the partial itself (what
// the courier carried), rather than the machine or the command line.
func refusedPartial(err error) bool {
	for _, target := range []error{session.ErrBadPartial, session.ErrOtherVault, session.ErrOtherCeremony, session.ErrSiteMismatch} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// abandonPartial ends a ceremony whose partial is refused: it is
// abandoned with the refusal as its reason and the vault's next
// generation keeps its log, as for a refused bundle.
func (d *driver) abandonPartial(err error) error {
	// The message names hashes in full, for the paper log: longer than
	// termtext.Safe keeps, and made of what Conclave checked (role names
	// as partial.Parse admits them, hex digests).
	fmt.Fprintf(d.env.stdout, "\nThe partial is REFUSED: %s\nNobody signs here.\n", termtext.Cap(err.Error(), 2000))
	if _, aerr := d.s.Abandon("the partial was refused: "+err.Error(), d.o.Script.Decisions.By); aerr != nil {
		return aerr
	}
	if gerr := d.writeGeneration(); gerr != nil {
		return gerr
	}
	return exitError{exitRefused}
}

// join continues the partial: it is kept beside the log, then its bundle
// copy is imported (the bundle exactly as the first site judged it).
func (d *driver) join() error {
	if !d.s.Joined() {
		if d.o.Join == nil {
			return usagef("this ceremony stopped before its partial was read: name the partial directory with --in")
		}
		err := d.s.Join(d.o.Join, d.o.Script.Decisions.By)
		if refusedPartial(err) {
			return d.abandonPartial(err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(d.env.stdout, "\nPartial of ceremony %s taken, at its ceremony time %s\n", termtext.Safe(d.r.ID), d.s.CeremonyTime().Format("2006-01-02T15:04:05Z07:00"))
	}
	src, err := d.s.JoinedBundle()
	if err != nil {
		return err
	}
	err = d.s.Import(src)
	if refusedPartial(err) {
		return d.abandonPartial(err)
	}
	return err
}

// rebuild takes the first site's decisions and builds: the payloads must
// be byte for byte the partial's, or the ceremony is abandoned.
func (d *driver) rebuild() error {
	by := d.o.Script.Decisions.By
	if !d.s.Adopted() {
		err := d.s.Adopt(by)
		if refusedPartial(err) {
			return d.abandonPartial(err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(d.env.stdout, "  the first site's decisions taken (confirmed by %s)\n", termtext.Safe(by))
	}
	err := d.s.Build()
	if refusedPartial(err) {
		return d.abandonPartial(err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(d.env.stdout, "  rebuilt from this vault: byte for byte the partial's payload\n")
	return nil
}

// merge adds the partial's signatures to the payloads rebuilt here, then
// checks the summary digest the holders received from the first site over
// an independent channel, and has the witness record it.
func (d *driver) merge() error {
	if d.o.ConfirmDigest == "" {
		return usagef("this ceremony continues a partial: continue it with conclave sign --resume %s --in PARTIAL --confirm-digest DIGEST", shellQuote(d.r.Journal))
	}
	sigs, err := d.s.Merge()
	if refusedPartial(err) {
		return d.abandonPartial(err)
	}
	if err != nil {
		return err
	}
	for _, m := range sigs {
		fmt.Fprintf(d.env.stdout, "  %s signed %s at an earlier site (checked here)\n", termtext.Safe(m.Holder), termtext.Safe(m.Role))
	}
	_, digest := d.s.Cards()
	if d.o.ConfirmDigest != digest {
		d.printCards()
		return d.abandonPartial(fmt.Errorf("%w: the summary digest rebuilt here is %s, not the %s the first site read out (--confirm-digest)", session.ErrSiteMismatch, digest, d.o.ConfirmDigest))
	}
	witness := d.o.Script.Witnesses[0]
	return d.s.Note(witness, "the summary digest "+digest+" rebuilt here is the one the first site read out over an independent channel")
}

// exportPartial writes the partial to the transfer medium (all or
// nothing), reads it back and records its hashes.
func (d *driver) exportPartial() error {
	files, err := d.r.exportPartial(d.ctx)
	if errors.Is(err, session.ErrWaiverOneSite) {
		return refused(withHint(err, "the holders who meet the threshold sign at this site; resume with them in the script's signing list, or abandon"))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(d.env.stdout, "\nPartial exported to %s and read back; carry it to the next site:\n", termtext.Safe(d.o.Out))
	for _, f := range files {
		fmt.Fprintf(d.env.stdout, "  %s\n", termtext.Safe(f.Name))
	}
	_, digest := d.s.Cards()
	writeDigest(d.env.stdout, "", "Read out to the next site, over another channel than the medium, the digest:", digest)
	return nil
}

// exportPartial writes the partial (session.PartialFiles) to the
// transfer medium, reads it back as the next site will (readPartial) and
// records its hashes. A partial already written before a crash counts
// only if it is exactly the one planned.
func (r *ceremonyRun) exportPartial(ctx context.Context) ([]export.File, error) {
	files, err := r.S.PartialFiles()
	if err != nil {
		return nil, err
	}
	want, ex := exportPlan(files)
	err = safefile.ExportFiles(r.o.Out, ex)
	if err != nil && !errors.Is(err, safefile.ErrNotEmpty) {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, interrupted("the ceremony stopped at a safe point, after the partial was written and before it was recorded")
	}
	read, _, rerr := readPartial(r.o.Out)
	if rerr != nil || !slices.Equal(slices.Sorted(maps.Keys(read)), slices.Sorted(maps.Keys(want))) {
		if err != nil {
			return nil, withHint(err, "the export directory holds something else: name a new one with --out")
		}
		return nil, fmt.Errorf("reading the partial back: %v", rerr)
	}
	sums := map[string]string{}
	// In name order, so that the same file is named every time.
	for _, name := range slices.Sorted(maps.Keys(read)) {
		data := read[name]
		if !bytes.Equal(data, want[name]) {
			if err != nil {
				return nil, withHint(err, "the export directory holds something else: name a new one with --out")
			}
			return nil, fmt.Errorf("reading the partial back: %s is not what was written", name)
		}
		sums[name] = bundle.SumHex(data)
	}
	if err := r.S.ExportedPartial(sums); err != nil {
		return nil, err
	}
	return files, nil
}

// exportPlan gives the files planned by name, and as safefile writes
// them.
func exportPlan(files []export.File) (map[string][]byte, []safefile.Export) {
	want := make(map[string][]byte, len(files))
	ex := make([]safefile.Export, 0, len(files))
	for _, f := range files {
		want[f.Name] = f.Data
		ex = append(ex, safefile.Export{Name: f.Name, Data: f.Data})
	}
	return want, ex
}
