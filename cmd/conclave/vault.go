package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// The vault commands make a vault from a repository's existing metadata
// and show what a vault holds (docs/vault.md, docs/formats/vault.md).
var vaultCommand = &command{
	name:        "vault",
	summary:     "make a vault from existing metadata, show what a vault holds, take in the published result of a ceremony finished at another site",
	usage:       "vault adopt|show|sync [flags]  (conclave vault SUBCOMMAND --help)",
	subcommands: []*command{vaultAdoptCommand, vaultShowCommand, vaultSyncCommand},
}

var vaultAdoptCommand = &command{
	name:    "vault adopt",
	summary: "make a new vault from a repository's metadata (roots 1 to N, targets, the roles the policy signs) and a policy, the policy bound to the root by root holders' keys",
	usage:   "vault adopt --metadata DIR --policy FILE --out VAULT --sign KEYREF... [--pin-fd N] [--history FILE]",
}

var vaultShowCommand = &command{
	name:    "vault show",
	summary: "open and verify a vault, and show its generation, metadata, policy and holders, with hashes as words to read aloud",
	usage:   "vault show VAULT [--json]",
}

func init() {
	vaultAdoptCommand.run = runVaultAdopt
	vaultShowCommand.run = runVaultShow
	register(vaultCommand)
}

// runVaultAdopt makes the first generation of a new vault.
func runVaultAdopt(ctx context.Context, env *environment, args []string) error {
	c := vaultAdoptCommand
	fs := newFlagSet(env, c)
	metaDir := fs.String("metadata", "", "the `DIR` holding the repository's metadata: 1.root.json … N.root.json, targets.json and ROLE.json for each role the policy signs")
	policyFile := fs.String("policy", "", "the policy `FILE` to bind (docs/policy.md)")
	out := fs.String("out", "", "the new vault's directory `VAULT`: it must not exist, or be empty")
	historyFile := fs.String("history", "", "a history `FILE` of earlier imports to keep (default: an empty history)")
	var sign multiFlag
	fs.Var(&sign, "sign", "a root holder's key `KEYREF`, as the policy enrols it: softkey:path=FILE, yubikey:serial=N;slot=S or a pkcs11: URI; repeat it until the root's threshold is met")
	pinFD := fs.Int("pin-fd", -1, "read each PIN asked for, one line each, from file descriptor `N` (default: ask at the terminal, without showing it)")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usagef("vault adopt takes no arguments")
	case *metaDir == "" || *policyFile == "" || *out == "":
		return usagef("vault adopt needs --metadata DIR, --policy FILE and --out VAULT")
	case len(sign) == 0:
		return usagef("vault adopt needs --sign KEYREF for each root holder who signs the binding")
	}

	if err := vaultdir.CheckNew(*out); err != nil {
		return err
	}
	in, pol, root, err := readAdoptInput(*metaDir, *policyFile, *historyFile)
	if err != nil {
		return err
	}
	keys, softkeyDir, err := adoptSigners(pol, root, sign)
	if err != nil {
		return err
	}
	binding, err := vault.NewBinding(in.Policy, root)
	if err != nil {
		return err
	}
	// What the holders sign, shown before the first PIN is asked.
	fmt.Fprintf(env.stderr, "binding policy %s to root version %d of repository %s; %d of the root's %d root keys must sign\n",
		termtext.Safe(*policyFile), root.Version(), termtext.Safe(pol.Repository), rootThreshold(root), len(root.Root.Roles[tuf.TypeRoot].KeyIDs))
	writeDigest(env.stderr, "", "policy hash:", pol.SHA256)

	pins, err := openPINInput(*pinFD, env.stderr)
	if err != nil {
		return err
	}
	defer pins.Close()
	tokens := holders.New(holders.Options{
		Policy:     pol,
		Keys:       holders.MetadataKeys(root.Root, nil),
		Prompts:    pins.prompts,
		Notice:     env.stderr,
		SoftkeyDir: softkeyDir,
		// The binding is signed by root keys.
		RootCeremony: true,
	})
	defer tokens.Close()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return interrupted("interrupted before %s signed; nothing was written", k.holder.Name)
		}
		s, err := tokens.Signer(ctx, k.holder, k.key)
		if err != nil {
			return err
		}
		if err := binding.Sign(s, root.Root.Keys[k.key.KeyID]); err != nil {
			return fmt.Errorf("holder %s signs the binding: %w", k.holder.Name, err)
		}
		fmt.Fprintf(env.stderr, "%s signed with %s\n", termtext.Safe(k.holder.Name), termtext.Safe(s.Describe()))
	}
	in.Binding = binding.Marshal()

	files, err := vault.Adopt(in)
	if err != nil {
		return refused(err)
	}
	d, err := vaultdir.Create(*out)
	if err != nil {
		return err
	}
	defer d.Close()
	name, err := d.WriteGeneration(files)
	if err != nil {
		return err
	}
	v, err := d.OpenCurrent()
	if err != nil {
		return fmt.Errorf("reading back the new vault: %w", err)
	}
	fmt.Fprintf(env.stdout, "vault %s: %s written and made current\n", termtext.Safe(*out), name)
	writeDigest(env.stdout, "", "generation hash (write it on the paper log):", v.Hash)
	return nil
}

