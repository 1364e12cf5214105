package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/transcript"
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
	first   *tokenHolder
	intake  *intaketest.Fixture
}

// ceremonyNow is the time the scripts give (a rehearsal's).
var ceremonyNow = intaketest.Now.Add(time.Hour)

func newCeremonyFixture(t testing.TB) *ceremonyFixture {
	t.Helper()
	return newCeremonyFixtureWith(t, nil)
}

// tokenHolder is a holder's key on a token: its public key, and its
// lines in the policy (token, uri) under "keys:".
type tokenHolder struct {
	key    *tuf.Key
	policy string
	// modules is the policy's pkcs11_modules section.
	modules string
}

// newCeremonyFixtureWith makes the fixture with Holder 1's key on a
// token (first), when given; the metadata is then signed by Holders 2
// and 3.
func newCeremonyFixtureWith(t testing.TB, first *tokenHolder) *ceremonyFixture {
	t.Helper()
	dir := t.TempDir()
	fx := &ceremonyFixture{dir: dir, vault: filepath.Join(dir, "vault"), bundle: filepath.Join(dir, "bundle"), keys: filepath.Join(dir, "keys")}
	hs := []vaulttest.Holder{vaulttest.Key(t, 1), vaulttest.Key(t, 2), vaulttest.Key(t, 3)}
	signers := []vaulttest.Holder{hs[0], hs[1], hs[2]}
	if first != nil {
		hs[0] = vaulttest.Holder{Key: first.key}
		signers[0] = hs[2]
	}
	fx.holders, fx.first = hs, first
	if err := os.Mkdir(fx.keys, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := softkey.Open(fx.keys, hsm.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hs {
		if h.Signer == nil {
			continue
		}
		if _, err := store.WriteKey(fmt.Sprintf("holder%d", i+1), h.Signer, []byte(ceremonyPass)); err != nil {
			t.Fatal(err)
		}
	}
	f := intaketest.New(t)
	fx.intake = f
	targets := vaulttest.Targets(t, 1, hs)
	claimed, err := tuf.NewTargetsFile(f.Delegator.Targets)
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.Sign(t, claimed, targets.Targets.Delegations.Keys, signers[0], signers[1])
	f.Bases = []bundle.Base{{Role: "claimed", Version: claimed.Version(), SHA256: bundle.SumHex(claimed.Bytes())}}
	writeTestVault(t, fx.vault, testVaultSpec{holders: hs, signers: signers, targets: targets, claimed: claimed.Bytes(), policy: fx.policy(t)})
	// r-rotate and r-remove may be approved together; r-add needs
	// judgement (its keys were never published); r-bad is invalid.
	drafts := intaketest.Lines(
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

// testVaultSpec is what a test vault holds: root version 1 of the three
// holders (threshold 2 for every role), the top-level targets given
// (unsigned), claimed's metadata, the policy and the history.
type testVaultSpec struct {
	holders []vaulttest.Holder
	// signers sign the root (the first two), the targets and the binding
	// (the last two): holders whose private keys the test has.
	signers []vaulttest.Holder
	targets *tuf.File
	claimed []byte
	policy  []byte
	history []byte
}

// writeTestVault adopts the vault the spec describes and writes its first
// generation into the new directory dir.
func writeTestVault(t vaulttest.T, dir string, spec testVaultSpec) {
	t.Helper()
	hs, signers := spec.holders, spec.signers
	root := vaulttest.Root(t, 1, hs)
	vaulttest.Sign(t, root, root.Root.Keys, signers[0], signers[1])
	vaulttest.Sign(t, spec.targets, root.Root.Keys, signers[1], signers[2])
	env, err := vault.NewBinding(spec.policy, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range signers[1:3] {
		if err := env.Sign(h.Signer, h.Key); err != nil {
			t.Fatal(err)
		}
	}
	files, err := vault.Adopt(vault.AdoptInput{
		Roots:   [][]byte{root.Bytes()},
		Targets: spec.targets.Bytes(),
		Roles:   map[string][]byte{"claimed": spec.claimed},
		Policy:  spec.policy,
		Binding: env.Marshal(),
		History: spec.history,
	})
	if err != nil {
		t.Fatal(err)
	}
	vd, err := vaultdir.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer vd.Close()
	if _, err := vd.WriteGeneration(files); err != nil {
		t.Fatal(err)
	}
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
`, fx.intake.Rules.Repository, hex.EncodeToString(fx.intake.Intake.Key.PublicKey().(ed25519.PublicKey)))
	if fx.first != nil {
		b.WriteString(fx.first.modules)
	}
	b.WriteString("holders:\n")
	for i, h := range fx.holders {
		if i == 0 && fx.first != nil {
			fmt.Fprintf(&b, "  - name: Holder 1\n    keys:\n      - keyid: %s\n%s", h.Key.ID(), fx.first.policy)
			continue
		}
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
close: {sign_head: [Holder 3]}
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

// ceremonyArgs are the arguments of a new ceremony of the fixture.
func (fx *ceremonyFixture) args(out string, pinFD uintptr) []string {
	return []string{"ceremony", "--vault", fx.vault, "--in", fx.bundle, "--out", out, "--script", fx.script, "--softkey-dir", fx.keys, "--pin-fd", fmt.Sprint(pinFD)}
}

// TestCeremonySoftkeys: a whole rehearsal ceremony with software keys,
// in process: decisions, build, two signatures, export read back and
// verified, close, a new vault generation with the log; no PIN anywhere.
func TestCeremonySoftkeys(t *testing.T) {
	fx := newCeremonyFixture(t)
	pins := pinFile(t, 5)
	defer pins.Close()
	out := filepath.Join(fx.dir, "export")
	code, stdout, stderr := run(t, fx.args(out, pins.Fd())...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"  approve r-add\n",
		"  approved 2 rule-approvable requests together (count confirmed by Holder 1)\n",
		"  claimed version 8\n    expires  " + ceremonyNow.AddDate(0, 0, 90).Format(time.RFC3339) + " (90 days after the confirmed time)\n    changes  1 added, 1 rotated, 1 removed\n",
		"  Holder 1 signed claimed\n  Holder 2 signed claimed\n  claimed: 2 of 3 holders signed, threshold 2 met\n",
		"Write on the paper log the log's head:\n",
		"Copy the vault to 2 media before the room is cleared, each to its own safe (policy custody.vault_copies; see the runbook).\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "Holder 3 signed claimed") {
		t.Errorf("a third holder was asked to sign after the threshold was met:\n%s", stdout)
	}
	fx.checkExport(t, out, 8)
	v := fx.openVault(t)
	if v.Generation != "gen-000002" || v.Delegators["claimed"].Version() != 8 || !v.LastCeremony.Equal(ceremonyNow) {
		t.Errorf("vault after the ceremony: %s, claimed version %d, last ceremony %s", v.Generation, v.Delegators["claimed"].Version(), v.LastCeremony)
	}
	if !strings.Contains(stdout, "\nCeremony "+v.LastCeremonyID+" closed after ") {
		t.Errorf("the vault's last ceremony %s is not the one run:\n%s", v.LastCeremonyID, stdout)
	}
	if !v.History.SeenBundle("bundle-0001") {
		t.Errorf("the vault's history does not record bundle-0001")
	}
	// Holder 3 signed the log's head, kept beside the log in the vault.
	if !strings.Contains(stdout, "  Holder 3 signed the log's head\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
	fx.checkHead(t, v)
	noPIN(t, fx.dir, stdout, stderr)
}

// checkExport checks an export holds the claimed role of the version,
// signed by two holders (verified against the vault's delegation), and
// the decision report.
func (fx *ceremonyFixture) checkExport(t testing.TB, out string, version int64) []byte {
	t.Helper()
	listing, err := checkExport(out)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	var names []string
	for _, l := range listing {
		names = append(names, l.Name)
	}
	want := []string{fmt.Sprintf("%d.claimed.json", version), "decisions.json"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("export lists %q, want %q", names, want)
	}
	data, err := os.ReadFile(filepath.Join(out, want[0]))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tuf.Parse(want[0], data)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*tuf.Key{}
	for _, h := range fx.holders {
		keys[h.Key.ID()] = h.Key
	}
	good := 0
	for _, sig := range f.Signatures {
		raw, err := hex.DecodeString(sig.Sig)
		if err != nil {
			t.Fatal(err)
		}
		k := keys[sig.KeyID]
		if k == nil || k.Verify(f.SignedBytes(), raw) != nil {
			t.Errorf("signature by %s does not verify", sig.KeyID)
			continue
		}
		good++
	}
	if good != 2 || len(f.Signatures) != 2 || f.Version() != version {
		t.Errorf("%s: version %d, %d signatures, %d good", want[0], f.Version(), len(f.Signatures), good)
	}
	return data
}

// checkHead checks the head envelope of the vault's last ceremony: signed
// by Holder 3, over the head and length of the log kept beside it.
func (fx *ceremonyFixture) checkHead(t testing.TB, v *vault.Vault) {
	t.Helper()
	var head, log []byte
	for _, f := range v.Files() {
		switch f.Name {
		case vault.CeremoniesDir + "/" + v.LastCeremonyID + "/head.json":
			head = f.Data
		case vault.CeremoniesDir + "/" + v.LastCeremonyID + "/log.jsonl":
			log = f.Data
		}
	}
	hv, err := cjson.Parse(head)
	if err != nil {
		t.Fatalf("head.json: %v", err)
	}
	env, err := envelope.Parse(hv, "head")
	if err != nil {
		t.Fatalf("head.json: %v", err)
	}
	res, err := env.Verify(envelope.TypeTranscriptHead, map[string]*tuf.Key{fx.holders[2].Key.ID(): fx.holders[2].Key})
	if err != nil || len(res.Signers) != 1 {
		t.Fatalf("head.json: %v, %+v", err, res)
	}
	entries, _, err := transcript.Parse(log)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	want := fmt.Sprintf(`{"ceremony":%q,"format":"conclave-transcript-head/1","head":%q,"lines":%d}`, v.LastCeremonyID, last.Hash, last.Seq)
	if strings.TrimSpace(string(env.Payload)) != want {
		t.Errorf("head payload %s, want %s", env.Payload, want)
	}
}

// openVault opens the fixture's vault's current generation.
func (fx *ceremonyFixture) openVault(t testing.TB) *vault.Vault {
	t.Helper()
	vd, err := vaultdir.Open(fx.vault)
	if err != nil {
		t.Fatal(err)
	}
	defer vd.Close()
	v, err := vd.OpenCurrent()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testPINs are the PINs and passphrases the ceremony tests type: the
// software keys' passphrase and the SoftHSM token's user PIN
// (softHSMWithKey).
var testPINs = []string{ceremonyPass, "user-pin-1"}

// noPIN fails if a PIN appears in any output given or in any file under
// dir but the PIN files the tests wrote themselves.
func noPIN(t testing.TB, dir string, outputs ...string) {
	t.Helper()
	for i, o := range outputs {
		for _, pin := range testPINs {
			if strings.Contains(o, pin) {
				t.Errorf("output %d holds PIN %q", i, pin)
			}
		}
	}
	files := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "pins" {
			return err
		}
		files++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, pin := range testPINs {
			if bytes.Contains(data, []byte(pin)) {
				t.Errorf("%s holds PIN %q", p, pin)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("only %d files under %s: the search is not looking where it should", files, dir)
	}
}

// TestCeremonyReplayedBundle: a bundle a closed ceremony imported is
// refused by the next one (status 1), which is abandoned with the
// refusal as its reason; nothing is exported and no version is built.
func TestCeremonyReplayedBundle(t *testing.T) {
	fx := newCeremonyFixture(t)
	pins := pinFile(t, 10)
	defer pins.Close()
	if code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...); code != 0 {
		t.Fatalf("first ceremony: exit %d\n%s\n%s", code, stdout, stderr)
	}
	again := fx.writeScript(t, "again.yaml", strings.Replace(ceremonyScript, ceremonyNow.Format(time.RFC3339), ceremonyNow.Add(time.Hour).Format(time.RFC3339), 1))
	out := filepath.Join(fx.dir, "export-again")
	pins = pinFile(t, 10) // the first run closed its --pin-fd
	defer pins.Close()
	args := fx.args(out, pins.Fd())
	args[slicesIndex(args, "--script")+1] = again
	code, stdout, stderr := run(t, args...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "\nThe bundle is REFUSED: bundle bundle-0001 was imported before; a bundle is imported only once\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an export was written: %v", err)
	}
	v := fx.openVault(t)
	if v.Generation != "gen-000003" || v.Delegators["claimed"].Version() != 8 {
		t.Errorf("after the refused ceremony: %s, claimed version %d", v.Generation, v.Delegators["claimed"].Version())
	}
	if !strings.Contains(stdout, "abandoned after 4 lines") {
		t.Errorf("the refused ceremony was not abandoned:\n%s", stdout)
	}
}

func slicesIndex(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// TestCeremonyWrongTokenBeforePIN: Holder 2's key store holds another
// key under the enrolled name: the ceremony stops before Holder 2's PIN
// is read (status 3), with Holder 1's signature in its log.
func TestCeremonyWrongTokenBeforePIN(t *testing.T) {
	fx := newCeremonyFixture(t)
	// Swap Holder 2's key files for Holder 3's.
	for _, ext := range []string{".key.pem", ".pub.pem"} {
		data, err := os.ReadFile(filepath.Join(fx.keys, "holder3"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fx.keys, "holder2"+ext), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fx.script = fx.writeScript(t, "two.yaml", strings.Replace(ceremonyScript, "signing: [Holder 1, Holder 2, Holder 3]", "signing: [Holder 1, Holder 2]", 1))
	pins := pinFile(t, 5)
	defer pins.Close()
	code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...)
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, stdout, stderr)
	}
	want := "error: sign claimed as Holder 2: holder Holder 2: this is not the expected token: software key store " + fx.keys +
		" (INSECURE software key: for tests and rehearsal only, never for a real ceremony) holds key " + fx.holders[2].Key.ID() +
		", not the enrolled key " + fx.holders[1].Key.ID() + " (no PIN was asked)\n"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	if n := strings.Count(stderr, "PIN of "); n != 1 || !strings.Contains(stderr, "PIN of Holder 1 ") {
		t.Errorf("%d PINs asked, want Holder 1's only:\n%s", n, stderr)
	}
}

// TestCeremonyKilledAtEveryLine: the ceremony is killed (SIGKILL, by the
// test hook) right after each line of its log is written, for every
// line, and then resumed: every resumed ceremony ends with the same
// exported payload, signed by two holders, and claimed built as version 8
// only — no version bumped twice — and no PIN anywhere.
func TestCeremonyKilledAtEveryLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a ceremony twice per line of its log")
	}
	conclave, err := exec.LookPath("conclave") // the test binary, set up by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	template := newCeremonyFixture(t)
	exe := func(dir string, kill int, args ...string) (*exec.Cmd, error) {
		pins := pinFile(t, 10)
		defer pins.Close()
		cmd := exec.Command(conclave, args...)
		cmd.Dir = dir
		cmd.ExtraFiles = []*os.File{pins} // fd 3
		cmd.Env = append(os.Environ(), "TZ=UTC")
		if kill > 0 {
			cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", killHookEnv, kill))
		}
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("%w\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
		}
		outputs = append(outputs, out.String(), errOut.String())
		return cmd, err
	}
	var reference []byte
	lines := 0
	for k := 0; k == 0 || k <= lines; k++ {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(template.dir)); err != nil {
			t.Fatal(err)
		}
		fx := *template
		fx.dir, fx.vault, fx.bundle, fx.keys, fx.script = dir, filepath.Join(dir, "vault"), filepath.Join(dir, "bundle"), filepath.Join(dir, "keys"), filepath.Join(dir, "script.yaml")
		out := filepath.Join(dir, "export")
		args := fx.args(out, 3)
		outputs = nil
		cmd, err := exe(dir, k, args...)
		if k == 0 {
			if err != nil {
				t.Fatalf("the ceremony without a kill: %v", err)
			}
			reference = fx.checkExport(t, out, 8)
			lines = countLines(t, fx.journal(t))
			if lines < 10 {
				t.Fatalf("the ceremony wrote %d lines", lines)
			}
			continue
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("k=%d: not killed: %v", k, err)
		}
		journal := fx.journal(t)
		if n := countLines(t, journal); n != k {
			t.Fatalf("k=%d: killed with %d lines in the log", k, n)
		}
		resume := []string{"ceremony", "--resume", journal, "--in", fx.bundle, "--out", out, "--script", fx.script, "--softkey-dir", fx.keys, "--pin-fd", "3"}
		if _, err := exe(dir, 0, resume...); err != nil {
			t.Fatalf("k=%d: resume: %v", k, err)
		}
		if got := fx.checkExport(t, out, 8); !bytes.Equal(got, reference) {
			t.Errorf("k=%d: the resumed ceremony exported other bytes", k)
		}
		v := fx.openVault(t)
		if v.Generation != "gen-000002" || v.Delegators["claimed"].Version() != 8 || len(v.Register["claimed"]) != 2 {
			t.Errorf("k=%d: vault %s, claimed version %d, register %v", k, v.Generation, v.Delegators["claimed"].Version(), v.Register["claimed"])
		}
		noPIN(t, dir, outputs...)
	}
	t.Logf("killed after each of the %d lines of the log, and resumed", lines)
}

// outputs collects what the ceremony processes printed, for noPIN.
var outputs []string

// journal is the one ceremony journal of the fixture's vault.
func (fx *ceremonyFixture) journal(t testing.TB) string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(fx.vault, vaultdir.JournalDirName, "*"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("journals: %q, %v", dirs, err)
	}
	return dirs[0]
}

func countLines(t testing.TB, journalDir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(journalDir, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte("\n"))
}

// TestCeremonyClockNotLater: a ceremony whose clock is not later than
// the vault's last ceremony is refused (status 1) before the bundle is
// read.
func TestCeremonyClockNotLater(t *testing.T) {
	fx := newCeremonyFixture(t)
	pins := pinFile(t, 5)
	defer pins.Close()
	if code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...); code != 0 {
		t.Fatalf("first ceremony: exit %d\n%s\n%s", code, stdout, stderr)
	}
	fx.script = fx.writeScript(t, "earlier.yaml", strings.Replace(ceremonyScript, ceremonyNow.Format(time.RFC3339), ceremonyNow.Add(-time.Minute).Format(time.RFC3339), 1))
	pins2 := pinFile(t, 5)
	defer pins2.Close()
	code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export-2"), pins2.Fd())...)
	want := "error: confirm the clock: the confirmed time " + ceremonyNow.Add(-time.Minute).Format(time.RFC3339) +
		" is not later than the vault's last ceremony, " + ceremonyNow.Format(time.RFC3339) + ": check the clock against one kept outside the room\n"
	if code != 1 || !strings.HasPrefix(stderr, want) || strings.Contains(stdout, "Bundle ") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}
}

// TestCeremonyUndecidedThenResumed: a script that leaves a valid request
// undecided stops the ceremony before the build (status 1); resumed with
// the decision added, it closes, and the decisions already taken stand.
func TestCeremonyUndecidedThenResumed(t *testing.T) {
	fx := newCeremonyFixture(t)
	fx.script = fx.writeScript(t, "partial.yaml", strings.Replace(ceremonyScript, "  approve: [r-add]\n", "", 1))
	pins := pinFile(t, 5)
	defer pins.Close()
	out := filepath.Join(fx.dir, "export")
	code, stdout, stderr := run(t, fx.args(out, pins.Fd())...)
	if code != 1 || !strings.Contains(stderr, "error: 1 requests needing judgement and 0 rule-approvable ones are undecided; decide each (defer what cannot be decided today)\n") ||
		!strings.Contains(stderr, "\nhint: the ceremony stopped in state review, everything done is in its log; continue it with: conclave ceremony --resume ") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	fixed := fx.writeScript(t, "fixed.yaml", strings.Replace(ceremonyScript, "  approve: [r-add]\n", "  defer: {r-add: \"the maintainers have not answered yet\"}\n", 1))
	pins2 := pinFile(t, 5)
	defer pins2.Close()
	code, stdout, stderr = run(t, "ceremony", "--resume", fx.journal(t), "--out", out, "--script", fixed, "--softkey-dir", fx.keys, "--pin-fd", fmt.Sprint(pins2.Fd()))
	if code != 0 || !strings.Contains(stdout, "state review") || !strings.Contains(stdout, "  Defer r-add\n") && !strings.Contains(stdout, "  defer r-add\n") ||
		strings.Contains(stdout, "approved 2 rule-approvable") {
		t.Fatalf("resume: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "decisions.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"r-add":{"codes":["no-dwell"],"decision":"deferred","reason":"the maintainers have not answered yet"}`)) {
		t.Errorf("decisions.json:\n%s", data)
	}
	noPIN(t, fx.dir, stdout, stderr)
}

// TestCeremonyScriptMatchesVault: a production vault refuses a rehearsal
// script, and a rehearsal vault a script that does not say it is one.
func TestCeremonyScriptMatchesVault(t *testing.T) {
	fx := newCeremonyFixture(t)
	fx.script = fx.writeScript(t, "prod.yaml", strings.Replace(ceremonyScript, "rehearsal: \"the driver's end-to-end test\"\n", "", 1))
	pins := pinFile(t, 5)
	defer pins.Close()
	code, _, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...)
	want := "error: the vault's policy is a rehearsal policy, and the script does not say this is a rehearsal\nhint: add rehearsal: REASON to the script (docs/ceremony-script.md)\n"
	if code != 1 || stderr != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
}

// TestCeremonyResumeEnded: resuming a ceremony whose generation is
// written does nothing more, and says so.
func TestCeremonyResumeEnded(t *testing.T) {
	fx := newCeremonyFixture(t)
	pins := pinFile(t, 5)
	defer pins.Close()
	out := filepath.Join(fx.dir, "export")
	if code, stdout, stderr := run(t, fx.args(out, pins.Fd())...); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	journal := fx.journal(t)
	code, stdout, stderr := run(t, "ceremony", "--resume", journal, "--out", out, "--script", fx.script)
	want := "ceremony " + filepath.Base(journal) + " has ended: the vault's current generation gen-000002 holds its log\n"
	if code != 0 || !strings.HasPrefix(stdout, want) || stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if v := fx.openVault(t); v.Generation != "gen-000002" {
		t.Errorf("resuming an ended ceremony wrote generation %s", v.Generation)
	}
	// A path that is not a journal of a vault is a command-line mistake.
	code, _, stderr = run(t, "ceremony", "--resume", fx.dir, "--out", out, "--script", fx.script)
	if code != 2 || !strings.HasPrefix(stderr, "error: --resume "+fx.dir+": a ceremony's log is in VAULT/journal/ID; this is not such a directory\n") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// TestCeremonyUnfinishedBlocksANewOne: a ceremony stopped after it built
// and signed (its versions are registered only in its own log) must be
// finished before another starts on the vault; otherwise the new one
// would build the same version of claimed again with other contents.
func TestCeremonyUnfinishedBlocksANewOne(t *testing.T) {
	conclave, err := exec.LookPath("conclave") // the test binary, set up by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	fx := newCeremonyFixture(t)
	run := func(kill int, args ...string) (string, error) {
		pins := pinFile(t, 10)
		defer pins.Close()
		cmd := exec.Command(conclave, args...)
		cmd.Dir = fx.dir
		cmd.ExtraFiles = []*os.File{pins} // fd 3
		cmd.Env = append(os.Environ(), "TZ=UTC")
		if kill > 0 {
			cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", killHookEnv, kill))
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out := filepath.Join(fx.dir, "export")
	// Killed after the eighth line: built and signed, not exported.
	if _, err := run(8, fx.args(out, 3)...); err == nil {
		t.Fatal("the ceremony was not killed")
	}
	journal := fx.journal(t)
	again, err := run(0, fx.args(filepath.Join(fx.dir, "export-2"), 3)...)
	want := fmt.Sprintf("is unfinished (its log is %s)", filepath.Join(journal, "log.jsonl"))
	if err == nil || !strings.Contains(again, want) || !strings.Contains(again, "conclave ceremony --resume "+journal) {
		t.Fatalf("a new ceremony beside an unfinished one: %v\n%s", err, again)
	}
	if _, err := os.Stat(filepath.Join(fx.dir, "export-2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused ceremony made its export directory: %v", err)
	}
	resume := []string{"ceremony", "--resume", journal, "--in", fx.bundle, "--out", out, "--script", fx.script, "--softkey-dir", fx.keys, "--pin-fd", "3"}
	if res, err := run(0, resume...); err != nil {
		t.Fatalf("resume: %v\n%s", err, res)
	}
	fx.checkExport(t, out, 8)
}
