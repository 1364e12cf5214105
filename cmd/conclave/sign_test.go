package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/journal"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/partial"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	pgpwords "github.com/conclave-keys/conclave/ceremony/words"
)

// siteAScript is the first site's: Holder 1 alone signs, so the
// threshold of 2 is not met and a partial is exported.
var siteAScript = strings.Replace(ceremonyScript, "signing: [Holder 1, Holder 2, Holder 3]\nclose: {sign_head: [Holder 3]}\n", "signing: [Holder 1]\n", 1)

// siteBScript is the second site's: Holders 2 and 3 are there, the
// decisions are the first site's.
var siteBScript = `format: conclave-ceremony-script/1
rehearsal: "the second site of the two-site test"
participants: [Holder 2, Holder 3]
witnesses: [Walter]
clock: {time: "` + ceremonyNow.Add(2*time.Hour).Format(time.RFC3339) + `"}
decisions:
  by: Holder 2
signing: [Holder 2]
`

// twoSites is the fixture's vault at site A and a copy of it at site B,
// made before anything is signed; the partial site A exported.
type twoSites struct {
	fx      *ceremonyFixture
	vaultB  string
	partial string
	digest  string
	id      string
}

func newTwoSites(t *testing.T) *twoSites {
	t.Helper()
	pins := pinFile(t, 1)
	defer pins.Close()
	return newTwoSitesWith(t, newCeremonyFixture(t), siteAScript, "Holder 1", pins)
}

