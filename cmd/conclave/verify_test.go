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
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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

func newEd25519(t testing.TB) testKey {
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

func newP256(t testing.TB) testKey {
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

func sign(t testing.TB, f *tuf.File, keys map[string]*tuf.Key, by ...testKey) {
	t.Helper()
	for _, k := range by {
		if err := f.Sign(keys, k.key.ID(), k.signer); err != nil {
			t.Fatal(err)
		}
	}
}

func write(t testing.TB, dir, name string, f *tuf.File) string {
	t.Helper()
	return writeBytes(t, filepath.Join(dir, name), f.Bytes())
}

// writeBytes writes data at path, making its directory.
func writeBytes(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fixture writes a root chain (v1 → v2 with a new keyset), targets and a
// delegated claimed role, all valid at testNow, in a new directory that
// becomes the working directory: the files are named as an auditor would
// name them ("2.root.json"), so the output reads as the docs show it.
type fixture struct {
	dir                        string
	old, new                   []testKey
	root1, root2, top, claimed string
}

func newFixture(t *testing.T) *fixture {
	t.Chdir(t.TempDir())
	return newFixtureIn(t, ".")
}

// newFixtureIn writes the fixture in dir.
func newFixtureIn(t testing.TB, dir string) *fixture {
	fx := &fixture{dir: dir}
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
	claimed, err := delegation.Build([]delegation.Project{{Name: "example", Keys: []*tuf.Key{dev.key}, Threshold: 1}}, "{name}/*", []string{"claimed"}, 1, testNow.AddDate(0, 3, 0))
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

// at is an instant at which the whole fixture is valid.
const at = "2026-12-01T00:00:00Z"

func TestVerifyValidChain(t *testing.T) {
	fx := newFixture(t)
	code, out, errOut := run(t, "verify", "--at", at, "--trusted-root", fx.root1, fx.root2, fx.top, fx.claimed)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	wantLines(t, out,
		"1.root.json: root version 1 (trusted root)\n  root: signed by 2 distinct keys; threshold 2\n",
		"  expiry not checked: a later root supersedes this one (TUF §5.3.10)\n  valid\n2.root.json: root version 2\n",
		"2.root.json: root version 2\n  root (keys of version 1): signed by 2 distinct keys; threshold 2\n",
		"  root (its own keys): signed by 2 distinct keys; threshold 2\n",
		"claimed.json: targets version 1\n  role claimed, delegated by targets.json\n  claimed: signed by 2 distinct keys; threshold 2\n",
		"\nRESULT: all files valid\n",
	)
	// keyids are shortened as the docs show them.
	if id := fx.new[0].key.ID(); !strings.Contains(out, "    keyid "+id[:8]+"…"+id[56:]+" (ecdsa/ecdsa-sha2-nistp256): counted\n") || strings.Contains(out, id) {
		t.Errorf("keyid %s not shown shortened\n%s", id, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line of %d characters: %q", n, l)
		}
	}
}

// TestVerifyExpiredIsDistinct: EXPIRED files stay distinct from NOT VALID
// ones, line by line and in the result.
func TestVerifyExpiredIsDistinct(t *testing.T) {
	fx := newFixture(t)
	code, out, _ := run(t, "verify", "--at", "2027-06-01T00:00:00Z", "--trusted-root", fx.root1, fx.root2, fx.top, fx.claimed)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	wantLines(t, out,
		"  EXPIRED (the signatures are valid): metadata has expired: targets metadata\n      version 1 expired at 2027-02-24T12:00:00Z (checked at\n      2027-06-01T00:00:00Z)\n",
		"\nRESULT: EXPIRED — 2 files expired, 2 valid; the signatures are valid\n",
	)
	if strings.Contains(out, "NOT VALID") {
		t.Errorf("an expired file must not be reported as a bad signature:\n%s", out)
	}
	// With a file that is not valid, both are counted.
	bad := writeBytes(t, "bad/claimed.json", []byte("{}"))
	code, out, _ = run(t, "verify", "--at", "2027-06-01T00:00:00Z", "--trusted-root", fx.root1, fx.root2, fx.top, bad)
	if want := "\nRESULT: NOT VALID — 1 file not valid, 1 expired, 2 valid; see above\n"; code != 1 || !strings.HasSuffix(out, want) {
		t.Errorf("exit %d, want 1 and %q\n%s", code, want, out)
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
	bad := write(t, "bad", "2.root.json", f2)
	code, out, _ := run(t, "verify", "--at", at, "--trusted-root", fx.root1, bad, fx.top)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	wantLines(t, out,
		"  NOT VALID: not enough valid signatures for role root (keys of version 1): 0 of\n      2 distinct keys signed\n",
		"ignored: keyid is not one of the role's keys",
		// targets.json is judged against root 1, the last root verified.
		"targets.json: targets version 1\n  targets: signed by 0 distinct keys; threshold 2\n",
	)
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
	p := writeBytes(t, "bad/claimed.json", tampered)
	code, out, _ := run(t, "verify", "--at", at, "--trusted-root", fx.root1, fx.root2, fx.top, p)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	wantLines(t, out,
		"(ed25519/ed25519): ignored: signature does not\n        verify\n",
		"  NOT VALID: not enough valid signatures for role claimed: 0 of 2 distinct keys\n      signed\n",
		"\nRESULT: NOT VALID — 1 file not valid, 3 valid; see above\n",
	)
}

func TestVerifyMalformedSaysWhere(t *testing.T) {
	fx := newFixture(t)
	data, _ := os.ReadFile(fx.claimed)
	p := writeBytes(t, "bad/claimed.json", bytes.Replace(data, []byte(`"threshold":1`), []byte(`"threshold":0`), 1))
	code, out, _ := run(t, "verify", "--trusted-root", fx.root1, fx.root2, fx.top, p)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := "NOT VALID: bad/claimed.json: malformed metadata:\n    signed.delegations.roles[0].threshold: must be at least 1, not 0\n"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q\n%s", want, out)
	}
}

func TestVerifyUndelegatedRole(t *testing.T) {
	fx := newFixture(t)
	data, _ := os.ReadFile(fx.claimed)
	p := writeBytes(t, "unclaimed.json", data)
	code, out, _ := run(t, "verify", "--at", at, "--trusted-root", fx.root1, fx.root2, fx.top, p)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := "unclaimed.json: targets version 1\n  NOT VALID: role is not delegated: none of the files verified delegates a role\n      named unclaimed\n"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q\n%s", want, out)
	}
}

// TestVerifyDelegatorFailed: a delegated role whose delegator failed says
// so, whatever the order; it used to say "list the delegating metadata
// before it" when it was listed first.
func TestVerifyDelegatorFailed(t *testing.T) {
	fx := newFixture(t)
	data, _ := os.ReadFile(fx.top)
	bad := writeBytes(t, "bad/targets.json", bytes.Replace(data, []byte(`"version":1`), []byte(`"version":2`), 1))
	for _, files := range [][]string{{fx.claimed, fx.root2, bad}, {fx.root2, bad, fx.claimed}} {
		code, out, _ := run(t, append([]string{"verify", "--at", at, "--trusted-root", fx.root1}, files...)...)
		want := "claimed.json: targets version 1\n  NOT CHECKED: claimed cannot be checked because its delegator targets\n      (bad/targets.json) failed\n"
		if code != 1 || !strings.Contains(out, want) || !strings.HasSuffix(out, "\nRESULT: NOT VALID — 1 file not valid, 1 not checked, 2 valid; see above\n") {
			t.Errorf("%v: exit %d, want 1 and %q\n%s", files, code, want, out)
		}
	}
}

// TestRegressionVerifyOrderDoesNotMatter: targets.json listed before the
// root that rotated its keys was judged against the older root and
// reported NOT VALID; claimed.json before targets.json was "not
// delegated". Now every order gives the same report, file by file.
func TestRegressionVerifyOrderDoesNotMatter(t *testing.T) {
	fx := newFixture(t)
	files := []string{fx.root2, fx.top, fx.claimed}
	for _, order := range [][]int{{0, 1, 2}, {1, 0, 2}, {2, 1, 0}, {2, 0, 1}} {
		args := []string{"verify", "--at", at, "--trusted-root", fx.root1}
		for _, i := range order {
			args = append(args, files[i])
		}
		code, out, _ := run(t, args...)
		if code != 0 || !strings.HasSuffix(out, "\nRESULT: all files valid\n") {
			t.Errorf("%v: exit %d, want 0\n%s", args[5:], code, out)
		}
	}
	// The same report, file by file, whatever the order.
	verdicts := func(files ...string) string {
		_, out, _ := run(t, append([]string{"verify", "--at", at, "--json", "--trusted-root", fx.root1}, files...)...)
		var r struct {
			Files []struct{ File, Verdict, Reason, Delegator string }
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		sort.Slice(r.Files, func(i, j int) bool { return r.Files[i].File < r.Files[j].File })
		return fmt.Sprint(r.Files)
	}
	if a, b := verdicts(fx.root2, fx.top, fx.claimed), verdicts(fx.claimed, fx.top, fx.root2); a != b {
		t.Errorf("reports differ:\n%s\n%s", a, b)
	}
}

// TestRegressionVerifyLastRootByContent: the last root was the last file
// named root.json or N.root.json; a timestamp file named root.json after
// an expired root switched its expiry check off, and the expired chain
// was "all files valid". The last root is now the highest version.
func TestRegressionVerifyLastRootByContent(t *testing.T) {
	fx := newFixture(t)
	ts := writeBytes(t, "later/root.json", []byte(`{"signatures":[],"signed":{"_type":"timestamp","expires":"2030-01-01T00:00:00Z","meta":{"snapshot.json":{"version":1}},"spec_version":"1.0.31","version":1}}`))
	code, out, _ := run(t, "verify", "--at", "2028-01-01T00:00:00Z", "--trusted-root", fx.root1, fx.root2, ts)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	wantLines(t, out,
		"  EXPIRED (the signatures are valid): metadata has expired: root metadata\n      version 2 expired at 2027-11-24T12:00:00Z",
		"later/root.json: timestamp version 1\n  NOT VALID: file name does not match the metadata: the file name says the root\n      role, but it holds timestamp metadata\n",
	)
}

// TestRegressionVerifyAmbiguousDelegator: two verified files delegating
// the same role name; the delegator was picked by ranging over a map, and
// a forged claimed passed 4 of 40 identical runs. Now it is an error
// naming both, every run and in both orders, unless --delegator names one.
func TestRegressionVerifyAmbiguousDelegator(t *testing.T) {
	fx := newFixture(t)
	// targets (signed by root 2) delegates claimed and other; other,
	// signed by its own key, delegates claimed to a forger.
	dev, forger := newEd25519(t), newEd25519(t)
	r2Keys := makeRoot(2, fx.new, testNow).Keys
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 2, tuf.NewExpiry(testNow.AddDate(0, 3, 0))
	keys := map[string]*tuf.Key{dev.key.ID(): dev.key}
	var claimedIDs []string
	for _, k := range fx.new {
		keys[k.key.ID()] = k.key
		claimedIDs = append(claimedIDs, k.key.ID())
	}
	sort.Strings(claimedIDs)
	top.Delegations = &tuf.Delegations{Keys: keys, Roles: []*tuf.DelegatedRole{
		{Name: "claimed", KeyIDs: claimedIDs, Threshold: 2, Paths: []string{"*/*"}},
		{Name: "other", KeyIDs: []string{dev.key.ID()}, Threshold: 1, Paths: []string{"o/*"}},
	}}
	ft, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, ft, r2Keys, fx.new[0], fx.new[1])
	targets := write(t, "amb", "2.targets.json", ft)
	other := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	other.Version, other.Expires = 1, tuf.NewExpiry(testNow.AddDate(0, 3, 0))
	other.Delegations = &tuf.Delegations{Keys: map[string]*tuf.Key{forger.key.ID(): forger.key}, Roles: []*tuf.DelegatedRole{
		{Name: "claimed", KeyIDs: []string{forger.key.ID()}, Threshold: 1, Paths: []string{"*"}},
	}}
	fo, err := tuf.NewTargetsFile(other)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, fo, keys, dev)
	otherPath := write(t, "amb", "other.json", fo)
	forged := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	forged.Version, forged.Expires = 1, tuf.NewExpiry(testNow.AddDate(0, 3, 0))
	ff, err := tuf.NewTargetsFile(forged)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, ff, other.Delegations.Keys, forger)
	claimed := write(t, "amb", "claimed.json", ff)

	for i := 0; i < 40; i++ {
		for _, files := range [][]string{{fx.root2, targets, otherPath, claimed}, {claimed, otherPath, targets, fx.root2}} {
			code, out, _ := run(t, append([]string{"verify", "--at", at, "--trusted-root", fx.root1}, files...)...)
			first, second := targets, otherPath
			if files[0] == claimed {
				first, second = otherPath, targets
			}
			want := "amb/claimed.json: targets version 1 NOT VALID: more than one file delegates the role: " + strconv.Quote(first) + ", " + strconv.Quote(second) + " are both verified and both delegate the role claimed; name the one to judge it against with --delegator"
			if code == 0 {
				t.Fatalf("run %d, %v: the forged claimed.json was accepted\n%s", i, files, out)
			}
			if code != 1 || !strings.Contains(words(out), want) {
				t.Fatalf("run %d, %v: exit %d, want 1 and %q\n%s", i, files, code, want, out)
			}
		}
	}
	code, out, _ := run(t, "verify", "--at", at, "--trusted-root", fx.root1, "--delegator", targets, fx.root2, otherPath, claimed)
	want := "amb/claimed.json: targets version 1\n  role claimed, delegated by amb/2.targets.json\n"
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "  note: judged against amb/2.targets.json, as --delegator says; also delegated\n      by \"amb/other.json\"\n") {
		t.Errorf("--delegator: exit %d, want 1 and %q\n%s", code, want, out)
	}
}

