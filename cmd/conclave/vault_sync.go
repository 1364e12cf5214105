package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verify"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var vaultSyncCommand = &command{
	name:    "vault sync",
	summary: "take into the vault the metadata the repository publishes, once verified against the vault's root chain: after a ceremony completed at another site, so that both vaults agree on the current versions and the register",
	usage:   "vault sync --vault VAULT --published DIR",
}

func init() {
	vaultSyncCommand.run = runVaultSync
}

// runVaultSync reads the published metadata of the roles the vault's
// policy signs, has the vault check it (vault.Sync) and writes the
// generation that takes it.
func runVaultSync(ctx context.Context, env *environment, args []string) error {
	c := vaultSyncCommand
	fs := newFlagSet(env, c)
	vaultPath := fs.String("vault", "", "the vault `VAULT` to bring up to date")
	published := fs.String("published", "", "the `DIR` holding the metadata the repository publishes (ROLE.json or N.ROLE.json for each role the policy signs), fetched independently")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usagef("vault sync takes no arguments")
	case *vaultPath == "" || *published == "":
		return usagef("vault sync needs --vault VAULT and --published DIR")
	}
	vd, v, err := openVault(*vaultPath)
	if err != nil {
		return err
	}
	defer vd.Close()
	lock, err := vd.LockJournals()
	if err != nil {
		return err
	}
	defer lock.Close()
	// A ceremony left unfinished registered its versions only in its log:
	// taking a newer version now would let it build one again.
	if err := checkNoUnfinished(vd, v); err != nil {
		return err
	}
	files, err := readPublished(*published, v.Policy.SignedRoles())
	if err != nil {
		return err
	}
	roles, next, err := v.Sync(ctx, vault.SyncInput{Published: files, Now: time.Now()})
	if errors.Is(err, context.Canceled) {
		return interrupted("the sync stopped before anything was written")
	}
	if err != nil {
		return refused(err)
	}
	out := env.stdout
	for _, r := range roles {
		if r.Changed() {
			fmt.Fprintf(out, "%s: version %d → %d (%s, payload %s), verified against the vault's root chain\n", termtext.Safe(r.Role), r.From, r.To, termtext.Safe(r.Name), r.PayloadSHA256)
		} else {
			fmt.Fprintf(out, "%s: version %d, as the vault holds it\n", termtext.Safe(r.Role), r.From)
		}
	}
	if next == nil {
		fmt.Fprintf(out, "The vault holds every published version already: generation %s is unchanged.\n", termtext.Safe(v.Generation))
		return nil
	}
	name, err := vd.WriteGeneration(next)
	if err != nil {
		return err
	}
	if err := readBackGeneration(vd, name, next); err != nil {
		return err
	}
	fmt.Fprintf(out, "Vault generation %s written and read back.\n", termtext.Safe(name))
	printGeneration(out, name, vault.SHA256Hex(next[len(next)-1].Data))
	return nil
}

// readPublished reads, from the published directory, the files of the
// roles named — ROLE.json and N.ROLE.json — through the media reader (no
// links, regular files only, limits). The directory may hold the rest of
// what the repository publishes; it is not read.
func readPublished(dir string, roles []string) ([]verify.Input, error) {
	if err := readableDir("the published directory", dir); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if role, _ := verify.RoleFromName(e.Name()); slices.Contains(roles, role) && e.Name() == nameOf(e.Name()) {
			names = append(names, e.Name())
		}
	}
	d, err := safefile.OpenDir(dir, names, safefile.Limits{MaxFiles: len(names) + 1, MaxFileSize: defaultMaxMetadataSize})
	if err != nil {
		return nil, refused(err)
	}
	defer d.Close()
	var out []verify.Input
	for _, n := range names {
		data, err := d.ReadFile(n)
		if err != nil {
			return nil, refused(err)
		}
		out = append(out, verify.Input{Name: n, Data: data})
	}
	return out, nil
}

// nameOf keeps only the names a repository publishes metadata under:
// "ROLE.json" and "N.ROLE.json" ("N.ROLE.partial.json" is never one).
func nameOf(name string) string {
	role, version := verify.RoleFromName(name)
	switch {
	case version > 0 && name == fmt.Sprintf("%d.%s.json", version, role):
		return name
	case version == 0 && name == role+".json":
		return name
	}
	return ""
}
