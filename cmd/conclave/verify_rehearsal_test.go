package main

import (
	"os"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// TestVerifyRehearsal: metadata trusted through a root marked as a
// rehearsal's is said to be one before any verdict, in text and JSON,
// whatever the files' verdicts.
func TestVerifyRehearsal(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixture(t)
	tmp, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	r1 := makeRoot(1, fx.old, testNow.AddDate(1, 0, 0))
	r1.MarkRehearsal(tuf.RehearsalNotice)
	f1, err := tuf.NewRootFile(r1)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, f1, r1.Keys, fx.old[0], fx.old[1])
	marked := write(t, fx.dir, "rehearsal/1.root.json", f1)

	code, out, errOut := run(t, "verify", "--at", at, "--trusted-root", marked, fx.top, fx.claimed)
	want := "REHEARSAL — rehearsal/1.root.json is marked x-conclave-rehearsal: \"made by a\n" +
		"    Conclave rehearsal with throwaway keys; never publish\"; everything trusted\n" +
		"    through it was made by a rehearsal and must never be published\n" +
		"rehearsal/1.root.json: root version 1 (trusted root)\n"
	if code != 1 || errOut != "" || !strings.HasPrefix(out, want) {
		t.Errorf("exit %d, want 1 (targets.json is signed by root 2's keys)\n%s%s\nwant it to start with\n%s", code, out, errOut, want)
	}
	code, out, errOut = run(t, "verify", "--json", "--at", at, "--trusted-root", marked, fx.top, fx.claimed)
	if code != 1 || errOut != "" || !strings.Contains(out, "\n  \"rehearsal\": {\n    \"root\": \"rehearsal/1.root.json\",\n    \"mark\": \""+tuf.RehearsalNotice+"\"\n  },\n") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	t.Chdir(wd)
	checkSchema(t, "verify-report.schema.json", []byte(out))

	t.Chdir(tmp)

	// Production metadata says nothing of the kind.
	_, out, _ = run(t, "verify", "--at", at, "--trusted-root", fx.root1, fx.root2, fx.top, fx.claimed)
	if strings.Contains(out, "REHEARSAL") {
		t.Errorf("a production chain reads as a rehearsal:\n%s", out)
	}
}