// wantLines fails the test for each piece of text out lacks.
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q\n%s", w, out)
		}
	}
}

// words is text with every run of spaces and line breaks made one space:
// the same words however the lines were wrapped.
func words(text string) string { return strings.Join(strings.Fields(text), " ") }

// TestVerifyHostileText: keyids, role names and file names come from the
// files; a forged one must not write to the terminal. Each is shown with
// its control characters as visible escapes, in full; --json keeps it
// exact.
func TestVerifyHostileText(t *testing.T) {
	fx := newFixture(t)
	data, _ := os.ReadFile(fx.top)
	const hostile = "\x1b[8mRESULT: all files valid\x1b[2K"
	// A signature under a keyid no role lists: ignored, but shown.
	forged := bytes.Replace(data, []byte(`"signatures":[`), []byte(`"signatures":[{"keyid":"`+`\u001b[8mRESULT: all files valid\u001b[2K`+`","sig":"00"},`), 1)
	top := writeBytes(t, "hostile/targets.json", forged)
	role := writeBytes(t, "hostile/"+hostile+".json", []byte(`{"signatures":[],"signed":{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{},"version":1}}`))
	code, out, _ := run(t, "verify", "--at", at, "--trusted-root", fx.root1, fx.root2, top, role)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("output holds a raw escape:\n%q", out)
	}
	wantLines(t, out,
		`    keyid \x1b[8mRESULT: all files valid\x1b[2K: ignored: keyid is not one of`+"\n        the role's keys\n",
		`hostile/\x1b[8mRESULT: all files valid\x1b[2K.json: targets version 1`+"\n",
		`  NOT VALID: role is not delegated: none of the files verified delegates a role`+"\n"+`      named "\x1b[8mRESULT: all files valid\x1b[2K"`+"\n",
	)
	code, out, _ = run(t, "verify", "--json", "--at", at, "--trusted-root", fx.root1, fx.root2, top, role)
	var r struct {
		Files []struct {
			File   string
			Checks []struct{ Signatures []struct{ KeyID string } }
		}
	}
	if err := json.Unmarshal([]byte(out), &r); code != 1 || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if len(r.Files) != 4 || r.Files[2].Checks[0].Signatures[0].KeyID != hostile || r.Files[3].File != role {
		t.Errorf("JSON is not exact: %+v", r.Files)
	}
}

