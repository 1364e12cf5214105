package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/partial"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// A ceremony signed at several air-gapped sites (docs/two-sites.md) has
// one log per site, each its own: every site's log carries the ceremony
// id, and each next site's joined line names the partial.json the site
// before it exported. The audit joins the logs by both:
//
//   - each site's log is checked as a log (chain, end, signed head) and
//     replayed on the vault generation it names;
//   - a log of another ceremony id is refused from the join;
//   - the sites are put in the order the ceremony travelled, from the
//     export back to the first site, each joined line to the exported
//     partial.json it names;
//   - every site built the same payload for each (role, version);
//   - every next site adopted exactly the first site's decisions
//     (session.DecisionsSHA256);
//   - every signature a site merged was signed at an earlier site;
//   - no holder signed a role at two sites: one vote, counted once.
//
// The signatures of the exported metadata are then counted by holder
// across the sites, each to be recorded by some site's signed line, and
// the expiry is checked at the ceremony time, the first site's confirmed
// time (session.CeremonyTime).

// Finding codes of a ceremony signed at several sites.
const (
	CodeSiteMissing    = "site-missing"
	CodeSiteCeremony   = "site-other-ceremony"
	CodeSitePartial    = "site-partial"
	CodeSiteUnjoined   = "site-unjoined"
	CodeSitePayload    = "site-payload"
	CodeSiteDecisions  = "site-decisions"
	CodeSiteMerged     = "site-merged"
	CodeHolderTwoSites = "holder-two-sites"
)

// What a site exported, as SiteReport.Exported names it.
const (
	exportedPartialWord  = "partial"
	exportedMetadataWord = "metadata"
)

// Site is the log of one site of a ceremony signed at several sites, as
// Input's own log: the log, its blobs by name, its signed head (nil for
// none) and the vault generation its opened line names (nil when not
// given: its log is then checked for integrity only).
type Site struct {
	Log   []byte
	Blobs map[string][]byte
	Head  []byte
	Vault *vault.Vault
}

// SiteReport is one site of a ceremony signed at several sites, as its
// log records it.
type SiteReport struct {
	// Site numbers the site in the order the ceremony travelled, from 1;
	// a log the audit could not place comes after them.
	Site     int     `json:"site"`
	Ceremony string  `json:"ceremony"`
	End      string  `json:"end"`
	Log      LogInfo `json:"log"`
	// Vault is the site's own vault generation.
	Vault        VaultRef            `json:"vault"`
	Participants []string            `json:"participants"`
	Witnesses    []string            `json:"witnesses"`
	Clock        *session.ClockEvent `json:"clock"`
	// Joined is the partial the site continued, Adopted the decisions it
	// took from it (nil at the first site).
	Joined  *session.Joined  `json:"joined"`
	Adopted *session.Adopted `json:"adopted"`
	// Payloads are the payloads it built, Signed the signatures its own
	// holders made there.
	Payloads []SitePayload   `json:"payloads"`
	Signed   []SiteSignature `json:"signed"`
	// Exported is "partial", "metadata", or "" when the log records no
	// export.
	Exported string `json:"exported"`
}

// SitePayload is one payload a site built.
type SitePayload struct {
	Role          string `json:"role"`
	Version       int64  `json:"version"`
	PayloadSHA256 string `json:"payload_sha256"`
}

// SiteSignature is one signature a site's holder made there.
type SiteSignature struct {
	Role    string `json:"role"`
	Version int64  `json:"version"`
	Holder  string `json:"holder"`
	KeyID   string `json:"keyid"`
	Token   string `json:"token"`
}

// siteLog is one site's log under audit.
type siteLog struct {
	a       *audit
	n       int // its number; 0 until placed
	joined  *session.Joined
	adopted *session.Adopted
	merged  *session.Merged
	// signed are the signatures its own holders made there.
	signed []session.Signed
	lines  map[string]int64 // the first line of each type
}

