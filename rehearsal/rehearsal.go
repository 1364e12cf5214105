// Package rehearsal runs Conclave's main job on throwaway software keys, for
// training and for trying Conclave on a fresh machine: a root with three
// holders (threshold 2), a top-level targets role, and a "claimed" role
// delegating to generated projects, all signed, written, read back and
// verified.
//
// Everything here is INSECURE by design: the keys are generated in memory
// and thrown away. Its output says so.
//
// A rehearsal stops when its context is cancelled (Ctrl-C), at the next safe
// point: between two projects while keys are generated, between phases and
// between files; encoding and reading back, which write nothing, are
// abandoned where they stand. It then removes every file it wrote and every directory it
// created, so that a stopped rehearsal leaves nothing that looks like output.
package rehearsal

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Options configure a rehearsal.
type Options struct {
	// Out is the directory the metadata is written to; it must be empty or
	// not exist yet.
	Out string
	// Projects is the number of generated projects (delegations).
	Projects int
	// Now is the confirmed ceremony time; expiry dates count from it.
	Now time.Time
	// Log receives the report of each phase as it ends.
	Log io.Writer
	// Progress, when set, is told what is being done, for a progress line.
	Progress Progress
}

// Progress is told what a rehearsal is doing while it does it.
type Progress interface {
	// Begin says a phase began; total is its number of steps, 0 when the
	// phase does not count them.
	Begin(phase string, total int)
	// Add counts n more steps of the phase done. It may be called from
	// several goroutines at once.
	Add(n int)
	// End says the phase ended, before its line is written to Options.Log.
	End()
}

type noProgress struct{}

func (noProgress) Begin(string, int) {}
func (noProgress) Add(int)           {}
func (noProgress) End()              {}

// Holders are the rehearsal's key holders.
var Holders = []string{"Alice", "Bob", "Carol"}

// Phase is one timed step.
type Phase struct {
	Name     string
	Duration time.Duration
}

// Result says what was written and how long each phase took.
type Result struct {
	Files  []string
	Phases []Phase
	// PeakRSS is the peak resident memory in bytes from the build to the
	// end of the verification (key generation is not counted), when the
	// system reports it.
	PeakRSS int64
}

type holder struct {
	name   string
	signer crypto.Signer
	key    *tuf.Key
}

// InterruptedError is returned when the rehearsal's context was cancelled
// before it finished. It wraps the context's error, so errors.Is(err,
// context.Canceled) holds, and says what was removed.
type InterruptedError struct {
	// Files and Dirs are what the rehearsal had written and created and
	// removed again, in the order they were removed.
	Files, Dirs []string
	// Left is what could not be removed, each with the reason.
	Left []string
	Err  error
}

func (e *InterruptedError) Error() string {
	var msg string
	switch {
	case len(e.Files) == 0 && len(e.Dirs) == 0 && len(e.Left) == 0:
		msg = "rehearsal interrupted before it wrote anything"
	case len(e.Files) == 0 && len(e.Dirs) == 0:
		msg = "rehearsal interrupted"
	default:
		msg = fmt.Sprintf("rehearsal interrupted; removed what it had made (%s, %s)",
			termtext.Plural(len(e.Files), "file", "files"), termtext.Plural(len(e.Dirs), "directory", "directories"))
	}
	if len(e.Left) > 0 {
		msg += "; could not remove " + strings.Join(e.Left, ", ")
	}
	return msg
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// made records what a rehearsal created, so that an interrupted or failed
// one can take it away again.
type made struct {
	dirs  []string // created, outermost first
	files []string
}

// undo removes the files, then the directories it created, innermost
// first. A directory is removed only if it is empty again: whatever someone
// else put there meanwhile stays.
func (m *made) undo() (files, dirs, left []string) {
	for i := len(m.files) - 1; i >= 0; i-- {
		if err := os.Remove(m.files[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			left = append(left, fmt.Sprintf("%s (%v)", m.files[i], err))
			continue
		}
		files = append(files, m.files[i])
	}
	for i := len(m.dirs) - 1; i >= 0; i-- {
		if err := os.Remove(m.dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			left = append(left, fmt.Sprintf("%s (%v)", m.dirs[i], err))
			continue
		}
		dirs = append(dirs, m.dirs[i])
	}
	return files, dirs, left
}

// Run performs the rehearsal. When ctx is cancelled it stops at the next
// safe point, removes what it had made and returns an [*InterruptedError];
// on any other failure it removes what it had made as well.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Projects < 1 {
		return nil, fmt.Errorf("a rehearsal needs at least one project, not %d", opts.Projects)
	}
	if err := ctx.Err(); err != nil {
		return nil, &InterruptedError{Err: err}
	}
	var m made
	res, err := run(ctx, opts, &m)
	if err == nil {
		return res, nil
	}
	files, dirs, left := m.undo()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, &InterruptedError{Files: files, Dirs: dirs, Left: left, Err: ctxErr}
	}
	if len(left) > 0 {
		return nil, fmt.Errorf("%w (could not remove: %s)", err, strings.Join(left, ", "))
	}
	return nil, err
}

