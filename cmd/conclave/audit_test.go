package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/conclave-keys/conclave/intake/intaketest"
	"regexp"
	"slices"

	"github.com/conclave-keys/conclave/ceremony/transcript"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/vault"
)

// auditFixture is a finished ceremony: the fixture's vault after it, its
// export, and a copy of its log directory that a test may damage.
type auditFixture struct {
	*ceremonyFixture
	out string
	log string
	id  string
}

// newAuditFixture runs the fixture's ceremony (two holders sign claimed
// version 8; Holder 3 signs the log's head) and copies its log out of the
// vault.
func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	return finishAuditFixture(t, newCeremonyFixture(t))
}

// finishAuditFixture runs the fixture's ceremony and copies its log out
// of the vault.
func finishAuditFixture(t *testing.T, fx *ceremonyFixture) *auditFixture {
	t.Helper()
	pins := pinFile(t, 5)
	defer pins.Close()
	out := filepath.Join(fx.dir, "export")
	if code, stdout, stderr := run(t, fx.args(out, pins.Fd())...); code != 0 {
		t.Fatalf("ceremony: exit %d\n%s\n%s", code, stdout, stderr)
	}
	v := fx.openVault(t)
	a := &auditFixture{ceremonyFixture: fx, out: out, log: filepath.Join(fx.dir, "log"), id: v.LastCeremonyID}
	prefix := vault.CeremoniesDir + "/" + v.LastCeremonyID + "/"
	for _, f := range v.Files() {
		rest, ok := strings.CutPrefix(f.Name, prefix)
		if !ok {
			continue
		}
		p := filepath.Join(a.log, filepath.FromSlash(rest))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// TestAuditClean: the audit of a whole ceremony passes, the log taken
// from the vault or named with --log.
func TestAuditClean(t *testing.T) {
	a := newAuditFixture(t)
	for _, args := range [][]string{
		{"audit", a.out, "--vault", a.vault},
		{"audit", a.out, "--vault", a.vault, "--log", a.log},
	} {
		code, stdout, stderr := run(t, args...)
		if code != 0 || !strings.HasPrefix(stdout, "AUDIT PASSED") || !strings.Contains(stdout, "\n  head signed by Holder 3 (key ") || !strings.Contains(stdout, "    changes  1 added, 1 rotated, 1 removed; card digest ") {
			t.Fatalf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
	}
}

// lines reads the copied log's lines, without their newlines.
func (a *auditFixture) lines(t *testing.T) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(a.log, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

// writeLines replaces the copied log. A last element nil leaves the line
// before it without its newline: a torn write.
func (a *auditFixture) writeLines(t *testing.T, lines [][]byte) {
	t.Helper()
	torn := len(lines) > 0 && lines[len(lines)-1] == nil
	if torn {
		lines = lines[:len(lines)-1]
	}
	data := bytes.Join(lines, []byte("\n"))
	if !torn {
		data = append(data, '\n')
	}
	if err := os.WriteFile(filepath.Join(a.log, "log.jsonl"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// forge rewrites the copied log line by line with a whole chain, as
// someone who can write the log would: edit changes each entry's body
// first. Only the head kept outside the log (the paper log, head.json)
// can show the forgery; the checks behind it must find it too.
func (a *auditFixture) forge(t *testing.T, edit func(seq int64, typ string, body map[string]any) map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(a.log, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err := transcript.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log := transcript.New(appendTo{&out}, a.id)
	for _, e := range entries {
		dec := json.NewDecoder(bytes.NewReader(e.Body))
		dec.UseNumber()
		var body map[string]any
		if err := dec.Decode(&body); err != nil {
			t.Fatal(err)
		}
		if body = edit(e.Seq, e.Type, body); body == nil {
			continue
		}
		if _, err := log.Append(e.Type, e.Time, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(a.log, "log.jsonl"), out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// The holders' signed head no longer matches: the forgery shows
	// there first. Each test here looks past it, at its own check.
	if err := os.Remove(filepath.Join(a.log, "head.json")); err != nil {
		t.Fatal(err)
	}
}

type appendTo struct{ b *bytes.Buffer }

func (w appendTo) Append(line []byte) error {
	w.b.Write(line)
	w.b.WriteByte('\n')
	return nil
}

// audit runs the audit of the copied log and returns the exit status and
// the findings' lines of the text report.
func (a *auditFixture) audit(t *testing.T, extra ...string) (int, string) {
	t.Helper()
	code, stdout, stderr := run(t, append([]string{"audit", a.out, "--vault", a.vault, "--log", a.log}, extra...)...)
	if stderr != "" {
		t.Fatalf("stderr: %s", stderr)
	}
	return code, stdout
}

// wantFindings checks that the audit failed with exactly these findings
// (their lines in the text report, in order).
func (a *auditFixture) wantFindings(t *testing.T, extra []string, want ...string) {
	t.Helper()
	code, stdout := a.audit(t, extra...)
	if code != 1 || !strings.HasPrefix(stdout, "AUDIT FAILED") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	var got []string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "  ✘ [") {
			got = append(got, strings.TrimPrefix(l, "  ✘ "))
		}
	}
	match := len(got) == len(want)
	for i := 0; match && i < len(want); i++ {
		// A finding too long for the screen is cut by termtext; a want
		// ending in "*" names its start.
		if p, cut := strings.CutSuffix(want[i], "*"); cut {
			match = strings.HasPrefix(got[i], p)
		} else {
			match = got[i] == want[i]
		}
	}
	if !match {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAuditDamagedLog: a log line edited, deleted, inserted or moved is
// named at the first line where the chain breaks; a log cut at its end
// keeps a whole chain, and the head the holders signed names what is
// missing.
func TestAuditDamagedLog(t *testing.T) {
	a := newAuditFixture(t)
	orig := a.lines(t)
	clone := func() [][]byte { return slices.Clone(orig) }
	for _, tc := range []struct {
		name   string
		damage func([][]byte) [][]byte
		want   []string
	}{
		{"edit", func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte(`"by":"Holder 1"`), []byte(`"by":"Holder 2"`), 1)
			return l
		}, []string{"[log-broken] line 6: prev is not the SHA-256 of line 5: that line or this one was changed, or a line was inserted before this one"}},
		{"delete", func(l [][]byte) [][]byte { return slices.Delete(l, 4, 5) },
			[]string{"[log-broken] line 5: seq is 6 where 5 was expected: a line was removed, inserted, repeated or moved"}},
		{"insert", func(l [][]byte) [][]byte { return slices.Insert(l, 5, l[4]) },
			[]string{"[log-broken] line 6: seq is 5 where 6 was expected: a line was removed, inserted, repeated or moved"}},
		{"reorder", func(l [][]byte) [][]byte { l[4], l[5] = l[5], l[4]; return l },
			[]string{"[log-broken] line 5: seq is 6 where 5 was expected: a line was removed, inserted, repeated or moved"}},
		{"torn", func(l [][]byte) [][]byte { return append(l, []byte(`{"body":{`), nil) }, []string{
			"[log-torn] line 12: the log ends in a line without its newline (a write a crash interrupted); a finished ceremony's log has none",
		}},
		{"truncate", func(l [][]byte) [][]byte { return l[:9] }, []string{
			"[log-not-ended] line 10: the log ends at line 9 (signed) without a closed or abandoned line: it was cut, or the ceremony did not finish",
			"[log-truncated] line 10: the log ends at line 9; the head its holders signed names 11 lines: lines 10 to 11 are missing",
			"[export-file] the log records no export, and the export directory holds 3 files",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.writeLines(t, tc.damage(clone()))
			a.wantFindings(t, nil, tc.want...)
		})
	}
}

// exported parses the export's claimed version 8.
func (a *auditFixture) exported(t *testing.T) *tuf.File {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(a.out, "8.claimed.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tuf.Parse("8.claimed.json", data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// replaceExported writes f as the export's claimed version 8 and returns
// the finding its new hash makes.
func (a *auditFixture) replaceExported(t *testing.T, f *tuf.File) string {
	t.Helper()
	data := f.Bytes()
	if err := os.WriteFile(filepath.Join(a.out, "8.claimed.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	logged := a.loggedSHA256(t, "8.claimed.json")
	return fmt.Sprintf("[export-file] 8.claimed.json: SHA-256 %s, the log records %s", bundle.SumHex(data), logged)
}

// loggedSHA256 is the hash the log's exported line records for a file.
func (a *auditFixture) loggedSHA256(t *testing.T, name string) string {
	t.Helper()
	for _, l := range a.lines(t) {
		var e struct {
			Type string
			Body session.Exported
		}
		if json.Unmarshal(l, &e) == nil && e.Type == "exported" {
			return e.Body.Files[name]
		}
	}
	t.Fatal("no exported line")
	return ""
}

// TestAuditExportTampered: an exported file swapped, a signature added by
// a key the delegation does not list, a holder's signature taken away,
// the signature over the log's head forged.
func TestAuditExportTampered(t *testing.T) {
	t.Run("swapped file", func(t *testing.T) {
		a := newAuditFixture(t)
		other := []byte(`{"bundle_id":"bundle-0001","format":"conclave-decisions/1","requests":{},"role":"claimed","version":8}`)
		if err := os.WriteFile(filepath.Join(a.out, "decisions.json"), other, 0o600); err != nil {
			t.Fatal(err)
		}
		a.wantFindings(t, nil, fmt.Sprintf("[export-file] decisions.json: SHA-256 %s, the log records %s", bundle.SumHex(other), a.loggedSHA256(t, "decisions.json")))
	})
	t.Run("file missing", func(t *testing.T) {
		a := newAuditFixture(t)
		if err := os.Remove(filepath.Join(a.out, "decisions.json")); err != nil {
			t.Fatal(err)
		}
		a.wantFindings(t, nil, "[export-file] decisions.json: the log records it as exported, and the export does not hold it")
	})
	t.Run("signature by a key nobody holds", func(t *testing.T) {
		a := newAuditFixture(t)
		f := a.exported(t)
		k := newEd25519(t)
		sig, err := tuf.SignMessageUnverified(k.signer, k.key, f.SignedBytes())
		if err != nil {
			t.Fatal(err)
		}
		f.Signatures = append(f.Signatures, tuf.Signature{KeyID: k.key.ID(), Sig: hex.EncodeToString(sig)})
		swapped := a.replaceExported(t, f)
		a.wantFindings(t, nil, swapped,
			"[signature-unlisted] claimed version 8 carries a signature by key "+k.key.ID()+", which its delegation does not list")
	})
	t.Run("signature that does not verify", func(t *testing.T) {
		a := newAuditFixture(t)
		f := a.exported(t)
		sig := []byte(f.Signatures[1].Sig)
		if sig[0] == '0' {
			sig[0] = '1'
		} else {
			sig[0] = '0'
		}
		f.Signatures[1].Sig = string(sig)
		swapped := a.replaceExported(t, f)
		a.wantFindings(t, nil, swapped,
			"[signature-invalid] claimed version 8 carries a signature by key "+f.Signatures[1].KeyID+" that is not valid: ignored: signature does not verify",
			"[threshold-not-met] claimed version 8 is signed by 1 holder (*",
			"[verify] 8.claimed.json is not-valid as a TUF client walks it from the vault's root: not enough valid signatures for role claimed: 1 of 2 distinct keys signed")
	})
	t.Run("threshold not met", func(t *testing.T) {
		a := newAuditFixture(t)
		f := a.exported(t)
		f.Signatures = f.Signatures[:1]
		swapped := a.replaceExported(t, f)
		a.wantFindings(t, nil, swapped,
			"[threshold-not-met] claimed version 8 is signed by 1 holder (Holder 1) of the 2 its threshold needs; a holder is one vote however many keys they hold",
			"[verify] 8.claimed.json is not-valid as a TUF client walks it from the vault's root: not enough valid signatures for role claimed: 1 of 2 distinct keys signed")
	})
	t.Run("head signature forged", func(t *testing.T) {
		a := newAuditFixture(t)
		p := filepath.Join(a.log, "head.json")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var env map[string]any
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatal(err)
		}
		sig := env["signatures"].([]any)[0].(map[string]any)
		s := []byte(sig["sig"].(string))
		// Another hex digit, so that it still parses.
		if s[len(s)/2] == '0' {
			s[len(s)/2] = '1'
		} else {
			s[len(s)/2] = '0'
		}
		sig["sig"] = string(s)
		if data, err = json.Marshal(env); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		a.wantFindings(t, nil, "[head-signature] the signature over the log's head by key "+a.holders[2].Key.ID()+" is not a valid signature by a holder's enrolled key")
	})
}

// TestAuditDecisionsForged: a log rewritten with a whole chain so that it
// says a request applied in the signed bytes was rejected, or was never
// decided. Replay refuses the build line, and the changes read from the
// exported bytes name the request.
func TestAuditDecisionsForged(t *testing.T) {
	t.Run("rejected request applied", func(t *testing.T) {
		a := newAuditFixture(t)
		a.forge(t, func(seq int64, typ string, body map[string]any) map[string]any {
			if typ == "decided" && body["request_id"] == "r-add" {
				body["decision"], body["reason"] = "reject", "keys unknown"
			}
			return body
		})
		a.wantFindings(t, nil,
			"[replay] line 7: the built line does not replay on vault generation gen-000001: the rebuilt payload is not the one the log registered: the build made 1 payloads with digest *",
			"[rejected-applied] request r-add (add fresh) was rejected by Holder 1, and its change is in claimed version 8")
	})
	t.Run("invalid recovery approved", func(t *testing.T) {
		// r-bad is a recovery judged invalid (its project is not
		// delegated); one inside its notice period is invalid the same
		// way. Approving it is refused where the log says it was done.
		a := newAuditFixture(t)
		a.forge(t, func(seq int64, typ string, body map[string]any) map[string]any {
			if typ == "decided" && body["request_id"] == "r-add" {
				body["request_id"] = "r-bad"
			}
			return body
		})
		a.wantFindings(t, nil,
			"[replay] line 5: the decided line does not replay on vault generation gen-000001: the request is invalid and cannot be decided",
			// The decisions after the refused line are not taken as made.
			"[change-not-approved] claimed version 8 removes existing-a, and no approved request covers it",
			"[change-not-approved] claimed version 8 changes the keys of existing-b, and no approved request covers it",
			"[change-not-approved] claimed version 8 adds fresh, and no approved request covers it")
	})
	t.Run("deferred request applied", func(t *testing.T) {
		a := newAuditFixture(t)
		a.forge(t, func(seq int64, typ string, body map[string]any) map[string]any {
			if typ == "decided" && body["request_id"] == "r-add" {
				body["decision"], body["reason"] = "defer", "ask the maintainer"
			}
			return body
		})
		a.wantFindings(t, nil,
			"[replay] line 7: the built line does not replay on vault generation gen-000001: the rebuilt payload is not the one the log registered: the build made 1 payloads with digest *",
			"[deferred-applied] request r-add (add fresh) was deferred by Holder 1, and its change is in claimed version 8")
	})
	t.Run("change no approval covers", func(t *testing.T) {
		a := newAuditFixture(t)
		a.forge(t, func(seq int64, typ string, body map[string]any) map[string]any {
			if typ == "decided" && body["request_id"] == "r-add" {
				return nil
			}
			return body
		})
		a.wantFindings(t, nil,
			"[replay] line 6: the built line does not replay on vault generation gen-000001: 1 requests needing judgement and 0 rule-approvable ones are undecided; decide each (defer what cannot be decided today)",
			"[change-not-approved] claimed version 8 adds fresh, and no approved request covers it")
	})
}

// auditForms runs the audit in each form and returns the documents, by
// form, and the exit status they share.
func (a *auditFixture) auditForms(t *testing.T) (map[string]string, int) {
	t.Helper()
	docs := map[string]string{}
	code := -1
	for _, form := range []string{"text", "json", "html"} {
		c, stdout := a.audit(t, "--format", form)
		if code != -1 && c != code {
			t.Errorf("--format %s: exit %d, the other forms %d", form, c, code)
		}
		code, docs[form] = c, stdout
	}
	return docs, code
}

// verdicts reads the verdict of each form: the JSON member, the HTML
// page's marked verdict, the text's first line.
func verdicts(t *testing.T, docs map[string]string) (text, js, html string) {
	t.Helper()
	var r struct{ Verdict string }
	if err := json.Unmarshal([]byte(docs["json"]), &r); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`data-verdict="([a-z]+)"`).FindStringSubmatch(docs["html"])
	if m == nil {
		t.Fatalf("the HTML report marks no verdict:\n%s", docs["html"])
	}
	first, _, _ := strings.Cut(docs["text"], ":")
	return strings.ToLower(strings.TrimPrefix(first, "AUDIT ")), r.Verdict, m[1]
}

// TestAuditForms: text, JSON and HTML give the same verdict and exit
// status, passing and failing; the JSON follows its schema; the HTML page
// is self-contained (no script, no link, no external reference) and
// starts with the verdict.
func TestAuditForms(t *testing.T) {
	a := newAuditFixture(t)
	want := map[int]string{0: "passed", 1: "failed"}
	for _, damaged := range []bool{false, true} {
		if damaged {
			if err := os.WriteFile(filepath.Join(a.out, "decisions.json"), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		docs, code := a.auditForms(t)
		text, js, html := verdicts(t, docs)
		if text != want[code] || js != map[string]string{"passed": "pass", "failed": "fail"}[text] || html != js {
			t.Errorf("damaged %v: exit %d, text %q, JSON %q, HTML %q", damaged, code, text, js, html)
		}
		checkSchema(t, "audit-report.schema.json", []byte(docs["json"]))
		page := docs["html"]
		for _, bad := range []string{"<script", "http:", "https:", "src=", "href=", "@import", "url("} {
			if strings.Contains(page, bad) {
				t.Errorf("the HTML report holds %q", bad)
			}
		}
		if v, f := strings.Index(page, `id="verdict"`), strings.Index(page, "<h2>"); v < 0 || v > f {
			t.Errorf("the verdict is not the page's first section")
		}
	}
}

// TestAuditHostileText: strings from the log — a decision's reason here —
// reach the terminal with escapes shown, the HTML page escaped, and the
// JSON exact.
func TestAuditHostileText(t *testing.T) {
	a := newAuditFixture(t)
	hostile := "\x1b[2J\u202eevil<script>alert(1)</script><img src=x onerror=alert(2)>"
	a.forge(t, func(seq int64, typ string, body map[string]any) map[string]any {
		if typ == "decided" && body["request_id"] == "r-add" {
			body["decision"], body["reason"] = "reject", hostile
		}
		return body
	})
	docs, code := a.auditForms(t)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	if strings.ContainsAny(docs["text"], "\x1b\u202e") || !strings.Contains(docs["text"], `\x1b[2J`) {
		t.Errorf("the text report shows the reason unescaped:\n%q", docs["text"])
	}
	for _, bad := range []string{"<script>", "<img"} {
		if strings.Contains(docs["html"], bad) {
			t.Errorf("the HTML report holds %q", bad)
		}
	}
	if !strings.Contains(docs["html"], "&lt;script&gt;") {
		t.Errorf("the HTML report does not show the reason escaped")
	}
	var r struct{ Decisions []struct{ Reason string } }
	if err := json.Unmarshal([]byte(docs["json"]), &r); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range r.Decisions {
		found = found || d.Reason == hostile
	}
	if !found {
		t.Errorf("the JSON report does not hold the reason exactly")
	}
}

// editJSON decodes metadata, lets edit change it, and encodes it again
// (not canonically: the repository serves what it likes).
func editJSON(t *testing.T, data []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAuditPublished: what the repository serves compared with what was
// signed, in each way it can differ.
func TestAuditPublished(t *testing.T) {
	a := newAuditFixture(t)
	signed, err := os.ReadFile(filepath.Join(a.out, "8.claimed.json"))
	if err != nil {
		t.Fatal(err)
	}
	targets := a.openVault(t).Targets.Bytes()
	delegate := func(name string) func(m map[string]any) {
		return func(m map[string]any) {
			d := m["signed"].(map[string]any)["delegations"].(map[string]any)
			d["roles"] = append(d["roles"].([]any), map[string]any{"name": name, "keyids": []any{}, "paths": []any{name + "/*"}, "terminating": true, "threshold": 1})
		}
	}
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  []string
	}{
		{"same", map[string][]byte{"8.claimed.json": signed, "targets.json": targets}, nil},
		{"not published", map[string][]byte{"targets.json": targets}, []string{
			"[signed-not-published] claimed version 8 was signed and is not published",
		}},
		{"other bytes", map[string][]byte{"claimed.json": editJSON(t, signed, func(m map[string]any) {
			m["signed"].(map[string]any)["expires"] = "2030-01-01T00:00:00Z"
		})}, []string{
			"[bytes-differ] claimed version 8 is published with payload *",
		}},
		{"older version", map[string][]byte{"claimed.json": a.generation(t, "gen-000001").Delegators["claimed"].Bytes()}, []string{
			"[version-differs] claimed is published at version 7; the ceremony signed version 8",
		}},
		{"delegation added online", map[string][]byte{
			"targets.json": editJSON(t, targets, delegate("evil")),
			"9.claimed.json": editJSON(t, signed, func(m map[string]any) {
				m["signed"].(map[string]any)["version"] = 9
				delegate("takeover")(m)
			}),
		}, []string{
			"[published-never-signed] claimed version 9 is published, and no ceremony built it (the last version signed is 8)",
			`[delegation-added-online] the published claimed delegates "takeover", which no signed claimed delegates and no ceremony approved`,
			`[delegation-added-online] the published targets delegates "evil", which no signed targets delegates and no ceremony approved`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.want == nil {
				if code, stdout := a.audit(t, "--published", dir); code != 0 || !strings.Contains(stdout, "  what is published is what was signed\n") {
					t.Errorf("exit %d:\n%s", code, stdout)
				}
				return
			}
			a.wantFindings(t, []string{"--published", dir}, tc.want...)
		})
	}
}

// generation opens one generation of the fixture's vault.
func (a *auditFixture) generation(t *testing.T, name string) *vault.Vault {
	t.Helper()
	vd, err := vaultdir.Open(a.vault)
	if err != nil {
		t.Fatal(err)
	}
	defer vd.Close()
	v, err := vd.OpenGeneration(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newTwoKeyAuditFixture is a ceremony on a vault whose claimed role
// needs 3 of 4 keys, where Holder 1 holds two of them: a threshold of
// three holders, not three keys. Holders 1, 2 and 3 sign.
func newTwoKeyAuditFixture(t *testing.T) (*auditFixture, vaulttest.Holder) {
	t.Helper()
	dir := t.TempDir()
	fx := &ceremonyFixture{dir: dir, vault: filepath.Join(dir, "vault"), bundle: filepath.Join(dir, "bundle"), keys: filepath.Join(dir, "keys")}
	hs := []vaulttest.Holder{vaulttest.Key(t, 1), vaulttest.Key(t, 2), vaulttest.Key(t, 3)}
	second := vaulttest.Key(t, 4) // Holder 1's second key
	fx.holders = hs
	if err := os.Mkdir(fx.keys, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := softkey.Open(fx.keys, hsm.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hs {
		if _, err := store.WriteKey(fmt.Sprintf("holder%d", i+1), h.Signer, []byte(ceremonyPass)); err != nil {
			t.Fatal(err)
		}
	}
	f := intaketest.New(t)
	fx.intake = f
	all := append(slices.Clone(hs), second)
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	top.Version, top.Expires = 1, tuf.NewExpiry(vaulttest.Now.AddDate(0, 6, 0))
	top.Delegations = &tuf.Delegations{Keys: vaulttest.Keys(all), Roles: []*tuf.DelegatedRole{{
		Name: "claimed", KeyIDs: vaulttest.IDs(all), Threshold: 3, Paths: []string{"*/*"},
	}}}
	targets, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := tuf.NewTargetsFile(f.Delegator.Targets)
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.Sign(t, claimed, targets.Targets.Delegations.Keys, hs...)
	f.Bases = []bundle.Base{{Role: "claimed", Version: claimed.Version(), SHA256: bundle.SumHex(claimed.Bytes())}}
	policy := strings.Replace(string(fx.policy(t)), "        uri: softkey:name=holder1\n",
		"        uri: softkey:name=holder1\n      - keyid: "+second.Key.ID()+"\n        token: softkey\n        uri: softkey:name=holder4\n", 1)
	writeTestVault(t, fx.vault, testVaultSpec{holders: hs, signers: hs, targets: targets, claimed: claimed.Bytes(), policy: []byte(policy)})
	drafts := intaketest.Lines(f.Rotate(t, "r-rotate", "existing-b", []string{"b1"}, "b2"))
	if err := f.Pack("bundle-0001", drafts...).Write(fx.bundle); err != nil {
		t.Fatal(err)
	}
	fx.script = fx.writeScript(t, "script.yaml", strings.Replace(ceremonyScript, "  approve: [r-add]\n  approve_rule_approvable: {count: 2}\n", "  approve_rule_approvable: {count: 1}\n", 1))
	return finishAuditFixture(t, fx), second
}

// TestAuditThresholdByHolders: Holder 3's signature swapped for one by
// Holder 1's second key. Three distinct keys signed, as a TUF client
// counts (the walk passes), but only two holders: the threshold of three
// holders is not met.
func TestAuditThresholdByHolders(t *testing.T) {
	a, second := newTwoKeyAuditFixture(t)
	if code, stdout := a.audit(t); code != 0 {
		t.Fatalf("the ceremony itself: exit %d\n%s", code, stdout)
	}
	f := a.exported(t)
	sig, err := tuf.SignMessageUnverified(second.Signer, second.Key, f.SignedBytes())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(f.Signatures, func(s tuf.Signature) bool { return s.KeyID == a.holders[2].Key.ID() })
	if i < 0 {
		t.Fatalf("Holder 3 did not sign: %+v", f.Signatures)
	}
	f.Signatures[i] = tuf.Signature{KeyID: second.Key.ID(), Sig: hex.EncodeToString(sig)}
	swapped := a.replaceExported(t, f)
	a.wantFindings(t, nil, swapped,
		"[signature-not-logged] claimed version 8 carries a signature by Holder 1 (key "+second.Key.ID()+") that the log does not record",
		"[threshold-not-met] claimed version 8 is signed by 2 holders (Holder 1, Holder 2) of the 3 its threshold needs; a holder is one vote however many keys they hold")
}
