package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// run runs the CLI in process and returns its exit status and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

type testKey struct {
	signer crypto.Signer
	key    *tuf.Key
}

func newEd25519(t *testing.T) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := tuf.KeyFromPublic(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv, k}
}

func newP256(t *testing.T) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := tuf.KeyFromPublic(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv, k}
}

var testNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func makeRoot(version int64, holders []testKey, expires time.Time) *tuf.Root {
	r := &tuf.Root{Keys: map[string]*tuf.Key{}, Roles: map[string]*tuf.RoleKeys{}}
	r.Version, r.Expires = version, tuf.NewExpiry(expires)
	consistent := true
	r.ConsistentSnapshot = &consistent
	var ids []string
	for _, h := range holders {
		r.Keys[h.key.ID()] = h.key
		ids = append(ids, h.key.ID())
	}
	for _, role := range tuf.TopLevelRoles {
		r.Roles[role] = &tuf.RoleKeys{KeyIDs: ids, Threshold: 2}
	}
	return r
}

func sign(t *testing.T, f *tuf.File, keys map[string]*tuf.Key, by ...testKey) {
	t.Helper()
	for _, k := range by {
		if err := f.Sign(keys, k.key.ID(), k.signer); err != nil {
			t.Fatal(err)
		}
	}
}

func write(t *testing.T, dir, name string, f *tuf.File) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, f.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture writes a root chain (v1 → v2 with a new keyset), targets and a
// delegated claimed role, all valid at testNow.
type fixture struct {
	dir                        string
	old, new                   []testKey
	root1, root2, top, claimed string
}

func newFixture(t *testing.T) *fixture {
	fx := &fixture{dir: t.TempDir()}
	fx.old = []testKey{newEd25519(t), newP256(t), newEd25519(t)}
	fx.new = []testKey{newP256(t), newEd25519(t), newP256(t)}
	r1 := makeRoot(1, fx.old, testNow.AddDate(1, 0, 0))
	f1, err := tuf.NewRootFile(r1)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, f1, r1.Keys, fx.old[0], fx.old[1])
	fx.root1 = write(t, fx.dir, "1.root.json", f1)

	r2 := makeRoot(2, fx.new, testNow.AddDate(1, 0, 0))
	f2, err := tuf.NewRootFile(r2)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, f2, r1.Keys, fx.old[1], fx.old[2])
	sign(t, f2, r2.Keys, fx.new[0], fx.new[2])
	fx.root2 = write(t, fx.dir, "2.root.json", f2)

	dev := newEd25519(t)
	claimed, err := delegation.Build([]delegation.Project{{Name: "example", Keys: []*tuf.Key{dev.key}, Threshold: 1}}, "{name}/*", 1, testNow.AddDate(0, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 1, tuf.NewExpiry(testNow.AddDate(0, 3, 0))
	top.Delegations = &tuf.Delegations{Keys: r2.Keys, Roles: []*tuf.DelegatedRole{{
		Name: "claimed", KeyIDs: r2.Roles["root"].KeyIDs, Threshold: 2, Paths: []string{"*/*"},
	}}}
	ft, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, ft, r2.Keys, fx.new[0], fx.new[1])
	fx.top = write(t, fx.dir, "targets.json", ft)
	fc, err := tuf.NewTargetsFile(claimed)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, fc, r2.Keys, fx.new[1], fx.new[2])
	fx.claimed = write(t, fx.dir, "claimed.json", fc)
	return fx
}

func TestVerifyValidChain(t *testing.T) {
	fx := newFixture(t)
	code, out, errOut := run(t, "verify", "--at", "2026-12-01T00:00:00Z", "--trusted-root", fx.root1, fx.root2, fx.top, fx.claimed)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"1.root.json: root version 1 (trusted root)\n  root: signed by 2 distinct keys; threshold 2\n",
		"2.root.json: root version 2\n  root (keys of version 1): signed by 2 distinct keys; threshold 2\n",
		"  root (its own keys): signed by 2 distinct keys; threshold 2\n",
		"claimed.json: targets version 1\n  delegated by targets\n  claimed: signed by 2 distinct keys; threshold 2\n",
		"\nRESULT: all files valid\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	// The first root is superseded, so its expiry is not judged.
	if strings.Count(out, "EXPIRED") != 0 {
		t.Errorf("unexpected EXPIRED:\n%s", out)
	}
}