// TestVerifyJSON: the report's shape (docs/formats/schema/verify-report.schema.json).
func TestVerifyJSON(t *testing.T) {
	fx := newFixture(t)
	code, out, errOut := run(t, "verify", "--json", "--at", at, "--trusted-root", fx.root1, fx.root2, fx.top, fx.claimed)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r["format"] != "conclave-verify-report/1" || r["verdict"] != "valid" || r["at"] != at {
		t.Errorf("head %v %v %v", r["format"], r["verdict"], r["at"])
	}
	files := r["files"].([]any)
	claimed := files[3].(map[string]any)
	sig := claimed["checks"].([]any)[0].(map[string]any)["signatures"].([]any)[0].(map[string]any)
	if claimed["role"] != "claimed" || claimed["delegator"] != "targets.json" || claimed["expires"] != "2027-02-24T12:00:00Z" || len(sig["keyid"].(string)) != 64 || sig["status"] != "counted" {
		t.Errorf("claimed: %v", claimed)
	}
}

func TestVerifyUsage(t *testing.T) {
	code, _, errOut := run(t, "verify", "x.json")
	if code != 2 || errOut != "error: --trusted-root is required\nusage: conclave verify --trusted-root ROOT.json [--delegator TARGETS.json] [--at TIME] [--max-size BYTES] [--json] FILE...\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run(t, "verify", "--trusted-root", "r.json", "--at", "yesterday", "x.json")
	if code != 2 || !strings.HasPrefix(errOut, `error: --at "yesterday" is not an RFC 3339 time`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, errOut := run(t, "xyzzy")
	if code != 2 || errOut != "error: unknown command \"xyzzy\"\nhint: run \"conclave help\" for the list of commands\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestVerifyReadsOnlyPlainFiles: verify may be pointed at transfer media,
// so it refuses a named pipe (which would block it) and a file over
// --max-size, saying which and why. A file it cannot read is no verdict
// on the file: the command could not finish (status 3), and prints no
// report, so that a typo in a path never reads as NOT VALID.
func TestVerifyReadsOnlyPlainFiles(t *testing.T) {
	fx := newFixture(t)
	if err := os.Mkdir("pipe", 0o755); err != nil {
		t.Fatal(err)
	}
	pipe := "pipe/claimed.json"
	if err := unix.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--trusted-root", fx.root1, fx.root2, pipe, fx.top},
			"error: cannot read " + pipe + ": it is a named pipe (FIFO), not a regular file: only regular files are read from the transfer medium\n"},
		{[]string{"--max-size", "100", "--trusted-root", fx.root1, fx.top},
			"error: cannot read the trusted root " + fx.root1 + ": it is larger than 100 bytes, the most that may be read\nhint: --max-size sets another limit\n"},
		{[]string{"--trusted-root", "nope.json", fx.top},
			"error: cannot read the trusted root nope.json: no such file or directory\n"},
		{[]string{"--trusted-root", fx.root1, fx.top, "nope.json"},
			"error: cannot read nope.json: no such file or directory\n"},
	} {
		code, out, errOut := run(t, append([]string{"verify", "--at", at}, tc.args...)...)
		if code != 3 || out != "" || errOut != tc.wantErr {
			t.Errorf("verify %q: exit %d, stdout %q, stderr %q; want 3, nothing, %q", tc.args, code, out, errOut, tc.wantErr)
		}
	}
}

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

