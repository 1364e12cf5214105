//go:build cgo

package rehearsal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// TestPrepareThenAbandon sets a rehearsal up on its real tokens: the
// repository it wrote verifies (root by itself, targets by root, claimed
// by targets, each signed by all three holders through their tokens), the
// bundle's manifest is there; abandoning it stops the tokens and leaves
// nothing behind.
func TestPrepareThenAbandon(t *testing.T) {
	needTokenSoftware(t)
	if !inChild(t) {
		return
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	// The tokens in the system's temporary directory: a test's own is too deep
	// for pcscd's socket (a Unix socket path has at most 107 bytes).
	s, err := Prepare(context.Background(), Options{Out: out, Requests: MinRequests, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) *tuf.File {
		t.Helper()
		b, err := os.ReadFile(s.Path(RepositoryDir, name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := tuf.Parse(name, b)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	root, top, claimed := read("root.json"), read("targets.json"), read("claimed.json")
	check := func(name string, res *tuf.ThresholdResult, err error) {
		t.Helper()
		if err != nil || len(res.Signers) != 3 {
			t.Errorf("%s: %v, %+v: want all three holders' signatures", name, err, res)
		}
	}
	res, err := root.VerifyWithRoot(root.Root)
	check("root", res, err)
	res, err = top.VerifyWithRoot(root.Root)
	check("targets", res, err)
	res, err = claimed.VerifyDelegated(top.Targets, DelegatingRole)
	check("claimed", res, err)
	d, err := vaultdir.Open(s.Path(VaultDir))
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.OpenCurrent()
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !v.Policy.Rehearsal || len(v.BindingSigners) != 2 || v.Delegators[DelegatingRole] == nil {
		t.Errorf("vault: rehearsal %v, binding signers %v, delegators %v", v.Policy.Rehearsal, v.BindingSigners, v.Delegators)
	}
	if _, err := os.Stat(s.Path(BundleDir, bundle.ManifestName)); err != nil {
		t.Error(err)
	}
	if b, err := os.ReadFile(s.Path(NoticeFile)); err != nil || string(b) != Notice {
		t.Errorf("notice: %q, %v", b, err)
	}
	tokens := s.Tokens.Dir
	if err := s.Abandon(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{out, tokens} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Abandon, %s: %v, want it gone", p, err)
		}
	}
	if p := processesUnder(t, tokens); len(p) > 0 {
		t.Errorf("after Abandon, processes still run in %s: %v", tokens, p)
	}
}
