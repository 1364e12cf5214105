package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/conclave-keys/conclave/airgap/media"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// runFound is `conclave` with no arguments on a terminal: it looks on the
// removable media for one vault and one bundle, says what it found, and
// opens the terminal program on them once a person confirms. It never
// starts on a guess: with none or several of either, it says what it
// found and how to name them.
func runFound(ctx context.Context, env *environment) int {
	list, err := media.System().List()
	if err != nil {
		fmt.Fprintf(env.stderr, "error: listing the removable media: %s\n", termtext.Safe(err.Error()))
		return exitFailed
	}
	var roots []string
	for _, m := range list {
		roots = append(roots, m.MountPoint)
	}
	vaults, bundles := findCeremony(roots)
	if len(vaults) != 1 || len(bundles) != 1 {
		writeFound(env.stderr, roots, vaults, bundles)
		fmt.Fprintln(env.stderr, "hint: name them: conclave ceremony --vault DIR --in BUNDLE --out DIR (conclave help lists every command)")
		return exitUsage
	}
	out := exportDirFor(bundles[0])
	fmt.Fprintf(env.stdout, "Found on the removable media:\n  vault   %s\n  bundle  %s\nThe signed files will be written to\n  %s\n\nOpen the ceremony on these? Type yes and press Enter: ",
		termtext.Safe(vaults[0]), termtext.Safe(bundles[0]), termtext.Safe(out))
	answer, _ := bufio.NewReader(env.stdin).ReadString('\n')
	if strings.TrimSpace(answer) != "yes" {
		fmt.Fprintln(env.stdout, "Nothing was opened.")
		return exitOK
	}
	return runCommand(ctx, env, ceremonyCommand, []string{"--vault", vaults[0], "--in", bundles[0], "--out", out})
}

// findCeremony looks in each root and in its directories, one level
// down, for vaults (a CURRENT file naming a generation) and bundles (a
// manifest). It follows no symbolic link.
func findCeremony(roots []string) (vaults, bundles []string) {
	look := func(dir string) {
		if isRegular(filepath.Join(dir, vaultdir.CurrentFile)) {
			vaults = append(vaults, dir)
		} else if isRegular(filepath.Join(dir, bundle.ManifestName)) {
			bundles = append(bundles, dir)
		}
	}
	for _, root := range roots {
		look(root)
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				look(filepath.Join(root, e.Name()))
			}
		}
	}
	return vaults, bundles
}

func isRegular(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// exportDirFor is where the signed files go: a new directory beside the
// bundle, on the same medium.
func exportDirFor(bundleDir string) string {
	return filepath.Join(filepath.Dir(bundleDir), filepath.Base(bundleDir)+"-signed")
}

// writeFound says what the media hold when it is not one vault and one
// bundle.
func writeFound(w io.Writer, roots, vaults, bundles []string) {
	if len(roots) == 0 {
		fmt.Fprintln(w, "error: no removable medium is mounted: mount the vault's medium and the transfer medium")
		return
	}
	fmt.Fprintf(w, "error: a ceremony needs one vault and one bundle on the removable media; found %s and %s\n",
		termtext.Plural(len(vaults), "vault"), termtext.Plural(len(bundles), "bundle"))
	for _, v := range vaults {
		fmt.Fprintf(w, "  vault   %s\n", termtext.Safe(v))
	}
	for _, b := range bundles {
		fmt.Fprintf(w, "  bundle  %s\n", termtext.Safe(b))
	}
}
