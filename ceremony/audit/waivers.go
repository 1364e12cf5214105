package audit

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Waiver is a recovery's notice period waived (a waived line,
// docs/recover.md): the request, the reason, and the holders who signed
// the statement. The replay verifies each signature under the holder's
// enrolled key and that they are a threshold of the delegating role's
// holders; a waiver that does not is a replay finding at its line.
type Waiver struct {
	// Site is the site whose log records it, for a ceremony signed at
	// several sites (0 otherwise).
	Site         int    `json:"site,omitempty"`
	Line         int64  `json:"line"`
	RequestID    string `json:"request_id"`
	Project      string `json:"project"`
	ChangeDigest string `json:"change_digest"`
	// Role and RoleVersion are the delegating role and the version of it
	// the holders saw.
	Role        string         `json:"role"`
	RoleVersion int64          `json:"role_version"`
	Reason      string         `json:"reason"`
	Holders     []WaiverHolder `json:"holders"`
}

// WaiverHolder is one holder's signature on a waiver.
type WaiverHolder struct {
	Holder string `json:"holder"`
	KeyID  string `json:"keyid"`
	Token  string `json:"token"`
}

// readWaivers reads the log's waived lines into the report.
func (a *audit) readWaivers() {
	for _, e := range a.entries {
		if e.Type != session.TypeWaived {
			continue
		}
		var w session.Waived
		if json.Unmarshal(e.Body, &w) != nil {
			continue
		}
		st := w.Statement
		rw := Waiver{Line: e.Seq, RequestID: st.RequestID, Project: st.Project, ChangeDigest: st.ChangeDigest,
			Role: st.Role, RoleVersion: st.RoleVersion, Reason: st.Reason, Holders: []WaiverHolder{}}
		for _, s := range w.Signatures {
			rw.Holders = append(rw.Holders, WaiverHolder{Holder: s.Holder, KeyID: s.KeyID, Token: s.Token})
		}
		a.r.Waivers = append(a.r.Waivers, rw)
	}
}

// holderNames are a waiver's holders, by name.
func (w Waiver) holderNames() []string {
	out := make([]string, len(w.Holders))
	for i, h := range w.Holders {
		out[i] = h.Holder
	}
	return out
}

// writeWaivers writes the waivers for people.
func (r *Report) writeWaivers(p func(string, ...any)) {
	if len(r.Waivers) == 0 {
		return
	}
	s := termtext.Safe
	p("\nNotice periods waived:\n")
	for _, w := range r.Waivers {
		where := fmt.Sprintf("line %d", w.Line)
		if w.Site > 0 {
			where = fmt.Sprintf("site %d %s", w.Site, where)
		}
		p("  %s %s (%s version %d), %s: waived by %s\n", s(w.RequestID), s(w.Project), s(w.Role), w.RoleVersion, where, list(w.holderNames()))
		p("    reason   %s\n", s(w.Reason))
		p("    change   %s\n", s(w.ChangeDigest))
		for _, h := range w.Holders {
			p("    %s key %s, token %s\n", s(h.Holder), termtext.ShortHex(s(h.KeyID)), s(h.Token))
		}
	}
}

// waiversHTML is the page's section of waivers.
var waiversHTML = template.Must(template.New("waivers").Parse(`{{if .}}<h2>Notice periods waived</h2>
{{range .}}<table>
<tr><th colspan="3">request {{.RequestID}} ({{.Project}}, {{.Role}} version {{.RoleVersion}}){{if .Site}}, site {{.Site}}{{end}}, line {{.Line}}</th></tr>
<tr><td colspan="3">reason: {{.Reason}}<br>change digest <span class="hash">{{.ChangeDigest}}</span></td></tr>
<tr><th>holder</th><th>key</th><th>token</th></tr>
{{range .Holders}}<tr><td>{{.Holder}}</td><td class="hash">{{.KeyID}}</td><td>{{.Token}}</td></tr>
{{end}}</table>
{{end}}{{end}}`))

// WaiversHTML is the page's section of waivers ("" for none).
func (r *Report) WaiversHTML() (template.HTML, error) {
	var b strings.Builder
	if err := waiversHTML.Execute(&b, r.Waivers); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}
