//go:build cgo

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/enrolment"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

// enrolReader is the vpcd reader the enrolment tests use (the others
// belong to the yubikeys tests).
const enrolReader = 2

// enrolPolicy writes the documented example policy, changed by edit, and
// returns its path.
func enrolPolicy(t *testing.T, dir string, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile("../../docs/policy-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(p, []byte(edit(string(data))), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// virtualYubiKey inserts a factory-fresh virtual YubiKey (firmware 5.7.1)
// whose attestation chains to ca, and returns a directory holding ca's
// certificate for --attestation-roots.
func virtualYubiKey(t *testing.T, ca *vcard.CA, serial uint32) {
	t.Helper()
	d := privatePCSCD(t)
	c, err := vcard.New(vcard.Config{Serial: serial, CA: ca, Firmware: [3]byte{5, 7, 1}, AutoTouch: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(d.Addr(enrolReader)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Remove()
		d.WaitCard(enrolReader, false, 10*time.Second)
	})
	if err := d.WaitCard(enrolReader, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func rootsDir(t *testing.T, ca *vcard.CA) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// secretsFile is a --pin-fd file of the given lines.
func secretsFile(t *testing.T, lines ...string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// onlyRecord returns the one file in media.
func onlyRecord(t *testing.T, media string) string {
	t.Helper()
	es, err := os.ReadDir(media)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("media holds %d files, want the one record", len(es))
	}
	return filepath.Join(media, es[0].Name())
}

// TestEnrollYubiKey: a factory-fresh virtual YubiKey is refused a new
// PIN equal to the factory one, with nothing generated; then enrolled:
// PIN, PUK and management key changed, a key generated in 9c with the
// policy's PIN and touch policies, its attestation verified against the
// card's CA, the record written to the media; the record then verifies
// with `enroll verify` and the same fingerprint.
func TestEnrollYubiKey(t *testing.T) {
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	virtualYubiKey(t, ca, 31415926)
	dir := t.TempDir()
	pol := enrolPolicy(t, dir, func(s string) string { return s })
	roots := rootsDir(t, ca)
	media := filepath.Join(dir, "media")
	if err := os.Mkdir(media, 0o700); err != nil {
		t.Fatal(err)
	}
	args := func(fd uintptr) []string {
		return []string{"enroll", "yubikey", "--holder", "Dana Holder", "--contact", "dana@example.org", "--serial", "31415926",
			"--policy", pol, "--attestation-roots", roots, "--out", media, "--pin-fd", fmt.Sprint(fd)}
	}

	// The holder keeps the factory PIN as the new one: refused before
	// the card is asked, nothing changed, nothing written.
	code, stdout, stderr := run(t, args(secretsFile(t, "123456", "123456").Fd())...)
	if code != 3 || !strings.Contains(stderr, "error: new PIN: it is the factory PIN; choose another\n") {
		t.Fatalf("factory PIN as the new one: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if es, _ := os.ReadDir(media); len(es) != 0 {
		t.Fatalf("a refused enrolment wrote %d files", len(es))
	}

	code, stdout, stderr = run(t, args(secretsFile(t, "123456", "71828182", "12345678", "16180339").Fd())...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, want := range []string{
		"step 2 of 7: the PIN\n  this YubiKey still has the factory PIN: set your own (6 to 8 characters)\n",
		"  PIN changed\n", "  PUK changed\n",
		"  replaced the factory management key with a random one, stored on the card behind the PIN\n",
		"step 5 of 7: generating the key (ecdsa-p256) in slot 9c, PIN policy once, touch policy always\n",
		"  attested by NON-YUBICO " + roots + ": Conclave virtual YubiKey SIMULATOR attestation root",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr+stdout, "71828182") || strings.Contains(stderr+stdout, "16180339") {
		t.Fatal("a secret was written out")
	}
	path := onlyRecord(t, media)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := enrolment.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	want := enrolment.Token{Kind: "yubikey", Serial: 31415926, Slot: "9c", Firmware: "5.7.1", FormFactor: r.Token.FormFactor, PINPolicy: "once", TouchPolicy: "always"}
	if fmt.Sprint(r.Token) != fmt.Sprint(want) || r.Holder != (enrolment.Holder{Name: "Dana Holder", Contact: "dana@example.org"}) || len(r.Attestation) != 2 {
		t.Fatalf("record says %+v %+v, %d certificates", r.Holder, r.Token, len(r.Attestation))
	}
	if !strings.Contains(stdout, "  fingerprint  1:"+r.Fingerprint()[:4]+" ") || filepath.Base(path) != "enrolment-dana-holder-"+r.KeyID()[:12]+".json" {
		t.Fatalf("stdout does not show the record %s's fingerprint:\n%s", path, stdout)
	}

	// The officer's check, with the card's CA as the root.
	code, out, errOut := run(t, "enroll", "verify", "--policy", pol, "--attestation-roots", roots, path)
	if code != 0 || !strings.Contains(out, "  attestation  verified: NON-YUBICO") || !strings.HasSuffix(out, "VALID: the proof of possession verifies against the record's key\n") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, errOut)
	}
	if i, j := strings.Index(stdout, "  fingerprint"), strings.Index(out, "  fingerprint"); i < 0 || j < 0 || !strings.HasPrefix(out[j:], stdout[i:]) {
		t.Fatalf("enroll and verify show different fingerprints:\n%s\n%s", stdout, out)
	}
	code, out, errOut = run(t, "enroll", "verify", "--json", "--attestation-roots", roots, path)
	var rep enrolmentCheckJSON
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Format != enrolmentCheckFormat || rep.Fingerprint != r.Fingerprint() || rep.Attestation.Status != "verified" {
		t.Fatalf("verify --json: exit %d\n%s\n%s", code, out, errOut)
	}
	checkSchema(t, "enrolment-check.schema.json", []byte(out))

	// With Yubico's roots, the simulator's attestation is refused.
	code, _, errOut = run(t, "enroll", "verify", path)
	if code != 1 || !strings.Contains(errOut, "error: "+path+": attestation: the attestation does not chain to a trusted root Yubico (yubico-piv-roots-2025-06-20): x509: certificate signed by unknown authority") {
		t.Fatalf("verify against Yubico's roots: exit %d\n%s", code, errOut)
	}

	// The slot is now taken: a second enrolment in it is refused.
	code, _, stderr = run(t, args(secretsFile(t, "71828182").Fd())...)
	if code != 3 || !strings.Contains(stderr, "slot 9c already holds a key; Conclave never overwrites one") {
		t.Fatalf("second enrolment in 9c: exit %d\n%s", code, stderr)
	}
}

// TestEnrollYubiKeyUntrustedRoot: a card whose attestation chains to a CA
// other than the trusted one is refused after generation, and no record
// is written.
func TestEnrollYubiKeyUntrustedRoot(t *testing.T) {
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	virtualYubiKey(t, ca, 27182818)
	dir := t.TempDir()
	pol := enrolPolicy(t, dir, func(s string) string { return s })
	media := t.TempDir()
	code, stdout, stderr := run(t, "enroll", "yubikey", "--holder", "Eve", "--policy", pol, "--attestation-roots", rootsDir(t, other),
		"--out", media, "--pin-fd", fmt.Sprint(secretsFile(t, "123456", "71828182", "12345678", "16180339").Fd()))
	if code != 1 || !strings.Contains(stderr, "the attestation does not chain to a trusted root") || !strings.Contains(stderr, "no record was written") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if es, _ := os.ReadDir(media); len(es) != 0 {
		t.Fatalf("a refused enrolment wrote %d files", len(es))
	}
}

// TestEnrollYubiKeyFirmwarePolicy: a card older than the policy's
// min_firmware is refused before anything on it changes.
func TestEnrollYubiKeyFirmwarePolicy(t *testing.T) {
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	virtualYubiKey(t, ca, 16180339)
	pol := enrolPolicy(t, t.TempDir(), func(s string) string { return strings.Replace(s, "min_firmware: 5.7.0", "min_firmware: 5.7.2", 1) })
	code, _, stderr := run(t, "enroll", "yubikey", "--holder", "Fay", "--policy", pol, "--attestation-roots", rootsDir(t, ca),
		"--out", t.TempDir(), "--pin-fd", fmt.Sprint(secretsFile(t, "123456", "71828182").Fd()))
	if code != 1 || !strings.Contains(stderr, "token.firmware: firmware 5.7.1 is older than the policy's min_firmware 5.7.2\n") || strings.Contains(stderr, "step 2") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}

// TestEnrollPKCS11: a key generated on SoftHSM (a rehearsal policy
// allows it), its protection attributes checked, recorded and verified.
func TestEnrollPKCS11(t *testing.T) {
	privateSoftHSM(t)
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pkcs11.Load(testSoftHSM, pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: testSoftHSM, SHA256: sum}}, Rehearsal: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitRehearsalToken("enrol", []byte("so-pin-1"), []byte("user-pin-1")); err != nil {
		t.Fatal(err)
	}
	m.Close()
	pol := softHSMEnrolPolicy(t)
	media := t.TempDir()
	const nonce = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"
	args := []string{"enroll", "pkcs11", "--holder", "Gus", "--uri", "pkcs11:token=enrol;object=gus", "--policy", pol, "--out", media}
	code, stdout, stderr := run(t, append(args, "--nonce", nonce, "--pin-fd", fmt.Sprint(secretsFile(t, "user-pin-1").Fd()))...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	path := onlyRecord(t, media)
	data, _ := os.ReadFile(path)
	r, err := enrolment.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Token.Kind != "pkcs11" || !strings.HasPrefix(r.Token.URI, "pkcs11:token=enrol;") || fmt.Sprint(r.Token.Attributes) != "[CKA_SENSITIVE !CKA_EXTRACTABLE CKA_ALWAYS_SENSITIVE CKA_NEVER_EXTRACTABLE]" {
		t.Fatalf("record token %+v", r.Token)
	}
	// The key is on the token, and the backend's own check of its
	// attributes (made again for every signer) passes.
	tok, key, err := pkcs11.OpenKey(context.Background(), r.Token.URI, pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: testSoftHSM, SHA256: sum}}, Rehearsal: true},
		hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte("user-pin-1"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Signer(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	tok.Close()
	code, out, errOut := run(t, "enroll", "verify", "--policy", pol, "--nonce", nonce, path)
	if code != 0 || !strings.Contains(out, "  attestation  NONE") || !strings.Contains(out, "  nonce        "+nonce+"\n") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = run(t, "enroll", "verify", "--nonce", strings.Repeat("0", 64), path)
	if code != 1 || errOut != "error: "+path+": nonce: is not the nonce given for this enrolment\n" {
		t.Fatalf("verify with another nonce: exit %d\n%s", code, errOut)
	}
	// The policy can come from a vault.
	fx := newCeremonyFixture(t)
	code, out, errOut = run(t, "enroll", "verify", "--vault", fx.vault, path)
	if code != 0 || !strings.Contains(out, "  policy       met: "+fx.vault+" (sha256 ") {
		t.Fatalf("verify --vault: exit %d\n%s\n%s", code, out, errOut)
	}
	// The label is taken now: a second key under it is refused.
	code, _, stderr = run(t, append(args, "--pin-fd", fmt.Sprint(secretsFile(t, "user-pin-1").Fd()))...)
	if code != 3 || !strings.Contains(stderr, `an object labelled "gus" already exists; choose another label`) {
		t.Fatalf("second key under one label: exit %d\n%s", code, stderr)
	}
}

// softHSMEnrolPolicy writes the documented example policy as a
// rehearsal's, allowing the SoftHSM module, and returns its path.
func softHSMEnrolPolicy(t *testing.T) string {
	t.Helper()
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	return enrolPolicy(t, t.TempDir(), func(s string) string {
		s = strings.Replace(s, "rehearsal: false", "rehearsal: true", 1)
		return strings.Replace(s, "/usr/lib/x86_64-linux-gnu/pkcs11/vendor-hsm.so\n    sha256: 5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
			testSoftHSM+"\n    sha256: "+sum, 1)
	})
}

// TestEnrollVerifyEdited: a record with an edited name, key or slot is
// refused by `enroll verify`, naming what is wrong.
func TestEnrollVerifyEdited(t *testing.T) {
	data, err := os.ReadFile("../../docs/formats/examples/enrolment-record-pkcs11.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct{ name, old, new, want string }{
		{"name", `"name":"Bob"`, `"name":"Rob"`, "proof.payload: is not this record"},
		{"uri", `object=bob`, `object=rob`, "proof.payload: is not this record"},
		{"keyid", `"keyid":"`, `"keyid":"0`, "keyid: "},
	} {
		edited := bytes.Replace(data, []byte(c.old), []byte(c.new), 1)
		p := filepath.Join(dir, c.name+".json")
		if err := os.WriteFile(p, edited, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := run(t, "enroll", "verify", p)
		if code != 1 || !strings.HasPrefix(errOut, "error: "+p+": "+c.want) || out != "" {
			t.Errorf("%s: exit %d\n%s\n%s", c.name, code, out, errOut)
		}
	}
}

// TestEnrollYubiKeyTerminal: the enrolment typed at a real terminal
// (tmux): each secret asked without echo, every new one twice; a second
// entry that differs changes nothing; then the enrolment completes, and
// no secret ever appears on the screen.
func TestEnrollYubiKeyTerminal(t *testing.T) {
	needTmux(t)
	d := privatePCSCD(t)
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	virtualYubiKey(t, ca, 14142135)
	dir := t.TempDir()
	pol := enrolPolicy(t, dir, func(s string) string { return s })
	roots := rootsDir(t, ca)
	media := t.TempDir()
	bin := buildConclave(t)
	argv := []string{bin, "enroll", "yubikey", "--holder", "Hana", "--policy", pol, "--attestation-roots", roots, "--out", media}
	env := []string{"PCSCLITE_CSOCK_NAME=" + shellQuote(d.Socket)}

	tt := startTmux(t, 120, 40, env, argv...)
	tt.waitFor("current PIN (a new YubiKey's is 123456):")
	tt.typeByHand("123456")
	tt.keys("Enter")
	tt.waitFor("new PIN:")
	tt.typeByHand("71828182")
	tt.keys("Enter")
	tt.waitFor("new PIN, again:")
	tt.typeByHand("71828183")
	tt.keys("Enter")
	s := tt.waitFor("EXIT 3")
	if !strings.Contains(s, "error: the two new PINs typed differ: nothing was changed") {
		t.Fatalf("a mistyped confirmation:\n%s", s)
	}

	tt = startTmux(t, 120, 40, env, argv...)
	for _, step := range []struct{ prompt, typed string }{
		{"current PIN (a new YubiKey's is 123456):", "123456"},
		{"new PIN:", "71828182"}, {"new PIN, again:", "71828182"},
		{"current PUK (a new YubiKey's is 12345678):", "12345678"},
		{"new PUK:", "16180339"}, {"new PUK, again:", "16180339"},
	} {
		tt.waitFor(step.prompt)
		tt.typeByHand(step.typed)
		tt.keys("Enter")
	}
	s = tt.waitFor("EXIT 0")
	if !strings.Contains(s, "Read the fingerprint out to the officer") {
		t.Fatalf("enrolment did not finish:\n%s", s)
	}
	for _, screen := range tt.log {
		for _, secret := range []string{"71828182", "16180339"} {
			if strings.Contains(screen, secret) {
				t.Fatalf("a secret was shown on the screen:\n%s", screen)
			}
		}
	}
	onlyRecord(t, media)
}

// TestEnrollOutLinkRefusedFirst: --out through a symbolic link (planted
// on the medium, or a path the holder typed) is refused before the token
// is touched: the record could never be written there, and a key made
// on the token without its record is lost work.
func TestEnrollOutLinkRefusedFirst(t *testing.T) {
	privateSoftHSM(t)
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pkcs11.Load(testSoftHSM, pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: testSoftHSM, SHA256: sum}}, Rehearsal: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitRehearsalToken("enrol", []byte("so-pin-1"), []byte("user-pin-1")); err != nil {
		t.Fatal(err)
	}
	m.Close()
	pol := enrolPolicy(t, t.TempDir(), func(s string) string {
		s = strings.Replace(s, "rehearsal: false", "rehearsal: true", 1)
		return strings.Replace(s, "/usr/lib/x86_64-linux-gnu/pkcs11/vendor-hsm.so\n    sha256: 5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
			testSoftHSM+"\n    sha256: "+sum, 1)
	})
	media := t.TempDir()
	link := filepath.Join(t.TempDir(), "stick")
	if err := os.Symlink(media, link); err != nil {
		t.Fatal(err)
	}
	args := []string{"enroll", "pkcs11", "--holder", "Gus", "--uri", "pkcs11:token=enrol;object=gus", "--policy", pol}
	code, stdout, stderr := run(t, append(args, "--out", link, "--pin-fd", fmt.Sprint(secretsFile(t, "user-pin-1").Fd()))...)
	want := "error: --out: " + link + " is a symbolic link: symbolic links on the transfer medium are never followed\n"
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, want) {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
	}
	// Nothing was made on the token: the label is still free.
	code, stdout, stderr = run(t, append(args, "--out", media, "--pin-fd", fmt.Sprint(secretsFile(t, "user-pin-1").Fd()))...)
	if code != 0 {
		t.Fatalf("into the medium itself: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	onlyRecord(t, media)
}

// TestEnrollYubiKeyPUKNotPIN: a new PUK equal to the PIN is refused
// before the card's PUK changes (the PUK unblocks a forgotten or blocked
// PIN; the same secret twice unblocks nothing), without echoing either;
// the enrolment then goes on from where it stopped.
func TestEnrollYubiKeyPUKNotPIN(t *testing.T) {
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	virtualYubiKey(t, ca, 27182818)
	pol := enrolPolicy(t, t.TempDir(), func(s string) string { return s })
	media := t.TempDir()
	args := func(fd uintptr) []string {
		return []string{"enroll", "yubikey", "--holder", "Gil", "--serial", "27182818", "--policy", pol,
			"--attestation-roots", rootsDir(t, ca), "--out", media, "--pin-fd", fmt.Sprint(fd)}
	}
	code, stdout, stderr := run(t, args(secretsFile(t, "123456", "24681357", "12345678", "24681357").Fd())...)
	want := "error: new PUK: it is the PIN; the PUK unblocks a forgotten or blocked PIN, so choose another\n"
	if code != 3 || !strings.HasSuffix(stderr, want) || strings.Contains(stdout+stderr, "24681357") || strings.Contains(stderr, "step 4") {
		t.Fatalf("PUK = PIN: exit %d\nstdout %s\nstderr %s\nwant the end %q", code, stdout, stderr, want)
	}
	code, stdout, stderr = run(t, args(secretsFile(t, "24681357", "12345678", "97531864").Fd())...)
	if code != 0 || !strings.Contains(stderr, "  PUK changed\n") {
		t.Fatalf("again: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	onlyRecord(t, media)
}

// TestEnrollRecordWriteFails: a medium that cannot take a file is found
// before the token is touched (a probe file is written and removed); one
// that fails only when the record is written, after the key was made,
// loses nothing: the record (which holds no secret) is printed on standard
// output, with where the key is and how to save and check it.
func TestEnrollRecordWriteFails(t *testing.T) {
	privateSoftHSM(t)
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pkcs11.Load(testSoftHSM, pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: testSoftHSM, SHA256: sum}}, Rehearsal: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitRehearsalToken("enrol", []byte("so-pin-1"), []byte("user-pin-1")); err != nil {
		t.Fatal(err)
	}
	m.Close()
	pol := softHSMEnrolPolicy(t)
	media := t.TempDir()
	const nonce = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"
	args := []string{"enroll", "pkcs11", "--holder", "Gus", "--uri", "pkcs11:token=enrol;object=gus", "--policy", pol, "--out", media, "--nonce", nonce}
	defer func(w func(dir, name string, data []byte) error) { writeRecordFile = w }(writeRecordFile)

	// Full from the start: refused before the token is touched.
	var wrote []string
	writeRecordFile = func(dir, name string, data []byte) error {
		wrote = append(wrote, name)
		return safefile.ErrMediumFull
	}
	code, stdout, stderr := run(t, append(args, "--pin-fd", fmt.Sprint(secretsFile(t, "user-pin-1").Fd()))...)
	want := "error: the transfer medium " + media + " cannot take the record, so nothing was done on the token: " + safefile.ErrMediumFull.Error() + "\n"
	if code != 3 || stdout != "" || stderr != want || len(wrote) != 1 || !strings.HasPrefix(wrote[0], ".conclave-probe-") {
		t.Fatalf("exit %d, wrote %q\nstdout %q\nstderr %q\nwant   %q", code, wrote, stdout, stderr, want)
	}

	// Full only for the record: the key exists, and the record is printed.
	writeRecordFile = func(dir, name string, data []byte) error {
		if strings.HasPrefix(name, "enrolment-") {
			return safefile.ErrMediumFull
		}
		return safefile.WriteFile(dir, name, data)
	}
	code, stdout, stderr = run(t, append(args, "--pin-fd", fmt.Sprint(secretsFile(t, "user-pin-1").Fd()))...)
	if entries, _ := os.ReadDir(media); len(entries) != 0 {
		t.Errorf("the medium holds %v", entries)
	}
	r, err := enrolment.Parse([]byte(stdout))
	if err != nil {
		t.Fatalf("exit %d: standard output is not the record: %v\nstdout %q\nstderr %q", code, err, stdout, stderr)
	}
	want = "error: the key was made on the token (PKCS#11 " + r.Token.URI + "), but its record could not be written to " + media + ": " + safefile.ErrMediumFull.Error() + "\n" +
		"hint: the record is printed above, on standard output; it holds no secret: save it as a file (enrolment-gus-" + r.KeyID()[:12] + ".json) on another medium\n" +
		"hint: then check it with conclave enroll verify, as every record is checked\n"
	if code != 3 || stderr[strings.LastIndex(stderr, "error: "):] != want {
		t.Fatalf("exit %d\nstderr %q\nwant   %q", code, stderr, want)
	}
	saved := writeBytes(t, filepath.Join(t.TempDir(), "r.json"), []byte(stdout))
	if code, out, errOut := run(t, "enroll", "verify", "--policy", pol, "--nonce", nonce, saved); code != 0 {
		t.Fatalf("verify the printed record: exit %d\n%s%s", code, out, errOut)
	}
}
