package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/vault"
)

// auditFixture is a finished ceremony: the fixture's vault after it, its
// export, and a copy of its log directory that a test may damage.
type auditFixture struct {
	*ceremonyFixture
	out string
	log string
	id  string
}

// newAuditFixture runs the fixture's ceremony (two holders sign claimed
// version 8; Holder 3 signs the log's head) and copies its log out of the
// vault.
func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	fx := newCeremonyFixture(t)
	pins := pinFile(t, 5)
	defer pins.Close()
	out := filepath.Join(fx.dir, "export")
	if code, stdout, stderr := run(t, fx.args(out, pins.Fd())...); code != 0 {
		t.Fatalf("ceremony: exit %d\n%s\n%s", code, stdout, stderr)
	}
	v := fx.openVault(t)
	a := &auditFixture{ceremonyFixture: fx, out: out, log: filepath.Join(fx.dir, "log"), id: v.LastCeremonyID}
	prefix := vault.CeremoniesDir + "/" + v.LastCeremonyID + "/"
	for _, f := range v.Files() {
		rest, ok := strings.CutPrefix(f.Name, prefix)
		if !ok {
			continue
		}
		p := filepath.Join(a.log, filepath.FromSlash(rest))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// TestAuditClean: the audit of a whole ceremony passes, the log taken
// from the vault or named with --log.
func TestAuditClean(t *testing.T) {
	a := newAuditFixture(t)
	for _, args := range [][]string{
		{"audit", a.out, "--vault", a.vault},
		{"audit", a.out, "--vault", a.vault, "--log", a.log},
	} {
		code, stdout, stderr := run(t, args...)
		if code != 0 || !strings.HasPrefix(stdout, "AUDIT PASSED") {
			t.Fatalf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
		t.Logf("%s", stdout)
	}
}