// adoptKey is a root holder's key named with --sign.
type adoptKey struct {
	holder policy.Holder
	key    policy.HolderKey
	// softkeyDir is the key store of a software key named by
	// softkey:path=DIR/NAME.key.pem.
	softkeyDir string
}

// readAdoptInput reads the policy, the metadata the policy's roles need
// and the history.
func readAdoptInput(metaDir, policyFile, historyFile string) (vault.AdoptInput, *policy.Policy, *tuf.File, error) {
	var in vault.AdoptInput
	var err error
	if in.Policy, err = readNamedFile(policyFile); err != nil {
		return in, nil, nil, err
	}
	pol, err := policy.Parse(policyFile, in.Policy)
	if err != nil {
		return in, nil, nil, refused(err)
	}
	var root *tuf.File
	for v := 1; ; v++ {
		p := filepath.Join(metaDir, fmt.Sprintf("%d.root.json", v))
		data, err := readNamedFile(p)
		if errors.Is(err, fs.ErrNotExist) && v > 1 {
			break
		}
		if err != nil {
			return in, nil, nil, err
		}
		if root, err = tuf.Parse(p, data); err != nil {
			return in, nil, nil, refused(err)
		}
		if root.Root == nil {
			return in, nil, nil, refused(fmt.Errorf("%s: %w: expected root metadata, found %s", p, tuf.ErrWrongType, root.Type()))
		}
		in.Roots = append(in.Roots, data)
	}
	if in.Targets, err = readNamedFile(filepath.Join(metaDir, "targets.json")); err != nil {
		return in, nil, nil, err
	}
	in.Roles = map[string][]byte{}
	for _, role := range pol.SignedRoles() {
		data, err := readNamedFile(filepath.Join(metaDir, role+".json"))
		if err != nil {
			return in, nil, nil, fmt.Errorf("the policy signs role %s: %w", role, err)
		}
		in.Roles[role] = data
	}
	if historyFile != "" {
		if in.History, err = readNamedFile(historyFile); err != nil {
			return in, nil, nil, err
		}
	}
	return in, pol, root, nil
}

