//go:build cgo

package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/intake"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Options configure a rehearsal.
type Options struct {
	// Out is the directory everything is written to; it must be empty or
	// not exist yet.
	Out string
	// Requests is the number of generated requests in the bundle.
	Requests int
	// Now is the ceremony time the people in the room confirm.
	Now time.Time
	// TokenDir is where the tokens' private directory is made; empty
	// means the system's temporary directory.
	TokenDir string
	// Log receives a line per phase as it ends.
	Log io.Writer
}

// The layout of a rehearsal's output directory.
const (
	// RepositoryDir holds the generated repository the vault adopted:
	// 1.root.json (also as root.json), targets.json, claimed.json, and
	// the policy.
	RepositoryDir = "repository"
	// VaultDir is the throwaway vault.
	VaultDir = "vault"
	// BundleDir is the transfer medium the ceremony imports from.
	BundleDir = "bundle"
	// ExportDir is the transfer medium the ceremony exports to.
	ExportDir = "export"
	// ScriptFile is the headless ceremony's script.
	ScriptFile = "ceremony-script.yaml"
	// PolicyFile is the rehearsal policy, in RepositoryDir.
	PolicyFile = "policy.yaml"
	// NoticeFile says, in the output directory, that all of it is a
	// rehearsal's.
	NoticeFile = "REHEARSAL.txt"
)

// Notice is what NoticeFile says.
const Notice = `Everything in this directory was made by "conclave rehearse": a REHEARSAL.
Its keys were on virtual YubiKeys (attested by a SIMULATOR root) and on
SoftHSM, with PINs generated for the rehearsal and never shown; the tokens
were destroyed when the rehearsal ended. Its vault and policy are marked
rehearsal, and no production ceremony accepts them. Nothing here may sign
or vouch for anything real.
`

// Setup is a rehearsal ready for its ceremony: tokens running and
// enrolled, the repository generated and adopted into a vault, a bundle
// on the transfer medium.
type Setup struct {
	Options Options
	Tokens  *Tokens
	// Policy is the rehearsal policy, PolicyBytes its file.
	Policy      *policy.Policy
	PolicyBytes []byte
	Genesis     *Genesis
	Bundle      *Bundle
	// Phases are the timed steps so far.
	Phases []Phase

	intake  intake.Signer
	binding []byte
	made    made
}

// Phase is one timed step.
type Phase struct {
	Name     string
	Duration time.Duration
}

// Path returns the path of name inside the rehearsal's output directory.
func (s *Setup) Path(name ...string) string {
	return filepath.Join(append([]string{s.Options.Out}, name...)...)
}

// Prompts are the holders' answers in a rehearsal: each holder's PIN is
// the one set on their token, typed by nobody and shown nowhere. A final
// try is never confirmed (the PINs are right; a final try means something
// is wrong), and the virtual cards touch themselves.
func (s *Setup) Prompts(holder string) hsm.Prompts {
	for _, h := range s.Tokens.Holders {
		if h.Name == holder {
			p := pinPrompts(h.PIN())
			p.Confirm = func(context.Context, string) (bool, error) { return false, nil }
			return p
		}
	}
	return hsm.Prompts{}
}

// PINs returns a copy of each holder's PIN, by name: for a check that
// none of them appears in what the rehearsal printed or wrote.
func (s *Setup) PINs() map[string][]byte {
	out := map[string][]byte{}
	for _, h := range s.Tokens.Holders {
		out[h.Name] = h.PIN()
	}
	return out
}

// Holders opens the holders' tokens as a ceremony does (package holders),
// with the rehearsal's prompts.
func (s *Setup) Holders(keys map[string]*tuf.Key) *holders.Tokens {
	return holders.New(holders.Options{Policy: s.Policy, Keys: keys, Prompts: s.Prompts})
}

// Stop stops the tokens; it is safe to call more than once.
func (s *Setup) Stop() error {
	if s.Tokens == nil {
		return nil
	}
	return s.Tokens.Stop()
}

// Abandon stops the tokens and removes everything the rehearsal wrote,
// after a failure or an interruption.
func (s *Setup) Abandon() error {
	err := s.Stop()
	_, left := s.made.undo()
	if len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("could not remove %s", strings.Join(left, ", ")))
	}
	return err
}

