//go:build cgo

package main

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/enrolment"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

// genesisHolder is a holder with a root key and a key for targets and
// claimed, each on a SoftHSM token of its own.
type genesisHolder struct {
	name        string
	root, other softHSMHolder
}

// genesisSetup makes the SoftHSM tokens of the named holders, writes
// their enrolment records and the online keys into dir, and returns the
// holders and the records' paths.
func genesisSetup(t *testing.T, dir string, names ...string) ([]genesisHolder, []string) {
	t.Helper()
	var labels []string
	for _, n := range names {
		labels = append(labels, n+"-root", n)
	}
	toks := softHSMTokens(t, labels...)
	var hs []genesisHolder
	var recs []string
	for i, n := range names {
		h := genesisHolder{n, toks[2*i], toks[2*i+1]}
		hs = append(hs, h)
		for _, k := range []softHSMHolder{h.root, h.other} {
			recs = append(recs, writeRecord(t, dir, n, k, byte(i+1)))
		}
	}
	writeOnlineKeys(t, dir, map[string]byte{"snapshot": 0x70, "timestamp": 0x71})
	return hs, recs
}

// writeOnlineKeys writes ROLE.pub.json into dir for each role: the
// public ed25519 key whose seed is 32 times the role's byte.
func writeOnlineKeys(t *testing.T, dir string, seeds map[string]byte) {
	t.Helper()
	for role, seed := range seeds {
		k, err := tuf.KeyFromPublic(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)).Public())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, role+".pub.json"), k.Canonical(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeRecord writes the enrolment record of the holder's key on a
// SoftHSM token into dir, and returns its path.
func writeRecord(t *testing.T, dir, holder string, k softHSMHolder, nonce byte) string {
	t.Helper()
	rec := &enrolment.Record{
		Holder: enrolment.Holder{Name: holder, Contact: holder + "@example.org"},
		Key:    k.key,
		Token:  enrolment.Token{Kind: enrolment.KindPKCS11, URI: k.uri},
		Nonce:  bytes.Repeat([]byte{nonce}, enrolment.NonceSize),
		Time:   time.Date(2027, 1, 2, 10, 0, 0, 0, time.UTC),
	}
	if err := rec.Sign(k.signer); err != nil {
		t.Fatal(err)
	}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, k.name+".record.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// genesisPolicy is a rehearsal policy placing each holder's root key in
// root and other key in targets and claimed, threshold 2 everywhere.
func genesisPolicy(t *testing.T, hs []genesisHolder) []byte {
	t.Helper()
	var p strings.Builder
	p.WriteString(softHSMPolicyHead(t))
	p.WriteString(`roles:
  root: {threshold: 2}
  targets: {threshold: 2}
  claimed: {threshold: 2}
holders:
`)
	for _, h := range hs {
		fmt.Fprintf(&p, "  - name: %s\n    contact: %s@example.org\n    keys:\n", h.name, h.name)
		fmt.Fprintf(&p, "      - {keyid: %s, token: pkcs11, uri: %q, roles: [root]}\n", h.root.key.ID(), h.root.uri)
		fmt.Fprintf(&p, "      - {keyid: %s, token: pkcs11, uri: %q, roles: [targets, claimed]}\n", h.other.key.ID(), h.other.uri)
	}
	return []byte(p.String())
}

// runGenesis runs conclave init in dir for the holders, alice and bob
// signing, and returns the vault's path.
func runGenesis(t *testing.T, dir string, hs []genesisHolder, recs []string) string {
	t.Helper()
	pf := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pf, genesisPolicy(t, hs), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "vault")
	args := []string{"init", "--policy", pf, "--out", out, "--at", "2027-01-10T09:00:00Z",
		"--online-keys", "snapshot=" + filepath.Join(dir, "snapshot.pub.json") + ",timestamp=" + filepath.Join(dir, "timestamp.pub.json")}
	for _, r := range recs {
		args = append(args, "--holders", r)
	}
	for _, h := range hs[:2] {
		args = append(args, "--sign", h.root.uri, "--sign", h.other.uri)
	}
	code, stdout, stderr := runWithPINs(t, strings.Repeat("user-pin-1\n", 4), args...)
	if code != 0 {
		t.Fatalf("init: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"record fingerprint:", "To be signed:", "root/1.root.json: root version 1, expires 2028-01-10T09:00:00Z",
		"metadata/claimed.json: claimed version 1, expires 2027-04-10T09:00:00Z", "alice signed root/1.root.json, binding.json with",
		"generation hash (write it on the paper log):",
		"Copy the vault to 2 media before the room is cleared, each to its own safe (policy custody.vault_copies; see the runbook).\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("init's output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, "user-pin-1") {
		t.Error("a PIN appears in the output")
	}
	return out
}

func openTestVault(t *testing.T, dir string) *vault.Vault {
	t.Helper()
	d, v, err := openVault(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	return v
}

// TestInitSoftHSM: three holders enrolled on SoftHSM tokens; conclave
// init makes root 1 with their root keys, targets and claimed with their
// other keys, signed by two of them, and a vault that opens with the
// ceremony's log in it.
func TestInitSoftHSM(t *testing.T) {
	privateSoftHSM(t)
	dir := t.TempDir()
	hs, recs := genesisSetup(t, dir, "alice", "bob", "carol")
	v := openTestVault(t, runGenesis(t, dir, hs, recs))
	if got, want := v.Root.Root.Roles["root"].KeyIDs, []string{hs[0].root.key.ID(), hs[1].root.key.ID(), hs[2].root.key.ID()}; !slices.Equal(got, want) {
		t.Errorf("root keys %v, want %v", got, want)
	}
	if !strings.HasPrefix(v.LastCeremonyID, "2") {
		t.Errorf("last ceremony %q", v.LastCeremonyID)
	}
	var log []byte
	for _, f := range v.Files() {
		if f.Name == vault.CeremoniesDir+"/"+v.LastCeremonyID+"/log.jsonl" {
			log = f.Data
		}
	}
	for _, typ := range []string{`"type":"root-opened"`, `"type":"root-built"`, `"type":"root-signed"`, `"type":"root-closed"`, `"kind":"init"`} {
		if !bytes.Contains(log, []byte(typ)) {
			t.Errorf("the log lacks %s:\n%s", typ, log)
		}
	}
}

// TestInitRefusesTooFewSigners: keys that cannot meet a threshold are
// refused before any token is opened.
func TestInitRefusesTooFewSigners(t *testing.T) {
	privateSoftHSM(t)
	dir := t.TempDir()
	hs, recs := genesisSetup(t, dir, "alice", "bob", "carol")
	pf := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pf, genesisPolicy(t, hs), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"init", "--policy", pf, "--out", filepath.Join(dir, "vault"), "--at", "2027-01-10T09:00:00Z",
		"--online-keys", "snapshot=" + filepath.Join(dir, "snapshot.pub.json") + ",timestamp=" + filepath.Join(dir, "timestamp.pub.json"),
		"--sign", hs[0].root.uri, "--sign", hs[0].other.uri, "--sign", hs[1].other.uri}
	for _, r := range recs {
		args = append(args, "--holders", r)
	}
	code, _, stderr := run(t, args...)
	if code != 2 || !strings.Contains(stderr, "error: root/1.root.json needs 2 of root version 1's root keys, and --sign names 1 of them") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "vault")); !os.IsNotExist(err) {
		t.Errorf("the vault directory was made: %v", err)
	}
}

