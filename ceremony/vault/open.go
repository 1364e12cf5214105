package vault

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Errors of Open a caller or a test can branch on, each in an *OpenError.
var (
	// ErrUnknownFile: the manifest lists a file a generation does not
	// hold.
	ErrUnknownFile = errors.New("not a file of a vault")
	// ErrRootChain: the root history is not versions 1 to N, each
	// following the one before (TUF §5.3).
	ErrRootChain = errors.New("the root history is not a chain from version 1")
	// ErrRoleFiles: metadata/ does not hold exactly targets.json and one
	// file per role the policy signs.
	ErrRoleFiles = errors.New("the metadata files are not the roles the policy signs")
	// ErrMisplaced: a shard delegates a project whose name the policy
	// gives to another shard.
	ErrMisplaced = errors.New("a project is delegated by the wrong shard")
	// ErrFallThrough: a file missing from a project's metadata could be
	// served by a role targets delegates after the project's: a signed
	// role's project delegation is not terminating, or targets delegates
	// another role before a signed role.
	ErrFallThrough = errors.New("a file missing from a project's metadata could fall through to another role")
	// ErrRegisterMissing: a role's current version is not registered, or
	// under another payload.
	ErrRegisterMissing = errors.New("the register does not hold the current metadata's payload")
	// ErrRehearsalMark: the roots' rehearsal mark (tuf.RehearsalMark)
	// and the policy's rehearsal field disagree.
	ErrRehearsalMark = errors.New("the root history and the policy disagree on whether this is a rehearsal")
)

// Open verifies a generation and returns it. It checks, refusing with the
// file and the reason at the first failure:
//
//  1. the manifest: every file it lists is there with its size and
//     SHA-256, and nothing else is;
//  2. the root history from version 1 (self-signed, as a client's first
//     trusted root), each next version signed by a threshold of the keys
//     of the one before and of its own (tuf.VerifyRootUpdate, TUF §5.3);
//  3. targets against the last root;
//  4. the binding, signed by a threshold of the last root's root keys
//     over the policy file's hash and the root's version;
//  5. the policy, parsed and checked against the root and targets
//     (policy.CheckRoles) and against the roots' rehearsal mark (a
//     rehearsal policy needs every root marked, any other policy none);
//  6. each role the policy signs against targets, and nothing else in
//     metadata/;
//  7. history and register; the register holds every signed role's
//     current version under the SHA-256 of its signed part.
//
// Expiry is not checked: a vault whose metadata expired must still open,
// so that a ceremony can renew it. The caller compares the expiries with
// its confirmed clock.
func Open(r Reader) (*Vault, error) {
	mdata, err := r.ReadFile(ManifestFile)
	if err != nil {
		return nil, refuse(ManifestFile, err)
	}
	m, err := parseManifest(mdata)
	if err != nil {
		return nil, refuse(ManifestFile, err)
	}
	for _, e := range m.Files {
		if !knownFile(e.Name) {
			return nil, refusef(e.Name, "%w: a generation holds no file of this name", ErrUnknownFile)
		}
	}
	files, err := readAll(r, m)
	if err != nil {
		return nil, err
	}
	v := &Vault{
		Generation:     GenerationName(m.Generation),
		Hash:           SHA256Hex(mdata),
		Manifest:       m,
		manifest:       mdata,
		LastCeremony:   m.lastCeremonyTime(),
		LastCeremonyID: m.LastCeremony,
		Delegators:     map[string]*tuf.File{},
		files:          files,
	}
	if err := v.openRoots(); err != nil {
		return nil, err
	}
	if err := v.openTargets(); err != nil {
		return nil, err
	}
	if err := v.openPolicy(); err != nil {
		return nil, err
	}
	if err := v.openRoles(); err != nil {
		return nil, err
	}
	if err := v.openState(); err != nil {
		return nil, err
	}
	return v, nil
}

// knownFile reports whether a generation may hold a file of this name
// (docs/formats/vault.md): the fixed files, the roots and the metadata
// (checked further by Open), and anything inside a ceremony's directory.
func knownFile(name string) bool {
	switch name {
	case PolicyFile, BindingFile, HistoryFile, RegisterFile:
		return true
	}
	dir, rest, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		return false
	case dir == RootDir || dir == MetadataDir:
		return true
	case dir == CeremoniesDir:
		return strings.Contains(rest, "/")
	}
	return false
}

// file returns a listed file, or refuses a missing one.
func (v *Vault) file(name string) ([]byte, error) {
	b, ok := v.files[name]
	if !ok {
		return nil, refuse(name, ErrMissing)
	}
	return b, nil
}

// Files returns the generation's files in the manifest's order, the
// manifest last: what vaultdir's WriteGeneration takes.
func (v *Vault) Files() []File {
	out := make([]File, 0, len(v.files)+1)
	for _, e := range v.Manifest.Files {
		out = append(out, File{Name: e.Name, Data: v.files[e.Name]})
	}
	return append(out, File{Name: ManifestFile, Data: v.manifest})
}