// phase runs one timed step and records it.
func (s *Setup) phase(ctx context.Context, name string, f func() error) error {
	ph, err := runPhase(ctx, s.Options.Log, name, f)
	if err != nil {
		return err
	}
	s.Phases = append(s.Phases, ph)
	return nil
}

// runPhase runs one timed step at a safe point (a cancelled rehearsal
// stops before the step) and writes its line to log when it ends.
func runPhase(ctx context.Context, log io.Writer, name string, f func() error) (Phase, error) {
	if err := ctx.Err(); err != nil {
		return Phase{}, err
	}
	start := time.Now()
	if err := f(); err != nil {
		return Phase{}, err
	}
	ph := Phase{name, time.Since(start)}
	if log != nil {
		fmt.Fprintf(log, "  %-56s %12s\n", name, termtext.Duration(ph.Duration))
	}
	return ph, nil
}

// Prepare sets a rehearsal up: the tokens started and enrolled, the
// repository generated and signed on them, the vault adopted, the bundle
// written. On failure or interruption it stops the tokens and removes
// what it wrote.
func Prepare(ctx context.Context, opts Options) (_ *Setup, err error) {
	if opts.Requests < MinRequests {
		return nil, fmt.Errorf("a rehearsal needs at least %d requests, to show every kind, not %d", MinRequests, opts.Requests)
	}
	if err := CheckTokenSoftware(); err != nil {
		return nil, err
	}
	s := &Setup{Options: opts}
	defer func() {
		if err != nil {
			if aerr := s.Abandon(); aerr != nil {
				err = fmt.Errorf("%w (and cleaning up: %v)", err, aerr)
			}
		}
	}()
	if err := prepareOut(opts.Out, &s.made); err != nil {
		return nil, err
	}
	if err := s.write(NoticeFile, []byte(Notice)); err != nil {
		return nil, err
	}
	if err := s.phase(ctx, "start tokens: 2 virtual YubiKeys (pcscd, vpcd), SoftHSM", func() (err error) {
		s.Tokens, err = StartTokens(ctx, opts.TokenDir)
		return err
	}); err != nil {
		return nil, err
	}
	mix := mixFor(opts.Requests)
	if err := s.phase(ctx, "generate and sign the repository (version 1)", func() error {
		return s.genesis(ctx, existingFor(mix))
	}); err != nil {
		return nil, err
	}
	if err := s.phase(ctx, fmt.Sprintf("generate %d requests", opts.Requests), func() error {
		rng := rand.New(rand.NewPCG(uint64(opts.Requests), 1))
		b, err := makeBundle(ctx, s.Genesis, s.intake, opts.Requests, opts.Now, rng)
		s.Bundle = b
		return err
	}); err != nil {
		return nil, err
	}
	if err := s.phase(ctx, "write the bundle (each file synced, as intake does)", func() error {
		return s.writeBundle(ctx)
	}); err != nil {
		return nil, err
	}
	// The vault's history holds what the repository's earlier bundles
	// showed (package history): made with the bundle, adopted with the
	// repository.
	if err := s.phase(ctx, "adopt the repository into a vault (binding: Alice, Carol)", s.adopt); err != nil {
		return nil, err
	}
	var names []string
	for _, h := range s.Policy.Holders {
		names = append(names, h.Name)
	}
	if err := s.write(ScriptFile, s.Bundle.Script(names, opts.Now)); err != nil {
		return nil, err
	}
	return s, nil
}

