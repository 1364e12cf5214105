package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// recoverScript is an emergency recovery: Holders 1 and 2 waive the
// notice period of r-recover, which replaces existing-b's compromised key
// b1 with c1, and approve it.
var recoverScript = `format: conclave-ceremony-script/1
rehearsal: "emergency recovery drill"
participants: [Holder 1, Holder 2, Holder 3]
witnesses: [Wendy]
clock: {time: "` + ceremonyNow.Format(time.RFC3339) + `"}
waive_notice:
  r-recover:
    reason: "existing-b's signing key was stolen (incident 118); its maintainers asked for this recovery by phone"
    holders: [Holder 1, Holder 2]
decisions:
  by: Holder 1
  approve: [r-recover]
signing: [Holder 1, Holder 2]
close: {sign_head: [Holder 1]}
`

// newRecoverFixture is the ceremony fixture whose bundle holds only the
// emergency recovery of existing-b, under its notice period.
func newRecoverFixture(t testing.TB) *ceremonyFixture {
	t.Helper()
	fx := newCeremonyFixture(t)
	if err := os.RemoveAll(fx.bundle); err != nil {
		t.Fatal(err)
	}
	f := fx.intake
	if err := f.Pack("bundle-0001", intaketest.Lines(f.Recover(t, "r-recover", "existing-b", "c1"))...).Write(fx.bundle); err != nil {
		t.Fatal(err)
	}
	fx.script = fx.writeScript(t, "recover.yaml", recoverScript)
	return fx
}

