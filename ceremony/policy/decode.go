package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Format is the value of a policy's "format" field.
const Format = "conclave-policy/1"

// MaxSize bounds a policy file: a few pages of text are expected (one with
// fifty holders is about 10 KiB), and a file far larger is not something
// people could have read.
const MaxSize = 256 << 10

// ErrInvalid is wrapped by every error about a policy file.
var ErrInvalid = errors.New("invalid policy")

// Error is a refused policy: the file, the line (0 when unknown) and the
// field path (holders[1].keys[0].slot) of what is wrong, and why.
type Error struct {
	File string
	Line int
	Path string
	Msg  string
	// Err is the underlying error, when there is one (a key's
	// tuf.ErrInvalidKey).
	Err error
}

func (e *Error) Error() string {
	msg := e.Msg
	if e.Path != "" {
		msg = e.Path + ": " + msg
	}
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	case e.File != "":
		return e.File + ": " + msg
	}
	return msg
}

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Parse decodes a policy file strictly and checks it (Check). name is
// the file's name as errors should show it. Unknown fields, a key given
// twice, a value of the wrong type or out of range, anchors, aliases,
// explicit tags and a second YAML document are refused; every error is an
// *Error naming the line and field path.
func Parse(name string, data []byte) (*Policy, error) {
	p, err := parse(name, data)
	// The YAML parser places an error found at the end of the stream
	// (a document marker with nothing after it) on the line after the
	// last; a person looks for it on the last line.
	var e *Error
	if errors.As(err, &e) {
		e.Line = min(e.Line, Lines(data))
	}
	return p, err
}

// Lines counts the lines of data as the YAML parser does: a line ends
// at LF, CR, CR LF, or NEL, LS or PS (U+0085, U+2028, U+2029).
func Lines(data []byte) int {
	n := 1
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\n':
			n++
		case data[i] == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			n++
		case data[i] == 0xc2 && i+1 < len(data) && data[i+1] == 0x85,
			data[i] == 0xe2 && i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xa8 || data[i+2] == 0xa9):
			n++
		}
	}
	return n
}

func parse(name string, data []byte) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("the policy is %d bytes long; at most %d are read", len(data), MaxSize)}
	}
	doc, err := readDocument(name, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{name: name, lines: make(map[string]int)}
	d.refuseIndirection(doc)
	if d.err != nil {
		return nil, d.err
	}
	p := d.policy(doc)
	if d.err != nil {
		return nil, d.err
	}
	sum := sha256.Sum256(data)
	p.SHA256 = hex.EncodeToString(sum[:])
	if err := p.Check(); err != nil {
		return nil, err
	}
	return p, nil
}

// yamlLine matches the line yaml.v3 puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): `)

// readDocument parses the one YAML document of data.
func readDocument(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, &Error{File: name, Msg: "the policy is empty"}
		}
		return nil, syntaxError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, syntaxError(name, err)
	default:
		return nil, &Error{File: name, Line: next.Line, Msg: "a second YAML document starts here; a policy is one document"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Error{File: name, Line: doc.Line, Msg: "the policy is not one YAML document"}
	}
	return doc.Content[0], nil
}

// syntaxError turns a yaml.v3 error into an *Error with its line.
func syntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Msg: "not valid YAML: " + msg[len(m[0]):]}
	}
	return &Error{File: name, Msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// decoder walks the document, keeping the first error.
type decoder struct {
	name  string
	lines map[string]int
	err   error
	// keyRoles collects each holder key's roles (Policy.KeyRoles).
	keyRoles map[string][]string
}

func (d *decoder) fail(n *yaml.Node, path, format string, a ...any) {
	if d.err == nil {
		d.err = &Error{File: d.name, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, a...)}
	}
}