// genesis makes the intake key and the policy (which needs the holders'
// keys and the intake key), then the repository, signed by every holder
// through the ceremony's own token wiring, and writes both.
func (s *Setup) genesis(ctx context.Context, existing int) error {
	in, err := devKey(hsm.Ed25519)
	if err != nil {
		return fmt.Errorf("generate the rehearsal's intake key: %w", err)
	}
	var ph []PolicyHolder
	keys := map[string]*tuf.Key{}
	for _, h := range s.Tokens.Holders {
		ph = append(ph, PolicyHolder{Name: h.Name, Enrolled: h.Enrolled})
		keys[h.Key.ID()] = h.Key
	}
	s.PolicyBytes = policyYAML(ph, in.Key, policy.Module{Path: s.Tokens.SoftHSM.Path, SHA256: s.Tokens.SoftHSM.SHA256})
	if s.Policy, err = policy.Parse(PolicyFile, s.PolicyBytes); err != nil {
		return fmt.Errorf("the rehearsal's own policy: %w", err)
	}
	toks := s.Holders(keys)
	defer toks.Close()
	signers := map[string]HolderSigner{}
	var all []HolderSigner
	for _, h := range s.Policy.Holders {
		sg, err := toks.Signer(ctx, h, h.Keys[0])
		if err != nil {
			return err
		}
		signers[h.Name] = HolderSigner{Name: h.Name, Key: keys[h.Keys[0].KeyID], Signer: sg}
		all = append(all, signers[h.Name])
	}
	s.intake = in
	g, err := makeGenesis(ctx, all, existing, s.Options.Now)
	if err != nil {
		return err
	}
	s.Genesis = g
	// The binding of the policy to the root: two of the three root
	// holders, one on a YubiKey and one on the HSM.
	s.binding, err = bindingFor(s.PolicyBytes, g.Root, signers["Alice"], signers["Carol"])
	if err != nil {
		return err
	}
	if err := toks.Close(); err != nil {
		return err
	}
	if err := s.mkdir(RepositoryDir); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"1.root.json", g.Root.Bytes()},
		{"root.json", g.Root.Bytes()},
		{"targets.json", g.Targets.Bytes()},
		{DelegatingRole + ".json", g.Claimed.Bytes()},
		{PolicyFile, s.PolicyBytes},
	} {
		if err := s.write(filepath.Join(RepositoryDir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// Claim returns the path of name in the output directory, which someone
// else (the ceremony's export) is about to create: Abandon removes it
// with everything in it.
func (s *Setup) Claim(name string) string {
	p := s.Path(name)
	s.made.trees = append(s.made.trees, p)
	return p
}

// mkdir creates a directory in the output directory, recorded for undo.
func (s *Setup) mkdir(name string) error {
	p := s.Path(name)
	if err := os.Mkdir(p, 0o755); err != nil {
		return err
	}
	s.made.dirs = append(s.made.dirs, p)
	return nil
}

// write writes a new file in the output directory with the writer a real
// export uses (atomic, never overwriting, read back), recorded for undo.
func (s *Setup) write(name string, data []byte) error {
	dir, base := filepath.Split(s.Path(name))
	if err := safefile.WriteFile(dir, base, data); err != nil {
		return err
	}
	s.made.files = append(s.made.files, s.Path(name))
	return nil
}

// writeBundle writes the bundle to the transfer medium, recorded for undo
// as one tree.
func (s *Setup) writeBundle(ctx context.Context) error {
	dir := s.Path(BundleDir)
	s.made.trees = append(s.made.trees, dir)
	return s.Bundle.Pack.WriteContext(ctx, dir)
}

// bindingFor is the envelope binding a policy to a root
// (vault.NewBinding, docs/formats/vault.md), signed by the holders given.
func bindingFor(policyBytes []byte, root *tuf.File, signers ...HolderSigner) ([]byte, error) {
	env, err := vault.NewBinding(policyBytes, root)
	if err != nil {
		return nil, err
	}
	for _, h := range signers {
		if err := env.Sign(h.Signer, h.Key); err != nil {
			return nil, fmt.Errorf("%s signs the vault binding: %w", h.Name, err)
		}
	}
	return env.Marshal(), nil
}

// adopt makes the vault's first generation from the repository, the
// policy and the binding, with the history of earlier imports the bundle
// needs (vault.Adopt opens what it makes before returning it), and writes
// it to a new vault directory.
func (s *Setup) adopt() error {
	files, err := vault.Adopt(vault.AdoptInput{
		Roots:   [][]byte{s.Genesis.Root.Bytes()},
		Targets: s.Genesis.Targets.Bytes(),
		Roles:   map[string][]byte{DelegatingRole: s.Genesis.Claimed.Bytes()},
		Policy:  s.PolicyBytes,
		Binding: s.binding,
		History: s.Bundle.History.Marshal(),
	})
	if err != nil {
		return fmt.Errorf("adopt the rehearsal's repository: %w", err)
	}
	dir := s.Path(VaultDir)
	s.made.trees = append(s.made.trees, dir)
	d, err := vaultdir.Create(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = d.WriteGeneration(files)
	return err
}