// TestCeremonyEmergencyRecovery: the headless emergency recovery. A
// script that approves the recovery without a waiver stops at the review
// (the request is under its notice period); a waiver by one holder is
// refused (claimed's threshold is 2); resumed with a waiver by two, the
// ceremony closes and the new claimed delegates existing-b to c1 only:
// the compromised key b1 is gone. The log holds the waiver.
func TestCeremonyEmergencyRecovery(t *testing.T) {
	fx := newRecoverFixture(t)
	out := filepath.Join(fx.dir, "export")

	noWaiver := fx.writeScript(t, "nowaiver.yaml", recoverScript[:strings.Index(recoverScript, "waive_notice:")]+recoverScript[strings.Index(recoverScript, "decisions:"):])
	pins := pinFile(t, 10)
	defer pins.Close()
	args := fx.args(out, pins.Fd())
	args[slices.Index(args, "--script")+1] = noWaiver
	code, stdout, stderr := run(t, args...)
	if code != 1 || !strings.HasPrefix(stderr, "error: decide request r-recover: the request is invalid and cannot be decided\n") {
		t.Fatalf("without a waiver: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	one := fx.writeScript(t, "one.yaml", strings.Replace(recoverScript, "holders: [Holder 1, Holder 2]", "holders: [Holder 1]", 1))
	resume := func(script string) (int, string, string) {
		pins := pinFile(t, 10)
		defer pins.Close()
		return run(t, "ceremony", "--resume", fx.journal(t), "--out", out, "--script", script, "--softkey-dir", fx.keys, "--pin-fd", fmt.Sprint(pins.Fd()))
	}
	code, stdout, stderr = resume(one)
	want := "error: waive the notice period of request \"r-recover\": 1 of claimed's holders waive it, its threshold is 2: a waiver needs a threshold of the delegating role's holders\nhint: correct waive_notice in the script (docs/recover.md), then resume\n"
	if code != 1 || !strings.HasPrefix(stderr, want) {
		t.Fatalf("one holder: exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}

	// The waiver is recorded; the ceremony stops undecided.
	undecided := fx.writeScript(t, "undecided.yaml", strings.Replace(recoverScript, "  approve: [r-recover]\n", "", 1))
	code, stdout, stderr = resume(undecided)
	if code != 1 || !strings.Contains(stdout, "  notice period of r-recover waived by Holder 1, Holder 2\n") || !strings.Contains(stderr, "\nerror: 1 requests needing judgement and 0 rule-approvable ones are undecided") {
		t.Fatalf("undecided: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// A log whose waiver line was edited does not resume.
	logPath := filepath.Join(fx.journal(t), "log.jsonl")
	logData := readLog(t, fx)
	edited := strings.Replace(string(logData), "incident 118", "incident 119", 1)
	if edited == string(logData) {
		t.Fatal("the log holds no waiver reason")
	}
	if err := os.WriteFile(logPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = resume(fx.script)
	// The waiver is the log's last line, which no later line's hash
	// covers: its signatures catch the edit.
	key1 := fx.holders[0].Key.ID()
	if code == 0 || !strings.HasPrefix(stderr, "error: replay line 5 (waived): the waiver signature by Holder 1 (key "+key1+") does not verify: ") {
		t.Fatalf("edited: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if err := os.WriteFile(logPath, logData, 0o600); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr = resume(fx.script)
	if code != 0 || strings.Contains(stdout, "waived by") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, w := range []string{
		"  undecided: 1 need judgement, 0 rule-approvable\n",
		"  approve r-recover\n",
		"    changes  0 added, 1 rotated, 0 removed\n",
		"  claimed: 2 of 3 holders signed, threshold 2 met\n",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	fx.checkExport(t, out, 8)
	data, err := os.ReadFile(filepath.Join(out, "8.claimed.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tuf.Parse("8.claimed.json", data)
	if err != nil {
		t.Fatal(err)
	}
	b1, c1 := intaketest.Key("b1").Key.ID(), intaketest.Key("c1").Key.ID()
	for _, r := range f.Targets.Delegations.Roles {
		if r.Name == "existing-b" && !slices.Equal(r.KeyIDs, []string{c1}) {
			t.Errorf("existing-b is delegated to %v, want only c1 %s", r.KeyIDs, c1)
		}
	}
	if _, ok := f.Targets.Delegations.Keys[b1]; ok {
		t.Errorf("the new claimed still defines the compromised key b1")
	}
	decisions, err := os.ReadFile(filepath.Join(out, "decisions.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(decisions), `"r-recover":{"codes":["recovery","recover-notice-waived"],"decision":"approved"`) {
		t.Errorf("decisions.json:\n%s", decisions)
	}

	// The vault's new generation keeps the log, with the waiver.
	v := fx.openVault(t)
	if v.Delegators["claimed"].Version() != 8 {
		t.Errorf("claimed version %d", v.Delegators["claimed"].Version())
	}
	entries, torn, err := transcript.Parse(readLog(t, fx))
	if err != nil || torn {
		t.Fatal(err, torn)
	}
	var types []string
	for _, e := range entries {
		types = append(types, e.Type)
	}
	if !slices.Contains(types, "waived") || slices.Index(types, "waived") > slices.Index(types, "decided") {
		t.Errorf("log event types: %v", types)
	}
	noPIN(t, fx.dir, stdout, stderr)
}

// readLog is the log of the fixture's one ceremony, as the vault keeps it.
func readLog(t *testing.T, fx *ceremonyFixture) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fx.journal(t), "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// BenchmarkCeremonyEmergencyRecovery measures the emergency ceremony's
// machine time from the opening of the log to the new vault generation:
// preflight, import, the waiver by two holders, the decision, the build,
// two signatures, export read back and verified, and the close, with
// software keys. docs/recover.md quotes it.
func BenchmarkCeremonyEmergencyRecovery(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fx := newRecoverFixture(b)
		pins := pinFile(b, 10)
		out := filepath.Join(fx.dir, "export")
		var stdout, stderr bytes.Buffer
		b.StartTimer()
		code := runMain(context.Background(), &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, fx.args(out, pins.Fd()))
		b.StopTimer()
		pins.Close()
		if code != 0 {
			b.Fatalf("exit %d\n%s\n%s", code, &stdout, &stderr)
		}
	}
}

// TestCeremonyWaiverHolderNotInPolicy: a waive_notice holder the vault's
// policy does not list is refused before the ceremony opens its log.
func TestCeremonyWaiverHolderNotInPolicy(t *testing.T) {
	fx := newRecoverFixture(t)
	fx.script = fx.writeScript(t, "admin.yaml", strings.NewReplacer(
		"participants: [Holder 1, Holder 2, Holder 3]", "participants: [Holder 1, Holder 2, Holder 3, Admin]",
		"holders: [Holder 1, Holder 2]", "holders: [Holder 1, Admin]").Replace(recoverScript))
	pins := pinFile(t, 10)
	defer pins.Close()
	code, stdout, stderr := run(t, fx.args(filepath.Join(fx.dir, "export"), pins.Fd())...)
	want := "error: waive_notice: \"Admin\" is not a holder of the vault's policy (its holders: Holder 1, Holder 2, Holder 3)\n"
	if code != 1 || stderr != want {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}
	if entries, _ := os.ReadDir(filepath.Join(fx.vault, "journal")); len(entries) != 0 {
		t.Errorf("a journal was opened: %v", entries)
	}
}
