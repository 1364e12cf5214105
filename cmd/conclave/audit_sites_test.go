package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/audit"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// copyLog copies the log a vault's current generation keeps of a
// ceremony into dir.
func copyLog(t *testing.T, v *vault.Vault, id, dir string) {
	t.Helper()
	prefix := vault.CeremoniesDir + "/" + id + "/"
	for _, f := range v.Files() {
		rest, ok := strings.CutPrefix(f.Name, prefix)
		if !ok {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(rest))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// twoSiteAudit is a ceremony signed at two sites, Holder 1 at site A and
// Holder 2 at site B, with each site's log copied out of its vault.
type twoSiteAudit struct {
	ts         *twoSites
	out        string
	logA, logB string
	vaultA     string
}

func newTwoSiteAudit(t *testing.T) *twoSiteAudit {
	t.Helper()
	ts := newTwoSites(t)
	s := &twoSiteAudit{ts: ts, out: ts.signB(t), logA: filepath.Join(ts.fx.dir, "log-a"), logB: filepath.Join(ts.fx.dir, "log-b"), vaultA: ts.fx.vault}
	copyLog(t, ts.fx.openVault(t), ts.id, s.logA)
	copyLog(t, openVaultAt(t, ts.vaultB), ts.id, s.logB)
	return s
}

// at is the audit fixture of one site's copied log: the site whose log a
// test forges; the other site's log and both vaults are the extra
// arguments it passes.
func (s *twoSiteAudit) at(site string) (*auditFixture, []string) {
	a := &auditFixture{ceremonyFixture: s.ts.fx, out: s.out, log: s.logA, id: s.ts.id}
	other := s.logB
	if site == "B" {
		a.log, other = s.logB, s.logA
	}
	return a, []string{"--vault", s.ts.vaultB, "--log", other}
}

// TestAuditTwoSites: a ceremony signed at two sites audits clean, each
// site's log taken from its own vault or named with --log; the report
// shows each site, and the signature of each holder at the site that
// made it.
func TestAuditTwoSites(t *testing.T) {
	s := newTwoSiteAudit(t)
	for _, args := range [][]string{
		{"audit", s.out, "--vault", s.vaultA, "--vault", s.ts.vaultB},
		{"audit", s.out, "--vault", s.ts.vaultB, "--vault", s.vaultA},
		{"audit", s.out, "--vault", s.vaultA, "--vault", s.ts.vaultB, "--log", s.logB, "--log", s.logA},
	} {
		code, stdout, stderr := run(t, args...)
		if code != 0 || !strings.HasPrefix(stdout, "AUDIT PASSED") {
			t.Fatalf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
		for _, want := range []string{
			"\nSites (2 sites, their logs joined by ceremony id and payload hash):\n  site 1: ceremony " + s.ts.id + ", closed, exported a partial for the next site\n",
			"\n  site 2: ceremony " + s.ts.id + ", closed, exported the metadata\n",
			"\n    present    participants Holder 2, Holder 3; witnesses Walter\n    clock      2026-11-24T15:00:00Z, confirmed by Holder 2\n    joined     partial.json SHA-256 ",
			"\n    adopted    3 decisions, SHA-256 ",
			"\n    signed     Holder 1: claimed version 8, key ",
			"\n    signed     Holder 2: claimed version 8, key ",
			"\n    signed by 2 of 3 holders (Holder 1, Holder 2), threshold 2 met\n      Holder 1 key ",
			": counted, in the log of site 1, token ",
			": counted, in the log of site 2, token ",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%q: the report lacks %q:\n%s", args, want, stdout)
			}
		}
	}
	code, doc, _ := run(t, "audit", s.out, "--vault", s.vaultA, "--vault", s.ts.vaultB, "--json")
	checkSchema(t, "audit-report.schema.json", []byte(doc))
	var r audit.Report
	if err := json.Unmarshal([]byte(doc), &r); err != nil || code != 0 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if len(r.Sites) != 2 || r.Sites[0].Joined != nil || r.Sites[1].Joined == nil || r.Sites[0].Exported != "partial" || r.Sites[1].Exported != "metadata" ||
		r.Sites[0].Payloads[0].PayloadSHA256 != r.Sites[1].Payloads[0].PayloadSHA256 {
		t.Errorf("sites: %+v", r.Sites)
	}
}

// TestAuditTwoSitesCaught: what joining the two sites' logs finds.
func TestAuditTwoSitesCaught(t *testing.T) {
	t.Run("second site alone", func(t *testing.T) {
		s := newTwoSiteAudit(t)
		a := &auditFixture{ceremonyFixture: s.ts.fx, out: s.out, log: s.logB, id: s.ts.id}
		code, stdout, _ := run(t, "audit", a.out, "--vault", s.ts.vaultB)
		if code != 1 || !strings.Contains(stdout, "\n  ✘ [site-missing] line 4: this ceremony continued a partial another site exported (partial.json SHA-256 ") {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
	})
	t.Run("a site's log of another ceremony", func(t *testing.T) {
		s := newTwoSiteAudit(t)
		a, extra := s.at("A")
		joined := s.joinedSHA256(t)
		a.id = "20261124T130000Z-00000000"
		a.forge(t, func(_ int64, typ string, body map[string]any) map[string]any {
			if typ == "opened" {
				body["ceremony"] = a.id
			}
			return body
		})
		a.wantFindings(t, extra,
			"[site-partial] site 1 line 4: this site joined the partial whose partial.json has SHA-256 "+joined+", and no other site's log given exported it",
			// Site A's signature is recorded by no log of the ceremony.
			"[signature-not-logged] claimed version 8 carries a signature by Holder 1 (key "+a.holders[0].Key.ID()+") that the log does not record",
			// The partial site A planned names the ceremony it is of.
			"[replay] site 2 line 9: the exported line does not replay on vault generation gen-000001: the files read back are not the partial export planned*",
			`[site-other-ceremony] site 2 line 1: a site's log of ceremony "`+a.id+`" was given; the export is of ceremony "`+s.ts.id+`": *`)
	})
	t.Run("a site's log given twice", func(t *testing.T) {
		s := newTwoSiteAudit(t)
		a, extra := s.at("B")
		again := filepath.Join(s.ts.fx.dir, "log-a-again")
		copyLog(t, s.ts.fx.openVault(t), s.ts.id, again)
		a.wantFindings(t, append(extra, "--log", again),
			"[site-unjoined] site 3: this log of ceremony "+s.ts.id+" is not on the way from the first site to the export*")
	})
	t.Run("a site's log without its vault", func(t *testing.T) {
		// The command gives every log a vault; the domain's verdict
		// for a site given none is incomplete, not passed.
		s := newTwoSiteAudit(t)
		in := audit.Input{}
		var err error
		if in.Export, err = readDirFiles(s.out, "the export"); err != nil {
			t.Fatal(err)
		}
		if err := readAuditSites([]string{s.vaultA, s.ts.vaultB}, nil, &in); err != nil {
			t.Fatal(err)
		}
		in.Sites[0].Vault = nil
		r, err := audit.Audit(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		want := []audit.Finding{{Code: audit.CodeNoVault, Site: 1, Message: "no vault was given for this site's log: its chain was checked, not its replay"}}
		if r.Verdict != audit.Incomplete || !slices.Equal(r.Findings, want) {
			t.Errorf("verdict %s, findings %+v", r.Verdict, r.Findings)
		}
	})
	t.Run("payload differs between sites", func(t *testing.T) {
		s := newTwoSiteAudit(t)
		a, extra := s.at("A")
		var was string
		other := strings.Repeat("ab", 32)
		a.forge(t, func(_ int64, typ string, body map[string]any) map[string]any {
			if typ == "built" {
				p := body["payloads"].([]any)[0].(map[string]any)
				was, p["payload_sha256"] = p["payload_sha256"].(string), other
			}
			return body
		})
		a.wantFindings(t, extra,
			"[site-payload] site 2 line 7: claimed version 8: site 1 built payload "+other+", site 2 built "+was[:32]+"*",
			"[replay] site 1 line 7: the built line does not replay on vault generation gen-000001: *")
	})
	t.Run("decisions differ between sites", func(t *testing.T) {
		s := newTwoSiteAudit(t)
		a, extra := s.at("A")
		a.forge(t, func(_ int64, typ string, body map[string]any) map[string]any {
			if typ == "decided" {
				body["reason"] = "a reason site B never saw"
			}
			return body
		})
		a.wantFindings(t, extra,
			"[site-decisions] site 2 line 6: site 2 adopted 3 decisions with SHA-256 *",
			"[replay] site 1 line 9: the exported line does not replay on vault generation gen-000001: the files read back are not the partial export planned*")
	})
	t.Run("a merged signature the first site did not record", func(t *testing.T) {
		s := newTwoSiteAudit(t)
		a, extra := s.at("A")
		a.forge(t, func(_ int64, typ string, body map[string]any) map[string]any {
			if typ == "signed" {
				return nil
			}
			return body
		})
		h1 := a.holders[0].Key.ID()
		a.wantFindings(t, extra,
			"[site-merged] site 2 line 8: site 2 merged a signature of claimed version 8 by Holder 1 (key "+h1+") that no earlier site's log records signing",
			"[signature-not-logged] claimed version 8 carries a signature by Holder 1 (key "+h1+") that the log does not record",
			"[replay] site 1 line 8: the exported line does not replay on vault generation gen-000001: *")
	})
	t.Run("a signature no site recorded", func(t *testing.T) {
		s := newTwoSiteAudit(t)
		a, extra := s.at("B")
		f := a.exported(t)
		h3 := a.holders[2]
		sig, err := tuf.SignMessageUnverified(h3.Signer, h3.Key, f.SignedBytes())
		if err != nil {
			t.Fatal(err)
		}
		f.Signatures = append(f.Signatures, tuf.Signature{KeyID: h3.Key.ID(), Sig: hex.EncodeToString(sig)})
		swapped := a.replaceExported(t, f)
		a.wantFindings(t, extra, swapped,
			"[signature-not-logged] claimed version 8 carries a signature by Holder 3 (key "+h3.Key.ID()+") that the log does not record")
	})
	t.Run("one holder signing at both sites", func(t *testing.T) {
		s := newTwoSiteAudit(t)
		a, extra := s.at("B")
		var first map[string]any
		for _, l := range (&auditFixture{log: s.logA}).lines(t) {
			var e struct {
				Type string
				Body map[string]any
			}
			if json.Unmarshal(l, &e) == nil && e.Type == "signed" {
				first = e.Body
			}
		}
		// Site B's log says Holder 1 signed there too, with the
		// signature Holder 1 made at site A.
		a.insertAfter(t, "merged", "signed", first)
		code, stdout := a.audit(t, extra...)
		if code != 1 {
			t.Fatalf("exit %d\n%s", code, stdout)
		}
		for _, want := range []string{
			"\n  ✘ [holder-two-sites] Holder 1 signed claimed version 8 at site 1 and again at site 2; a holder is one vote, counted once\n",
			"\n    signed by 2 of 3 holders (Holder 1, Holder 2), threshold 2 met\n",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("the report lacks %q:\n%s", want, stdout)
			}
		}
	})
}

// joinedSHA256 is the partial.json hash site B's joined line records.
func (s *twoSiteAudit) joinedSHA256(t *testing.T) string {
	t.Helper()
	for _, l := range (&auditFixture{log: s.logB}).lines(t) {
		var e struct {
			Type string
			Body struct {
				PartialSHA256 string `json:"partial_sha256"`
			}
		}
		if json.Unmarshal(l, &e) == nil && e.Type == "joined" {
			return e.Body.PartialSHA256
		}
	}
	t.Fatal("no joined line")
	return ""
}

// insertAfter forges the copied log with a line of type typ and body
// after the first line of type after, the chain rewritten whole.
func (a *auditFixture) insertAfter(t *testing.T, after, typ string, body map[string]any) {
	t.Helper()
	done := false
	keep := func(_ int64, _ string, body map[string]any) map[string]any { return body }
	a.forgeWith(t, keep, func(e transcript.Entry, log *transcript.Log) {
		if !done && e.Type == after {
			if _, err := log.Append(typ, e.Time, body); err != nil {
				t.Fatal(err)
			}
			done = true
		}
	})
	if !done {
		t.Fatalf("no %s line", after)
	}
}
