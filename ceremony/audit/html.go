package audit

import (
	"html/template"
	"io"
)

// WriteHTML writes the report as one self-contained page for printing and
// filing: no script, no external style sheet, image or font, no link
// anywhere; the verdict first, then the signing table, the decisions and
// the discrepancies. html/template escapes every string from the log, the
// export or the vault for where it stands, so no field can add markup.
// The page margins suit both A4 and US Letter: @page sets no paper size,
// and the printer's own is used.
func (r *Report) WriteHTML(w io.Writer) error {
	return htmlReport.Execute(w, r)
}

var htmlReport = template.Must(template.New("audit").Funcs(template.FuncMap{
	"valid": validWord,
	"none":  orNone,
	"inc":   func(i int) int { return i + 1 },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="format" content="{{.Format}}">
<title>Conclave audit of ceremony {{.Ceremony}}</title>
<style>
@page { margin: 16mm 14mm; }
body { font: 10.5pt/1.4 serif; color: #000; background: #fff; max-width: 180mm; margin: 0 auto; }
h1 { font-size: 16pt; margin: 0 0 4mm; }
h2 { font-size: 12.5pt; margin: 6mm 0 2mm; border-bottom: 1px solid #000; break-after: avoid; }
.verdict { border: 2px solid #000; padding: 3mm 4mm; font-weight: bold; font-size: 12pt; }
.verdict.fail { border-width: 4px; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; }
th, td { border: 1px solid #666; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eee; }
tr { break-inside: avoid; }
code, .hash { font-family: monospace; font-size: 8.5pt; word-break: break-all; }
.bad { font-weight: bold; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.5mm 4mm; margin: 0; }
dt { font-weight: bold; }
dd { margin: 0; }
.sign { margin-top: 10mm; display: grid; grid-template-columns: 1fr 1fr; gap: 10mm; }
.sign div { border-top: 1px solid #000; padding-top: 1mm; }
</style>
</head>
<body>
<h1>Conclave audit: ceremony <code>{{.Ceremony}}</code></h1>
<p class="verdict {{.Verdict}}" id="verdict" data-verdict="{{.Verdict}}">{{.VerdictLine}}</p>
{{if .Rehearsal}}<p class="bad">REHEARSAL: {{.RehearsalReason}}. Nothing it signed may be published.</p>{{end}}
{{if .Findings}}<h2>Findings</h2>
<table><tr><th>code</th><th>line</th><th>what</th></tr>
{{range .Findings}}<tr><td><code>{{.Code}}</code></td><td>{{if .Line}}{{.Line}}{{end}}</td><td>{{.Message}}</td></tr>
{{end}}</table>{{end}}
<h2>Signing</h2>
{{if not .Roles}}<p>No role was built.</p>{{end}}
{{range .Roles}}<table>
<tr><th colspan="5">{{.Role}} version {{.Version}} ({{none .File}}): signed by {{len .SignedBy}} of {{len .Holders}} holders, threshold {{.Threshold}} {{if .ThresholdMet}}met{{else}}<span class="bad">NOT met</span>{{end}}</th></tr>
<tr><td colspan="5">payload <span class="hash">{{.PayloadSHA256}}</span><br>expires {{.Expires}} (expected {{none .ExpectedExpires}})<br>changes: {{.Added}} added, {{.Rotated}} rotated, {{.Removed}} removed; card digest <span class="hash">{{none .CardDigest}}</span></td></tr>
<tr><th>holder</th><th>key</th><th>signature</th><th>in the log</th><th>token</th></tr>
{{range .Signatures}}<tr><td>{{none .Holder}}</td><td class="hash">{{.KeyID}}</td><td>{{.Status}}</td><td>{{if .Logged}}yes{{else}}<span class="bad">NO</span>{{end}}</td><td>{{.Token}}</td></tr>
{{end}}</table>
{{end}}
<h2>Decisions</h2>
{{if not .Decisions}}<p>No request was judged.</p>{{else}}<table><tr><th>request</th><th>kind</th><th>project</th><th>decision</th><th>by</th><th>reason</th><th>codes</th><th>applied</th></tr>
{{range .Decisions}}<tr><td>{{.RequestID}}</td><td>{{.Kind}}</td><td>{{.Project}}</td><td>{{.Decision}}</td><td>{{.By}}</td><td>{{.Reason}}</td><td>{{range $i, $c := .Codes}}{{if $i}}, {{end}}{{$c}}{{end}}</td><td>{{if .Applied}}yes{{end}}</td></tr>
{{end}}</table>{{end}}
{{with .Published}}<h2>Published and signed</h2>
<p>{{len .Files}} published files compared.</p>
{{if not .Discrepancies}}<p>What is published is what was signed.</p>{{else}}<table><tr><th>kind</th><th>role</th><th>file</th><th>what</th></tr>
{{range .Discrepancies}}<tr><td><code>{{.Kind}}</code></td><td>{{.Role}}</td><td>{{.File}}</td><td>{{.Message}}</td></tr>
{{end}}</table>{{end}}{{end}}
<h2>Exported files</h2>
<table><tr><th>file</th><th>SHA-256</th><th>as the log records</th></tr>
{{range .Files}}<tr><td>{{.Name}}</td><td class="hash">{{none .SHA256}}</td><td>{{if .Match}}yes{{else}}<span class="bad">NO</span> (<span class="hash">{{none .Logged}}</span>){{end}}</td></tr>
{{end}}</table>
<h2>The ceremony, as its log records it</h2>
<dl>
<dt>log</dt><dd>{{.Log.Lines}} lines, head <span class="hash">{{.Log.Head}}</span>; {{.End}}. Compare the head and the line count with the witness's paper log.</dd>
{{range .Log.HeadSignatures}}<dt>head signed by</dt><dd>{{none .Holder}} (key <span class="hash">{{.KeyID}}</span>): {{valid .Valid}}</dd>
{{end}}<dt>program</dt><dd>Conclave {{.Program.ConclaveVersion}}, binary SHA-256 <span class="hash">{{.Program.BinarySHA256}}</span> (the program's own word: check the binary against a reproducible build)</dd>
<dt>vault</dt><dd>generation {{.Vault.Generation}}, hash <span class="hash">{{.Vault.Hash}}</span>, policy SHA-256 <span class="hash">{{.Vault.PolicySHA256}}</span>{{if not .Vault.Checked}} (not checked: no vault given){{end}}</dd>
<dt>participants</dt><dd>{{range $i, $n := .Participants}}{{if $i}}, {{end}}{{$n}}{{end}}</dd>
<dt>witnesses</dt><dd>{{range $i, $n := .Witnesses}}{{if $i}}, {{end}}{{$n}}{{end}}</dd>
{{with .Clock}}<dt>clock</dt><dd>{{.Confirmed}}, confirmed by {{.By}}</dd>{{end}}
{{with .Bundle}}<dt>bundle</dt><dd>{{.ID}} from {{.Source}}, manifest SHA-256 <span class="hash">{{.ManifestSHA256}}</span>: {{.Counts.RuleApprovable}} rule-approvable, {{.Counts.NeedsJudgement}} needing judgement, {{.Counts.Invalid}} invalid</dd>{{end}}
</dl>
{{range $i, $p := .Preflight}}<h2>Preflight, run {{inc $i}}</h2>
<table><tr><th>check</th><th>status</th><th>message</th></tr>
{{range $p.Checks}}<tr><td>{{.ID}}</td><td>{{.Status}}</td><td>{{.Message}}</td></tr>
{{end}}{{range $p.Overrides}}<tr><td>{{.ID}}</td><td>override{{if not .Used}} (not needed){{end}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{if $p.Blocking}}<p class="bad">blocking: {{range $j, $b := $p.Blocking}}{{if $j}}, {{end}}{{$b}}{{end}}</p>{{end}}
{{end}}
{{if .Notes}}<h2>Notes</h2>
<table>{{range .Notes}}<tr><td>{{.By}}</td><td>{{.Text}}</td></tr>
{{end}}</table>{{end}}
<div class="sign"><div>Audited by (name, date)</div><div>Signature</div></div>
</body>
</html>
`))