// field joins a mapping key to a path.
func field(path, key string) string {
	if !plainKey(key) {
		key = "[" + strconv.Quote(key) + "]"
		return path + key
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// refuseIndirection refuses anchors (so aliases) and explicit tags anywhere:
// a policy is read by people, so every value must be written out where it
// applies, as what it plainly is. The path is worked out only for the
// node refused.
func (d *decoder) refuseIndirection(root *yaml.Node) {
	bad := findIndirection(root)
	if bad == nil {
		return
	}
	at := pathTo(root, bad, "")
	if at == "" {
		at = "(top)"
	}
	if bad.Anchor != "" {
		// An alias needs an anchor before it, so refusing anchors
		// refuses aliases too (one naming no anchor is a YAML syntax
		// error).
		d.fail(bad, at, "anchor &%s refused: a policy is read by people, so every value is written out where it applies", termtext.Cap(bad.Anchor, 40))
		return
	}
	d.fail(bad, at, "explicit tag %s refused: write the value plainly", termtext.Cap(bad.Tag, 40))
}

// findIndirection returns the first node with an anchor or an explicit
// tag, or nil.
func findIndirection(n *yaml.Node) *yaml.Node {
	if n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 {
		return n
	}
	for _, c := range n.Content {
		if bad := findIndirection(c); bad != nil {
			return bad
		}
	}
	return nil
}

// pathTo is the field path of target under n (at path), or "".
func pathTo(n, target *yaml.Node, path string) string {
	if n == target {
		return path
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := field(path, n.Content[i].Value)
			for _, c := range n.Content[i : i+2] {
				if found := pathTo(c, target, p); found != "" {
					return found
				}
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if found := pathTo(c, target, index(path, i)); found != "" {
				return found
			}
		}
	}
	return ""
}

// describe names what a node is, for "want X, found Y".
func describe(n *yaml.Node) string {
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
			return "the text " + termtext.Quote(termtext.Cap(n.Value, 40))
		case "!!int", "!!float":
			return "the number " + termtext.Cap(n.Value, 40)
		case "!!bool":
			return "the boolean " + termtext.Cap(n.Value, 40)
		}
		return termtext.Quote(termtext.Cap(n.Value, 40))
	}
	return "something else"
}

// mapping reads a mapping whose keys must be among known; a key given
// twice or not known is refused. It returns the values by key.
func (d *decoder) mapping(n *yaml.Node, path string, known ...string) map[string]*yaml.Node {
	if d.err != nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, found %s", describe(n))
		return nil
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	keyLine := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			d.fail(k, path, "a key must be text, found %s", describe(k))
			return nil
		}
		p := field(path, k.Value)
		if first, dup := keyLine[k.Value]; dup {
			d.fail(k, p, "given twice (first on line %d)", first)
			return nil
		}
		keyLine[k.Value] = k.Line
		if known != nil && !slices.Contains(known, k.Value) {
			d.fail(k, p, "unknown field (the fields here are %s)", strings.Join(known, ", "))
			return nil
		}
		out[k.Value] = v
		// A field is where its key is: a block mapping or list as its
		// value starts on the next line.
		d.lines[p] = k.Line
	}
	return out
}

// sequence reads a list.
func (d *decoder) sequence(n *yaml.Node, path string) []*yaml.Node {
	if d.err != nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, found %s", describe(n))
		return nil
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	for i, c := range n.Content {
		d.lines[index(path, i)] = c.Line
	}
	return n.Content
}

func (d *decoder) str(n *yaml.Node, path string) string {
	if d.err != nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.fail(n, path, "want text, found %s", describe(n))
		return ""
	}
	return n.Value
}

// text reads one line of plain text: no control characters.
func (d *decoder) text(n *yaml.Node, path string) string {
	s := d.str(n, path)
	if d.err == nil {
		if msg := plainText(s); msg != "" {
			d.fail(n, path, "%s", msg)
		}
	}
	return s
}

func (d *decoder) strs(n *yaml.Node, path string) []string {
	items := d.sequence(n, path)
	out := make([]string, 0, len(items))
	for i, c := range items {
		out = append(out, d.text(c, index(path, i)))
	}
	return out
}

func (d *decoder) boolean(n *yaml.Node, path string) bool {
	if d.err != nil {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || (n.Value != "true" && n.Value != "false") {
		d.fail(n, path, "want true or false, found %s", describe(n))
		return false
	}
	return n.Value == "true"
}

// integer reads a whole number in [lo, hi], written in decimal.
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) int64 {
	if d.err != nil {
		return 0
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.fail(n, path, "want a whole number, found %s", describe(n))
		return 0
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 10, 64)
	if err != nil {
		d.fail(n, path, "want a whole number written in decimal, found %s", n.Value)
		return 0
	}
	if v < lo || v > hi {
		d.fail(n, path, "%d is out of range (%d to %d)", v, lo, hi)
		return 0
	}
	return v
}

// duration reads a duration ("90d"). A bare number is read as text so
// that the error can say what is missing: its unit.
func (d *decoder) duration(n *yaml.Node, path string) time.Duration {
	if d.err != nil {
		return 0
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		d.fail(n, path, "want a duration such as 90d, 36h or 30m, found %s", describe(n))
		return 0
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		d.fail(n, path, "%v", err)
	}
	return v
}