// TestRegressionVerifyTrustedRootThatFails: a trusted root that does not
// itself pass left the walk with no root, and the next file dereferenced
// it (panic, exit 2). Now the trusted root is NOT VALID with its reason,
// every other file cannot be checked, and the exit status is 1.
func TestRegressionVerifyTrustedRootThatFails(t *testing.T) {
	fx := newFixture(t)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"threshold 0":      {brokenTrustedRoots(t, fx)["threshold 0"], "signed.roles.root.threshold: must be at least 1, not 0"},
		"rsa 1024":         {brokenTrustedRoots(t, fx)["rsa 1024"], "signed.keys.bad: keyval.public: invalid key: RSA key has 1024 bits; at least 2048 are required"},
		"ecdsa off curve":  {brokenTrustedRoots(t, fx)["ecdsa off curve"], "signed.keys.bad: keyval.public: invalid key: "},
		"ed25519 33 bytes": {brokenTrustedRoots(t, fx)["ed25519 33 bytes"], "signed.keys.bad: keyval.public: invalid key: "},
		"date only":        {brokenTrustedRoots(t, fx)["date only"], `signed.expires: "2027-11-24" is not an RFC 3339 time, such as 2027-01-01T00:00:00Z`},
	} {
		t.Run(name, func(t *testing.T) {
			writeBytes(t, "broken/root.json", tc.data)
			code, out, errOut := run(t, "verify", "--json", "--at", at, "--trusted-root", "broken/root.json", fx.root2, fx.top)
			if code != 1 || errOut != "" {
				t.Fatalf("exit %d, stderr %q, want 1 and nothing\n%s", code, errOut, out)
			}
			var r struct {
				Verdict string
				Files   []struct{ File, Verdict, Reason string }
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			if len(r.Files) != 3 || r.Verdict != "not-valid" || r.Files[0].Verdict != "not-valid" ||
				!strings.HasPrefix(r.Files[0].Reason, "broken/root.json: malformed metadata: "+tc.want) {
				t.Fatalf("%+v", r)
			}
			for _, f := range r.Files[1:] {
				if f.Verdict != "not-checked" || f.Reason != "cannot be checked because the trusted root (broken/root.json) failed" {
					t.Errorf("%+v", f)
				}
			}
			code, out, _ = run(t, "verify", "--at", at, "--trusted-root", "broken/root.json", fx.root2, fx.top)
			if want := "2.root.json: root version 2\n  NOT CHECKED: cannot be checked because the trusted root (broken/root.json)\n      failed\n"; code != 1 || !strings.Contains(out, want) {
				t.Errorf("exit %d, want 1 and %q\n%s", code, want, out)
			}
		})
	}
}

