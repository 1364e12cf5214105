package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stopAt runs the fixture's ceremony with script text, expecting it to
// stop with its log unfinished, and returns the journal.
func (fx *ceremonyFixture) stopAt(t *testing.T, name, text string) string {
	t.Helper()
	fx.script = fx.writeScript(t, name, text)
	pins := pinFile(t, 5)
	defer pins.Close()
	if code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export-"+name), pins.Fd())...); code == 0 {
		t.Fatalf("exit %d, want the ceremony to stop\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	return fx.journal(t)
}

// TestCeremonyAbandonAtReview: a ceremony stopped at the review is
// abandoned from the command line; the next generation keeps its log,
// records no bundle, and a new ceremony then opens on the vault and
// imports the same bundle again, to its close.
func TestCeremonyAbandonAtReview(t *testing.T) {
	fx := newCeremonyFixture(t)
	journal := fx.stopAt(t, "undecided.yaml", strings.Replace(ceremonyScript, "  approve: [r-add]\n", "", 1))
	id := filepath.Base(journal)
	blocked := pinFile(t, 5)
	defer blocked.Close()
	code, _, stderr := run(t, fx.args(filepath.Join(fx.dir, "export-blocked"), blocked.Fd())...)
	if want := "; or abandon it, burning the versions it built, with: conclave ceremony --resume " + journal + " --abandon REASON --by NAME\n"; code == 0 || !strings.HasSuffix(stderr, want) {
		t.Fatalf("a new ceremony beside the unfinished one: exit %d, stderr:\n%s\nwant its end:\n%s", code, stderr, want)
	}
	code, stdout, stderr := run(t, "ceremony", "--resume", journal, "--abandon", "the room stopped at the review", "--by", "Wendy")
	if code != 0 || stderr != "" {
		t.Fatalf("abandon: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"Abandoning ceremony " + id + " (5 lines replayed, state review) for the reason given by Wendy:\n  the room stopped at the review\n",
		"\nCeremony " + id + " abandoned after 6 lines.\n",
		"and the hash of the vault's generation gen-000002:",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	v := fx.openVault(t)
	if v.Generation != "gen-000002" || !holdsLog(v, id) || v.History.SeenBundle("bundle-0001") {
		t.Fatalf("generation %s: holds the log %v, bundle recorded %v", v.Generation, holdsLog(v, id), v.History.SeenBundle("bundle-0001"))
	}
	log, err := os.ReadFile(filepath.Join(journal, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), `"by":"Wendy","reason":"the room stopped at the review"`) {
		t.Errorf("the log's last line:\n%s", log[strings.LastIndex(strings.TrimSuffix(string(log), "\n"), "\n")+1:])
	}
	// Abandoning it again: it has ended.
	code, _, stderr = run(t, "ceremony", "--resume", journal, "--abandon", "again", "--by", "Wendy")
	want := "error: ceremony " + id + " has ended: the vault's current generation gen-000002 holds its log, so there is nothing to abandon\n"
	if code != 1 || stderr != want {
		t.Errorf("abandoned twice: exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
	// The vault is free: the same bundle is imported again, to the close.
	fx.script = fx.writeScript(t, "later.yaml", strings.Replace(ceremonyScript, ceremonyNow.Format(time.RFC3339), ceremonyNow.Add(time.Minute).Format(time.RFC3339), 1))
	pins := pinFile(t, 5)
	defer pins.Close()
	if code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...); code != 0 {
		t.Fatalf("the next ceremony: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	fx.checkExport(t, filepath.Join(fx.dir, "export"), 8)
}

// TestCeremonyAbandonAfterSigning: a ceremony stopped after one holder
// signed is abandoned; the version it built stays registered, burned, so
// the next ceremony builds the one after it from the same bundle.
func TestCeremonyAbandonAfterSigning(t *testing.T) {
	fx := newCeremonyFixture(t)
	journal := fx.stopAt(t, "one.yaml", strings.Replace(ceremonyScript, "signing: [Holder 1, Holder 2, Holder 3]\n", "signing: [Holder 1]\n", 1))
	code, stdout, stderr := run(t, "ceremony", "--resume", journal, "--abandon", "the summary digests differ", "--by", "Holder 2")
	if code != 0 || !strings.Contains(stdout, "state sign) for the reason given by Holder 2:\n  the summary digests differ\n") {
		t.Fatalf("abandon: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	v := fx.openVault(t)
	if _, ok := v.Register.Lookup("claimed", 8); !ok || v.History.SeenBundle("bundle-0001") {
		t.Fatalf("generation %s: register %v, bundle recorded %v", v.Generation, v.Register, v.History.SeenBundle("bundle-0001"))
	}
	if _, err := os.Stat(filepath.Join(fx.dir, "export-one.yaml")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(fx.dir, "export-one.yaml"))
		if len(entries) != 0 {
			t.Errorf("the abandoned ceremony exported %d files", len(entries))
		}
	}
	fx.script = fx.writeScript(t, "later.yaml", strings.Replace(ceremonyScript, ceremonyNow.Format(time.RFC3339), ceremonyNow.Add(time.Minute).Format(time.RFC3339), 1))
	pins := pinFile(t, 5)
	defer pins.Close()
	if code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...); code != 0 {
		t.Fatalf("the next ceremony: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	fx.checkExport(t, filepath.Join(fx.dir, "export"), 9)
}

// TestCeremonyAbandonRefused: the command line's mistakes, and a name
// not present in the ceremony, change nothing.
func TestCeremonyAbandonRefused(t *testing.T) {
	fx := newCeremonyFixture(t)
	journal := fx.stopAt(t, "undecided.yaml", strings.Replace(ceremonyScript, "  approve: [r-add]\n", "", 1))
	lines := countLines(t, journal)
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--resume", journal, "--abandon", "  ", "--by", "Wendy"}, 2,
			"error: --abandon needs a reason, for the log: say why the ceremony stops (--abandon \"the summary digests differ\")\n"},
		{[]string{"--resume", journal, "--abandon", strings.Repeat("é", maxAbandonReason+1), "--by", "Wendy"}, 2,
			fmt.Sprintf("error: --abandon: the reason is %d characters long, at most %d are allowed\n", maxAbandonReason+1, maxAbandonReason)},
		{[]string{"--resume", journal, "--abandon", "stop"}, 2,
			"error: --abandon needs --by NAME: the participant or witness of the ceremony who abandons it\n"},
		{[]string{"--abandon", "stop", "--by", "Wendy"}, 2,
			"error: --abandon needs --resume LOG: the log of the ceremony to abandon (VAULT/journal/ID)\n"},
		{[]string{"--resume", journal, "--abandon", "stop", "--by", "Wendy", "--out", fx.dir}, 2,
			"error: --abandon takes only --resume LOG, --by NAME and --vault DIR: an abandoned ceremony reads no bundle, exports nothing and signs nothing\n"},
		{[]string{"--resume", journal, "--abandon", "stop", "--by", "Mallory\x1b[2J"}, 1,
			"error: --by \"Mallory\\\\x1b[2J\": not a participant or witness of this ceremony\nhint: name with --by one of the people the ceremony's log names as present\n"},
	} {
		code, _, stderr := run(t, append([]string{"ceremony"}, c.args...)...)
		if code != c.code || !strings.HasPrefix(stderr, c.stderr) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant %d:\n%s", c.args, code, stderr, c.code, c.stderr)
		}
	}
	if n := countLines(t, journal); n != lines {
		t.Errorf("the refusals changed the log: %d lines, was %d", n, lines)
	}
	if v := fx.openVault(t); v.Generation != "gen-000001" {
		t.Errorf("the refusals wrote generation %s", v.Generation)
	}
}

// TestTwoSitesAbandonSecondSite: the second site's ceremony, stopped
// before its holder signed, is abandoned from its log the same way: its
// vault's next generation keeps the log and burns the version rebuilt.
func TestTwoSitesAbandonSecondSite(t *testing.T) {
	ts := newTwoSites(t)
	fx := ts.fx
	script := fx.writeScript(t, "site-b.yaml", siteBScript)
	none := pinFile(t, 0)
	defer none.Close()
	if code, stdout, stderr := run(t, ts.signArgs(ts.partial, filepath.Join(fx.dir, "export-b"), script, none.Fd(), ts.digest)...); code == 0 {
		t.Fatalf("without a PIN: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	logDir := filepath.Join(ts.vaultB, "journal", ts.id)
	code, stdout, stderr := run(t, "ceremony", "--resume", logDir, "--abandon", "the courier's medium was out of sight", "--by", "Walter")
	if code != 0 || !strings.Contains(stdout, "\nCeremony "+ts.id+" abandoned after ") {
		t.Fatalf("abandon: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	v := openVaultAt(t, ts.vaultB)
	if _, ok := v.Register.Lookup("claimed", 8); !ok || !holdsLog(v, ts.id) {
		t.Errorf("site B's generation %s: register %v, holds the log %v", v.Generation, v.Register, holdsLog(v, ts.id))
	}
}
