//go:build cgo

package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/enrolment"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// EndToEndPublishEnv names a directory into which
// TestEndToEndGenesisCeremonyRotation copies what a repository publishes
// (1.root.json, 2.root.json, targets.json, claimed.json): the interop
// module's go-tuf client reads them from there.
const EndToEndPublishEnv = "CONCLAVE_TEST_PUBLISH_DIR"

// endToEndOnlineSeed is the seed of the ed25519 key that the test gives
// as the online key of snapshot and timestamp; the interop test signs
// them with it.
const endToEndOnlineSeed = 0x70

// endToEndRecentSeed seeds the online key of the online role
// recently-claimed the same way.
const endToEndRecentSeed = 0x72

// endToEndPIN is the PIN each virtual YubiKey is given at enrolment.
const endToEndPIN = "71828182"

// insertYubiKey inserts a factory-fresh virtual YubiKey in the private
// pcscd's reader, removed at the end of the test.
func insertYubiKey(t *testing.T, ca *vcard.CA, serial uint32, reader int) {
	t.Helper()
	d := privatePCSCD(t)
	c, err := vcard.New(vcard.Config{Serial: serial, CA: ca, Firmware: [3]byte{5, 7, 1}, AutoTouch: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(d.Addr(reader)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Remove()
		d.WaitCard(reader, false, 10*time.Second)
	})
	if err := d.WaitCard(reader, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// enrolPKCS11Token initialises an empty SoftHSM token labelled label,
// for conclave enroll pkcs11 to generate a key on.
func enrolPKCS11Token(t *testing.T, label string) {
	t.Helper()
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pkcs11.Load(testSoftHSM, pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: testSoftHSM, SHA256: sum}}, Rehearsal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.InitRehearsalToken(label, []byte("so-pin-1"), []byte("user-pin-1")); err != nil {
		t.Fatal(err)
	}
}

// readRecord parses an enrolment record the test wrote.
func readRecord(t *testing.T, path string) *enrolment.Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := enrolment.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestEndToEndGenesisCeremonyRotation is the trust root's life with real
// parts. Alice and Bob enrol their delegating keys on (virtual) YubiKeys
// with conclave enroll yubikey, Carol hers on a SoftHSM token with
// conclave enroll pkcs11; their root keys are on SoftHSM tokens of their
// own. conclave init makes root 1, targets delegating claimed and
// after it the online role recently-claimed; a delegation ceremony, headless from
// a script, delegates a project in claimed 2 (signed on the YubiKeys,
// the log's head signed with Alice's YubiKey); conclave rotate takes
// Carol out and Dave (enrolled with conclave enroll pkcs11) in: root 2,
// targets 2 and claimed 3 signed by the new keys. Each vault opens and
// verifies. With CONCLAVE_TEST_PUBLISH_DIR set, what a repository
// publishes is copied there for the interop module's go-tuf client
// (TestGoTUFUpdaterThroughConclaveCommands).
func TestEndToEndGenesisCeremonyRotation(t *testing.T) {
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	const alicePIV, bobPIV = 27100001, 27100002
	insertYubiKey(t, ca, alicePIV, 1)
	insertYubiKey(t, ca, bobPIV, 2)
	privateSoftHSM(t)
	dir := t.TempDir()
	roots := rootsDir(t, ca)

	// Enrolment: each holder's delegating key, by the commands.
	yubiPol := enrolPolicy(t, t.TempDir(), func(s string) string { return s })
	enrolYubiKey := func(holder string, serial uint32) string {
		media := t.TempDir()
		code, stdout, stderr := run(t, "enroll", "yubikey", "--holder", holder, "--contact", holder+"@example.org", "--serial", fmt.Sprint(serial),
			"--policy", yubiPol, "--attestation-roots", roots, "--out", media,
			"--pin-fd", fmt.Sprint(secretsFile(t, "123456", endToEndPIN, "12345678", "16180339").Fd()))
		if code != 0 {
			t.Fatalf("enroll yubikey %s: exit %d\n%s\n%s", holder, code, stdout, stderr)
		}
		return onlyRecord(t, media)
	}
	pkcs11Pol := softHSMEnrolPolicy(t)
	enrolPKCS11 := func(holder string) string {
		enrolPKCS11Token(t, holder)
		media := t.TempDir()
		code, stdout, stderr := run(t, "enroll", "pkcs11", "--holder", holder, "--contact", holder+"@example.org",
			"--uri", "pkcs11:token="+holder+";object="+holder, "--policy", pkcs11Pol, "--out", media,
			"--pin-fd", fmt.Sprint(secretsFile(t, "user-pin-1").Fd()))
		if code != 0 {
			t.Fatalf("enroll pkcs11 %s: exit %d\n%s\n%s", holder, code, stdout, stderr)
		}
		return onlyRecord(t, media)
	}
	delegRecs := map[string]string{
		"alice": enrolYubiKey("alice", alicePIV),
		"bob":   enrolYubiKey("bob", bobPIV),
		"carol": enrolPKCS11("carol"),
		"dave":  enrolPKCS11("dave"),
	}
	// The root keys, on SoftHSM tokens of their own.
	rootToks := softHSMTokens(t, "alice-root", "bob-root", "carol-root", "dave-root")
	rootRecs := map[string]string{}
	for i, n := range []string{"alice", "bob", "carol", "dave"} {
		rootRecs[n] = writeRecord(t, dir, n, rootToks[i], byte(i+1))
	}
	writeOnlineKeys(t, dir, map[string]byte{"snapshot": endToEndOnlineSeed, "timestamp": endToEndOnlineSeed, "recently-claimed": endToEndRecentSeed})

	// The bundle's requests are signed by the intake fixture's key: the
	// policy names it.
	f := intaketest.New(t)
	var p strings.Builder
	fmt.Fprintf(&p, "format: conclave-policy/1\nrehearsal: true\nrepository: %s\nintake_keys:\n  - keytype: ed25519\n    scheme: ed25519\n    keyval:\n      public: %s\n",
		f.Rules.Repository, hex.EncodeToString(f.Intake.Key.PublicKey().(ed25519.PublicKey)))
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&p, "pkcs11_modules:\n  - path: %s\n    sha256: %s\n", testSoftHSM, sum)
	p.WriteString("online_roles:\n  - {name: recently-claimed, paths: [\"*/*\"]}\n")
	p.WriteString("roles:\n  root: {threshold: 2}\n  targets: {threshold: 2}\n  claimed: {threshold: 2}\nholders:\n")
	for i, n := range []string{"alice", "bob", "carol"} {
		fmt.Fprintf(&p, "  - name: %s\n    contact: %s@example.org\n    keys:\n", n, n)
		fmt.Fprintf(&p, "      - {keyid: %s, token: pkcs11, uri: %q, roles: [root]}\n", rootToks[i].key.ID(), rootToks[i].uri)
		r := readRecord(t, delegRecs[n])
		if r.Token.Kind == enrolment.KindYubiKey {
			fmt.Fprintf(&p, "      - {keyid: %s, token: yubikey, serial: %d, slot: %s, roles: [targets, claimed]}\n", r.KeyID(), r.Token.Serial, r.Token.Slot)
		} else {
			fmt.Fprintf(&p, "      - {keyid: %s, token: pkcs11, uri: %q, roles: [targets, claimed]}\n", r.KeyID(), r.Token.URI)
		}
	}
	pf := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pf, []byte(p.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	// Genesis: root keys of Alice and Bob, and their YubiKeys.
	out := filepath.Join(dir, "vault")
	args := []string{"init", "--policy", pf, "--out", out, "--at", "2026-11-24T09:00:00Z", "--attestation-roots", roots,
		"--online-keys", "snapshot=" + filepath.Join(dir, "snapshot.pub.json") + ",timestamp=" + filepath.Join(dir, "timestamp.pub.json") +
			",recently-claimed=" + filepath.Join(dir, "recently-claimed.pub.json"),
		"--sign", rootToks[0].uri, "--sign", rootToks[1].uri,
		"--sign", fmt.Sprintf("yubikey:serial=%d;slot=9c", alicePIV), "--sign", fmt.Sprintf("yubikey:serial=%d;slot=9c", bobPIV)}
	for _, n := range []string{"alice", "bob", "carol"} {
		args = append(args, "--holders", rootRecs[n], "--holders", delegRecs[n])
	}
	code, stdout, stderr := run(t, append(args, "--pin-fd", fmt.Sprint(secretsFile(t, "user-pin-1", "user-pin-1", endToEndPIN, endToEndPIN).Fd()))...)
	if code != 0 {
		t.Fatalf("init: exit %d\n%s\n%s", code, stdout, stderr)
	}
	v := openTestVault(t, out)
	root1 := v.Root.Bytes()
	if got := delegatedNames(v.Targets.Targets); !slices.Equal(got, []string{"claimed", "recently-claimed"}) {
		t.Errorf("targets 1 delegates %v, want claimed before the online role", got)
	}

	// A delegation ceremony on the new vault: one project added.
	claimed1 := v.Delegators["claimed"]
	f.Bases = []bundle.Base{{Role: "claimed", Version: claimed1.Version(), SHA256: bundle.SumHex(claimed1.Bytes())}}
	bundleDir := filepath.Join(dir, "bundle")
	if err := f.Pack("bundle-0001", intaketest.Lines(f.AddAt(t, claimed1.Version(), "r-add", "fresh", "n1"))...).Write(bundleDir); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script.yaml")
	if err := os.WriteFile(script, []byte(`format: conclave-ceremony-script/1
rehearsal: "the end-to-end test"
participants: [alice, bob, carol]
clock: {time: "`+intaketest.Now.Add(time.Hour).Format(time.RFC3339)+`"}
decisions:
  by: alice
  approve: [r-add]
signing: [alice, bob]
close: {sign_head: [alice]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "export")
	code, stdout, stderr = run(t, "ceremony", "--vault", out, "--in", bundleDir, "--out", export, "--script", script,
		"--pin-fd", fmt.Sprint(secretsFile(t, endToEndPIN, endToEndPIN, endToEndPIN).Fd()))
	if code != 0 {
		t.Fatalf("ceremony: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "  alice signed claimed\n  bob signed claimed\n") {
		t.Errorf("ceremony's output:\n%s", stdout)
	}
	v = openTestVault(t, out)
	if c := v.Delegators["claimed"]; c.Version() != 2 || !delegates(c.Targets, "fresh") {
		t.Fatalf("claimed version %d after the ceremony; want 2, delegating fresh", c.Version())
	}
	// The log's head, signed with Alice's key that is not a root key: the
	// YubiKey's.
	var head []byte
	for _, f := range v.Files() {
		if f.Name == vault.CeremoniesDir+"/"+v.LastCeremonyID+"/head.json" {
			head = f.Data
		}
	}
	hv, err := cjson.Parse(head)
	if err != nil {
		t.Fatalf("the ceremony's head.json: %v", err)
	}
	env, err := envelope.Parse(hv, "head.json")
	if err != nil {
		t.Fatal(err)
	}
	alice := readRecord(t, delegRecs["alice"])
	if res, err := env.Verify(envelope.TypeTranscriptHead, map[string]*tuf.Key{alice.KeyID(): alice.Key}); err != nil || !slices.Equal(res.Signers, []string{alice.KeyID()}) {
		t.Errorf("the log's head: %v, %v; want signed by Alice's YubiKey key %s", res, err, alice.KeyID())
	}

	// Rotation: Carol out, Dave in.
	args = []string{"rotate", "--vault", out, "--at", "2026-11-25T09:00:00Z", "--remove", "carol",
		"--add", rootRecs["dave"] + "=root", "--add", delegRecs["dave"] + "=targets,claimed",
		"--sign", rootToks[0].uri, "--sign", rootToks[1].uri,
		"--sign", fmt.Sprintf("yubikey:serial=%d;slot=9c", alicePIV), "--sign", readRecord(t, delegRecs["dave"]).Token.URI}
	code, stdout, stderr = run(t, append(args, "--pin-fd", fmt.Sprint(secretsFile(t, "user-pin-1", "user-pin-1", endToEndPIN, "user-pin-1").Fd()))...)
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "holders in:  dave\nholders out: carol\n") {
		t.Errorf("rotate's output:\n%s", stdout)
	}
	v = openTestVault(t, out)
	dave := readRecord(t, delegRecs["dave"])
	c := v.Delegators["claimed"]
	if len(v.Roots) != 2 || v.Targets.Version() != 2 || c.Version() != 3 || !delegates(c.Targets, "fresh") {
		t.Fatalf("roots %d, targets %d, claimed %d; want 2, 2, 3 delegating fresh", len(v.Roots), v.Targets.Version(), c.Version())
	}
	if !slices.Contains(v.Targets.Targets.Delegations.Roles[0].KeyIDs, dave.KeyID()) {
		t.Errorf("targets 2 does not delegate claimed to dave's key")
	}
	if got := delegatedNames(v.Targets.Targets); !slices.Equal(got, []string{"claimed", "recently-claimed"}) {
		t.Errorf("targets 2 delegates %v, want claimed before the online role", got)
	}

	// What the repository publishes verifies as a client would check
	// it, from root 1.
	pub := os.Getenv(EndToEndPublishEnv)
	if pub == "" {
		pub = t.TempDir()
	}
	for name, data := range map[string][]byte{
		"1.root.json": root1, "2.root.json": v.Root.Bytes(), "targets.json": v.Targets.Bytes(), "claimed.json": c.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(pub, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr = run(t, "verify", "--trusted-root", filepath.Join(pub, "1.root.json"), "--at", "2026-11-26T00:00:00Z",
		filepath.Join(pub, "2.root.json"), filepath.Join(pub, "targets.json"), filepath.Join(pub, "claimed.json"))
	if code != 0 {
		t.Errorf("verify: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// delegatedNames are the roles targets delegates, in its order.
func delegatedNames(t *tuf.Targets) []string {
	var out []string
	for _, r := range t.Delegations.Roles {
		out = append(out, r.Name)
	}
	return out
}

// delegates says whether a delegating role delegates the project.
func delegates(t *tuf.Targets, project string) bool {
	if t.Delegations == nil {
		return false
	}
	return slices.ContainsFunc(t.Delegations.Roles, func(r *tuf.DelegatedRole) bool { return r.Name == project })
}