// top-level fields, in the order the documentation gives them.
var topFields = []string{
	"format", "rehearsal", "repository", "intake_keys", "delegating_role", "shards", "online_roles", "path_template",
	"roles", "developer_keys", "requests", "bundle_limits", "attestation", "pkcs11_modules",
	"preflight", "holders", "lost_token_deadline", "custody",
}

func (d *decoder) policy(n *yaml.Node) *Policy {
	p := &Policy{name: d.name, lines: d.lines, Roles: map[string]RolePolicy{}, Rules: rules.Default(), RequirePossession: true, LostTokenDeadline: DefaultLostTokenDeadline, VaultCopies: MinVaultCopies}
	m := d.mapping(n, "", topFields...)
	if d.err != nil {
		return nil
	}
	for _, req := range []string{"format", "repository", "intake_keys", "holders"} {
		if _, ok := m[req]; !ok {
			d.fail(n, req, "missing: every policy names it")
			return nil
		}
	}
	if f := d.str(m["format"], "format"); d.err == nil && f != Format {
		d.fail(m["format"], "format", "%q is not a policy format Conclave reads (%s)", f, Format)
	}
	if v, ok := m["rehearsal"]; ok {
		p.Rehearsal = d.boolean(v, "rehearsal")
	}
	p.Repository = d.text(m["repository"], "repository")
	p.Rules.Repository = p.Repository
	for i, k := range d.sequence(m["intake_keys"], "intake_keys") {
		p.IntakeKeys = append(p.IntakeKeys, d.key(k, index("intake_keys", i)))
	}
	_, hasRole := m["delegating_role"]
	_, hasShards := m["shards"]
	switch {
	case hasRole && hasShards:
		d.fail(m["shards"], "shards", "a policy names either delegating_role or shards, not both")
	case hasShards:
		for i, s := range d.sequence(m["shards"], "shards") {
			p.Shards = append(p.Shards, d.shard(s, index("shards", i)))
		}
	case hasRole:
		p.DelegatingRole = d.text(m["delegating_role"], "delegating_role")
	default:
		p.DelegatingRole = rules.Default().DelegatingRole
	}
	if v, ok := m["online_roles"]; ok {
		for i, r := range d.sequence(v, "online_roles") {
			p.OnlineRoles = append(p.OnlineRoles, d.onlineRole(r, index("online_roles", i)))
		}
	}
	if v, ok := m["path_template"]; ok {
		p.Rules.PathTemplate = d.text(v, "path_template")
	}
	if v, ok := m["roles"]; ok {
		roles := d.mapping(v, "roles")
		// In name order, so that of two faulty roles the same one is
		// named each time (the decoder reports its first error).
		for _, name := range slices.Sorted(maps.Keys(roles)) {
			p.Roles[name] = d.rolePolicy(roles[name], field("roles", name))
		}
	}
	if v, ok := m["developer_keys"]; ok {
		d.developerKeys(v, &p.Rules)
	}
	if v, ok := m["requests"]; ok {
		r := d.mapping(v, "requests", "require_possession", "min_dwell", "recovery_notice")
		if x, ok := r["require_possession"]; ok {
			p.RequirePossession = d.boolean(x, "requests.require_possession")
		}
		if x, ok := r["min_dwell"]; ok {
			p.Rules.MinDwell = d.duration(x, "requests.min_dwell")
		}
		if x, ok := r["recovery_notice"]; ok {
			p.Rules.RecoveryNotice = d.duration(x, "requests.recovery_notice")
		}
	}
	if v, ok := m["bundle_limits"]; ok {
		d.bundleLimits(v, &p.Rules)
	}
	if v, ok := m["attestation"]; ok {
		p.Attestation = d.attestation(v)
	}
	if v, ok := m["pkcs11_modules"]; ok {
		for i, mn := range d.sequence(v, "pkcs11_modules") {
			path := index("pkcs11_modules", i)
			mm := d.mapping(mn, path, "path", "sha256")
			p.PKCS11Modules = append(p.PKCS11Modules, Module{
				Path:   d.text(d.required(mm, mn, path, "path"), field(path, "path")),
				SHA256: d.text(d.required(mm, mn, path, "sha256"), field(path, "sha256")),
			})
		}
	}
	if v, ok := m["preflight"]; ok {
		pm := d.mapping(v, "preflight", "required")
		if x, ok := pm["required"]; ok {
			p.Preflight.Required = d.strs(x, "preflight.required")
		}
	}
	if v, ok := m["lost_token_deadline"]; ok {
		p.LostTokenDeadline = d.duration(v, "lost_token_deadline")
	}
	if v, ok := m["custody"]; ok {
		c := d.mapping(v, "custody", "vault_copies")
		if x, ok := c["vault_copies"]; ok {
			// Out of range is refused in Check, which says why two.
			p.VaultCopies = int(d.integer(x, "custody.vault_copies", 0, MaxVaultCopies))
		}
	}
	d.keyRoles = map[string][]string{}
	p.KeyRoles = d.keyRoles
	for i, h := range d.sequence(m["holders"], "holders") {
		p.Holders = append(p.Holders, d.holder(h, index("holders", i)))
	}
	return p
}