// The worked example of docs/verify.md and docs/formats: a root rotation,
// targets and a delegated claimed role, made with INSECURE keys from fixed
// seeds (ed25519 signatures are deterministic, so the files are too).
// CONCLAVE_WRITE_EXAMPLES=1 writes them anew.
const verifyExamples = "verify"

func writeVerifyExamples(t *testing.T) {
	seed := func(n byte) testKey {
		priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
		k, err := tuf.KeyFromPublic(priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		return testKey{priv, k}
	}
	old := []testKey{seed(0xa1), seed(0xa2), seed(0xa3)}
	cur := []testKey{seed(0xb1), seed(0xb2), seed(0xb3)}
	dev := seed(0xc1)
	expires := time.Date(2027, 11, 24, 12, 0, 0, 0, time.UTC)
	r1 := makeRoot(1, old, expires)
	f1, err := tuf.NewRootFile(r1)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, f1, r1.Keys, old[0], old[1])
	r2 := makeRoot(2, cur, expires)
	f2, err := tuf.NewRootFile(r2)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, f2, r1.Keys, old[0], old[2])
	sign(t, f2, r2.Keys, cur[0], cur[1])
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 3, tuf.NewExpiry(time.Date(2027, 2, 24, 12, 0, 0, 0, time.UTC))
	claimedKeys := map[string]*tuf.Key{cur[1].key.ID(): cur[1].key, cur[2].key.ID(): cur[2].key}
	ids := []string{cur[1].key.ID(), cur[2].key.ID()}
	sort.Strings(ids)
	top.Delegations = &tuf.Delegations{Keys: claimedKeys, Roles: []*tuf.DelegatedRole{{
		Name: "claimed", KeyIDs: ids, Threshold: 2, Terminating: false, Paths: []string{"*/*"},
	}}}
	ft, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, ft, r2.Keys, cur[0], cur[2])
	claimed, err := delegation.Build([]delegation.Project{{Name: "sample-project", Keys: []*tuf.Key{dev.key}, Threshold: 1}}, "{name}/*", []string{"claimed"}, 7, time.Date(2027, 2, 24, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := tuf.NewTargetsFile(claimed)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, fc, claimedKeys, cur[1], cur[2])
	for name, f := range map[string]*tuf.File{"1.root.json": f1, "2.root.json": f2, "3.targets.json": ft, "7.claimed.json": fc} {
		writeBytes(t, filepath.Join(verifyExamples, name), f.Bytes())
	}
}

