package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/audit"
)

// TestAuditWaiver: the audit of an emergency recovery passes and shows
// the waiver of the recovery's notice period — the request, the reason,
// the holders who signed it — in every form of the report.
func TestAuditWaiver(t *testing.T) {
	fx := newRecoverFixture(t)
	out := filepath.Join(fx.dir, "export")
	pins := pinFile(t, 10)
	defer pins.Close()
	if code, stdout, stderr := run(t, fx.args(out, pins.Fd())...); code != 0 {
		t.Fatalf("ceremony: exit %d\n%s\n%s", code, stdout, stderr)
	}
	reason := "existing-b's signing key was stolen (incident 118); its maintainers asked for this recovery by phone"
	code, stdout, stderr := run(t, "audit", out, "--vault", fx.vault)
	if code != 0 || !strings.HasPrefix(stdout, "AUDIT PASSED") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"\nNotice periods waived:\n  r-recover existing-b (claimed version 7), line 5: waived by Holder 1, Holder 2\n    reason   " + reason + "\n    change   ",
		"\n    Holder 1 key ",
		"\n    Holder 2 key ",
		"\n  r-recover recover existing-b: approved by Holder 1 [recovery, recover-notice-waived], applied\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, stdout)
		}
	}
	_, doc, _ := run(t, "audit", out, "--vault", fx.vault, "--json")
	checkSchema(t, "audit-report.schema.json", []byte(doc))
	var r audit.Report
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Waivers) != 1 || r.Waivers[0].RequestID != "r-recover" || r.Waivers[0].Reason != reason || len(r.Waivers[0].Holders) != 2 ||
		r.Waivers[0].Holders[0].KeyID != fx.holders[0].Key.ID() || r.Waivers[0].Holders[1].Holder != "Holder 2" {
		t.Errorf("waivers: %+v", r.Waivers)
	}
	_, page, _ := run(t, "audit", out, "--vault", fx.vault, "--format", "html")
	if !strings.Contains(page, "<h2>Notice periods waived</h2>\n<table>\n<tr><th colspan=\"3\">request r-recover (existing-b, claimed version 7), line 5</th></tr>\n<tr><td colspan=\"3\">reason: existing-b&#39;s signing key was stolen (incident 118)") {
		t.Errorf("the page shows no waiver:\n%s", page)
	}
}
