package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// scriptFormat is the value of a ceremony script's "format" field.
const scriptFormat = "conclave-ceremony-script/1"

// maxScript bounds a script file: it names people and decisions, and a
// ceremony's explicit decisions fit in far less.
const maxScript = 4 << 20

// maxScriptText bounds one name or reason, in characters.
const maxScriptText = 1000

// maxTokenRetries bounds how often a pulled token is waited for.
const maxTokenRetries = 100

// script is a headless ceremony's script (docs/ceremony-script.md): who
// is in the room, the clock, the preflight overrides, the review's
// decisions, who signs in what order, and the close. It never holds a
// PIN.
type script struct {
	// Rehearsal is the reason given for a rehearsal ("" for none).
	Rehearsal    string
	Participants []string
	Witnesses    []string
	// ConfirmSystemClock is true for "clock: {confirm: system}"; Time is
	// the given time of "clock: {time: …}" (rehearsals and tests only).
	ConfirmSystemClock bool
	Time               time.Time
	// Overrides maps a preflight check ID to the reason for going on.
	Overrides map[string]string
	// Waivers are the recoveries whose notice period a threshold of
	// holders waives, by request id (waive_notice).
	Waivers   map[string]scriptWaiver
	Decisions scriptDecisions
	// Signing lists holders by name, in the order they sign.
	Signing []string
	// SignHead lists the holders who sign the log's head at the close.
	SignHead []string
	// TokenWait is how often, and how long, a pulled or wrong token is
	// waited for.
	TokenRetries int
	TokenDelay   time.Duration
}

// scriptDecisions are the review's decisions.
type scriptDecisions struct {
	// By names the participant who speaks for the decisions.
	By string
	// RuleApprovable, when set, approves every rule-approvable request
	// together, if there are exactly RuleApprovableCount.
	RuleApprovable      bool
	RuleApprovableCount int
	Approve             []string
	Reject              map[string]string
	Defer               map[string]string
}

// scriptWaiver is one waived notice period: the reason the holders sign,
// and the holders, in the order they sign.
type scriptWaiver struct {
	Reason  string
	Holders []string
}

// scriptError is a refused script: the file, the line and the field path.
type scriptError struct {
	file string
	line int
	path string
	msg  string
}

func (e *scriptError) Error() string {
	msg := e.msg
	if e.path != "" {
		msg = e.path + ": " + msg
	}
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, msg)
	}
	return e.file + ": " + msg
}

// parseScript decodes a script strictly: unknown fields, a key given
// twice, a value of the wrong type, anchors, aliases, explicit tags and a
// second document are refused, each error naming the line and the field
// path, as policy files are read (ceremony/policy).
func parseScript(name string, data []byte) (*script, error) {
	if len(data) > maxScript {
		return nil, &scriptError{file: name, msg: fmt.Sprintf("the script is %d bytes long; at most %d are read", len(data), maxScript)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, &scriptError{file: name, msg: "the script is empty"}
		}
		return nil, yamlSyntaxError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, yamlSyntaxError(name, err)
	default:
		return nil, &scriptError{file: name, line: next.Line, msg: "a second YAML document starts here; a script is one document"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &scriptError{file: name, line: doc.Line, msg: "the script is not one YAML document"}
	}
	d := &scriptDecoder{file: name}
	s := d.script(doc.Content[0])
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}

var yamlErrLine = regexp.MustCompile(`^yaml: line ([0-9]+): `)

func yamlSyntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &scriptError{file: name, line: line, msg: "not valid YAML: " + msg[len(m[0]):]}
	}
	return &scriptError{file: name, msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// scriptDecoder walks the document, keeping the first error.
type scriptDecoder struct {
	file string
	err  error
}

func (d *scriptDecoder) fail(n *yaml.Node, path, format string, a ...any) {
	if d.err == nil {
		d.err = &scriptError{file: d.file, line: n.Line, path: path, msg: fmt.Sprintf(format, a...)}
	}
}

func scriptField(path, key string) string {
	if path == "" {
		return key
	}
	if strings.ContainsAny(key, ".[]\" ") || key == "" {
		return path + "[" + strconv.Quote(key) + "]"
	}
	return path + "." + key
}

// plain refuses anchors, aliases and explicit tags: a script is read by
// the people in the room, so every value is written out where it applies.
func (d *scriptDecoder) plain(n *yaml.Node, path string) bool {
	switch {
	case d.err != nil:
		return false
	case n.Kind == yaml.AliasNode:
		d.fail(n, path, "alias *%s refused: write every value out where it applies", termtext.Cap(n.Value, 40))
	case n.Anchor != "":
		d.fail(n, path, "anchor &%s refused: write every value out where it applies", termtext.Cap(n.Anchor, 40))
	case n.Style&yaml.TaggedStyle != 0:
		d.fail(n, path, "explicit tag %s refused: write the value plainly", termtext.Cap(n.Tag, 40))
	}
	return d.err == nil
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing (null)"
		case "!!str":
			return "the text " + termtext.Quote(n.Value)
		case "!!int", "!!float":
			return "the number " + termtext.Cap(n.Value, 40)
		case "!!bool":
			return "the boolean " + n.Value
		}
	}
	return termtext.Quote(n.Value)
}