// sites is the join of the sites' logs; nil for a ceremony of one site.
type sites struct {
	chain  []*siteLog // in the order the ceremony travelled; the export's last
	others []*siteLog // not on the chain
}

// readSite reads the events of a site's log that the join uses.
func readSite(a *audit) *siteLog {
	sl := &siteLog{a: a, signed: slices.Clone(a.signed), lines: map[string]int64{}}
	for _, e := range a.entries {
		if _, ok := sl.lines[e.Type]; !ok {
			sl.lines[e.Type] = e.Seq
		}
		switch e.Type {
		case session.TypeJoined:
			var j session.Joined
			if json.Unmarshal(e.Body, &j) == nil {
				sl.joined = &j
			}
		case session.TypeAdopted:
			var ad session.Adopted
			if json.Unmarshal(e.Body, &ad) == nil {
				sl.adopted = &ad
			}
		case session.TypeMerged:
			var m session.Merged
			if json.Unmarshal(e.Body, &m) == nil {
				sl.merged = &m
			}
		}
	}
	return sl
}

// exportedPartial is the SHA-256 of the partial.json a site exported
// ("" when it exported none).
func (sl *siteLog) exportedPartial() string {
	if x := sl.a.exported; x != nil && x.Partial {
		return x.Files[partial.Name]
	}
	return ""
}