// required returns m[key], failing at n when it is absent.
func (d *decoder) required(m map[string]*yaml.Node, n *yaml.Node, path, key string) *yaml.Node {
	if d.err != nil {
		return n
	}
	v, ok := m[key]
	if !ok {
		d.fail(n, field(path, key), "missing")
		return n
	}
	return v
}

// key reads a TUF key object: keytype, scheme and keyval.public.
func (d *decoder) key(n *yaml.Node, path string) *tuf.Key {
	m := d.mapping(n, path, "keytype", "scheme", "keyval")
	kt := d.str(d.required(m, n, path, "keytype"), field(path, "keytype"))
	sc := d.str(d.required(m, n, path, "scheme"), field(path, "scheme"))
	kvPath := field(path, "keyval")
	kvNode := d.required(m, n, path, "keyval")
	kv := d.mapping(kvNode, kvPath, "public")
	pubNode := d.required(kv, kvNode, kvPath, "public")
	pub := d.str(pubNode, field(kvPath, "public"))
	if d.err != nil {
		return nil
	}
	k, err := tuf.ParsePlainKey(kt, pub, sc, path)
	if err != nil {
		// The key's own error names a field inside the key object
		// ("keyval.public: invalid key: …"): point at it.
		line, at, msg := n.Line, path, err.Error()
		var fe *tuf.FieldError
		if errors.As(err, &fe) {
			msg = fe.Msg
		}
		if rest, ok := strings.CutPrefix(msg, "keyval.public: "); ok {
			line, at, msg = pubNode.Line, field(kvPath, "public"), rest
		}
		d.err = &Error{File: d.name, Line: line, Path: at, Msg: msg, Err: err}
		return nil
	}
	return k
}

func (d *decoder) shard(n *yaml.Node, path string) Shard {
	m := d.mapping(n, path, "role", "prefixes", "paths")
	return Shard{
		Role:     d.text(d.required(m, n, path, "role"), field(path, "role")),
		Prefixes: d.strs(d.required(m, n, path, "prefixes"), field(path, "prefixes")),
		Paths:    d.strs(d.required(m, n, path, "paths"), field(path, "paths")),
	}
}

func (d *decoder) onlineRole(n *yaml.Node, path string) OnlineRole {
	m := d.mapping(n, path, "name", "paths", "threshold")
	r := OnlineRole{
		Name:      d.text(d.required(m, n, path, "name"), field(path, "name")),
		Paths:     d.strs(d.required(m, n, path, "paths"), field(path, "paths")),
		Threshold: 1,
	}
	if v, ok := m["threshold"]; ok {
		r.Threshold = d.integer(v, field(path, "threshold"), 1, MaxThreshold)
	}
	return r
}

func (d *decoder) rolePolicy(n *yaml.Node, path string) RolePolicy {
	rp := defaultRolePolicy(path[len("roles."):])
	m := d.mapping(n, path, "expiry", "warning", "threshold")
	if v, ok := m["expiry"]; ok {
		rp.Expiry = d.duration(v, field(path, "expiry"))
	}
	if v, ok := m["warning"]; ok {
		rp.Warning = d.duration(v, field(path, "warning"))
	}
	if v, ok := m["threshold"]; ok {
		rp.Threshold = d.integer(v, field(path, "threshold"), 1, MaxThreshold)
	}
	return rp
}

func (d *decoder) developerKeys(n *yaml.Node, r *rules.Rules) {
	m := d.mapping(n, "developer_keys", "schemes", "rsa_min_bits", "rsa_max_bits", "max_keys")
	if v, ok := m["schemes"]; ok {
		r.KeySchemes = d.strs(v, "developer_keys.schemes")
	}
	if v, ok := m["rsa_min_bits"]; ok {
		r.MinRSABits = int(d.integer(v, "developer_keys.rsa_min_bits", tuf.MinRSABits, tuf.MaxRSABits))
	}
	if v, ok := m["rsa_max_bits"]; ok {
		r.MaxRSABits = int(d.integer(v, "developer_keys.rsa_max_bits", tuf.MinRSABits, tuf.MaxRSABits))
	}
	if v, ok := m["max_keys"]; ok {
		r.MaxKeys = int(d.integer(v, "developer_keys.max_keys", 1, 1024))
	}
}

