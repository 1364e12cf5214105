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
	"github.com/conclave-keys/conclave/hsm/pkcs11"
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
			rec := &enrolment.Record{
				Holder: enrolment.Holder{Name: n, Contact: n + "@example.org"},
				Key:    k.key,
				Token:  enrolment.Token{Kind: enrolment.KindPKCS11, URI: k.uri},
				Nonce:  bytes.Repeat([]byte{byte(i + 1)}, enrolment.NonceSize),
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
			recs = append(recs, p)
		}
	}
	for i, role := range []string{"snapshot", "timestamp"} {
		k, err := tuf.KeyFromPublic(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(0x70 + i)}, 32)).Public())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, role+".pub.json"), k.Canonical(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hs, recs
}

// genesisPolicy is a rehearsal policy placing each holder's root key in
// root and other key in targets and claimed, threshold 2 everywhere.
func genesisPolicy(t *testing.T, hs []genesisHolder) []byte {
	t.Helper()
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	var p strings.Builder
	fmt.Fprintf(&p, `format: conclave-policy/1
rehearsal: true
repository: example
intake_keys:
  - keytype: ed25519
    scheme: ed25519
    keyval:
      public: d943401082d79304938763c96058aca8268d73886fcb8e34ba01169fc7113b3b
pkcs11_modules:
  - path: %s
    sha256: %s
roles:
  root: {threshold: 2}
  targets: {threshold: 2}
  claimed: {threshold: 2}
holders:
`, testSoftHSM, sum)
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
		"generation hash (write it on the paper log):"} {
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