// mapping reads a mapping; with known, other keys are refused. The keys
// come back in the file's order.
func (d *scriptDecoder) mapping(n *yaml.Node, path string, known ...string) ([]string, map[string]*yaml.Node) {
	if !d.plain(n, path) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, found %s", describeNode(n))
		return nil, nil
	}
	var keys []string
	out := map[string]*yaml.Node{}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !d.plain(k, path) {
			return nil, nil
		}
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			d.fail(k, path, "a key must be text, found %s", describeNode(k))
			return nil, nil
		}
		p := scriptField(path, k.Value)
		if first, dup := lines[k.Value]; dup {
			d.fail(k, p, "given twice (first on line %d)", first)
			return nil, nil
		}
		lines[k.Value] = k.Line
		if known != nil && !slices.Contains(known, k.Value) {
			d.fail(k, p, "unknown field (the fields here are %s)", strings.Join(known, ", "))
			return nil, nil
		}
		keys = append(keys, k.Value)
		out[k.Value] = v
	}
	return keys, out
}

func (d *scriptDecoder) list(n *yaml.Node, path string) []*yaml.Node {
	if !d.plain(n, path) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, found %s", describeNode(n))
		return nil
	}
	return n.Content
}

// text reads one line of plain text, not empty.
func (d *scriptDecoder) text(n *yaml.Node, path string) string {
	if !d.plain(n, path) {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.fail(n, path, "want text, found %s", describeNode(n))
		return ""
	}
	s := n.Value
	switch {
	case strings.TrimSpace(s) == "":
		d.fail(n, path, "is empty")
	case !utf8.ValidString(s):
		d.fail(n, path, "is not UTF-8 text")
	case utf8.RuneCountInString(s) > maxScriptText:
		d.fail(n, path, "is %d characters long; at most %d are allowed", utf8.RuneCountInString(s), maxScriptText)
	case termtext.Cap(s, len(s)+2) != s:
		d.fail(n, path, "%s holds a control, invisible or backslash character; write plain text", termtext.Quote(s))
	}
	return s
}

