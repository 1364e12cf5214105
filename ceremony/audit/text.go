package audit

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/conclave-keys/conclave/internal/termtext"
)

// VerdictLine is the report's verdict in words, the first line of every
// form of it.
func (r *Report) VerdictLine() string {
	switch r.Verdict {
	case Pass:
		return "AUDIT PASSED: every check ran and none failed"
	case Incomplete:
		return "AUDIT INCOMPLETE: nothing failed, but without the vault the signatures, thresholds, expiry and decisions were not checked"
	}
	return fmt.Sprintf("AUDIT FAILED: %s", termtext.Plural(len(r.Findings)+r.discrepancies(), "finding"))
}

func (r *Report) discrepancies() int {
	if r.Published == nil {
		return 0
	}
	return len(r.Published.Discrepancies)
}

// WriteText writes the report for people. Every string read from the
// log, the export or the vault passes through termtext.Safe: none can
// move the cursor, change colours or reorder the text on a terminal.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	s := termtext.Safe
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("%s\n\n", r.VerdictLine())
	if len(r.Findings) > 0 {
		p("Findings:\n")
		for _, f := range r.Findings {
			where := ""
			if f.Line > 0 {
				where = fmt.Sprintf(" line %d:", f.Line)
			}
			p("  ✘ [%s]%s %s\n", f.Code, where, s(f.Message))
		}
		p("\n")
	}
	p("Ceremony %s", s(r.Ceremony))
	if r.Rehearsal {
		p(" (REHEARSAL: %s)", s(r.RehearsalReason))
	}
	p(", %s\n", r.End)
	p("  log        %d lines, head %s\n", r.Log.Lines, r.Log.Head)
	p("             compare the head and the line count with the witness's paper log\n")
	for _, h := range r.Log.HeadSignatures {
		p("  head signed by %s (key %s): %s\n", orNone(s(h.Holder)), termtext.ShortHex(s(h.KeyID)), validWord(h.Valid))
	}
	p("  program    Conclave %s, binary SHA-256 %s (as the log records it: check the binary against a reproducible build)\n", s(r.Program.ConclaveVersion), s(r.Program.BinarySHA256))
	p("  vault      generation %s, hash %s, policy SHA-256 %s", s(r.Vault.Generation), s(r.Vault.Hash), s(r.Vault.PolicySHA256))
	if !r.Vault.Checked {
		p(" (not checked: no vault given)")
	}
	p("\n")
	p("  present    participants %s; witnesses %s\n", list(r.Participants), list(r.Witnesses))
	if r.Clock != nil {
		p("  clock      %s, confirmed by %s\n", s(r.Clock.Confirmed), s(r.Clock.By))
	}
	for i, pf := range r.Preflight {
		p("  preflight  run %d: %d checks", i+1, len(pf.Checks))
		if len(pf.Blocking) > 0 {
			p(", blocking %s", list(pf.Blocking))
		}
		p("\n")
		for _, c := range pf.Checks {
			if c.Status != "pass" {
				p("             %s %s: %s\n", s(c.Status), s(c.ID), s(c.Message))
			}
		}
		for _, o := range pf.Overrides {
			used := "used"
			if !o.Used {
				used = "not needed"
			}
			p("             override %s (%s): %s\n", s(o.ID), used, s(o.Reason))
		}
	}
	if r.Bundle != nil {
		p("  bundle     %s from %s, manifest SHA-256 %s: %d rule-approvable, %d needing judgement, %d invalid\n",
			s(r.Bundle.ID), s(r.Bundle.Source), s(r.Bundle.ManifestSHA256), r.Bundle.Counts.RuleApprovable, r.Bundle.Counts.NeedsJudgement, r.Bundle.Counts.Invalid)
	}
	p("\nSigned roles:\n")
	if len(r.Roles) == 0 {
		p("  none\n")
	}
	for _, ro := range r.Roles {
		met := "met"
		if !ro.ThresholdMet {
			met = "NOT met"
		}
		p("  %s version %d (%s)\n", s(ro.Role), ro.Version, orNone(s(ro.File)))
		p("    payload  %s\n", ro.PayloadSHA256)
		p("    expires  %s (expected %s)\n", s(ro.Expires), orNone(ro.ExpectedExpires))
		p("    changes  %d added, %d rotated, %d removed; card digest %s\n", ro.Added, ro.Rotated, ro.Removed, orNone(ro.CardDigest))
		p("    signed by %d of %d holders (%s), threshold %d %s\n", len(ro.SignedBy), len(ro.Holders), list(ro.SignedBy), ro.Threshold, met)
		for _, sig := range ro.Signatures {
			logged := "in the log"
			if !sig.Logged {
				logged = "NOT in the log"
			}
			p("      %s key %s: %s, %s", orNone(s(sig.Holder)), termtext.ShortHex(s(sig.KeyID)), s(sig.Status), logged)
			if sig.Token != "" {
				p(", token %s", s(sig.Token))
			}
			p("\n")
		}
	}
	p("\nDecisions:\n")
	if len(r.Decisions) == 0 {
		p("  none\n")
	}
	for _, d := range r.Decisions {
		p("  %s %s %s: %s", s(d.RequestID), s(d.Kind), s(d.Project), d.Decision)
		if d.By != "" {
			p(" by %s", s(d.By))
		}
		if d.Reason != "" {
			p(" (%s)", s(d.Reason))
		}
		if len(d.Codes) > 0 {
			p(" [%s]", s(strings.Join(d.Codes, ", ")))
		}
		if d.Applied {
			p(", applied")
		}
		p("\n")
	}
	p("\nExported files:\n")
	if len(r.Files) == 0 {
		p("  none\n")
	}
	for _, f := range r.Files {
		mark := "✔"
		if !f.Match {
			mark = "✘"
		}
		p("  %s %s %s\n", mark, s(f.Name), orNone(f.SHA256))
	}
	if len(r.Notes) > 0 {
		p("\nNotes:\n")
		for _, n := range r.Notes {
			p("  %s: %s\n", s(n.By), s(n.Text))
		}
	}
	if r.Published != nil {
		p("\nPublished metadata (%s):\n", termtext.Plural(len(r.Published.Files), "file"))
		if len(r.Published.Discrepancies) == 0 {
			p("  what is published is what was signed\n")
		}
		for _, d := range r.Published.Discrepancies {
			p("  ✘ [%s] %s\n", d.Kind, s(d.Message))
		}
	}
	return b.Flush()
}

func validWord(ok bool) string {
	if ok {
		return "valid"
	}
	return "NOT valid"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// list is names, each made safe, joined; "none" for none.
func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = termtext.Safe(n)
	}
	return strings.Join(out, ", ")
}