func (d *decoder) bundleLimits(n *yaml.Node, r *rules.Rules) {
	m := d.mapping(n, "bundle_limits", "max_files", "max_requests", "max_batch_requests", "max_batch_size", "max_request_size", "max_total_size",
		"max_published_size", "max_manifest_size", "max_json_depth", "max_project_name", "max_requested_by")
	intField := func(name string, lo, hi int64, set func(int64)) {
		if v, ok := m[name]; ok {
			set(d.integer(v, field("bundle_limits", name), lo, hi))
		}
	}
	intField("max_files", 1, 1_000_000, func(v int64) { r.MaxFiles = int(v) })
	intField("max_requests", 1, 10_000_000, func(v int64) { r.MaxRequests = int(v) })
	intField("max_batch_requests", 1, 10_000_000, func(v int64) { r.MaxBatchRequests = int(v) })
	intField("max_batch_size", 1, 1<<40, func(v int64) { r.MaxBatchSize = v })
	intField("max_request_size", 1, 1<<40, func(v int64) { r.MaxRequestSize = v })
	intField("max_total_size", 1, 1<<44, func(v int64) { r.MaxTotalSize = v })
	intField("max_published_size", 1, 1<<40, func(v int64) { r.MaxPublishedSize = v })
	intField("max_manifest_size", 1, 1<<40, func(v int64) { r.MaxManifestSize = v })
	intField("max_json_depth", 4, 512, func(v int64) { r.MaxJSONDepth = int(v) })
	intField("max_project_name", 1, 1024, func(v int64) { r.MaxProjectName = int(v) })
	intField("max_requested_by", 1, 65536, func(v int64) { r.MaxRequestedBy = int(v) })
}

func (d *decoder) attestation(n *yaml.Node) Attestation {
	var a Attestation
	m := d.mapping(n, "attestation", "required", "min_firmware", "pin_policies", "touch_policies")
	if v, ok := m["required"]; ok {
		a.Required = d.boolean(v, "attestation.required")
	}
	if v, ok := m["min_firmware"]; ok {
		a.MinFirmware = d.text(v, "attestation.min_firmware")
	}
	if v, ok := m["pin_policies"]; ok {
		a.PINPolicy = d.strs(v, "attestation.pin_policies")
	}
	if v, ok := m["touch_policies"]; ok {
		a.TouchPolicy = d.strs(v, "attestation.touch_policies")
	}
	return a
}

func (d *decoder) holder(n *yaml.Node, path string) Holder {
	m := d.mapping(n, path, "name", "contact", "keys")
	h := Holder{Name: d.str(d.required(m, n, path, "name"), field(path, "name"))}
	if v, ok := m["contact"]; ok {
		h.Contact = d.str(v, field(path, "contact"))
	}
	kp := field(path, "keys")
	for i, k := range d.sequence(d.required(m, n, path, "keys"), kp) {
		h.Keys = append(h.Keys, d.holderKey(k, index(kp, i)))
	}
	return h
}

func (d *decoder) holderKey(n *yaml.Node, path string) HolderKey {
	m := d.mapping(n, path, "keyid", "token", "serial", "slot", "uri", "roles", "spare")
	k := HolderKey{
		KeyID: d.str(d.required(m, n, path, "keyid"), field(path, "keyid")),
		Token: d.text(d.required(m, n, path, "token"), field(path, "token")),
	}
	if v, ok := m["serial"]; ok {
		k.Serial = uint32(d.integer(v, field(path, "serial"), 1, math.MaxUint32))
	}
	if v, ok := m["slot"]; ok {
		// A slot is written as YubiKey tools print it (9a, 9c, 82…);
		// "82" unquoted is a YAML number, which reads the same.
		if d.err == nil && (v.Kind != yaml.ScalarNode || (v.Tag != "!!str" && v.Tag != "!!int")) {
			d.fail(v, field(path, "slot"), "want a slot name such as 9c, found %s", describe(v))
		}
		k.Slot = v.Value
	}
	if v, ok := m["uri"]; ok {
		k.URI = d.text(v, field(path, "uri"))
	}
	if v, ok := m["spare"]; ok {
		k.Spare = d.boolean(v, field(path, "spare"))
	}
	if v, ok := m["roles"]; ok && d.err == nil {
		d.keyRoles[k.KeyID] = d.strs(v, field(path, "roles"))
	}
	return k
}
