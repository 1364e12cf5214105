// Package rehearsal runs Conclave's main job on throwaway software keys, for
// training and for trying Conclave on a fresh machine: a root with three
// holders (threshold 2), a top-level targets role, and a "claimed" role
// delegating to generated projects, all signed, written, read back and
// verified.
//
// Everything here is INSECURE by design: the keys are generated in memory
// and thrown away. Its output says so.
package rehearsal

import (
	"crypto"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
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
	// Log receives the progress report.
	Log io.Writer
}

// PathTemplate gives each project its own top-level directory.
const PathTemplate = "{name}/*"

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

// Run performs the rehearsal.
func Run(opts Options) (*Result, error) {
	if opts.Projects < 1 {
		return nil, fmt.Errorf("a rehearsal needs at least one project, not %d", opts.Projects)
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	if err := prepareOut(opts.Out); err != nil {
		return nil, err
	}
	res := &Result{}
	phase := func(name string, start time.Time) {
		d := time.Since(start)
		res.Phases = append(res.Phases, Phase{name, d})
		fmt.Fprintf(log, "  %-44s %10s\n", name, d.Round(time.Microsecond))
	}
	fmt.Fprintln(log, "REHEARSAL — software keys generated in memory: INSECURE, for training and trying Conclave only.")
	fmt.Fprintf(log, "Ceremony time %s; %d projects; holders %v, threshold 2 of 3.\n\n", opts.Now.UTC().Format(time.RFC3339), opts.Projects, Holders)

	// Building, signing and writing happen in their own function so that
	// everything they hold is garbage before the files are read back: the
	// peak memory is then that of one phase, not of all of them.
	if err := buildSignWrite(opts, res, phase); err != nil {
		return nil, err
	}

	start := time.Now()
	if err := verifyWritten(opts.Out, opts.Now); err != nil {
		return nil, err
	}
	phase("read back, parse and verify all files", start)
	res.PeakRSS = peakRSS()
	if res.PeakRSS > 0 {
		fmt.Fprintf(log, "  %-44s %10s\n", "peak memory, build to verify (resident)", sizeString(int(res.PeakRSS)))
	}
	return res, nil
}

// verifyWritten reads the files back and verifies them as a client would:
// root by itself, targets by root, claimed by targets.
func verifyWritten(dir string, now time.Time) error {
	read := func(name string) (*tuf.File, error) {
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

// generateProjects makes n projects with one or two developer keys each
// (ed25519 or ECDSA P-256), using every core: key generation dominates.
func generateProjects(n int) ([]delegation.Project, error) {
	projects := make([]delegation.Project, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := w; i < n; i += workers {
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
			}
		}(w)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("generate project keys: %w", err)
		}
	}
	return projects, nil
}

func prepareOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory %s: %w", dir, err)
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
// metadata and writes it.
func buildSignWrite(opts Options, res *Result, phase func(string, time.Time)) error {
	start := time.Now()
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
	projects, err := generateProjects(opts.Projects)
	if err != nil {
		return err
	}
	phase(fmt.Sprintf("generate keys (3 holders, %d projects)", opts.Projects), start)
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

	start = time.Now()
	claimed, err := delegation.Build(projects, PathTemplate, []string{"claimed"}, 1, opts.Now.AddDate(0, 3, 0))
	if err != nil {
		return fmt.Errorf("build the claimed role: %w", err)
	}
	phase("build claimed role", start)

	start = time.Now()
	claimedFile, err := tuf.NewTargetsFile(claimed)
	if err != nil {
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
	start = time.Now()
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
	phase("sign root, targets, claimed (2 of 3 holders)", start)

	start = time.Now()
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
		// Atomic, never overwriting, read back and hash-checked: the same
		// writer a real export uses.
		if err := safefile.WriteFile(opts.Out, f.name, f.data); err != nil {
			return err
		}
		res.Files = append(res.Files, filepath.Join(opts.Out, f.name))
	}
	phase("write files", start)
	return nil
}