func run(ctx context.Context, opts Options, m *made) (*Result, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	progress := opts.Progress
	if progress == nil {
		progress = noProgress{}
	}
	if err := prepareOut(opts.Out, m); err != nil {
		return nil, err
	}
	res := &Result{}
	// begin starts a phase at a safe point: it is where a cancelled
	// rehearsal stops.
	begin := func(name string, total int) (time.Time, error) {
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		progress.Begin(name, total)
		return time.Now(), nil
	}
	phase := func(name string, start time.Time) {
		d := time.Since(start)
		progress.End()
		res.Phases = append(res.Phases, Phase{name, d})
		fmt.Fprintf(log, "  %-44s %10s\n", name, termtext.Duration(d))
	}
	fmt.Fprintln(log, "REHEARSAL — software keys generated in memory: INSECURE, for training and trying Conclave only.")
	fmt.Fprintf(log, "Ceremony time %s; %d projects; holders %v, threshold 2 of 3.\n\n", opts.Now.UTC().Format(time.RFC3339), opts.Projects, Holders)

	// Building, signing and writing happen in their own function so that
	// everything they hold is garbage before the files are read back: the
	// peak memory is then that of one phase, not of all of them.
	if err := buildSignWrite(ctx, opts, res, m, begin, phase, progress); err != nil {
		return nil, err
	}

	const verifying = "read back, parse and verify all files"
	start, err := begin(verifying, 0)
	if err != nil {
		return nil, err
	}
	if err := parallel.Until(ctx, func() error { return verifyWritten(ctx, opts.Out, opts.Now) }); err != nil {
		return nil, err
	}
	phase(verifying, start)
	res.PeakRSS = peakRSS()
	if res.PeakRSS > 0 {
		fmt.Fprintf(log, "  %-44s %10s\n", "peak memory, build to verify (resident)", sizeString(int(res.PeakRSS)))
	}
	return res, nil
}

// verifyWritten reads the files back and verifies them as a client would:
// root by itself, targets by root, claimed by targets.
func verifyWritten(ctx context.Context, dir string, now time.Time) error {
	read := func(name string) (*tuf.File, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", name, err)
		}
		return tuf.Parse(name, b)
	}
	root, err := read("root.json")
	if err != nil {
		return err
	}
	if _, err := root.VerifyWithRoot(root.Root); err != nil {
		return fmt.Errorf("verify root.json: %w", err)
	}
	top, err := read("targets.json")
	if err != nil {
		return err
	}
	if _, err := top.VerifyWithRoot(root.Root); err != nil {
		return fmt.Errorf("verify targets.json: %w", err)
	}
	claimed, err := read("claimed.json")
	if err != nil {
		return err
	}
	if _, err := claimed.VerifyDelegated(top.Targets, "claimed"); err != nil {
		return fmt.Errorf("verify claimed.json: %w", err)
	}
	for _, f := range []*tuf.File{root, top, claimed} {
		if err := f.CheckExpiry(now); err != nil {
			return err
		}
	}
	return nil
}

// progressEvery is how many projects a key-generating worker makes between
// two progress reports: often enough for a line that moves, rarely enough
// to cost nothing.
const progressEvery = 64

// generateProjects makes n projects with one or two developer keys each
// (ed25519 or ECDSA P-256), using every core: key generation dominates.
// Each worker checks ctx before each project.
func generateProjects(ctx context.Context, n int, progress Progress) ([]delegation.Project, error) {
	projects := make([]delegation.Project, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			made := 0
			defer func() { progress.Add(made) }()
			for i := w; i < n; i += workers {
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				if made == progressEvery {
					progress.Add(made)
					made = 0
				}
				p := delegation.Project{Name: fmt.Sprintf("rehearsal-project-%06d", i+1)}
				nkeys := 1 + rng.IntN(2)
				for j := 0; j < nkeys; j++ {
					alg := hsm.Ed25519
					if rng.IntN(4) == 0 {
						alg = hsm.ECDSAP256
					}
					s, err := softkey.Generate(alg)
					if err != nil {
						errs[w] = err
						return
					}
					k, err := tuf.KeyFromPublic(s.Public())
					if err != nil {
						errs[w] = err
						return
					}
					p.Keys = append(p.Keys, k)
				}
				p.Threshold = int64(1 + rng.IntN(len(p.Keys)))
				projects[i] = p
				made++
			}
		}(w)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("generate project keys: %w", err)
		}
	}
	return projects, nil
}

// prepareOut makes sure dir exists and is empty, recording in m every
// directory it had to create.
func prepareOut(dir string, m *made) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			return fmt.Errorf("create output directory %s: %w", dir, err)
		}
		m.dirs = append(m.dirs, missing[i])
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read output directory %s: %w", dir, err)
	}
	if len(entries) != 0 {
		return fmt.Errorf("output directory %s is not empty; a rehearsal never overwrites files", dir)
	}
	return nil
}

