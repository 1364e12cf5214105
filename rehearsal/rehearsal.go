// Package rehearsal sets up Conclave's whole ceremony for training and for
// trying Conclave on a fresh machine, on real token backends: two virtual
// YubiKeys through a private pcscd and vsmartcard-vpcd, and a SoftHSM
// token, each holding a holder's key generated on it; a repository
// generated and signed on those tokens (root, targets and claimed, version
// 1), adopted into a throwaway vault under a rehearsal policy; and a
// bundle of generated requests, some invalid, some needing judgement, on
// the transfer medium. The ceremony itself is the headless driver's, run
// by the command; [Setup.Verify] then checks what it exported.
//
// Everything it makes is marked rehearsal and can never pass as
// production: the policy says rehearsal (so SoftHSM may sign, and every
// production ceremony refuses the vault), the virtual cards attest under a
// SIMULATOR root, and a notice in the output directory says so.
//
// A rehearsal that fails or is interrupted stops its tokens and removes
// what it wrote ([Setup.Abandon]); the tokens' private directory (SoftHSM's
// token files, pcscd's socket) is always removed when they stop.
package rehearsal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// made records what a rehearsal created, so that an interrupted or failed
// one can take it away again.
type made struct {
	dirs  []string // created, outermost first
	files []string
	// trees are directories written by others (a bundle, a vault, an
	// export) that the rehearsal made, removed whole.
	trees []string
}

// undo removes the trees and files, then the directories it created,
// innermost first. A directory is removed only if it is empty again:
// whatever someone else put there meanwhile stays.
func (m *made) undo() (removed, left []string) {
	for i := len(m.trees) - 1; i >= 0; i-- {
		if err := os.RemoveAll(m.trees[i]); err != nil {
			left = append(left, fmt.Sprintf("%s (%v)", m.trees[i], err))
			continue
		}
		removed = append(removed, m.trees[i])
	}
	for i := len(m.files) - 1; i >= 0; i-- {
		if err := os.Remove(m.files[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			left = append(left, fmt.Sprintf("%s (%v)", m.files[i], err))
			continue
		}
		removed = append(removed, m.files[i])
	}
	for i := len(m.dirs) - 1; i >= 0; i-- {
		if err := os.Remove(m.dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			left = append(left, fmt.Sprintf("%s (%v)", m.dirs[i], err))
			continue
		}
		removed = append(removed, m.dirs[i])
	}
	*m = made{}
	return removed, left
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