func (v *Vault) openRoots() error {
	var versions []int64
	for _, e := range v.Manifest.Files {
		rest, ok := strings.CutPrefix(e.Name, RootDir+"/")
		if !ok {
			continue
		}
		n, ok := strings.CutSuffix(rest, ".root.json")
		ver, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || ver < 1 || strconv.FormatInt(ver, 10) != n {
			return refusef(e.Name, "%w: root files are named N.root.json, N from 1", ErrRootChain)
		}
		versions = append(versions, ver)
	}
	if len(versions) == 0 {
		return refuse(RootFile(1), fmt.Errorf("%w: %w", ErrRootChain, ErrMissing))
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	for i, ver := range versions {
		if ver != int64(i+1) {
			return refusef(RootFile(ver), "%w: version %d is missing before it", ErrRootChain, i+1)
		}
	}
	for _, ver := range versions {
		name := RootFile(ver)
		f, err := tuf.Parse(name, v.files[name])
		if err != nil {
			return refuse(name, err)
		}
		if f.Root == nil {
			return refusef(name, "%w: expected root metadata, found %s", tuf.ErrWrongType, f.Type())
		}
		if ver == 1 {
			// The first root is trusted on its own (TUF §5.2): it must be
			// version 1 and signed by a threshold of its own root keys.
			if f.Version() != 1 {
				return refusef(name, "%w: %w: it holds root version %d", ErrRootChain, tuf.ErrVersion, f.Version())
			}
			if _, err := f.VerifyWithRoot(f.Root); err != nil {
				return refuse(name, err)
			}
		} else if _, err := tuf.VerifyRootUpdate(v.Root.Root, f); err != nil {
			return refusef(name, "%w: %w", ErrRootChain, err)
		}
		v.Roots = append(v.Roots, f)
		v.Root = f
	}
	return nil
}

func (v *Vault) openTargets() error {
	data, err := v.file(TargetsFile)
	if err != nil {
		return err
	}
	f, err := tuf.Parse(TargetsFile, data)
	if err != nil {
		return refuse(TargetsFile, err)
	}
	if f.Targets == nil {
		return refusef(TargetsFile, "%w: expected targets metadata, found %s", tuf.ErrWrongType, f.Type())
	}
	if _, err := f.VerifyWithRoot(v.Root.Root); err != nil {
		return refuse(TargetsFile, err)
	}
	v.Targets = f
	return nil
}

func (v *Vault) openPolicy() error {
	pdata, err := v.file(PolicyFile)
	if err != nil {
		return err
	}
	bdata, err := v.file(BindingFile)
	if err != nil {
		return err
	}
	repo, signers, err := verifyBinding(bdata, pdata, v.Root.Root)
	if err != nil {
		return err
	}
	p, err := policy.Parse(PolicyFile, pdata)
	if err != nil {
		return refuse(PolicyFile, err)
	}
	if repo != p.Repository {
		return refusef(BindingFile, "%w: it names repository %q, the policy %q", ErrBindingMismatch, repo, p.Repository)
	}
	if err := p.CheckRoles(v.Root.Root, v.Targets.Targets); err != nil {
		return refuse(PolicyFile, err)
	}
	if err := v.checkRehearsal(p.Rehearsal); err != nil {
		return err
	}
	v.Policy, v.PolicyBytes, v.BindingSigners = p, pdata, signers
	return nil
}

// checkRehearsal refuses a vault whose roots and policy disagree on
// whether it is a rehearsal's. A marked root (tuf.RehearsalMark) under a
// production policy would let a production ceremony sign for a rehearsal's
// throwaway keys, whose metadata every verifier calls a rehearsal's. A
// rehearsal policy over an unmarked root is refused as well: a rehearsal
// relaxes what a production ceremony demands (software keys, SoftHSM,
// failed preflight checks), and its output under an unmarked root would
// verify as production metadata. So the mark and the policy say the same
// thing of every root, from version 1.
func (v *Vault) checkRehearsal(rehearsal bool) error {
	for _, f := range v.Roots {
		name := RootFile(f.Version())
		switch _, marked := f.Root.Rehearsal(); {
		case marked && !rehearsal:
			return refusef(name, "%w: it is marked %s (made by a rehearsal with throwaway keys), and the policy is not a rehearsal's (rehearsal: true)", ErrRehearsalMark, tuf.RehearsalMark)
		case !marked && rehearsal:
			return refusef(name, "%w: the policy is a rehearsal's (rehearsal: true), and this root is not marked %s: a rehearsal's metadata would pass as production metadata", ErrRehearsalMark, tuf.RehearsalMark)
		}
	}
	return nil
}

func (v *Vault) openRoles() error {
	want := map[string]bool{}
	for _, role := range v.Policy.SignedRoles() {
		if err := checkFileName(RoleFile(role)); err != nil || strings.Contains(role, "/") || role == "targets" {
			return refusef(PolicyFile, "%w: role %q cannot be a file name in %s/", ErrRoleFiles, role, MetadataDir)
		}
		want[RoleFile(role)] = true
	}
	for _, e := range v.Manifest.Files {
		if path.Dir(e.Name) == MetadataDir && e.Name != TargetsFile && !want[e.Name] ||
			strings.HasPrefix(e.Name, MetadataDir+"/") && path.Dir(e.Name) != MetadataDir {
			return refusef(e.Name, "%w: the policy signs no role of this name", ErrRoleFiles)
		}
	}
	if err := checkOrder(v.Targets.Targets, v.Policy.SignedRoles()); err != nil {
		return err
	}
	for _, role := range v.Policy.SignedRoles() {
		name := RoleFile(role)
		data, ok := v.files[name]
		if !ok {
			return refusef(name, "%w: the policy signs role %s and its metadata is missing", ErrRoleFiles, role)
		}
		f, err := tuf.Parse(name, data)
		if err != nil {
			return refuse(name, err)
		}
		if _, err := f.VerifyDelegated(v.Targets.Targets, role); err != nil {
			return refuse(name, err)
		}
		// A project delegated by another shard than the one its name
		// falls to would be judged and rebuilt in the wrong place: an
		// add could not see it, a rotation would not find it.
		if d := f.Targets.Delegations; d != nil && len(v.Policy.Shards) > 0 {
			for _, r := range d.Roles {
				if want := v.Policy.ShardFor(r.Name); want != role {
					return refusef(name, "%w: project %q is delegated by %s, but the policy gives its name to %s", ErrMisplaced, r.Name, role, want)
				}
			}
		}
		if err := checkTerminating(name, role, f.Targets); err != nil {
			return err
		}
		v.Delegators[role] = f
	}
	return nil
}

// checkOrder refuses a targets that delegates another role (an online
// one: recently-claimed, unclaimed) before a signed role. A client looks
// a path up in the delegations in their order (TUF specification
// §5.6.7.2, preorder depth-first search): a role listed first would be
// asked before the signed roles about every project's files.
func checkOrder(targets *tuf.Targets, signed []string) error {
	if targets.Delegations == nil {
		return nil
	}
	other := ""
	for _, r := range targets.Delegations.Roles {
		switch {
		case !slices.Contains(signed, r.Name):
			if other == "" {
				other = r.Name
			}
		case other != "":
			return refusef(TargetsFile, "%w: targets delegates %q before %s, which the policy signs: the signed roles come first", ErrFallThrough, other, r.Name)
		}
	}
	return nil
}

// checkTerminating refuses a signed role delegating a project without
// terminating: a client that does not find a file in the project's
// metadata would go on to the roles after it (TUF specification §5.6.7.2.1),
// signed by online keys.
func checkTerminating(name, role string, t *tuf.Targets) error {
	if t.Delegations == nil {
		return nil
	}
	for _, r := range t.Delegations.Roles {
		if !r.Terminating {
			return refusef(name, "%w: %s delegates project %q without terminating: a file missing from its metadata would be looked for after it", ErrFallThrough, role, r.Name)
		}
	}
	return nil
}

func (v *Vault) openState() error {
	data, err := v.file(HistoryFile)
	if err != nil {
		return err
	}
	if v.History, err = history.Parse(data); err != nil {
		return refuse(HistoryFile, err)
	}
	if data, err = v.file(RegisterFile); err != nil {
		return err
	}
	if v.Register, err = parseRegister(data); err != nil {
		return refuse(RegisterFile, err)
	}
	for _, role := range v.Policy.SignedRoles() {
		f := v.Delegators[role]
		have := SHA256Hex(f.SignedBytes())
		got, ok := v.Register.Lookup(role, f.Version())
		if !ok {
			return refusef(RegisterFile, "%w: %s version %d is not registered", ErrRegisterMissing, role, f.Version())
		}
		if got != have {
			return refusef(RegisterFile, "%w: %s version %d is registered with payload sha256 %s, but %s has payload sha256 %s",
				ErrRegisterMissing, role, f.Version(), got, RoleFile(role), have)
		}
	}
	return nil
}

// Expiry is when one metadata file of the vault expires.
type Expiry struct {
	File    string
	Role    string
	Version int64
	Expires time.Time
}

// Expiries lists the expiry of the current root, targets and each signed
// role, in that order (roles sorted by name).
func (v *Vault) Expiries() []Expiry {
	out := []Expiry{
		{RootFile(v.Root.Version()), tuf.TypeRoot, v.Root.Version(), v.Root.Expires().Time},
		{TargetsFile, tuf.TypeTargets, v.Targets.Version(), v.Targets.Expires().Time},
	}
	roles := make([]string, 0, len(v.Delegators))
	for r := range v.Delegators {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		f := v.Delegators[r]
		out = append(out, Expiry{RoleFile(r), r, f.Version(), f.Expires().Time})
	}
	return out
}