// TestRotateSoftHSM: after genesis, carol is rotated out and dave in.
// Root 2 is signed by alice's and bob's root keys (a threshold of root
// 1's and of root 2's) and by dave's, targets and claimed by the new
// keys; the output shows who comes and goes and each role before and
// after; the vault keeps root 1 and root 2 and binds the new policy.
func TestRotateSoftHSM(t *testing.T) {
	privateSoftHSM(t)
	dir := t.TempDir()
	hs, recs := genesisSetup(t, dir, "alice", "bob", "carol")
	out := runGenesis(t, dir, hs, recs)
	more := t.TempDir()
	dave, daveRecs := genesisSetup(t, more, "dave")
	next := []genesisHolder{hs[0], hs[1], dave[0]}
	pf := filepath.Join(more, "policy.yaml")
	if err := os.WriteFile(pf, genesisPolicy(t, next), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"rotate", "--vault", out, "--policy", pf, "--at", "2027-01-11T09:00:00Z",
		"--add", daveRecs[0], "--add", daveRecs[1]}
	for _, h := range next {
		args = append(args, "--sign", h.root.uri, "--sign", h.other.uri)
	}
	code, stdout, stderr := runWithPINs(t, strings.Repeat("user-pin-1\n", 6), args...)
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"rotation of root version 1 to 2, confirmed time 2027-01-11T09:00:00Z",
		"holders in:  dave\nholders out: carol\n",
		"root       threshold 2 of 3 keys -> 2 of 3 keys\n  + " + dave[0].root.key.ID() + " (dave)\n",
		"  - " + hs[2].root.key.ID() + " (carol)\n",
		"snapshot   unchanged: threshold 1 of 1 keys\n",
		"alice signed root/2.root.json, binding.json with",
		"dave signed metadata/targets.json, metadata/claimed.json with",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("rotate's output lacks %q:\n%s", want, stdout)
		}
	}
	v := openTestVault(t, out)
	if len(v.Roots) != 2 || v.Targets.Version() != 2 || v.Delegators["claimed"].Version() != 2 {
		t.Errorf("roots %d, targets %d, claimed %d; want 2, 2, 2", len(v.Roots), v.Targets.Version(), v.Delegators["claimed"].Version())
	}
	if _, ok := v.Policy.Holder(dave[0].other.key.ID()); !ok {
		t.Error("the vault's policy does not enrol dave")
	}
	if v.Manifest.Generation != 2 {
		t.Errorf("generation %d, want 2", v.Manifest.Generation)
	}
}

