//go:build cgo

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

// TestTwoSitesSoftHSM: Holder 2 signs at site A with a software key;
// at site B, Holder 1 signs with a key on a SoftHSM token (found by its
// URI through the policy's module list, checked against the enrolled
// keyid before its PIN), completing the threshold over the payload site
// B rebuilt.
func TestTwoSitesSoftHSM(t *testing.T) {
	fx := newSoftHSMCeremonyFixture(t)
	pinsA := pinFile(t, 1)
	defer pinsA.Close()
	siteA := strings.Replace(siteAScript, "signing: [Holder 1]\n", "signing: [Holder 2]\n", 1)
	ts := newTwoSitesWith(t, fx, siteA, "Holder 2", pinsA)

	siteB := `format: conclave-ceremony-script/1
rehearsal: "the second site of the two-site test, on SoftHSM"
participants: [Holder 1, Holder 3]
witnesses: [Walter]
clock: {time: "` + ceremonyNow.Add(2*time.Hour).Format(time.RFC3339) + `"}
decisions:
  by: Holder 3
signing: [Holder 1]
`
	script := fx.writeScript(t, "site-b.yaml", siteB)
	p := filepath.Join(t.TempDir(), "pins")
	if err := os.WriteFile(p, []byte("user-pin-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pins, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer pins.Close()
	out := filepath.Join(fx.dir, "export-b")
	code, stdout, stderr := run(t, ts.signArgs(ts.partial, out, script, pins.Fd(), ts.digest)...)
	if code != 0 {
		t.Fatalf("site B: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "PIN of Holder 1 for PKCS#11 token \"holder1\" (SoftHSM") ||
		!strings.Contains(stdout, "  Holder 2 signed claimed at an earlier site (checked here)\n") ||
		!strings.Contains(stdout, "  Holder 1 signed claimed\n  claimed: 2 of 3 holders signed, threshold 2 met\n") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	fx.checkExport(t, out, 8)
	noPIN(t, fx.dir, stdout, stderr)
}

// newSoftHSMCeremonyFixture is the ceremony fixture with Holder 1's key
// on a SoftHSM token, found by its URI through the policy's module list.
func newSoftHSMCeremonyFixture(t *testing.T) *ceremonyFixture {
	t.Helper()
	privateSoftHSM(t)
	_, k, _ := softHSMWithKey(t, "holder1")
	key, err := tuf.KeyFromPublic(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	sel := uri.New()
	sel.Set(uri.Token, "holder1")
	sel.Set(uri.Object, "holder1")
	sel.Set(uri.ModulePath, testSoftHSM)
	fx := newCeremonyFixtureWith(t, &tokenHolder{
		key:     key,
		policy:  fmt.Sprintf("        token: pkcs11\n        uri: %q\n", sel.String()),
		modules: fmt.Sprintf("pkcs11_modules:\n  - path: %s\n    sha256: %s\n", testSoftHSM, sum),
	})
	return fx
}
