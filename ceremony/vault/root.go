package vault

import (
	"fmt"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Create returns the files of the first generation of a new trust root
// (conclave init): the metadata, policy and binding as Adopt takes them,
// with the log of the ceremony that made them under
// ceremonies/<ceremonyID>/, recorded as the vault's last ceremony. The
// result is opened before it is returned.
func Create(a AdoptInput, ceremonyID string, confirmed time.Time, logs []File) ([]File, error) {
	if err := checkCeremonyID(ceremonyID); err != nil {
		return nil, err
	}
	if confirmed.IsZero() {
		return nil, fmt.Errorf("new vault: no confirmed time")
	}
	files, err := adoptFiles(a)
	if err != nil {
		return nil, err
	}
	links, err := addLogs(files, ceremonyID, logs)
	if err != nil {
		return nil, fmt.Errorf("new vault: %w", err)
	}
	out, err := seal(Manifest{
		Generation:     1,
		LastCeremony:   ceremonyID,
		LastCeremonyAt: confirmed.UTC().Format(time.RFC3339Nano),
	}, files)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Link = links[out[i].Name]
	}
	return out, nil
}

// RootUpdate is what a root ceremony (rotation or refresh) changes in the
// vault, besides what Update carries.
type RootUpdate struct {
	Update
	// Root is the next root version; nil keeps the root. The whole root
	// history stays: it is added as RootFile(version).
	Root *tuf.File
	// Targets is the new targets metadata; nil keeps it.
	Targets *tuf.File
	// Policy and Binding replace the policy and its binding; nil keeps
	// them. A new root needs a new binding: the binding names the root
	// version it binds to.
	Policy  []byte
	Binding []byte
}

// NextRoot returns the files of the generation that follows v after a
// root ceremony. Like Next, it opens the result before returning it, so
// a root update that a client would refuse (TUF §5.3.4: not signed by a
// threshold of the old root's root keys and of its own) is never written.
func (v *Vault) NextRoot(u RootUpdate) ([]File, error) {
	if u.Root != nil && u.Root.Version() != v.Root.Version()+1 {
		return nil, fmt.Errorf("next generation: root version %d does not follow the vault's version %d", u.Root.Version(), v.Root.Version())
	}
	if u.Targets != nil && u.Targets.Version() <= v.Targets.Version() {
		return nil, fmt.Errorf("next generation: targets version %d does not follow the vault's version %d", u.Targets.Version(), v.Targets.Version())
	}
	return v.next(u.Update, func(files map[string][]byte) {
		if u.Root != nil {
			files[RootFile(u.Root.Version())] = u.Root.Bytes()
		}
		if u.Targets != nil {
			files[TargetsFile] = u.Targets.Bytes()
		}
		if u.Policy != nil {
			files[PolicyFile] = u.Policy
		}
		if u.Binding != nil {
			files[BindingFile] = u.Binding
		}
	})
}