// TestRefreshAndStatusSoftHSM: status flags claimed in its warning
// period and gives a lost token's deadline; refresh re-signs what is
// due (claimed alone), with the holders' claimed keys, and status then
// shows it fresh.
func TestRefreshAndStatusSoftHSM(t *testing.T) {
	privateSoftHSM(t)
	dir := t.TempDir()
	hs, recs := genesisSetup(t, dir, "alice", "bob", "carol")
	out := runGenesis(t, dir, hs, recs)
	code, stdout, stderr := run(t, "status", out, "--at", "2027-04-01T00:00:00Z", "--lost", "bob=2027-03-30T12:00:00Z")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"root       version 1, expires 2028-01-10T09:00:00Z, warning from 2027-12-11T09:00:00Z: ok\n           threshold 2 of 3 keys\n             " + hs[0].root.key.ID() + " (alice)\n",
		"claimed    version 1, expires 2027-04-10T09:00:00Z, warning from 2027-03-27T09:00:00Z: WARNING: in its warning period, refresh it (conclave refresh)\n",
		"snapshot   online, threshold 1 of 1 keys\n",
		"vault copies: 2, each brought up to date after every ceremony (policy custody.vault_copies)\n",
		"lost token: bob's, reported 2027-03-30T12:00:00Z; the policy gives 7d: deadline 2027-04-06T12:00:00Z, rotate them out by then (conclave rotate)\n  key " + hs[1].root.key.ID() + "\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}
	code, js, _ := run(t, "status", out, "--at", "2027-04-01T00:00:00Z", "--lost", "bob=2027-03-30T12:00:00Z", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d", code)
	}
	checkSchema(t, "status.schema.json", []byte(js))
	if !strings.Contains(js, `"vault_copies": 2,`) || !strings.Contains(js, `"spares": []`) {
		t.Errorf("status --json lacks vault_copies 2 or spares:\n%s", js)
	}
	if code, _, stderr := run(t, "status", out, "--lost", "dave=2027-03-30T12:00:00Z"); code != 2 || !strings.Contains(stderr, "error: --lost dave: the policy names no such holder: dave") {
		t.Errorf("an unknown holder: exit %d\n%s", code, stderr)
	}

	code, stdout, stderr = runWithPINs(t, strings.Repeat("user-pin-1\n", 2), "refresh", "--vault", out, "--at", "2027-04-01T00:00:00Z",
		"--sign", hs[0].other.uri, "--sign", hs[2].other.uri)
	if code != 0 {
		t.Fatalf("refresh: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "  claimed: version 1 -> 2\n") || strings.Contains(stdout, "root: version") {
		t.Errorf("refresh's output:\n%s", stdout)
	}
	v := openTestVault(t, out)
	if c := v.Delegators["claimed"]; c.Version() != 2 || c.Expires().String() != "2027-06-30T00:00:00Z" {
		t.Errorf("claimed version %d expires %s", c.Version(), c.Expires())
	}
	if _, stdout, _ := run(t, "status", out, "--at", "2027-04-01T00:00:00Z"); !strings.Contains(stdout, "claimed    version 2, expires 2027-06-30T00:00:00Z, warning from 2027-06-16T00:00:00Z: ok\n") {
		t.Errorf("status after refresh:\n%s", stdout)
	}
	// Nothing is due: refused, nothing asked of a token.
	code, _, stderr = run(t, "refresh", "--vault", out, "--at", "2027-04-02T00:00:00Z", "--sign", hs[0].other.uri)
	if code != 1 || !strings.Contains(stderr, "error: no role is in its warning period") {
		t.Errorf("nothing due: exit %d\n%s", code, stderr)
	}
}

// TestRootCeremonyStopped: a rotation that stops at a wrong PIN leaves
// the vault as it was and its log ended by root-abandoned with the
// reason; the next ceremony is not held back by it.
func TestRootCeremonyStopped(t *testing.T) {
	privateSoftHSM(t)
	dir := t.TempDir()
	hs, recs := genesisSetup(t, dir, "alice", "bob", "carol")
	out := runGenesis(t, dir, hs, recs)
	online := "timestamp=" + filepath.Join(dir, "snapshot.pub.json")
	args := []string{"rotate", "--vault", out, "--online-keys", online, "--at", "2027-01-11T09:00:00Z",
		"--sign", hs[0].root.uri, "--sign", hs[1].root.uri}
	code, stdout, stderr := runWithPINs(t, "wrong-pin\n", args...)
	if code == 0 {
		t.Fatalf("rotate with a wrong PIN: exit 0\n%s", stdout)
	}
	if v := openTestVault(t, out); v.Manifest.Generation != 1 {
		t.Errorf("generation %d after a stopped rotation, want 1", v.Manifest.Generation)
	}
	logs, err := filepath.Glob(filepath.Join(out, "journal", "*", "log.jsonl"))
	if err != nil || len(logs) != 2 {
		t.Fatalf("journals %v (%v), want the genesis's and the stopped rotation's", logs, err)
	}
	var stopped []byte
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`"kind":"rotate"`)) {
			stopped = b
		}
	}
	last := stopped[bytes.LastIndexByte(stopped[:len(stopped)-1], '\n')+1:]
	if !bytes.Contains(last, []byte(`"type":"root-abandoned"`)) || !bytes.Contains(last, []byte(`"reason":"`)) {
		t.Errorf("the stopped rotation's last line: %s\nstderr: %s", last, stderr)
	}
	args[6] = "2027-01-12T09:00:00Z"
	if code, stdout, stderr := runWithPINs(t, strings.Repeat("user-pin-1\n", 2), args...); code != 0 {
		t.Fatalf("the next rotation: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if v := openTestVault(t, out); len(v.Roots) != 2 {
		t.Errorf("roots %d after the rotation, want 2", len(v.Roots))
	}
}