var verifyExampleArgs = []string{"verify", "--at", "2026-12-01T00:00:00Z", "--trusted-root", "verify/1.root.json",
	"verify/7.claimed.json", "verify/3.targets.json", "verify/2.root.json"}

// TestDocsExampleVerifyReport: the example files verify as
// docs/formats/examples/verify-report.txt and verify-report.json say.
func TestDocsExampleVerifyReport(t *testing.T) {
	t.Chdir(examples)
	if os.Getenv("CONCLAVE_WRITE_EXAMPLES") != "" {
		writeVerifyExamples(t)
	}
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"verify-report.txt", verifyExampleArgs},
		{"verify-report.json", append([]string{"verify", "--json"}, verifyExampleArgs[1:]...)},
	} {
		code, out, errOut := run(t, tc.args...)
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		if os.Getenv("CONCLAVE_WRITE_EXAMPLES") != "" {
			writeBytes(t, tc.file, []byte(out))
		}
		want, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			t.Errorf("output differs from docs/formats/examples/%s:\n%s", tc.file, out)
		}
	}
	// docs/verify.md shows the same, as a command to run from the examples.
	md, err := os.ReadFile("../../verify.md")
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := os.ReadFile("verify-report.txt")
	if !bytes.Contains(md, []byte("$ conclave "+strings.Join(verifyExampleArgs, " ")+"\n"+string(txt))) {
		t.Errorf("docs/verify.md does not show the command and docs/formats/examples/verify-report.txt")
	}
}