// adoptSigners finds, for each --sign KEYREF, the root holder key the
// policy enrols at that place, refusing one the policy does not enrol,
// one that is not a root key of the last root, and one named twice. It
// returns the one key store the software keys are in, if any.
func adoptSigners(pol *policy.Policy, root *tuf.File, refs []string) ([]adoptKey, string, error) {
	rootIDs := map[string]bool{}
	for _, id := range root.Root.Roles[tuf.TypeRoot].KeyIDs {
		rootIDs[id] = true
	}
	var out []adoptKey
	seen := map[string]string{}
	softkeyDir := ""
	for _, ref := range refs {
		k, err := enrolledAt(pol, ref)
		if err != nil {
			return nil, "", err
		}
		if !rootIDs[k.key.KeyID] {
			return nil, "", usagef("--sign %s: it is %s's key %s, which is not a root key of root version %d: only root keys sign the binding",
				termtext.Safe(ref), termtext.Safe(k.holder.Name), k.key.KeyID, root.Version())
		}
		if other, dup := seen[k.key.KeyID]; dup {
			return nil, "", usagef("--sign %s: the same key as --sign %s", termtext.Safe(ref), termtext.Safe(other))
		}
		if k.softkeyDir != "" {
			if softkeyDir != "" && softkeyDir != k.softkeyDir {
				return nil, "", usagef("--sign %s: software keys are read from one key store, and another --sign names %s", termtext.Safe(ref), termtext.Safe(softkeyDir))
			}
			softkeyDir = k.softkeyDir
		}
		seen[k.key.KeyID] = ref
		out = append(out, k)
	}
	return out, softkeyDir, nil
}

// enrolledAt finds the holder key the policy enrols at ref: a YubiKey by
// serial and slot, a software key softkey:path=DIR/NAME.key.pem by its
// name (the policy's softkey:name=NAME, in the key store DIR), any other
// key by its URI exactly as the policy writes it.
func enrolledAt(pol *policy.Policy, ref string) (adoptKey, error) {
	kind, want, dir := "", policy.HolderKey{URI: ref}, ""
	switch {
	case strings.HasPrefix(ref, "yubikey:"):
		kind = policy.TokenYubiKey
		for _, part := range strings.Split(strings.TrimPrefix(ref, "yubikey:"), ";") {
			name, value, _ := strings.Cut(part, "=")
			switch name {
			case "serial":
				n, _ := strconv.ParseUint(value, 10, 32)
				want.Serial = uint32(n)
			case "slot":
				want.Slot = value
			}
		}
		if want.Serial == 0 || want.Slot == "" {
			return adoptKey{}, usagef("--sign %s: a YubiKey is named yubikey:serial=N;slot=S", termtext.Safe(ref))
		}
	case strings.HasPrefix(ref, "softkey:path="):
		kind = policy.TokenSoftkey
		file := strings.TrimPrefix(ref, "softkey:path=")
		name, ok := strings.CutSuffix(filepath.Base(file), ".key.pem")
		abs, err := filepath.Abs(filepath.Dir(file))
		if !ok || name == "" || err != nil {
			return adoptKey{}, usagef("--sign %s: a software key is named softkey:path=DIR/NAME.key.pem", termtext.Safe(ref))
		}
		want.URI, dir = holders.SoftkeyURIPrefix+name, abs
	case strings.HasPrefix(ref, "pkcs11:"):
		kind = policy.TokenPKCS11
	default:
		return adoptKey{}, usagef("--sign %s: a key is named softkey:path=FILE, yubikey:serial=N;slot=S or pkcs11:…", termtext.Safe(ref))
	}
	for _, h := range pol.Holders {
		for _, k := range h.Keys {
			if k.Token != kind {
				continue
			}
			if kind == policy.TokenYubiKey && k.Serial == want.Serial && k.Slot == want.Slot || kind != policy.TokenYubiKey && k.URI == want.URI {
				return adoptKey{holder: h, key: k, softkeyDir: dir}, nil
			}
		}
	}
	return adoptKey{}, usagef("--sign %s: the policy enrols no holder key there: name a root holder's key as the policy does", termtext.Safe(ref))
}

func rootThreshold(root *tuf.File) int64 { return root.Root.Roles[tuf.TypeRoot].Threshold }

