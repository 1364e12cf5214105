package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// ceremonyPass is the passphrase of the holders' software keys in the
// ceremony tests: the string no output, log or file may hold afterwards.
const ceremonyPass = "Pass-7c1f-Pin-d00d"

// ceremonyFixture is a rehearsal vault of three holders with software
// keys (threshold 2), a bundle against its claimed role, and a script.
type ceremonyFixture struct {
	dir    string
	vault  string
	bundle string
	keys   string
	script string
	// holders are the holders' keys; intake makes more bundles.
	holders []vaulttest.Holder
	intake  *intaketest.Fixture
}

// ceremonyNow is the time the scripts give (a rehearsal's).
var ceremonyNow = intaketest.Now.Add(time.Hour)

func newCeremonyFixture(t testing.TB) *ceremonyFixture {
	t.Helper()
	dir := t.TempDir()
	fx := &ceremonyFixture{dir: dir, vault: filepath.Join(dir, "vault"), bundle: filepath.Join(dir, "bundle"), keys: filepath.Join(dir, "keys")}
	hs := []vaulttest.Holder{vaulttest.Key(t, 1), vaulttest.Key(t, 2), vaulttest.Key(t, 3)}
	fx.holders = hs
	if err := os.Mkdir(fx.keys, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := softkey.Open(fx.keys, hsm.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hs {
		if _, err := store.WriteKey(fmt.Sprintf("holder%d", i+1), h.Signer, []byte(ceremonyPass)); err != nil {
			t.Fatal(err)
		}
	}
	f := intaketest.New(t)
	fx.intake = f
	root := vaulttest.Root(t, 1, hs)
	vaulttest.Sign(t, root, root.Root.Keys, hs[0], hs[1])
	targets := vaulttest.Targets(t, 1, hs)
	vaulttest.Sign(t, targets, root.Root.Keys, hs[0], hs[2])
	claimed, err := tuf.NewTargetsFile(f.Delegator.Targets)
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.Sign(t, claimed, targets.Targets.Delegations.Keys, hs[0], hs[1])
	f.Base = bundle.Base{Role: "claimed", Version: claimed.Version(), SHA256: bundle.SumHex(claimed.Bytes())}

	pol := fx.policy(t)
	payload, err := vault.BindingPayload(pol, root)
	if err != nil {
		t.Fatal(err)
	}
	env := &envelope.Envelope{PayloadType: envelope.TypeVaultBinding, Payload: payload}
	for _, h := range []vaulttest.Holder{hs[0], hs[2]} {
		if err := env.Sign(h.Signer, h.Key); err != nil {
			t.Fatal(err)
		}
	}
	files, err := vault.Adopt(vault.AdoptInput{
		Roots:   [][]byte{root.Bytes()},
		Targets: targets.Bytes(),
		Roles:   map[string][]byte{"claimed": claimed.Bytes()},
		Policy:  pol,
		Binding: env.Marshal(),
	})
	if err != nil {
		t.Fatal(err)
	}
	vd, err := vaultdir.Create(fx.vault)
	if err != nil {
		t.Fatal(err)
	}
	defer vd.Close()
	if _, err := vd.WriteGeneration(files); err != nil {
		t.Fatal(err)
	}
	// r-rotate and r-remove may be approved together; r-add needs
	// judgement (its keys were never published); r-bad is invalid.
	drafts := intaketest.Files(
		f.Rotate(t, "r-rotate", "existing-b", []string{"b1"}, "b2"),
		f.Remove(t, "r-remove", "existing-a", "a1", "a2"),
		f.Add(t, "r-add", "fresh", "n1"),
		f.Recover(t, "r-bad", "ghost"),
	)
	if err := f.Pack("bundle-0001", drafts...).Write(fx.bundle); err != nil {
		t.Fatal(err)
	}
	fx.script = fx.writeScript(t, "script.yaml", ceremonyScript)
	return fx
}

// policy is the vault's rehearsal policy, the holders' keys in the
// fixture's key store.
func (fx *ceremonyFixture) policy(t testing.TB) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `format: conclave-policy/1
rehearsal: true
repository: %s
intake_keys:
  - keytype: ed25519
    scheme: ed25519
    keyval:
      public: %s
delegating_role: claimed
holders:
`, fx.intake.Rules.Repository, hex.EncodeToString(fx.intake.Intake.Key.PublicKey().(ed25519.PublicKey)))
	for i, h := range fx.holders {
		fmt.Fprintf(&b, "  - name: Holder %d\n    keys:\n      - keyid: %s\n        token: softkey\n        uri: softkey:name=holder%d\n", i+1, h.Key.ID(), i+1)
	}
	return []byte(b.String())
}

// ceremonyScript approves the add that needs judgement and the two
// rule-approvable requests; holders 1 and 2 sign.
var ceremonyScript = `format: conclave-ceremony-script/1
rehearsal: "the driver's end-to-end test"
participants: [Holder 1, Holder 2, Holder 3]
witnesses: [Wendy]
clock: {time: "` + ceremonyNow.Format(time.RFC3339) + `"}
decisions:
  by: Holder 1
  approve: [r-add]
  approve_rule_approvable: {count: 2}
signing: [Holder 1, Holder 2, Holder 3]
`

func (fx *ceremonyFixture) writeScript(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(fx.dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// pinFile returns a file of n PIN lines, opened for reading, for
// --pin-fd.
func pinFile(t testing.TB, n int) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pins")
	if err := os.WriteFile(p, bytes.Repeat([]byte(ceremonyPass+"\n"), n), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCeremonySoftkeys: a whole rehearsal ceremony with software keys,
// in process: decisions, build, two signatures, export read back and
// verified, close, a new vault generation with the log.
func TestCeremonySoftkeys(t *testing.T) {
	fx := newCeremonyFixture(t)
	pins := pinFile(t, 5)
	defer pins.Close()
	out := filepath.Join(fx.dir, "export")
	code, stdout, stderr := run(t, "ceremony", "--vault", fx.vault, "--in", fx.bundle, "--out", out, "--script", fx.script, "--softkey-dir", fx.keys, "--pin-fd", fmt.Sprint(pins.Fd()))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
}
