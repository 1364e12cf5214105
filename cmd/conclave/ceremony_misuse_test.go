package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
)

// The ceremony used as its enemies and confused users would: the same
// thing twice, paths that point somewhere else, links planted where it
// writes.

// TestCeremonyTwoAtOnce: while one ceremony waits for a PIN, a second
// on the same vault is refused before it opens a log (status 3), so that
// two ceremonies never build and sign the same next version; the first
// then closes.
func TestCeremonyTwoAtOnce(t *testing.T) {
	conclave, err := exec.LookPath("conclave") // the test binary, set up by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	fx := newCeremonyFixture(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	first := exec.Command(conclave, fx.args(filepath.Join(fx.dir, "export-1"), 3)...)
	first.ExtraFiles = []*os.File{r} // fd 3: no PIN until the second ceremony has been refused
	var out1, err1 bytes.Buffer
	first.Stdout, first.Stderr = &out1, &err1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer first.Process.Kill()
	// The first ceremony has built what it signs when its log holds the
	// build: it waits for Holder 1's PIN then.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		logs, _ := filepath.Glob(filepath.Join(fx.vault, vaultdir.JournalDirName, "*", "log.jsonl"))
		if len(logs) == 1 {
			if data, _ := os.ReadFile(logs[0]); bytes.Contains(data, []byte(`"built"`)) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first ceremony did not reach signing\nstdout:\n%s\nstderr:\n%s", out1.String(), err1.String())
		}
	}
	pins := pinFile(t, 5)
	defer pins.Close()
	second := filepath.Join(fx.dir, "export-2")
	code, stdout, stderr := run(t, fx.args(second, pins.Fd())...)
	want := "error: vault " + fx.vault + ": another ceremony is running on this vault: one ceremony at a time runs on a vault\n"
	if code != 3 || stdout != "" || stderr != want {
		t.Errorf("second ceremony: exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}
	if journals, _ := filepath.Glob(filepath.Join(fx.vault, vaultdir.JournalDirName, "*")); len(journals) != 1 {
		t.Errorf("journals: %q, want the first ceremony's only", journals)
	}
	if _, err := os.Stat(second); !os.IsNotExist(err) {
		t.Errorf("the second ceremony exported: %v", err)
	}
	fmt.Fprint(w, strings.Repeat(ceremonyPass+"\n", 3))
	w.Close()
	if err := first.Wait(); err != nil {
		t.Fatalf("first ceremony: %v\nstdout:\n%s\nstderr:\n%s", err, out1.String(), err1.String())
	}
	if v := fx.openVault(t); v.Generation != "gen-000002" || v.Delegators["claimed"].Version() != 8 {
		t.Errorf("vault %s, claimed version %d", v.Generation, v.Delegators["claimed"].Version())
	}
}

// TestCeremonyJournalLink: a vault whose journal directory is a symbolic
// link is refused before any log is written, and nothing is made where
// the link points.
func TestCeremonyJournalLink(t *testing.T) {
	fx := newCeremonyFixture(t)
	elsewhere := filepath.Join(fx.dir, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(fx.vault, vaultdir.JournalDirName)); err != nil {
		t.Fatal(err)
	}
	pins := pinFile(t, 5)
	defer pins.Close()
	code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...)
	want := "error: vault " + fx.vault + ": journal: it is a symbolic link, and a vault holds none\n"
	if code != 3 || stdout != "" || stderr != want {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}
	if ents, err := os.ReadDir(elsewhere); err != nil || len(ents) != 0 {
		t.Errorf("written through the link: %v, %v", ents, err)
	}
}

// TestCeremonyOutChecked: an export directory in the vault (the vault
// itself, a directory in it, the name of its next generation), one
// reached through a symbolic link, and one that is not empty, are each
// refused before the ceremony opens its log: no holder signs for an
// export that cannot be written.
func TestCeremonyOutChecked(t *testing.T) {
	fx := newCeremonyFixture(t)
	elsewhere := filepath.Join(fx.dir, "elsewhere")
	full := filepath.Join(fx.dir, "full")
	for _, d := range []string{elsewhere, full} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(full, "old.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(fx.dir, "link")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	inVault := func(out string) string {
		return "error: --out " + out + " is in the vault " + fx.vault + ": the export goes on the transfer medium, and nothing but the ceremony's own files is written into the vault\n"
	}
	for _, c := range []struct {
		out  string
		code int
		want string
	}{
		{fx.vault, 2, inVault(fx.vault)},
		{filepath.Join(fx.vault, "export"), 2, inVault(filepath.Join(fx.vault, "export"))},
		{filepath.Join(fx.vault, "gen-000002"), 2, inVault(filepath.Join(fx.vault, "gen-000002"))},
		{filepath.Join(link, "vault-too"), 3, "error: export " + filepath.Join(link, "vault-too") + ": " + link + " is a symbolic link: symbolic links on the transfer medium are never followed; nothing was written\n"},
		{link, 3, "error: export " + link + ": " + link + " is a symbolic link: symbolic links on the transfer medium are never followed; nothing was written\n"},
		{full, 3, "error: export to " + full + ": the export directory is not empty: export into a new, empty directory (it holds \"old.json\"); nothing was written\nhint: name a new directory on the transfer medium with --out; nothing was signed\n"},
	} {
		pins := pinFile(t, 5)
		code, stdout, stderr := run(t, fx.args(c.out, pins.Fd())...)
		pins.Close()
		if code != c.code || stdout != "" || !strings.HasPrefix(stderr, c.want) {
			t.Errorf("--out %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", c.out, code, stdout, stderr, c.want)
		}
	}
	if ents, err := os.ReadDir(fx.vault); err != nil || len(ents) != 2 {
		t.Errorf("the vault holds %v (%v), want CURRENT and gen-000001 only", ents, err)
	}
	if ents, err := os.ReadDir(elsewhere); err != nil || len(ents) != 0 {
		t.Errorf("written through the link: %v, %v", ents, err)
	}
}

