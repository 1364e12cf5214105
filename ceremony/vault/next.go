package vault

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Update is what a closed ceremony changes in the vault.
type Update struct {
	// CeremonyID names the ceremony; its logs go under
	// ceremonies/<CeremonyID>/.
	CeremonyID string
	// Confirmed is the ceremony's confirmed time: later than the vault's
	// last ceremony.
	Confirmed time.Time
	// Roles holds the new, signed metadata of each role that changed, by
	// role name; each is registered under the SHA-256 of its signed part.
	Roles map[string]*tuf.File
	// History is the history after the ceremony's import; nil keeps it.
	History *history.History
	// Register holds further registrations (versions built and not
	// exported: burned). An entry that differs from a registered one is
	// refused with ErrRegisterConflict.
	Register Register
	// Logs are the ceremony's log files, named relative to its directory;
	// a file's Link goes with it into the files Next returns.
	Logs []File
}

// Next returns the files of the generation that follows v after the
// update: v's files with the update's changes, and the new manifest last.
// The result is opened (Open) before it is returned, so a generation that
// would not open is never written.
func (v *Vault) Next(u Update) ([]File, error) {
	return v.next(u, nil)
}

// next is Next, with change (when not nil) making further changes to the
// files before they are sealed.
func (v *Vault) next(u Update, change func(files map[string][]byte)) ([]File, error) {
	if err := checkCeremonyID(u.CeremonyID); err != nil {
		return nil, err
	}
	dir := CeremoniesDir + "/" + u.CeremonyID
	for name := range v.files {
		if strings.HasPrefix(name, dir+"/") {
			return nil, fmt.Errorf("next generation: ceremony %s already has logs in the vault", u.CeremonyID)
		}
	}
	if u.Confirmed.IsZero() || !u.Confirmed.After(v.LastCeremony) {
		return nil, fmt.Errorf("next generation: the confirmed time %s is not after the last ceremony's, %s",
			u.Confirmed.UTC().Format(time.RFC3339), v.LastCeremony.UTC().Format(time.RFC3339))
	}
	files := make(map[string][]byte, len(v.files)+len(u.Logs)+len(u.Roles))
	for n, b := range v.files {
		files[n] = b
	}
	reg := v.Register.clone()
	for role, f := range u.Roles {
		old, ok := v.Delegators[role]
		if !ok {
			return nil, fmt.Errorf("next generation: role %s is not a role the policy signs", role)
		}
		if f.Version() <= old.Version() {
			return nil, fmt.Errorf("next generation: %s version %d does not follow the vault's version %d", role, f.Version(), old.Version())
		}
		if err := reg.Add(role, f.Version(), SHA256Hex(f.SignedBytes())); err != nil {
			return nil, fmt.Errorf("next generation: %w", err)
		}
		files[RoleFile(role)] = f.Bytes()
	}
	for role, vs := range u.Register {
		for ver, h := range vs {
			if err := reg.Add(role, ver, h); err != nil {
				return nil, fmt.Errorf("next generation: %w", err)
			}
		}
	}
	files[RegisterFile] = reg.marshal()
	if u.History != nil {
		files[HistoryFile] = u.History.Marshal()
	}
	links, err := addLogs(files, u.CeremonyID, u.Logs)
	if err != nil {
		return nil, fmt.Errorf("next generation: %w", err)
	}
	if change != nil {
		change(files)
	}
	out, err := seal(Manifest{
		Generation:     v.Manifest.Generation + 1,
		Previous:       v.Hash,
		LastCeremony:   u.CeremonyID,
		LastCeremonyAt: u.Confirmed.UTC().Format(time.RFC3339Nano),
	}, files)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Link = links[out[i].Name]
	}
	return out, nil
}

// addLogs adds a ceremony's log files to files, under
// ceremonies/<ceremonyID>/, and returns the links of those that have one.
func addLogs(files map[string][]byte, ceremonyID string, logs []File) (map[string]string, error) {
	dir := CeremoniesDir + "/" + ceremonyID
	links := map[string]string{}
	for _, l := range logs {
		name := path.Join(dir, l.Name)
		if err := checkFileName(l.Name); err != nil || !strings.HasPrefix(name, dir+"/") {
			return nil, fmt.Errorf("ceremony log %q is not a file name inside the ceremony's directory", l.Name)
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("ceremony log %q is given twice", l.Name)
		}
		files[name] = l.Data
		if l.Link != "" {
			links[name] = l.Link
		}
	}
	return links, nil
}

// checkCeremonyID refuses an id that cannot be one directory name.
func checkCeremonyID(id string) error {
	if err := checkFileName(id); err != nil || strings.Contains(id, "/") {
		return fmt.Errorf("next generation: ceremony id %q cannot name a directory of the vault", id)
	}
	return nil
}

// seal adds the manifest to files, opens the result and returns it, the
// manifest last.
func seal(m Manifest, files map[string][]byte) ([]File, error) {
	out := make([]File, 0, len(files)+1)
	for n, b := range files {
		if err := checkFileName(n); err != nil {
			return nil, fmt.Errorf("vault file: %w", err)
		}
		out = append(out, File{Name: n, Data: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	out = append(out, buildManifest(m, out))
	if _, err := Open(NewMemReader(out)); err != nil {
		return nil, err
	}
	return out, nil
}

// AdoptInput is what a vault is adopted from: a repository's existing
// metadata, the policy, and the binding the root holders signed.
type AdoptInput struct {
	// Roots are the root metadata files, versions 1 to N in order.
	Roots [][]byte
	// Targets is the top-level targets metadata.
	Targets []byte
	// Roles holds the metadata of each role the policy signs, by name.
	Roles map[string][]byte
	// Policy is the policy file; Binding the envelope over
	// BindingPayload(Policy, last root), signed by a threshold of the last
	// root's root keys.
	Policy  []byte
	Binding []byte
	// History is a history file of earlier imports; nil starts an empty
	// one.
	History []byte
}

// Adopt returns the files of the first generation of a vault holding the
// given metadata, policy and binding, the manifest last. The register
// starts with the current version of each signed role. The result is
// opened (Open) before it is returned: Adopt refuses what Open would.
func Adopt(a AdoptInput) ([]File, error) {
	files, err := adoptFiles(a)
	if err != nil {
		return nil, err
	}
	return seal(Manifest{Generation: 1}, files)
}

// adoptFiles are the files of Adopt's generation, but the manifest.
func adoptFiles(a AdoptInput) (map[string][]byte, error) {
	if len(a.Roots) == 0 {
		return nil, refuse(RootFile(1), fmt.Errorf("%w: %w", ErrRootChain, ErrMissing))
	}
	files := map[string][]byte{
		TargetsFile: a.Targets,
		PolicyFile:  a.Policy,
		BindingFile: a.Binding,
	}
	for i, r := range a.Roots {
		files[RootFile(int64(i+1))] = r
	}
	reg := Register{}
	for role, data := range a.Roles {
		name := RoleFile(role)
		if err := checkFileName(name); err != nil || strings.Contains(role, "/") {
			return nil, fmt.Errorf("adopt: role %q cannot be a file name in %s/", role, MetadataDir)
		}
		f, err := tuf.Parse(name, data)
		if err != nil {
			return nil, refuse(name, err)
		}
		if err := reg.Add(role, f.Version(), SHA256Hex(f.SignedBytes())); err != nil {
			return nil, refuse(name, err)
		}
		files[name] = data
	}
	files[RegisterFile] = reg.marshal()
	if a.History != nil {
		files[HistoryFile] = a.History
	} else {
		files[HistoryFile] = (&history.History{}).Marshal()
	}
	return files, nil
}