// TestRotateEditsPolicySoftHSM: the same rotation as TestRotateSoftHSM,
// asked on the command line (--remove carol, --add dave's records with
// their roles) instead of with a new policy file: the vault's policy is
// edited, bound to root 2, and places dave's keys.
func TestRotateEditsPolicySoftHSM(t *testing.T) {
	privateSoftHSM(t)
	dir := t.TempDir()
	hs, recs := genesisSetup(t, dir, "alice", "bob", "carol")
	out := runGenesis(t, dir, hs, recs)
	dave, daveRecs := genesisSetup(t, t.TempDir(), "dave")
	args := []string{"rotate", "--vault", out, "--at", "2027-01-11T09:00:00Z", "--remove", "carol",
		"--add", daveRecs[0] + "=root", "--add", daveRecs[1] + "=targets,claimed",
		"--sign", hs[0].root.uri, "--sign", hs[1].root.uri, "--sign", hs[0].other.uri, "--sign", hs[1].other.uri}
	code, stdout, stderr := runWithPINs(t, strings.Repeat("user-pin-1\n", 4), args...)
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "holders in:  dave\nholders out: carol\n") || !strings.Contains(stdout, "edited as asked, is the new policy") {
		t.Errorf("rotate's output:\n%s", stdout)
	}
	v := openTestVault(t, out)
	if got, want := v.Root.Root.Roles["root"].KeyIDs, []string{hs[0].root.key.ID(), hs[1].root.key.ID(), dave[0].root.key.ID()}; !slices.Equal(got, want) {
		t.Errorf("root 2's root keys %v, want %v", got, want)
	}
	if h, ok := v.Policy.Holder(dave[0].other.key.ID()); !ok || h.Contact != "dave@example.org" || !slices.Equal(v.Policy.KeyRoles[dave[0].other.key.ID()], []string{"targets", "claimed"}) {
		t.Errorf("dave in the new policy: %+v %v", h, ok)
	}
	if code, _, stderr := run(t, "rotate", "--vault", out, "--at", "2027-01-12T09:00:00Z", "--remove", "nobody", "--sign", hs[0].root.uri); code != 1 || !strings.Contains(stderr, "error: policy policy.yaml: no holder nobody to remove") {
		t.Errorf("remove nobody: exit %d\n%s", code, stderr)
	}
}