// TestCeremonyInNotABundle: --in naming an export, the vault, or a
// directory without a bundle's manifest is a mistake in the command line
// (status 2), said before the ceremony opens a log; before, the bundle
// was refused as missing its manifest and the ceremony abandoned.
func TestCeremonyInNotABundle(t *testing.T) {
	fx := newCeremonyFixture(t)
	export := filepath.Join(fx.dir, "export")
	if err := os.Mkdir(export, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(export, "export-manifest.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	requests := filepath.Join(fx.bundle, "requests")
	for _, c := range []struct{ in, want string }{
		{export, "error: --in " + export + " is the export of a ceremony (it holds export-manifest.json), not a bundle: name the bundle directory the online side packed (it holds manifest.json)\n"},
		{fx.vault, "error: --in " + fx.vault + " is a vault (it holds CURRENT), not a bundle: name the vault with --vault, and the bundle directory with --in\n"},
		{requests, "error: --in " + requests + " holds no manifest.json, so it is not a bundle: name the bundle directory the online side packed\n"},
	} {
		pins := pinFile(t, 5)
		args := fx.args(filepath.Join(fx.dir, "out"), pins.Fd())
		args[slicesIndex(args, "--in")+1] = c.in
		code, stdout, stderr := run(t, args...)
		pins.Close()
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, c.want) {
			t.Errorf("--in %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", c.in, code, stdout, stderr, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(fx.vault, "journal")); !os.IsNotExist(err) {
		t.Errorf("a ceremony was opened: %v", err)
	}
}

// TestDamagedVaultRefused: a vault whose CURRENT is garbled, a link, or
// names a generation that is missing or has another manifest is refused
// (status 1, as a vault that does not verify) by the ceremony, import
// and vault show alike, naming the file; a vault without CURRENT is not
// a vault (status 3). Before, the ceremony and import ended with status 3,
// vault show with 1 or 3.
func TestDamagedVaultRefused(t *testing.T) {
	fx := newCeremonyFixture(t)
	current := filepath.Join(fx.vault, vaultdir.CurrentFile)
	good, err := os.ReadFile(current)
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Fields(string(good))[1]
	write := func(data string) func() error {
		return func() error { return os.WriteFile(current, []byte(data), 0o600) }
	}
	for _, c := range []struct {
		damage func() error
		code   int
		want   string
	}{
		{write("../../etc " + hash + "\n"), 1, "CURRENT is not one line \"gen-NNNNNN <sha256>\""},
		{write("gen-000007 " + hash + "\n"), 1, "CURRENT names generation gen-000007, and the vault holds no directory gen-000007"},
		{write("gen-000001 " + strings.Repeat("0", 64) + "\n"), 1, "CURRENT names generation gen-000001 with hash " + strings.Repeat("0", 64) + ", but its generation.json hashes to " + hash},
		{func() error {
			if err := os.Rename(current, current+".real"); err != nil {
				return err
			}
			return os.Symlink(current+".real", current)
		}, 1, "CURRENT: it is a symbolic link, and a vault holds none"},
		{func() error { return os.Remove(current) }, 3, "the vault holds no generation: there is no CURRENT file"},
	} {
		os.Remove(current + ".real")
		if err := c.damage(); err != nil {
			t.Fatal(err)
		}
		want := "error: vault " + fx.vault + ": " + c.want + "\n"
		pins := pinFile(t, 5)
		code, _, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...)
		pins.Close()
		if code != c.code || !strings.HasPrefix(stderr, want) {
			t.Errorf("ceremony: exit %d, stderr:\n%s\nwant %d:\n%s", code, stderr, c.code, want)
		}
		code, _, stderr = run(t, "import", "--dry-run", "--vault", fx.vault, fx.bundle)
		if code != c.code || !strings.HasPrefix(stderr, want) {
			t.Errorf("import: exit %d, stderr:\n%s\nwant %d:\n%s", code, stderr, c.code, want)
		}
		code, _, stderr = run(t, "vault", "show", fx.vault)
		if code != c.code || !strings.HasPrefix(stderr, want) {
			t.Errorf("vault show: exit %d, stderr:\n%s\nwant %d:\n%s", code, stderr, c.code, want)
		}
		os.Remove(current)
		if err := os.WriteFile(current, good, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCeremonySignerNotAHolder: a script whose signing list names a
// participant the policy does not list as a holder is refused (status 1)
// before the ceremony opens its log; before, it stopped after the review,
// at "sign as".
func TestCeremonySignerNotAHolder(t *testing.T) {
	fx := newCeremonyFixture(t)
	for _, c := range []struct{ old, new, want string }{
		{"signing: [Holder 1,", "signing: [Mallory, Holder 1,", "error: signing: \"Mallory\" is not a holder of the vault's policy (its holders: Holder 1, Holder 2, Holder 3)\n"},
		{"sign_head: [Holder 3]", "sign_head: [Mallory]", "error: close.sign_head: \"Mallory\" is not a holder of the vault's policy (its holders: Holder 1, Holder 2, Holder 3)\n"},
	} {
		text := strings.Replace(ceremonyScript, "participants: [Holder 1, Holder 2, Holder 3]", "participants: [Holder 1, Holder 2, Holder 3, Mallory]", 1)
		fx.script = fx.writeScript(t, "mallory.yaml", strings.Replace(text, c.old, c.new, 1))
		pins := pinFile(t, 5)
		code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...)
		pins.Close()
		if code != 1 || stdout != "" || stderr != c.want {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, c.want)
		}
	}
	if journals, _ := filepath.Glob(filepath.Join(fx.vault, vaultdir.JournalDirName, "*")); len(journals) != 0 {
		t.Errorf("a ceremony was opened: %q", journals)
	}
}

// TestAdoptOutLink: vault adopt --out naming a symbolic link (to an
// empty directory) is refused before any holder is asked for a PIN;
// before, the holders signed and the new vault was refused only then.
func TestAdoptOutLink(t *testing.T) {
	fx := newCeremonyFixture(t)
	meta := filepath.Join(fx.dir, "metadata")
	gen := filepath.Join(fx.vault, "gen-000001")
	for from, to := range map[string]string{"root/1.root.json": "1.root.json", "metadata/targets.json": "targets.json", "metadata/claimed.json": "claimed.json", "policy.yaml": "policy.yaml"} {
		data, err := os.ReadFile(filepath.Join(gen, from))
		if err != nil {
			t.Fatal(err)
		}
		writeBytes(t, filepath.Join(meta, to), data)
	}
	empty, link := filepath.Join(fx.dir, "empty"), filepath.Join(fx.dir, "link")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(empty, link); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runWithPINs(t, strings.Repeat(ceremonyPass+"\n", 2), "vault", "adopt", "--metadata", meta, "--policy", filepath.Join(meta, "policy.yaml"), "--out", link,
		"--sign", "softkey:path="+filepath.Join(fx.keys, "holder2.key.pem"), "--sign", "softkey:path="+filepath.Join(fx.keys, "holder3.key.pem"))
	want := "error: create vault " + link + ": it is a symbolic link, and a vault holds none\n"
	if code != 3 || stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
	if ents, err := os.ReadDir(empty); err != nil || len(ents) != 0 {
		t.Errorf("written through the link: %v, %v", ents, err)
	}
}

// TestCeremonyResumeOlderEnded: resuming a ceremony that closed before
// the vault's last one says it has ended and changes nothing; before, the
// replay was refused as opened on another generation (status 3).
func TestCeremonyResumeOlderEnded(t *testing.T) {
	fx := newCeremonyFixture(t)
	pins := pinFile(t, 5)
	defer pins.Close()
	if code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...); code != 0 {
		t.Fatalf("first ceremony: exit %d\n%s\n%s", code, stdout, stderr)
	}
	first := fx.journal(t)
	// A second ceremony, abandoned: its bundle was imported before.
	fx.script = fx.writeScript(t, "later.yaml", strings.Replace(ceremonyScript, ceremonyNow.Format(time.RFC3339), ceremonyNow.Add(time.Hour).Format(time.RFC3339), 1))
	pins2 := pinFile(t, 5)
	defer pins2.Close()
	if code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export-2"), pins2.Fd())...); code != 1 {
		t.Fatalf("second ceremony: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr := run(t, "ceremony", "--resume", first, "--out", filepath.Join(fx.dir, "export"), "--script", fx.script)
	want := "ceremony " + filepath.Base(first) + " has ended: the vault's current generation gen-000003 holds its log\n"
	if code != 0 || !strings.HasPrefix(stdout, want) || stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}
	if v := fx.openVault(t); v.Generation != "gen-000003" {
		t.Errorf("resuming an ended ceremony wrote generation %s", v.Generation)
	}
}