// newTwoSitesWith runs site A on the fixture with the script, in which
// signer alone signs, its PIN read from pins.
func newTwoSitesWith(t *testing.T, fx *ceremonyFixture, script, signer string, pins *os.File) *twoSites {
	t.Helper()
	ts := &twoSites{fx: fx, vaultB: filepath.Join(fx.dir, "vault-b"), partial: filepath.Join(fx.dir, "partial-a")}
	if out, err := exec.Command("cp", "-a", fx.vault, ts.vaultB).CombinedOutput(); err != nil {
		t.Fatalf("copy the vault: %v\n%s", err, out)
	}
	fx.script = fx.writeScript(t, "site-a.yaml", script)
	code, stdout, stderr := run(t, append(fx.args(ts.partial, pins.Fd()), "--export-partial")...)
	if code != 0 {
		t.Fatalf("site A: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"  " + signer + " signed claimed\n  claimed: 1 of 3 holders signed, threshold 2 not met\n",
		"\nPartial exported to " + ts.partial + " and read back; carry it to the next site:\n  8.claimed.partial.json\n  bundle.copy\n  partial.json\n",
		"Read out to the next site, over another channel than the medium, the digest:\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("site A's stdout lacks %q:\n%s", want, stdout)
		}
	}
	data, err := os.ReadFile(filepath.Join(ts.partial, partial.Name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := partial.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	ts.digest, ts.id = p.Digest, p.Ceremony
	return ts
}

func (ts *twoSites) signArgs(in, out, script string, pinFD uintptr, digest string) []string {
	return ts.signAt(ts.vaultB, in, out, script, pinFD, digest)
}

func (ts *twoSites) signAt(vaultDir, in, out, script string, pinFD uintptr, digest string) []string {
	return []string{"sign", "--vault", vaultDir, "--in", in, "--out", out, "--script", script, "--softkey-dir", ts.fx.keys, "--pin-fd", fmt.Sprint(pinFD), "--confirm-digest", digest}
}

// TestTwoSitesSoftkeys: Holder 1 signs at site A, which exports a
// partial and registers the payload; site B rebuilds it from its own
// vault, checks the digest read out, adds Holder 2's signature and
// exports the metadata, signed by both; each site's log is its own,
// under the same ceremony id, with the same payload hash.
func TestTwoSitesSoftkeys(t *testing.T) {
	ts := newTwoSites(t)
	fx := ts.fx
	vA := fx.openVault(t)
	reg, ok := vA.Register.Lookup("claimed", 8)
	if !ok || vA.Delegators["claimed"].Version() != 7 || vA.LastCeremonyID != ts.id {
		t.Fatalf("site A's vault after the partial: claimed version %d, register %v, last ceremony %s", vA.Delegators["claimed"].Version(), vA.Register, vA.LastCeremonyID)
	}
	script := fx.writeScript(t, "site-b.yaml", siteBScript)
	out := filepath.Join(fx.dir, "export-b")
	pins := pinFile(t, 1)
	defer pins.Close()
	code, stdout, stderr := run(t, ts.signArgs(ts.partial, out, script, pins.Fd(), ts.digest)...)
	if code != 0 {
		t.Fatalf("site B: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"Ceremony " + ts.id + " opened on vault generation gen-000001\n",
		"  the first site's decisions taken (confirmed by Holder 2)\n",
		"  rebuilt from this vault: byte for byte the partial's payload\n",
		"  Holder 1 signed claimed at an earlier site (checked here)\n",
		"  claimed version 8\n    expires  " + ceremonyNow.AddDate(0, 0, 90).Format(time.RFC3339) + " (90 days after the confirmed time)\n",
		"  Holder 2 signed claimed\n  claimed: 2 of 3 holders signed, threshold 2 met\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("site B's stdout lacks %q:\n%s", want, stdout)
		}
	}
	final := fx.checkExport(t, out, 8)
	f, err := tuf.Parse("8.claimed.json", final)
	if err != nil {
		t.Fatal(err)
	}
	if got := bundle.SumHex(f.SignedBytes()); got != reg {
		t.Errorf("site B signed payload %s, site A registered %s", got, reg)
	}
	vB := openVaultAt(t, ts.vaultB)
	if vB.Delegators["claimed"].Version() != 8 || vB.LastCeremonyID != ts.id {
		t.Errorf("site B's vault: claimed version %d, last ceremony %s", vB.Delegators["claimed"].Version(), vB.LastCeremonyID)
	}
	// Site B's log: the partial joined, the decisions adopted, the
	// payload hash of site A's, the witness's note of the digest.
	log := ceremonyLog(vB, ts.id)
	entries, _, err := transcript.Parse(log)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range entries {
		types = append(types, e.Type)
	}
	if got := strings.Join(types, " "); got != "opened preflight clock joined imported adopted built merged noted signed exported closed" {
		t.Errorf("site B's events: %s", got)
	}
	if !strings.Contains(string(log), `"payload_sha256":"`+reg+`"`) || !strings.Contains(string(log), "the summary digest "+ts.digest+" rebuilt here is the one the first site read out") {
		t.Errorf("site B's log lacks the payload hash or the digest note:\n%s", log)
	}
	noPIN(t, fx.dir, stdout, stderr)
}

// signB runs site B's ceremony on site A's partial, Holder 2 signing,
// and returns its export directory.
func (ts *twoSites) signB(t *testing.T) string {
	t.Helper()
	script := ts.fx.writeScript(t, "site-b.yaml", siteBScript)
	out := filepath.Join(ts.fx.dir, "export-b")
	pins := pinFile(t, 1)
	defer pins.Close()
	if code, stdout, stderr := run(t, ts.signArgs(ts.partial, out, script, pins.Fd(), ts.digest)...); code != 0 {
		t.Fatalf("site B: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	return out
}

// ceremonyLog is the log a vault generation keeps of a ceremony.
func ceremonyLog(v *vault.Vault, id string) []byte {
	for _, file := range v.Files() {
		if file.Name == vault.CeremoniesDir+"/"+id+"/"+journal.LogName {
			return file.Data
		}
	}
	return nil
}

func openVaultAt(t *testing.T, dir string) *vault.Vault {
	t.Helper()
	fx := &ceremonyFixture{vault: dir}
	return fx.openVault(t)
}

// TestTwoSitesRefused: what site B refuses before anybody signs there,
// and the message it gives.
func TestTwoSitesRefused(t *testing.T) {
	ts := newTwoSites(t)
	fx := ts.fx
	script := fx.writeScript(t, "site-b.yaml", siteBScript)
	reseal := func(t *testing.T, change func(p *partial.Partial, dir string)) string {
		dir := filepath.Join(t.TempDir(), "partial")
		if out, err := exec.Command("cp", "-a", ts.partial, dir).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		data, _ := os.ReadFile(filepath.Join(dir, partial.Name))
		p, err := partial.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		change(p, dir)
		for i, r := range p.Roles {
			b, _ := os.ReadFile(filepath.Join(dir, r.Metadata))
			f, err := tuf.Parse(r.Metadata, b)
			if err != nil {
				t.Fatal(err)
			}
			p.Roles[i].MetadataSHA256, p.Roles[i].PayloadSHA256 = bundle.SumHex(b), bundle.SumHex(f.SignedBytes())
		}
		if err := os.WriteFile(filepath.Join(dir, partial.Name), p.Encode(), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name   string
		in     func(t *testing.T) string
		digest string
		want   string
	}{{
		// The courier carries another payload than the one site A signed.
		name: "payload swapped",
		in: func(t *testing.T) string {
			return reseal(t, func(p *partial.Partial, dir string) {
				name := filepath.Join(dir, "8.claimed.partial.json")
				b, _ := os.ReadFile(name)
				f, _ := tuf.Parse("8.claimed.partial.json", b)
				tg := *f.Targets
				tg.Expires = tuf.NewExpiry(f.Expires().Time.AddDate(1, 0, 0))
				g, err := tuf.NewTargetsFile(&tg)
				if err != nil {
					t.Fatal(err)
				}
				g.Signatures = f.Signatures
				os.Remove(name)
				if err := os.WriteFile(name, g.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
			})
		},
		want: "\nThe partial is REFUSED: build: claimed: the partial carries version 8 with payload ",
	}, {
		name:   "digest read out differs",
		in:     func(*testing.T) string { return ts.partial },
		digest: strings.Repeat("0", 64),
		want:   "\nThe partial is REFUSED: the payload rebuilt here is not the partial's: the summary digest rebuilt here is " + ts.digest + ", not the " + strings.Repeat("0", 64) + " the first site read out (--confirm-digest)\n",
	}, {
		name: "a file the partial does not list",
		in: func(t *testing.T) string {
			dir := reseal(t, func(*partial.Partial, string) {})
			if err := os.WriteFile(filepath.Join(dir, "extra.json"), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		},
		want: "",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			digest := ts.digest
			if tc.digest != "" {
				digest = tc.digest
			}
			pins := pinFile(t, 1)
			defer pins.Close()
			// Each case at a site B of its own: a refused partial ends
			// that site's ceremony.
			vaultB := filepath.Join(t.TempDir(), "vault-b")
			if out, err := exec.Command("cp", "-a", ts.vaultB, vaultB).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			code, stdout, stderr := run(t, ts.signAt(vaultB, tc.in(t), filepath.Join(t.TempDir(), "out"), script, pins.Fd(), digest)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if tc.want != "" && !strings.Contains(stdout, tc.want) {
				t.Errorf("stdout lacks %q:\n%s", tc.want, stdout)
			}
			if tc.want == "" && !strings.Contains(stderr, "error: the partial directory holds \"extra.json\" (a regular file), which partial.json does not list\n") {
				t.Errorf("stderr:\n%s", stderr)
			}
			if strings.Contains(stdout, "Holder 2 signed claimed") {
				t.Errorf("a holder signed at site B:\n%s", stdout)
			}
		})
	}
}

// TestVaultSyncAfterTwoSites: site A's vault, which registered version 8
// when it exported the partial, takes the metadata site B completed once
// it is published; both vaults then agree. What is not signed to
// threshold by the vault's keys, an older version, and another payload
// for a registered version are refused, and nothing is written.
func TestVaultSyncAfterTwoSites(t *testing.T) {
	ts := newTwoSites(t)
	fx := ts.fx
	out := ts.signB(t)
	final, err := os.ReadFile(filepath.Join(out, "8.claimed.json"))
	if err != nil {
		t.Fatal(err)
	}
	publish := func(t *testing.T, files map[string][]byte) string {
		dir := filepath.Join(t.TempDir(), "published")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for n, b := range files {
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	before := fx.openVault(t)
	partialData, err := os.ReadFile(filepath.Join(ts.partial, "8.claimed.partial.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Another payload for version 8, signed to threshold by Holders 1 and
	// 2: what a compromised site could make, never what site A registered.
	other, err := tuf.Parse("8.claimed.json", final)
	if err != nil {
		t.Fatal(err)
	}
	tg := *other.Targets
	tg.Expires = tuf.NewExpiry(other.Expires().Time.AddDate(0, 0, 1))
	forged, err := tuf.NewTargetsFile(&tg)
	if err != nil {
		t.Fatal(err)
	}
	keys := before.Targets.Targets.Delegations.Keys
	for _, h := range fx.holders[:2] {
		if err := forged.Sign(keys, h.Key.ID(), h.Signer); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"one signature", map[string][]byte{"8.claimed.json": partialData}, "error: sync claimed: the published metadata does not verify against the vault: 8.claimed.json is not-valid: "},
		{"another payload for a registered version", map[string][]byte{"8.claimed.json": forged.Bytes()}, "error: sync claimed: a different payload is registered for this role and version: 8.claimed.json is version 8 with payload " + bundle.SumHex(forged.SignedBytes()) + ", the register holds " + bundle.SumHex(other.SignedBytes()) + " for it\n"},
		{"two files of one version", map[string][]byte{"8.claimed.json": final, "claimed.json": forged.Bytes()}, "error: sync claimed: 8.claimed.json and claimed.json both publish version 8, with other bytes\n"},
		{"not published", map[string][]byte{"targets.json": before.Targets.Bytes()}, "error: sync claimed: the role's metadata is not published: neither claimed.json nor N.claimed.json is among the published files\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "vault", "sync", "--vault", fx.vault, "--published", publish(t, tc.files))
			if code != 1 || !strings.HasPrefix(stderr, tc.want) {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr starting %q", code, stdout, stderr, tc.want)
			}
			if v := fx.openVault(t); v.Generation != before.Generation {
				t.Errorf("a refused sync wrote generation %s", v.Generation)
			}
		})
	}
	// Site B's vault holds version 8: the fixture's version 7 is older.
	code, _, stderr := run(t, "vault", "sync", "--vault", ts.vaultB, "--published", publish(t, map[string][]byte{"7.claimed.json": before.Delegators["claimed"].Bytes()}))
	if want := "error: sync claimed: the published version is older than the vault's: 7.claimed.json is version 7, the vault holds version 8\n"; code != 1 || stderr != want {
		t.Errorf("backwards: exit %d, stderr %q, want %q", code, stderr, want)
	}

	dir := publish(t, map[string][]byte{"8.claimed.json": final, "claimed.json": final, "7.claimed.json": before.Delegators["claimed"].Bytes(), "targets.json": before.Targets.Bytes()})
	code, stdout, stderr := run(t, "vault", "sync", "--vault", fx.vault, "--published", dir)
	if code != 0 || !strings.HasPrefix(stdout, "claimed: version 7 → 8 (8.claimed.json, payload "+bundle.SumHex(other.SignedBytes())+"), verified against the vault's root chain\nVault generation gen-000003 written and read back.\n") {
		t.Fatalf("sync: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	vA, vB := fx.openVault(t), openVaultAt(t, ts.vaultB)
	if string(vA.Delegators["claimed"].Bytes()) != string(vB.Delegators["claimed"].Bytes()) {
		t.Error("after the sync the vaults hold different claimed metadata")
	}
	for _, v := range []*vault.Vault{vA, vB} {
		if h, _ := v.Register.Lookup("claimed", 8); h != bundle.SumHex(other.SignedBytes()) {
			t.Errorf("vault %s registers claimed version 8 as %s", v.Generation, h)
		}
	}
	if vA.LastCeremonyID != before.LastCeremonyID {
		t.Errorf("the sync changed the last ceremony to %s", vA.LastCeremonyID)
	}
	code, stdout, _ = run(t, "vault", "sync", "--vault", fx.vault, "--published", dir)
	if code != 0 || stdout != "claimed: version 8, as the vault holds it\nThe vault holds every published version already: generation gen-000003 is unchanged.\n" {
		t.Errorf("a second sync: exit %d\n%s", code, stdout)
	}
}

// TestTwoSitesResume: site B's ceremony stopped at its holder's PIN
// (none given) continues with sign --resume: nothing is joined, adopted
// or merged twice, and the holder signs once.
func TestTwoSitesResume(t *testing.T) {
	ts := newTwoSites(t)
	fx := ts.fx
	script := fx.writeScript(t, "site-b.yaml", siteBScript)
	out := filepath.Join(fx.dir, "export-b")
	none := pinFile(t, 0)
	defer none.Close()
	code, stdout, stderr := run(t, ts.signArgs(ts.partial, out, script, none.Fd(), ts.digest)...)
	if code == 0 || !strings.Contains(stderr, "continue it with: conclave sign --resume ") {
		t.Fatalf("without a PIN: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	logDir := filepath.Join(ts.vaultB, "journal", ts.id)
	pins := pinFile(t, 1)
	defer pins.Close()
	// The digest as the paper log holds it: numbered groups.
	groups := strings.Join(pgpwords.Groups(ts.digest), " ")
	code, stdout, stderr = run(t, "sign", "--resume", logDir, "--in", ts.partial, "--out", out, "--script", script,
		"--softkey-dir", fx.keys, "--pin-fd", fmt.Sprint(pins.Fd()), "--confirm-digest", groups)
	if code != 0 {
		t.Fatalf("resume: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Resuming ceremony "+ts.id+": ") || !strings.Contains(stdout, "  Holder 2 signed claimed\n") {
		t.Errorf("resume stdout:\n%s", stdout)
	}
	fx.checkExport(t, out, 8)
	log := ceremonyLog(openVaultAt(t, ts.vaultB), ts.id)
	for _, typ := range []string{"joined", "adopted", "merged", "signed"} {
		if n := strings.Count(string(log), `"type":"`+typ+`"`); n != 1 {
			t.Errorf("site B's log holds %d %s lines, want 1", n, typ)
		}
	}
}

// TestSignDigestForms: the digest is read as 64 hex digits or as the
// numbered groups printed; groups out of order, missing or short are a
// command-line mistake.
func TestSignDigestForms(t *testing.T) {
	h := "e9d8984af64986ce5f8c22bacc772dad9acc5b1fc7818cc549856ab15fec361a"
	groups := pgpwords.Groups(h)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{h, true},
		{strings.Join(groups, " "), true},
		{" " + strings.Join(groups, "  ") + "\n", true},
		{strings.Join(append([]string{groups[1], groups[0]}, groups[2:]...), " "), false},
		{strings.Join(groups[:15], " "), false},
		{strings.ToUpper(h), false},
		{h[:63], false},
		{"1:" + h, false},
	} {
		got, ok := confirmDigest(tc.in)
		if ok != tc.ok || ok && got != h {
			t.Errorf("confirmDigest(%q) = %q, %v; want ok %v", tc.in, got, ok, tc.ok)
		}
	}
	code, _, stderr := run(t, "sign", "--vault", "v", "--in", "p", "--out", "o", "--script", "s", "--confirm-digest", "2:e9d8 1:984a")
	if code != 2 || !strings.HasPrefix(stderr, "error: --confirm-digest must be the summary digest the previous site read out: ") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// TestExportPartialComplete: with --export-partial, a ceremony whose
// holders meet every threshold exports the metadata, not a partial; the
// flag is for a scripted ceremony.
func TestExportPartialComplete(t *testing.T) {
	fx := newCeremonyFixture(t)
	pins := pinFile(t, 5)
	defer pins.Close()
	out := filepath.Join(fx.dir, "export")
	code, stdout, stderr := run(t, append(fx.args(out, pins.Fd()), "--export-partial")...)
	if code != 0 || strings.Contains(stdout, "Partial exported") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	fx.checkExport(t, out, 8)
	code, _, stderr = run(t, "ceremony", "--vault", fx.vault, "--in", fx.bundle, "--out", filepath.Join(fx.dir, "o2"), "--export-partial")
	if code != 2 || !strings.HasPrefix(stderr, "error: --export-partial is for a scripted ceremony (--script)\n") {
		t.Errorf("without --script: exit %d\n%s", code, stderr)
	}
}

// TestExportPartialAfterWaiver: a ceremony that waived a recovery's
// notice period exports no partial: a refusal (status 1) with a hint,
// the ceremony left to resume.
func TestExportPartialAfterWaiver(t *testing.T) {
	fx := newRecoverFixture(t)
	fx.script = fx.writeScript(t, "recover-one.yaml", strings.Replace(recoverScript, "signing: [Holder 1, Holder 2]\nclose: {sign_head: [Holder 1]}\n", "signing: [Holder 1]\n", 1))
	pins := pinFile(t, 10)
	defer pins.Close()
	code, stdout, stderr := run(t, append(fx.args(filepath.Join(fx.dir, "partial"), pins.Fd()), "--export-partial")...)
	want := "error: " + session.ErrWaiverOneSite.Error() + "\nhint: the holders who meet the threshold sign at this site; resume with them in the script's signing list, or abandon\n"
	if code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr holding %q", code, stdout, stderr, want)
	}
}