func TestVerifyExpiredIsDistinct(t *testing.T) {
	fx := newFixture(t)
	code, out, _ := run(t, "verify", "--at", "2027-06-01T00:00:00Z", "--trusted-root", fx.root1, fx.root2, fx.top, fx.claimed)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	want := "  EXPIRED (the signatures are valid): metadata has expired: targets metadata version 1 expired at 2027-02-24T12:00:00Z (checked at 2027-06-01T00:00:00Z)\n"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q\n%s", want, out)
	}
	if strings.Contains(out, "NOT VALID:") {
		t.Errorf("an expired file must not be reported as a bad signature:\n%s", out)
	}
}

func TestVerifyRootNotSignedByOldKeys(t *testing.T) {
	fx := newFixture(t)
	// A root 2 signed only by its own keys: a compromised repository
	// cannot rotate root by itself.
	r2 := makeRoot(2, fx.new, testNow.AddDate(1, 0, 0))
	f2, err := tuf.NewRootFile(r2)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, f2, r2.Keys, fx.new[0], fx.new[1], fx.new[2])
	bad := write(t, t.TempDir(), "2.root.json", f2)
	code, out, _ := run(t, "verify", "--at", "2026-12-01T00:00:00Z", "--trusted-root", fx.root1, bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	want := "  NOT VALID: not enough valid signatures for role root (keys of version 1): 0 of 2 distinct keys signed\n"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q\n%s", want, out)
	}
	if !strings.Contains(out, "ignored: keyid is not one of the role's keys") {
		t.Errorf("output does not say the new keys' signatures were ignored:\n%s", out)
	}
}

func TestVerifyTamperedFile(t *testing.T) {
	fx := newFixture(t)
	data, err := os.ReadFile(fx.claimed)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(data, []byte(`"example/*"`), []byte(`"*"`), 1)
	if bytes.Equal(tampered, data) {
		t.Fatal("fixture does not contain the path to tamper with")
	}
	p := filepath.Join(t.TempDir(), "claimed.json")
	if err := os.WriteFile(p, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "verify", "--at", "2026-12-01T00:00:00Z", "--trusted-root", fx.root1, fx.root2, fx.top, p)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		"ignored: signature does not verify",
		"  NOT VALID: not enough valid signatures for role claimed: 0 of 2 distinct keys signed\n",
		"RESULT: NOT VALID",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

func TestVerifyMalformedSaysWhere(t *testing.T) {
	fx := newFixture(t)
	p := filepath.Join(t.TempDir(), "claimed.json")
	data, _ := os.ReadFile(fx.claimed)
	data = bytes.Replace(data, []byte(`"threshold":1`), []byte(`"threshold":0`), 1)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "verify", "--trusted-root", fx.root1, fx.root2, fx.top, p)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := "NOT VALID: " + p + ": malformed metadata: signed.delegations.roles[0].threshold: must be at least 1, not 0\n"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q\n%s", want, out)
	}
}

func TestVerifyUndelegatedRole(t *testing.T) {
	fx := newFixture(t)
	p := filepath.Join(t.TempDir(), "unclaimed.json")
	data, _ := os.ReadFile(fx.claimed)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "verify", "--at", "2026-12-01T00:00:00Z", "--trusted-root", fx.root1, fx.root2, fx.top, p)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := `  NOT VALID: role is not delegated: no file verified so far delegates a role named "unclaimed" (list the delegating targets metadata before it)` + "\n"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q\n%s", want, out)
	}
}