func (d *scriptDecoder) integer(n *yaml.Node, path string, lo, hi int) int {
	if !d.plain(n, path) {
		return 0
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.fail(n, path, "want a whole number, found %s", describeNode(n))
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < lo || v > hi {
		d.fail(n, path, "%s is out of range (%d to %d)", termtext.Cap(n.Value, 40), lo, hi)
		return 0
	}
	return v
}

// names reads a list of distinct names.
func (d *scriptDecoder) names(n *yaml.Node, path string) []string {
	var out []string
	for i, c := range d.list(n, path) {
		p := fmt.Sprintf("%s[%d]", path, i)
		s := d.text(c, p)
		if d.err == nil && slices.Contains(out, s) {
			d.fail(c, p, "%s is listed twice", termtext.Quote(s))
		}
		out = append(out, s)
	}
	return out
}

// reasons reads a mapping from names (check IDs, request ids) to reasons.
func (d *scriptDecoder) reasons(n *yaml.Node, path string) map[string]string {
	keys, m := d.mapping(n, path)
	out := map[string]string{}
	for _, k := range keys {
		p := scriptField(path, k)
		if msg := plainID(k); msg != "" {
			d.fail(m[k], p, "%s", msg)
		}
		out[k] = d.text(m[k], p)
	}
	return out
}

// plainID checks a name used as a key: printable, one line.
func plainID(s string) string {
	if s == "" || !utf8.ValidString(s) || termtext.Cap(s, len(s)+2) != s || len(s) > maxScriptText {
		return "the name " + termtext.Quote(s) + " is not plain text"
	}
	return ""
}

var scriptFields = []string{"format", "rehearsal", "participants", "witnesses", "clock", "preflight", "waive_notice", "decisions", "signing", "close", "token_wait"}

func (d *scriptDecoder) script(n *yaml.Node) *script {
	s := &script{Overrides: map[string]string{}, Decisions: scriptDecisions{Reject: map[string]string{}, Defer: map[string]string{}}}
	_, m := d.mapping(n, "", scriptFields...)
	if d.err != nil {
		return nil
	}
	for _, req := range []string{"format", "participants", "clock", "decisions", "signing"} {
		if _, ok := m[req]; !ok {
			d.fail(n, req, "missing: every script names it")
			return nil
		}
	}
	if f := d.text(m["format"], "format"); d.err == nil && f != scriptFormat {
		d.fail(m["format"], "format", "%s is not a script format Conclave reads (%s)", termtext.Quote(f), scriptFormat)
	}
	if v, ok := m["rehearsal"]; ok {
		s.Rehearsal = d.text(v, "rehearsal")
	}
	s.Participants = d.names(m["participants"], "participants")
	if d.err == nil && len(s.Participants) == 0 {
		d.fail(m["participants"], "participants", "is empty: name the people in the room")
	}
	if v, ok := m["witnesses"]; ok {
		s.Witnesses = d.names(v, "witnesses")
	}
	d.clock(m["clock"], s)
	if v, ok := m["preflight"]; ok {
		_, pm := d.mapping(v, "preflight", "overrides")
		if o, ok := pm["overrides"]; ok {
			s.Overrides = d.reasons(o, "preflight.overrides")
			for _, id := range sortedKeys(s.Overrides) {
				if d.err == nil && !slices.Contains(preflight.IDs, id) {
					d.fail(o, scriptField("preflight.overrides", id), "no preflight check has this ID (the IDs are %s)", strings.Join(preflight.IDs, ", "))
				}
			}
		}
	}
	if v, ok := m["waive_notice"]; ok {
		d.waivers(v, s)
	}
	d.decisions(m["decisions"], s)
	s.Signing = d.names(m["signing"], "signing")
	if d.err == nil && len(s.Signing) == 0 {
		d.fail(m["signing"], "signing", "is empty: name the holders who sign, in order")
	}
	if v, ok := m["close"]; ok {
		_, cm := d.mapping(v, "close", "sign_head")
		if h, ok := cm["sign_head"]; ok {
			s.SignHead = d.names(h, "close.sign_head")
		}
	}
	if v, ok := m["token_wait"]; ok {
		_, tm := d.mapping(v, "token_wait", "retries", "delay")
		if r, ok := tm["retries"]; ok {
			s.TokenRetries = d.integer(r, "token_wait.retries", 0, maxTokenRetries)
		}
		s.TokenDelay = 30 * time.Second
		if dl, ok := tm["delay"]; ok {
			txt := d.text(dl, "token_wait.delay")
			if d.err == nil {
				dur, err := time.ParseDuration(txt)
				if err != nil || dur < time.Second || dur > time.Hour {
					d.fail(dl, "token_wait.delay", "%s is not a duration between 1s and 1h, such as 30s or 2m", termtext.Quote(txt))
				}
				s.TokenDelay = dur
			}
		}
	}
	if d.err != nil {
		return nil
	}
	d.crossCheck(n, m, s)
	return s
}

func (d *scriptDecoder) clock(n *yaml.Node, s *script) {
	_, m := d.mapping(n, "clock", "confirm", "time")
	if d.err != nil {
		return
	}
	c, hasConfirm := m["confirm"]
	t, hasTime := m["time"]
	switch {
	case hasConfirm == hasTime:
		d.fail(n, "clock", "give either confirm: system (the machine's clock, confirmed by the people in the room) or time: (a given time, for rehearsals and tests)")
	case hasConfirm:
		if v := d.text(c, "clock.confirm"); d.err == nil && v != "system" {
			d.fail(c, "clock.confirm", "want system, found %s", describeNode(c))
		}
		s.ConfirmSystemClock = true
	default:
		v := d.text(t, "clock.time")
		if d.err != nil {
			return
		}
		at, err := tuf.ParseTime(v)
		if err != nil {
			d.fail(t, "clock.time", "%s is not an RFC 3339 time such as 2027-01-01T00:00:00Z", termtext.Quote(v))
			return
		}
		s.Time = at.UTC()
	}
}

// waivers reads waive_notice: REQUEST_ID: {reason: …, holders: [...]}.
func (d *scriptDecoder) waivers(n *yaml.Node, s *script) {
	keys, m := d.mapping(n, "waive_notice")
	s.Waivers = make(map[string]scriptWaiver, len(keys))
	for _, id := range keys {
		p := scriptField("waive_notice", id)
		if msg := plainID(id); msg != "" {
			d.fail(m[id], p, "%s", msg)
			return
		}
		_, wm := d.mapping(m[id], p, "reason", "holders")
		for _, f := range []string{"reason", "holders"} {
			if _, ok := wm[f]; d.err == nil && !ok {
				d.fail(m[id], scriptField(p, f), "missing: a waiver names the reason and the holders who sign it")
			}
		}
		if d.err != nil {
			return
		}
		w := scriptWaiver{Reason: d.text(wm["reason"], scriptField(p, "reason")), Holders: d.names(wm["holders"], scriptField(p, "holders"))}
		if d.err == nil && len(w.Holders) == 0 {
			d.fail(wm["holders"], scriptField(p, "holders"), "is empty: name the holders who waive the notice period")
		}
		s.Waivers[id] = w
	}
}

func (d *scriptDecoder) decisions(n *yaml.Node, s *script) {
	_, m := d.mapping(n, "decisions", "by", "approve_rule_approvable", "approve", "reject", "defer")
	if d.err != nil {
		return
	}
	dec := &s.Decisions
	by, ok := m["by"]
	if !ok {
		d.fail(n, "decisions.by", "missing: name the participant who speaks for the decisions")
		return
	}
	dec.By = d.text(by, "decisions.by")
	if v, ok := m["approve_rule_approvable"]; ok {
		_, am := d.mapping(v, "decisions.approve_rule_approvable", "count")
		c, ok := am["count"]
		if d.err == nil && !ok {
			d.fail(v, "decisions.approve_rule_approvable.count", "missing: a bulk approval confirms how many requests it approves")
		}
		if d.err == nil {
			dec.RuleApprovable = true
			dec.RuleApprovableCount = d.integer(c, "decisions.approve_rule_approvable.count", 0, 1<<30)
		}
	}
	if v, ok := m["approve"]; ok {
		dec.Approve = d.names(v, "decisions.approve")
	}
	if v, ok := m["reject"]; ok {
		dec.Reject = d.reasons(v, "decisions.reject")
	}
	if v, ok := m["defer"]; ok {
		dec.Defer = d.reasons(v, "decisions.defer")
	}
	if d.err != nil {
		return
	}
	// One decision per request.
	where := map[string]string{}
	for _, id := range dec.Approve {
		where[id] = "decisions.approve"
	}
	for _, list := range []struct {
		path string
		ids  map[string]string
	}{{"decisions.reject", dec.Reject}, {"decisions.defer", dec.Defer}} {
		for _, id := range sortedKeys(list.ids) {
			if first, ok := where[id]; ok {
				d.fail(m[strings.TrimPrefix(list.path, "decisions.")], scriptField(list.path, id), "request %s is also in %s: one decision per request", termtext.Quote(id), first)
				return
			}
			where[id] = list.path
		}
	}
}

// crossCheck checks what refers to the participants.
func (d *scriptDecoder) crossCheck(n *yaml.Node, m map[string]*yaml.Node, s *script) {
	for _, w := range s.Witnesses {
		if slices.Contains(s.Participants, w) {
			d.fail(m["witnesses"], "witnesses", "%s is also a participant: a witness watches, and is not one of the people deciding", termtext.Quote(w))
			return
		}
	}
	if !slices.Contains(s.Participants, s.Decisions.By) {
		d.fail(m["decisions"], "decisions.by", "%s is not among the participants", termtext.Quote(s.Decisions.By))
		return
	}
	for i, h := range s.Signing {
		if !slices.Contains(s.Participants, h) {
			d.fail(m["signing"], fmt.Sprintf("signing[%d]", i), "%s is not among the participants", termtext.Quote(h))
			return
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.Waivers)) {
		for i, h := range s.Waivers[id].Holders {
			if !slices.Contains(s.Participants, h) {
				d.fail(m["waive_notice"], fmt.Sprintf("%s[%d]", scriptField(scriptField("waive_notice", id), "holders"), i), "%s is not among the participants", termtext.Quote(h))
				return
			}
		}
	}
	for i, h := range s.SignHead {
		if !slices.Contains(s.Participants, h) {
			d.fail(m["close"], fmt.Sprintf("close.sign_head[%d]", i), "%s is not among the participants", termtext.Quote(h))
			return
		}
	}
}

// sortedKeys returns a map's keys, sorted: never let a map's order choose.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