func sizeString(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// buildSignWrite generates the keys and projects, builds and signs the
// metadata and writes it, recording each file written in m.
func buildSignWrite(ctx context.Context, opts Options, res *Result, m *made,
	begin func(string, int) (time.Time, error), phase func(string, time.Time), progress Progress) error {
	generating := fmt.Sprintf("generate keys (3 holders, %d projects)", opts.Projects)
	start, err := begin(generating, opts.Projects)
	if err != nil {
		return err
	}
	holders := make([]holder, len(Holders))
	for i, name := range Holders {
		// ECDSA P-256: what the holders' YubiKeys will hold.
		s, err := softkey.Generate(hsm.ECDSAP256)
		if err != nil {
			return fmt.Errorf("generate %s's rehearsal key: %w", name, err)
		}
		k, err := tuf.KeyFromPublic(s.Public())
		if err != nil {
			return err
		}
		holders[i] = holder{name, s, k}
	}
	online, err := softkey.Generate(hsm.Ed25519)
	if err != nil {
		return fmt.Errorf("generate the rehearsal's online key: %w", err)
	}
	onlineKey, err := tuf.KeyFromPublic(online.Public())
	if err != nil {
		return err
	}
	projects, err := generateProjects(ctx, opts.Projects, progress)
	if err != nil {
		return err
	}
	phase(generating, start)
	resetPeakRSS()

	// Root: the holders hold root, targets; an online key holds snapshot
	// and timestamp (not used by a rehearsal, but root must name them).
	holderKeys := map[string]*tuf.Key{}
	var holderIDs []string
	for _, h := range holders {
		holderKeys[h.key.ID()] = h.key
		holderIDs = append(holderIDs, h.key.ID())
	}
	root := &tuf.Root{Keys: map[string]*tuf.Key{onlineKey.ID(): onlineKey}, Roles: map[string]*tuf.RoleKeys{}}
	for id, k := range holderKeys {
		root.Keys[id] = k
	}
	consistent := true
	root.ConsistentSnapshot = &consistent
	root.Version, root.Expires = 1, tuf.NewExpiry(opts.Now.AddDate(1, 0, 0))
	root.Roles[tuf.TypeRoot] = &tuf.RoleKeys{KeyIDs: holderIDs, Threshold: 2}
	root.Roles[tuf.TypeTargets] = &tuf.RoleKeys{KeyIDs: holderIDs, Threshold: 2}
	root.Roles[tuf.TypeSnapshot] = &tuf.RoleKeys{KeyIDs: []string{onlineKey.ID()}, Threshold: 1}
	root.Roles[tuf.TypeTimestamp] = &tuf.RoleKeys{KeyIDs: []string{onlineKey.ID()}, Threshold: 1}

	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 1, tuf.NewExpiry(opts.Now.AddDate(0, 3, 0))
	top.Delegations = &tuf.Delegations{Keys: holderKeys, Roles: []*tuf.DelegatedRole{{
		Name: "claimed", KeyIDs: holderIDs, Threshold: 2, Terminating: false, Paths: []string{"*/*"},
	}}}

	if start, err = begin("build claimed role", 0); err != nil {
		return err
	}
	claimed, err := delegation.Build(projects, PathTemplate, []string{"claimed"}, 1, opts.Now.AddDate(0, 3, 0))
	if err != nil {
		return fmt.Errorf("build the claimed role: %w", err)
	}
	phase("build claimed role", start)

	if start, err = begin("canonical-encode claimed", 0); err != nil {
		return err
	}
	var claimedFile *tuf.File
	if err := parallel.Until(ctx, func() (err error) {
		claimedFile, err = tuf.NewTargetsFile(claimed)
		return err
	}); err != nil {
		return err
	}
	phase(fmt.Sprintf("canonical-encode claimed (%s)", sizeString(len(claimedFile.SignedBytes()))), start)

	rootFile, err := tuf.NewRootFile(root)
	if err != nil {
		return err
	}
	topFile, err := tuf.NewTargetsFile(top)
	if err != nil {
		return err
	}
	const signing = "sign root, targets, claimed (2 of 3 holders)"
	if start, err = begin(signing, 0); err != nil {
		return err
	}
	// Two of the three holders sign each file; Carol stays home.
	for _, h := range holders[:2] {
		for _, f := range []struct {
			file *tuf.File
			keys map[string]*tuf.Key
		}{{rootFile, root.Keys}, {topFile, root.Keys}, {claimedFile, top.Delegations.Keys}} {
			if err := f.file.Sign(f.keys, h.key.ID(), h.signer); err != nil {
				return fmt.Errorf("%s signs: %w", h.name, err)
			}
		}
	}
	phase(signing, start)

	if start, err = begin("write files", 0); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"1.root.json", rootFile.Bytes()},
		{"root.json", rootFile.Bytes()},
		{"targets.json", topFile.Bytes()},
		{"claimed.json", claimedFile.Bytes()},
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Atomic, never overwriting, read back and hash-checked: the same
		// writer a real export uses.
		if err := safefile.WriteFile(opts.Out, f.name, f.data); err != nil {
			return err
		}
		path := filepath.Join(opts.Out, f.name)
		m.files = append(m.files, path)
		res.Files = append(res.Files, path)
	}
	phase("write files", start)
	return nil
}