func TestVerifyUsage(t *testing.T) {
	code, _, errOut := run(t, "verify", "x.json")
	if code != 2 || errOut != "error: --trusted-root is required\nusage: conclave verify --trusted-root ROOT.json [--delegator TARGETS.json] [--at TIME] [--max-size BYTES] FILE...\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run(t, "verify", "--trusted-root", "r.json", "--at", "yesterday", "x.json")
	if code != 2 || !strings.HasPrefix(errOut, `error: --at "yesterday" is not an RFC 3339 time`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, errOut := run(t, "sing")
	if code != 2 || errOut != "error: unknown command \"sing\"\nhint: run \"conclave help\" for the list of commands\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestVerifyReadsOnlyPlainFiles: verify may be pointed at transfer media,
// so it refuses a named pipe (which would block it) and a file over
// --max-size, saying which and why, and goes on with the other files.
func TestVerifyReadsOnlyPlainFiles(t *testing.T) {
	fx := newFixture(t)
	pipe := filepath.Join(t.TempDir(), "claimed.json")
	if err := unix.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "verify", "--at", "2026-12-01T00:00:00Z", "--trusted-root", fx.root1, fx.root2, pipe, fx.top)
	want := pipe + ": NOT VALID: cannot read: it is a named pipe (FIFO), not a regular file: only regular files are read from the transfer medium\n"
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, fx.top+": targets version") {
		t.Errorf("exit %d, want 1 and %q, then the next file\n%s", code, want, out)
	}
	code, out, _ = run(t, "verify", "--max-size", "100", "--trusted-root", fx.root1, fx.top)
	want = fx.root1 + ": NOT VALID: cannot read: it is larger than 100 bytes, the most that may be read (--max-size sets another limit)\n"
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, want 1 and %q\n%s", code, want, out)
	}
}

// brokenTrustedRoots are trusted roots that do not themselves pass: each
// is the fixture's first root with one value a client must refuse.
func brokenTrustedRoots(t *testing.T, fx *fixture) map[string][]byte {
	t.Helper()
	data, err := os.ReadFile(fx.root1)
	if err != nil {
		t.Fatal(err)
	}
	withKey := func(key string) []byte {
		out := bytes.Replace(data, []byte(`"keys":{`), []byte(`"keys":{"bad":`+key+`,`), 1)
		if bytes.Equal(out, data) {
			t.Fatal("fixture root has no keys object")
		}
		return out
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(newP256(t).signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	ecDER[len(ecDER)-1] ^= 1 // the point's y is its last byte: now off the curve
	pemKey := func(typ, scheme string, der []byte) string {
		p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		return `{"keytype":"` + typ + `","keyval":{"public":` + strconv.Quote(string(p)) + `},"scheme":"` + scheme + `"}`
	}
	threshold0 := bytes.Replace(data, []byte(`"threshold":2`), []byte(`"threshold":0`), 1)
	date := bytes.Replace(data, []byte(`"expires":"2027-11-24T12:00:00Z"`), []byte(`"expires":"2027-11-24"`), 1)
	if bytes.Equal(threshold0, data) || bytes.Equal(date, data) {
		t.Fatal("fixture root does not hold the values to replace")
	}
	return map[string][]byte{
		"threshold 0":      threshold0,
		"rsa 1024":         withKey(pemKey("rsa", "rsassa-pss-sha256", rsaDER)),
		"ecdsa off curve":  withKey(pemKey("ecdsa", "ecdsa-sha2-nistp256", ecDER)),
		"ed25519 33 bytes": withKey(`{"keytype":"ed25519","keyval":{"public":"` + strings.Repeat("ab", 33) + `"},"scheme":"ed25519"}`),
		"date only":        date,
	}
}

// TestRegressionVerifyTrustedRootThatFails: a trusted root that does not
// itself pass left the walk with no root, and the next file dereferenced
// it (panic, exit 2). Now the trusted root is NOT VALID with its reason,
// every other file cannot be checked, and the exit status is 1.
func TestRegressionVerifyTrustedRootThatFails(t *testing.T) {
	fx := newFixture(t)
	for name, data := range brokenTrustedRoots(t, fx) {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "root.json")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := run(t, "verify", "--at", "2026-12-01T00:00:00Z", "--trusted-root", p, fx.root2, fx.top)
			if code != 1 || errOut != "" {
				t.Fatalf("exit %d, stderr %q, want 1 and nothing\n%s", code, errOut, out)
			}
			for _, want := range []string{
				p + ": NOT VALID: ",
				fx.root2 + ": not checked: cannot be checked because the trusted root (" + p + ") failed\n",
				"\nRESULT: NOT VALID",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q\n%s", want, out)
				}
			}
		})
	}
}