// vaultShowFormat names the --json document (docs/formats/schema/vault-show.schema.json).
const vaultShowFormat = "conclave-vault-show/1"

type vaultShowReport struct {
	Format     string `json:"format"`
	Vault      string `json:"vault"`
	Generation string `json:"generation"`
	Number     int64  `json:"number"`
	Hash       string `json:"hash"`
	Previous   string `json:"previous"`
	// LastCeremony is absent for a vault that held none.
	LastCeremony *vaultShowCeremony `json:"last_ceremony,omitempty"`
	Metadata     []vaultShowFile    `json:"metadata"`
	Policy       vaultShowPolicy    `json:"policy"`
	Binding      vaultShowBinding   `json:"binding"`
	Holders      []vaultShowHolder  `json:"holders"`
	Generations  []vaultShowGen     `json:"generations"`
}

type vaultShowCeremony struct {
	ID        string    `json:"id"`
	Confirmed time.Time `json:"confirmed"`
}

type vaultShowFile struct {
	Role    string    `json:"role"`
	File    string    `json:"file"`
	Version int64     `json:"version"`
	Expires time.Time `json:"expires"`
}

type vaultShowPolicy struct {
	SHA256     string   `json:"sha256"`
	Repository string   `json:"repository"`
	Rehearsal  bool     `json:"rehearsal"`
	Roles      []string `json:"signed_roles"`
}

type vaultShowBinding struct {
	RootVersion int64 `json:"root_version"`
	Threshold   int64 `json:"threshold"`
	// Signers are the root keyids whose signatures verified, in the
	// policy's order of holders; Holders the holders' names, in the same
	// order ("" for a key no holder enrols).
	Signers []string `json:"signers"`
	Holders []string `json:"holders"`
}

type vaultShowHolder struct {
	Name string   `json:"name"`
	Keys []string `json:"keyids"`
}

type vaultShowGen struct {
	Name        string `json:"name"`
	Current     bool   `json:"current"`
	HalfWritten bool   `json:"half_written"`
}

// runVaultShow opens and verifies a vault and shows what it holds.
func runVaultShow(ctx context.Context, env *environment, args []string) error {
	c := vaultShowCommand
	fs := newFlagSet(env, c)
	asJSON := fs.Bool("json", false, "print a JSON report instead of text")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("name exactly one VAULT directory")
	}
	dir := fs.Arg(0)
	d, err := vaultdir.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// The generations are listed before the vault is opened: a refused
	// vault's half-written generations are part of what the officer needs.
	gens, err := d.Generations()
	if err != nil {
		return vaultRefused(err)
	}
	v, err := d.OpenCurrent()
	if errors.Is(err, vaultdir.ErrNoGeneration) {
		return withHint(err, "is this the vault's directory? It holds CURRENT and gen-NNNNNN directories")
	}
	if err != nil {
		var half []string
		for _, g := range gens {
			if g.HalfWritten {
				half = append(half, g.Name)
			}
		}
		if len(half) > 0 {
			err = withHint(err, "the vault also holds half-written generations, writes interrupted before they were made current: "+strings.Join(half, ", "))
		}
		return refused(err)
	}
	r := vaultShowReport{
		Format: vaultShowFormat, Vault: dir, Generation: v.Generation, Number: v.Manifest.Generation,
		Hash: v.Hash, Previous: v.Manifest.Previous,
		Policy: vaultShowPolicy{SHA256: v.Policy.SHA256, Repository: v.Policy.Repository,
			Rehearsal: v.Policy.Rehearsal, Roles: v.Policy.SignedRoles()},
		Binding:     vaultShowBinding{RootVersion: v.Root.Version(), Threshold: rootThreshold(v.Root), Signers: []string{}, Holders: []string{}},
		Holders:     []vaultShowHolder{},
		Metadata:    []vaultShowFile{},
		Generations: []vaultShowGen{},
	}
	if v.LastCeremonyID != "" {
		r.LastCeremony = &vaultShowCeremony{ID: v.LastCeremonyID, Confirmed: v.LastCeremony}
	}
	for _, x := range v.Expiries() {
		r.Metadata = append(r.Metadata, vaultShowFile{Role: x.Role, File: x.File, Version: x.Version, Expires: x.Expires})
	}
	// The signers in the policy's order of holders, then any key no
	// holder enrols (keyids are random: an order by keyid would differ
	// from one vault to the next).
	signed := map[string]bool{}
	for _, id := range v.BindingSigners {
		signed[id] = true
	}
	for _, h := range v.Policy.Holders {
		for _, k := range h.Keys {
			if signed[k.KeyID] {
				r.Binding.Signers = append(r.Binding.Signers, k.KeyID)
				r.Binding.Holders = append(r.Binding.Holders, h.Name)
				delete(signed, k.KeyID)
			}
		}
	}
	for _, id := range v.BindingSigners {
		if signed[id] {
			r.Binding.Signers = append(r.Binding.Signers, id)
			r.Binding.Holders = append(r.Binding.Holders, "")
		}
	}
	for _, h := range v.Policy.Holders {
		sh := vaultShowHolder{Name: h.Name}
		for _, k := range h.Keys {
			sh.Keys = append(sh.Keys, k.KeyID)
		}
		r.Holders = append(r.Holders, sh)
	}
	for _, g := range gens {
		r.Generations = append(r.Generations, vaultShowGen{g.Name, g.Current, g.HalfWritten})
	}
	if *asJSON {
		return writeJSON(env.stdout, r)
	}
	writeVaultShow(env.stdout, r)
	return nil
}