// joinSites checks the other sites' logs and joins them with this one,
// before this site's signatures are counted: every site's signed lines
// are records of the signatures in the exported metadata.
func (a *audit) joinSites(ctx context.Context) *sites {
	main := readSite(a)
	if len(a.in.Sites) == 0 {
		if main.joined != nil {
			a.find(CodeSiteMissing, main.lines[session.TypeJoined], "", "this ceremony continued a partial another site exported (partial.json SHA-256 %s): the log of every site that signed it is needed to audit it", main.joined.PartialSHA256)
		}
		return nil
	}
	j := &sites{}
	// Each site's log is checked and replayed on its own, side by side.
	logs := make([]*siteLog, len(a.in.Sites))
	parallel.For(len(a.in.Sites), 1, func(i int) {
		if ctx.Err() == nil {
			logs[i] = checkSite(a.in.Sites[i])
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	var candidates []*siteLog
	for _, sl := range logs {
		if sub := sl.a; sub.entries != nil && sub.r.Ceremony != a.r.Ceremony {
			j.others = append(j.others, sl)
			sub.find(CodeSiteCeremony, 1, "", "a site's log of ceremony %q was given; the export is of ceremony %q: the sites of one ceremony share its id", sub.r.Ceremony, a.r.Ceremony)
			continue
		}
		candidates = append(candidates, sl)
	}
	// From the export back to the first site, each joined line to the
	// partial.json the site before exported.
	j.chain = []*siteLog{main}
	for cur := main; cur.joined != nil; {
		i := slices.IndexFunc(candidates, func(sl *siteLog) bool {
			return sl.exportedPartial() == cur.joined.PartialSHA256
		})
		if i < 0 {
			cur.a.find(CodeSitePartial, cur.lines[session.TypeJoined], "", "this site joined the partial whose partial.json has SHA-256 %s, and no other site's log given exported it", cur.joined.PartialSHA256)
			break
		}
		cur = candidates[i]
		candidates = slices.Delete(candidates, i, i+1)
		j.chain = slices.Insert(j.chain, 0, cur)
	}
	for _, sl := range candidates {
		sl.a.find(CodeSiteUnjoined, 0, "", "this log of ceremony %s is not on the way from the first site to the export, on which each site joined the partial the site before it exported: a log given twice, or of a site whose partial went no further", a.r.Ceremony)
	}
	j.others = append(candidates, j.others...)
	for i, sl := range j.chain {
		sl.n = i + 1
	}
	for i, sl := range j.others {
		sl.n = len(j.chain) + i + 1
	}
	a.checkSites(j)
	// Every site's signed lines record signatures of the metadata.
	for _, sl := range j.chain {
		if sl.a != a {
			a.signed = append(a.signed, sl.signed...)
		}
	}
	return j
}

// checkSite checks one site's log as a log (chain, end, signed head) and
// replays it on its vault generation.
func checkSite(in Site) *siteLog {
	sub := &audit{in: Input{Log: in.Log, Blobs: in.Blobs, Head: in.Head, Vault: in.Vault}, r: &Report{}}
	sub.r.Log.HeadSignatures = []HeadSignature{}
	if !sub.chain() {
		return &siteLog{a: sub, lines: map[string]int64{}}
	}
	sub.events()
	sub.readWaivers()
	sub.head()
	if in.Vault == nil {
		sub.find(CodeNoVault, 0, "", "no vault was given for this site's log: its chain was checked, not its replay")
	} else {
		sub.replay()
	}
	return readSite(sub)
}

// checkSites compares the sites on the chain with the first.
func (a *audit) checkSites(j *sites) {
	// The way back ends at a site that joined nothing, or at a joined
	// line no log given exported (a finding already).
	first := j.chain[0]
	want := payloadsOf(first.a)
	var decisions string
	var count int
	// A replay refused at a line still holds the decisions before it.
	if first.a.s != nil && first.joined == nil {
		ds := siteDecisions(first.a.s)
		decisions, count = session.DecisionsSHA256(ds), len(ds)
	}
	type vote struct {
		role    string
		version int64
		holder  string
	}
	signedAt := map[vote]int{}
	for _, sl := range j.chain {
		if sl != first {
			got := payloadsOf(sl.a)
			keys := slices.Collect(maps.Keys(unionKeys(want, got)))
			slices.SortFunc(keys, func(x, y roleVersion) int {
				if c := strings.Compare(x.role, y.role); c != 0 {
					return c
				}
				return int(x.version - y.version)
			})
			for _, k := range keys {
				if want[k] != got[k] {
					sl.a.find(CodeSitePayload, sl.lines[session.TypeBuilt], k.role, "%s version %d: site %d built payload %s, site %d built %s; every site builds the same bytes",
						k.role, k.version, first.n, orNone(want[k]), sl.n, orNone(got[k]))
				}
			}
			switch {
			case sl.adopted == nil:
				sl.a.find(CodeSiteDecisions, 0, "", "site %d joined a partial and records no adopted decisions", sl.n)
			case decisions != "" && (sl.adopted.DecisionsSHA256 != decisions || sl.adopted.Count != count):
				sl.a.find(CodeSiteDecisions, sl.lines[session.TypeAdopted], "", "site %d adopted %d decisions with SHA-256 %s; site %d decided %d with SHA-256 %s: every site takes the first site's decisions",
					sl.n, sl.adopted.Count, sl.adopted.DecisionsSHA256, first.n, count, decisions)
			}
			a.checkMerged(j, sl)
		}
		for _, s := range sl.signed {
			v := vote{s.Role, s.Version, s.Holder}
			if at, twice := signedAt[v]; twice && at != sl.n {
				sl.a.find(CodeHolderTwoSites, 0, s.Role, "%s signed %s version %d at site %d and again at site %d; a holder is one vote, counted once",
					s.Holder, s.Role, s.Version, at, sl.n)
				continue
			}
			signedAt[v] = sl.n
		}
	}
}

// checkMerged holds every signature a site merged to one that an earlier
// site's signed line records, over the same bytes.
func (a *audit) checkMerged(j *sites, sl *siteLog) {
	if sl.merged == nil {
		return
	}
	for _, m := range sl.merged.Signatures {
		found := false
		for _, before := range j.chain[:sl.n-1] {
			found = found || slices.ContainsFunc(before.signed, func(s session.Signed) bool {
				return s.Role == m.Role && s.Version == m.Version && s.KeyID == m.KeyID && s.Signature == m.Signature
			})
		}
		if !found {
			sl.a.find(CodeSiteMerged, sl.lines[session.TypeMerged], m.Role, "site %d merged a signature of %s version %d by %s (key %s) that no earlier site's log records signing",
				sl.n, m.Role, m.Version, orNone(m.Holder), m.KeyID)
		}
	}
}

type roleVersion struct {
	role    string
	version int64
}

// payloadsOf are the payloads a site's built line registered.
func payloadsOf(a *audit) map[roleVersion]string {
	out := map[roleVersion]string{}
	if a.built != nil {
		for _, p := range a.built.Payloads {
			out[roleVersion{p.Role, p.Version}] = p.PayloadSHA256
		}
	}
	return out
}

func unionKeys(x, y map[roleVersion]string) map[roleVersion]bool {
	out := map[roleVersion]bool{}
	for k := range x {
		out[k] = true
	}
	for k := range y {
		out[k] = true
	}
	return out
}

// siteDecisions are a replayed site's decisions as a partial carries
// them: by request id in byte order.
func siteDecisions(s *session.Session) []partial.Decision {
	ds := []partial.Decision{}
	if s == nil || s.Report() == nil {
		return ds
	}
	for _, v := range s.Report().Requests {
		if d, ok := s.Decision(v.RequestID); ok {
			ds = append(ds, partial.Decision{RequestID: v.RequestID, Decision: d.Decision, Reason: d.Reason, By: d.By})
		}
	}
	slices.SortFunc(ds, func(x, y partial.Decision) int { return strings.Compare(x.RequestID, y.RequestID) })
	return ds
}

// reportSites writes each site into the report, numbers the findings of
// each site's log, and names the site that recorded each signature.
func (a *audit) reportSites(j *sites) {
	if j == nil {
		return
	}
	for _, sl := range slices.Concat(j.chain, j.others) {
		if sl.a == a {
			for i := range a.r.Findings {
				if f := &a.r.Findings[i]; f.Line > 0 && f.Site == 0 {
					f.Site = sl.n
				}
			}
			for i := range a.r.Waivers {
				if w := &a.r.Waivers[i]; w.Site == 0 {
					w.Site = sl.n
				}
			}
		} else {
			for _, f := range sl.a.r.Findings {
				f.Site = sl.n
				a.r.Findings = append(a.r.Findings, f)
			}
			for _, w := range sl.a.r.Waivers {
				w.Site = sl.n
				a.r.Waivers = append(a.r.Waivers, w)
			}
		}
		a.r.Sites = append(a.r.Sites, siteReport(sl))
	}
	slices.SortStableFunc(a.r.Sites, func(x, y SiteReport) int { return x.Site - y.Site })
	slices.SortStableFunc(a.r.Waivers, func(x, y Waiver) int { return x.Site - y.Site })
	for i := range a.r.Roles {
		ro := &a.r.Roles[i]
		for k := range ro.Signatures {
			sig := &ro.Signatures[k]
			for _, sl := range j.chain {
				if slices.ContainsFunc(sl.signed, func(s session.Signed) bool {
					return s.Role == ro.Role && s.Version == ro.Version && s.KeyID == sig.KeyID
				}) && sig.Site == 0 {
					sig.Site = sl.n
				}
			}
		}
	}
}

// siteReport is one site as its log records it.
func siteReport(sl *siteLog) SiteReport {
	a := sl.a
	sr := SiteReport{Site: sl.n, Ceremony: a.r.Ceremony, End: a.r.End, Log: a.r.Log, Vault: a.r.Vault,
		Participants: nonNil(a.r.Participants), Witnesses: nonNil(a.r.Witnesses), Clock: a.r.Clock,
		Joined: sl.joined, Adopted: sl.adopted, Payloads: []SitePayload{}, Signed: []SiteSignature{}}
	if sr.End == "" {
		sr.End = "open"
	}
	sr.Vault.Checked = a.in.Vault != nil
	if a.built != nil {
		for _, p := range a.built.Payloads {
			sr.Payloads = append(sr.Payloads, SitePayload{Role: p.Role, Version: p.Version, PayloadSHA256: p.PayloadSHA256})
		}
	}
	for _, s := range sl.signed {
		sr.Signed = append(sr.Signed, SiteSignature{Role: s.Role, Version: s.Version, Holder: s.Holder, KeyID: s.KeyID, Token: s.Token})
	}
	switch {
	case a.exported == nil:
	case a.exported.Partial:
		sr.Exported = exportedPartialWord
	default:
		sr.Exported = exportedMetadataWord
	}
	return sr
}

// OpenedOnHash is OpenedOn with the hash the opened line records of the
// generation: of the vaults of several sites, the one holding that
// generation with that hash is the one a site's log is checked against.
func OpenedOnHash(log []byte) (generation, hash string, ok bool) {
	i := bytes.IndexByte(log, '\n')
	if i < 0 {
		return "", "", false
	}
	entries, _, err := transcript.Parse(log[:i+1])
	if err != nil || len(entries) != 1 || entries[0].Type != session.TypeOpened {
		return "", "", false
	}
	var o session.Opened
	if json.Unmarshal(entries[0].Body, &o) != nil || o.VaultGeneration == "" {
		return "", "", false
	}
	return o.VaultGeneration, o.VaultHash, true
}

// Where names the site and line a finding is about ("" for neither).
func (f Finding) Where() string {
	var parts []string
	if f.Site > 0 {
		parts = append(parts, fmt.Sprintf("site %d", f.Site))
	}
	if f.Line > 0 {
		parts = append(parts, fmt.Sprintf("line %d", f.Line))
	}
	return strings.Join(parts, " ")
}

// exportedWords says what a site exported.
func exportedWords(x string) string {
	switch x {
	case exportedPartialWord:
		return "exported a partial for the next site"
	case exportedMetadataWord:
		return "exported the metadata"
	}
	return "exported nothing"
}

// writeSites writes the sites of a ceremony signed at several sites.
func (r *Report) writeSites(p func(string, ...any)) {
	if len(r.Sites) == 0 {
		return
	}
	s := termtext.Safe
	p("\nSites (%s, their logs joined by ceremony id and payload hash):\n", termtext.Plural(len(r.Sites), "site"))
	for _, st := range r.Sites {
		p("  site %d: ceremony %s, %s, %s\n", st.Site, s(st.Ceremony), st.End, exportedWords(st.Exported))
		p("    log        %d lines, head %s\n", st.Log.Lines, st.Log.Head)
		for _, h := range st.Log.HeadSignatures {
			p("    head signed by %s (key %s): %s\n", orNone(s(h.Holder)), termtext.ShortHex(s(h.KeyID)), validWord(h.Valid))
		}
		p("    vault      generation %s, hash %s, policy SHA-256 %s", s(st.Vault.Generation), s(st.Vault.Hash), s(st.Vault.PolicySHA256))
		if !st.Vault.Checked {
			p(" (not checked: no vault given)")
		}
		p("\n")
		p("    present    participants %s; witnesses %s\n", list(st.Participants), list(st.Witnesses))
		if st.Clock != nil {
			p("    clock      %s, confirmed by %s\n", s(st.Clock.Confirmed), s(st.Clock.By))
		}
		if j := st.Joined; j != nil {
			p("    joined     partial.json SHA-256 %s, ceremony time %s, received by %s\n", s(j.PartialSHA256), s(j.CeremonyTime), s(j.By))
		}
		if ad := st.Adopted; ad != nil {
			p("    adopted    %s, SHA-256 %s, confirmed by %s\n", termtext.Plural(ad.Count, "decision"), s(ad.DecisionsSHA256), s(ad.By))
		}
		for _, pl := range st.Payloads {
			p("    built      %s version %d, payload %s\n", s(pl.Role), pl.Version, s(pl.PayloadSHA256))
		}
		for _, sg := range st.Signed {
			p("    signed     %s: %s version %d, key %s, token %s\n", s(sg.Holder), s(sg.Role), sg.Version, termtext.ShortHex(s(sg.KeyID)), s(sg.Token))
		}
	}
}