// TestRotateReplacesTokenSoftHSM: alice replaces her root token. Root 2
// is signed by her old root key and bob's (root 1's threshold) and by her
// new key and bob's (root 2's); the old key is gone from root 2 and the
// policy.
func TestRotateReplacesTokenSoftHSM(t *testing.T) {
	privateSoftHSM(t)
	dir := t.TempDir()
	hs, recs := genesisSetup(t, dir, "alice", "bob", "carol")
	out := runGenesis(t, dir, hs, recs)
	fresh := softHSMTokens(t, "alice-root2")[0]
	rec := writeRecord(t, t.TempDir(), "alice", fresh, 9)
	args := []string{"rotate", "--vault", out, "--at", "2027-01-11T09:00:00Z",
		"--add", rec + "=root", "--remove-key", hs[0].root.key.ID(),
		"--sign", hs[0].root.uri, "--sign", fresh.uri, "--sign", hs[1].root.uri}
	code, stdout, stderr := runWithPINs(t, strings.Repeat("user-pin-1\n", 3), args...)
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"root       threshold 2 of 3 keys -> 2 of 3 keys\n  + " + fresh.key.ID() + " (alice)\n",
		"  - " + hs[0].root.key.ID() + " (alice)\n",
		"alice signed root/2.root.json with",
		"alice signed root/2.root.json, binding.json with",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("rotate's output lacks %q:\n%s", want, stdout)
		}
	}
	v := openTestVault(t, out)
	if got, want := v.Root.Root.Roles["root"].KeyIDs, []string{fresh.key.ID(), hs[1].root.key.ID(), hs[2].root.key.ID()}; !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("root 2's root keys %v, want %v", got, want)
	}
	if _, ok := v.Policy.Holder(hs[0].root.key.ID()); ok {
		t.Error("the old key is still in the policy")
	}
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// TestInitVirtualYubiKey: alice enrols her root key on a (virtual)
// YubiKey with conclave enroll; conclave init checks the record's
// attestation against the card's CA and signs root 1 and the binding on
// the YubiKey (PIN asked, touch given), beside bob's SoftHSM keys.
func TestInitVirtualYubiKey(t *testing.T) {
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	virtualYubiKey(t, ca, 27182818)
	privateSoftHSM(t)
	dir := t.TempDir()
	roots := rootsDir(t, ca)
	media := filepath.Join(dir, "media")
	if err := os.Mkdir(media, 0o700); err != nil {
		t.Fatal(err)
	}
	enrolPol := enrolPolicy(t, t.TempDir(), func(s string) string { return s })
	code, stdout, stderr := run(t, "enroll", "yubikey", "--holder", "alice", "--contact", "alice@example.org", "--serial", "27182818",
		"--policy", enrolPol, "--attestation-roots", roots, "--out", media,
		"--pin-fd", fmt.Sprint(secretsFile(t, "123456", "71828182", "12345678", "16180339").Fd()))
	if code != 0 {
		t.Fatalf("enroll: exit %d\n%s\n%s", code, stdout, stderr)
	}
	yubiRecord := onlyRecord(t, media)
	data, err := os.ReadFile(yubiRecord)
	if err != nil {
		t.Fatal(err)
	}
	yubi, err := enrolment.Parse(data)
	if err != nil {
		t.Fatal(err)
	}

	hs, recs := genesisSetup(t, dir, "alice", "bob", "carol")
	recs = append([]string{yubiRecord}, recs[1:]...) // alice's root key is the YubiKey's
	text := string(genesisPolicy(t, hs))
	old := fmt.Sprintf("{keyid: %s, token: pkcs11, uri: %q, roles: [root]}", hs[0].root.key.ID(), hs[0].root.uri)
	if !strings.Contains(text, old) {
		t.Fatalf("the policy lacks %s", old)
	}
	text = strings.Replace(text, old, fmt.Sprintf("{keyid: %s, token: yubikey, serial: 27182818, slot: 9c, roles: [root]}", yubi.KeyID()), 1)
	pf := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "vault")
	args := []string{"init", "--policy", pf, "--out", out, "--at", "2027-01-10T09:00:00Z", "--attestation-roots", roots,
		"--online-keys", "snapshot=" + filepath.Join(dir, "snapshot.pub.json") + ",timestamp=" + filepath.Join(dir, "timestamp.pub.json"),
		"--sign", "yubikey:serial=27182818;slot=9c", "--sign", hs[1].root.uri, "--sign", hs[0].other.uri, "--sign", hs[1].other.uri}
	for _, r := range recs {
		args = append(args, "--holders", r)
	}
	// Attestation roots that the card's chain does not lead to: the
	// record is refused before anything is signed.
	other, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	wrong := slices.Clone(args)
	wrong[slices.Index(wrong, roots)] = rootsDir(t, other)
	code, _, stderr = run(t, wrong...)
	if code != 1 || !strings.Contains(stderr, "error: enrolment record "+yubiRecord+": attestation: ") {
		t.Fatalf("another CA: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = run(t, append(args, "--pin-fd", fmt.Sprint(secretsFile(t, "71828182", "user-pin-1", "user-pin-1", "user-pin-1").Fd()))...)
	if code != 0 {
		t.Fatalf("init: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "alice signed root/1.root.json, binding.json with virtual YubiKey SIMULATOR (not a real token), serial 27182818") {
		t.Errorf("init's output:\n%s", stdout)
	}
	v := openTestVault(t, out)
	if !slices.Contains(v.Root.Root.Roles["root"].KeyIDs, yubi.KeyID()) || !slices.Contains(v.BindingSigners, yubi.KeyID()) {
		t.Errorf("root 1's root keys %v, binding signers %v: the YubiKey's key %s is not among them", v.Root.Root.Roles["root"].KeyIDs, v.BindingSigners, yubi.KeyID())
	}
}