// writeVaultShow prints the report as text. Everything read from the
// vault goes through termtext.
func writeVaultShow(w io.Writer, r vaultShowReport) {
	fmt.Fprintf(w, "vault %s: verified\n", termtext.Safe(r.Vault))
	fmt.Fprintf(w, "generation %s (number %d)\n", r.Generation, r.Number)
	writeDigest(w, "", "generation hash:", r.Hash)
	if r.LastCeremony != nil {
		fmt.Fprintf(w, "last ceremony %s, confirmed time %s\n", termtext.Safe(r.LastCeremony.ID), r.LastCeremony.Confirmed.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintln(w, "last ceremony: none since the vault was adopted")
	}
	for _, m := range r.Metadata {
		fmt.Fprintf(w, "%-10s version %d, expires %s\n", termtext.Safe(m.Role), m.Version, m.Expires.UTC().Format(time.RFC3339))
	}
	what := "production"
	if r.Policy.Rehearsal {
		what = "REHEARSAL"
	}
	fmt.Fprintf(w, "policy: %s, repository %s, signs %s\n", what, termtext.Safe(r.Policy.Repository), termtext.Safe(strings.Join(r.Policy.Roles, ", ")))
	writeDigest(w, "", "policy hash:", r.Policy.SHA256)
	names := make([]string, len(r.Binding.Holders))
	for i, n := range r.Binding.Holders {
		names[i] = termtext.Safe(n)
		if n == "" {
			names[i] = "key " + r.Binding.Signers[i]
		}
	}
	fmt.Fprintf(w, "binding: signed by %d root keys of root version %d (threshold %d): %s\n",
		len(r.Binding.Signers), r.Binding.RootVersion, r.Binding.Threshold, strings.Join(names, ", "))
	fmt.Fprintf(w, "holders (%d):\n", len(r.Holders))
	for _, h := range r.Holders {
		fmt.Fprintf(w, "  %s: %s\n", termtext.Safe(h.Name), strings.Join(h.Keys, ", "))
	}
	for _, g := range r.Generations {
		if g.HalfWritten {
			fmt.Fprintf(w, "half-written generation %s: a write interrupted before it was made current; ignored\n", termtext.Safe(g.Name))
		}
	}
}
