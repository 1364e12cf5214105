package policy

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// MaxText bounds a holder's name and contact and the repository name, in
// characters: they are shown on screens and paper logs whole.
const MaxText = 120

// PIV slots that can hold a signing key (NIST SP 800-73-4 §3.1: 9a
// authentication, 9c digital signature, 9d key management, 9e card
// authentication, 82–95 retired key management), written as YubiKey tools
// print them.
var pivSlots = func() []string {
	s := []string{"9a", "9c", "9d", "9e"}
	for i := 0x82; i <= 0x95; i++ {
		s = append(s, strconv.FormatInt(int64(i), 16))
	}
	return s
}()

// PIN and touch policies of a YubiKey's PIV slot, as its attestation
// certificate states them (Yubico PIV attestation extension
// 1.3.6.1.4.1.41482.3.8).
var (
	pinPolicies   = []string{"never", "once", "always", "match-once", "match-always"}
	touchPolicies = []string{"never", "always", "cached"}
)

// Check reports the first thing in the policy that is inconsistent or
// unsafe, naming its field path and (for a parsed file) its line. Parse
// runs it; a program that changes a Policy runs it again.
func (p *Policy) Check() error {
	for _, check := range []func() error{
		p.checkRepository, p.checkTemplate, p.checkRoles, p.checkOnlineRoles, p.checkRules, p.checkAttestation,
		p.checkModules, p.checkPreflight, p.checkHolders, p.checkCustody, p.checkLayout,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// errAt makes an *Error at path, with the line the path was read from.
func (p *Policy) errAt(path, format string, a ...any) error {
	line := 0
	for q := path; q != "" && line == 0; q = parent(q) {
		line = p.lines[q]
	}
	return &Error{File: p.name, Line: line, Path: path, Msg: fmt.Sprintf(format, a...)}
}

// parent cuts the last element off a field path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// plainText explains why s cannot stand as one line of text shown to
// people, or returns "".
func plainText(s string) string {
	if !utf8.ValidString(s) {
		return "is not UTF-8 text"
	}
	if termtext.Cap(s, len(s)+2) != s {
		return fmt.Sprintf("%s holds a control, invisible or backslash character; write plain text", termtext.Quote(s))
	}
	return ""
}

func (p *Policy) text(path, s string, required bool) error {
	switch {
	case s == "" && required:
		return p.errAt(path, "is empty")
	case utf8.RuneCountInString(s) > MaxText:
		return p.errAt(path, "is %d characters long; at most %d are allowed", utf8.RuneCountInString(s), MaxText)
	}
	if msg := plainText(s); msg != "" {
		return p.errAt(path, "%s", msg)
	}
	return nil
}

func (p *Policy) checkRepository() error {
	if err := p.text("repository", p.Repository, true); err != nil {
		return err
	}
	if len(p.IntakeKeys) == 0 {
		return p.errAt("intake_keys", "no intake key: bundles could not be verified")
	}
	seen := map[string]int{}
	for i, k := range p.IntakeKeys {
		path := index("intake_keys", i)
		if k == nil {
			return p.errAt(path, "missing")
		}
		if j, dup := seen[k.ID()]; dup {
			return p.errAt(path, "the same key as intake_keys[%d] (keyid %s)", j, k.ID())
		}
		seen[k.ID()] = i
	}
	return nil
}

// IsRoleName reports whether name is in the form of a role name: 1 to 64
// bytes of a–z, 0–9 and "-" inside. A command line tells a role name from
// a file name with it.
func IsRoleName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(name)-1) {
			return false
		}
	}
	return true
}

// checkRoleName refuses a role name that is not a short lower-case name: a
// role's name is its metadata file's name (ROLE.json), and a top-level
// role's name would make the delegation unreadable to clients.
func (p *Policy) checkRoleName(path, name string) error {
	if name == "" {
		return p.errAt(path, "is empty")
	}
	if len(name) > 64 {
		return p.errAt(path, "role name %q is %d bytes long; at most 64 are allowed", name, len(name))
	}
	if !IsRoleName(name) {
		return p.errAt(path, "role name %s may hold only a–z, 0–9 and \"-\" inside", termtext.Quote(name))
	}
	if slices.Contains(tuf.TopLevelRoles, name) {
		return p.errAt(path, "%q is a top-level TUF role, not one a ceremony delegates projects to", name)
	}
	return nil
}

func (p *Policy) checkRoles() error {
	switch {
	case p.DelegatingRole != "" && len(p.Shards) > 0:
		return p.errAt("shards", "a policy names either delegating_role or shards, not both")
	case len(p.Shards) > 0:
		if err := p.checkShards(); err != nil {
			return err
		}
	default:
		if err := p.checkRoleName("delegating_role", p.DelegatingRole); err != nil {
			return err
		}
	}
	signed := p.SignedRoles()
	for _, name := range slices.Sorted(maps.Keys(p.Roles)) {
		path := field("roles", name)
		if !slices.Contains(signed, name) && name != tuf.TypeRoot && name != tuf.TypeTargets {
			return p.errAt(path, "%s is not root, targets or a role this policy signs (%s)", termtext.Quote(name), strings.Join(signed, ", "))
		}
		rp := p.Roles[name]
		switch {
		case rp.Expiry <= 0:
			return p.errAt(field(path, "expiry"), "must be longer than zero")
		case rp.Warning < 0:
			return p.errAt(field(path, "warning"), "must not be negative")
		case rp.Warning >= rp.Expiry:
			return p.errAt(field(path, "warning"), "%s is not shorter than the expiry (%s): the role would be reported as expiring from the day it is signed",
				FormatDuration(rp.Warning), FormatDuration(rp.Expiry))
		}
	}
	return nil
}

// checkOnlineRoles: each online role has a name no other role has,
// neither a top-level role nor one the policy signs, and paths.
func (p *Policy) checkOnlineRoles() error {
	seen := map[string]int{}
	for i, r := range p.OnlineRoles {
		path := index("online_roles", i)
		if err := p.checkRoleName(field(path, "name"), r.Name); err != nil {
			return err
		}
		if slices.Contains(p.SignedRoles(), r.Name) {
			return p.errAt(field(path, "name"), "%s is a role the policy signs: an online role is signed by the online repository's key", r.Name)
		}
		if j, dup := seen[r.Name]; dup {
			return p.errAt(field(path, "name"), "role %s is also online_roles[%d]", r.Name, j)
		}
		seen[r.Name] = i
		if err := p.checkPaths(field(path, "paths"), r.Paths, "role"); err != nil {
			return err
		}
	}
	return nil
}

// checkPaths: a delegated role (what names it) has paths, none empty,
// none with a character clients read differently.
func (p *Policy) checkPaths(path string, paths []string, what string) error {
	if len(paths) == 0 {
		return p.errAt(path, "no path: the %s would be delegated nothing", what)
	}
	for k, pat := range paths {
		pp := index(path, k)
		switch {
		case pat == "":
			return p.errAt(pp, "is empty")
		case strings.ContainsAny(pat, "[]\\"):
			return p.errAt(pp, "path %q uses [, ] or \\, which clients interpret differently", pat)
		}
	}
	return nil
}

// OnlineRole returns the online role of that name.
func (p *Policy) OnlineRole(name string) (OnlineRole, bool) {
	for _, r := range p.OnlineRoles {
		if r.Name == name {
			return r, true
		}
	}
	return OnlineRole{}, false
}

// checkShards: each shard is a role with its own prefixes and paths;
// every normalised project name falls to exactly one shard (the one with
// its longest matching prefix, so prefixes are unique), and each prefix's
// projects fall inside the shard's paths.
func (p *Policy) checkShards() error {
	roles := map[string]int{}
	prefixes := map[string]string{}
	for i, s := range p.Shards {
		path := index("shards", i)
		if err := p.checkRoleName(field(path, "role"), s.Role); err != nil {
			return err
		}
		if j, dup := roles[s.Role]; dup {
			return p.errAt(field(path, "role"), "role %q is also shards[%d]", s.Role, j)
		}
		roles[s.Role] = i
		if len(s.Prefixes) == 0 {
			return p.errAt(field(path, "prefixes"), "no prefix: the shard would hold no project")
		}
		if err := p.checkPaths(field(path, "paths"), s.Paths, "shard"); err != nil {
			return err
		}
		for k, pre := range s.Prefixes {
			pp := index(field(path, "prefixes"), k)
			if msg := checkPrefix(pre); msg != "" {
				return p.errAt(pp, "prefix %s %s", termtext.Quote(pre), msg)
			}
			if other, dup := prefixes[pre]; dup {
				return p.errAt(pp, "prefix %q is also a prefix of shard %s: a project must fall to exactly one shard", pre, other)
			}
			prefixes[pre] = s.Role
			// The shortest project under this prefix must be inside the
			// shard's paths; the pattern of all of them must be too.
			pattern := strings.ReplaceAll(p.Rules.PathTemplate, "{name}", pre+"*")
			if !slices.ContainsFunc(s.Paths, func(q string) bool { return covers(q, pattern) }) {
				return p.errAt(field(path, "paths"), "no path covers the projects of prefix %q (%s)", pre, pattern)
			}
		}
	}
	if _, all := prefixes[""]; !all {
		for _, c := range nameStarts {
			if _, ok := prefixes[string(c)]; !ok {
				return p.errAt("shards", "project %q falls to no shard: give one shard the prefix \"\" (every project not matched otherwise), or prefixes for all of a–z and 0–9", string(c))
			}
		}
	}
	return nil
}

// nameStarts are the characters a normalised project name starts with
// (request.Normalize: PEP 503 form).
const nameStarts = "0123456789abcdefghijklmnopqrstuvwxyz"

// checkPrefix explains why pre cannot start a normalised project name, or
// returns "".
func checkPrefix(pre string) string {
	for i := 0; i < len(pre); i++ {
		c := pre[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && pre[i-1] != '-':
		default:
			return "cannot start a normalised project name (lower-case a–z, 0–9, single \"-\" inside)"
		}
	}
	return ""
}

// covers reports whether every path matching pattern also matches q, for
// glob patterns where "*" matches any run of characters ("/" included:
// the most permissive reading any TUF client has) and "?" one character.
// It is sound, not complete: q's "*" may stand for any part of pattern,
// q's "?" for one character of it that is not "*", and a literal only for
// itself.
func covers(q, pattern string) bool {
	memo := make(map[[2]int]bool)
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(q):
			r = j == len(pattern)
		case q[i] == '*':
			r = rec(i+1, j) || (j < len(pattern) && rec(i, j+1))
		case j == len(pattern):
			r = false
		case q[i] == '?':
			r = pattern[j] != '*' && rec(i+1, j+1)
		default:
			r = q[i] == pattern[j] && rec(i+1, j+1)
		}
		memo[k] = r
		return r
	}
	return rec(0, 0)
}

// checkTemplate comes before the shards, whose paths are checked with
// the template.
func (p *Policy) checkTemplate() error {
	t := p.Rules.PathTemplate
	switch {
	case !strings.Contains(t, "{name}"):
		return p.errAt("path_template", "%s does not contain {name}, so projects would share paths", termtext.Quote(t))
	case strings.ContainsAny(t, "[]\\"):
		return p.errAt("path_template", "%s uses [, ] or \\, which clients interpret differently", termtext.Quote(t))
	}
	return nil
}

func (p *Policy) checkRules() error {
	r := &p.Rules
	// With shards, each shard delegates projects, and none may be taken
	// by a project: the first is the rules' delegating role, the others
	// are OtherRoles (see rules.Rules.RoleNames).
	if len(p.Shards) > 0 {
		roles := p.SignedRoles()
		r.DelegatingRole, r.OtherRoles = roles[0], roles[1:]
	} else {
		r.DelegatingRole, r.OtherRoles = p.DelegatingRole, nil
	}
	r.Repository = p.Repository
	r.PossessionOptional = !p.RequirePossession
	switch {
	case len(r.KeySchemes) == 0:
		return p.errAt("developer_keys.schemes", "no scheme: no developer key could be delegated")
	}
	known := []string{tuf.SchemeEd25519, tuf.SchemeECDSAP256, tuf.SchemeECDSAP384, tuf.SchemeRSAPSSSHA2}
	for i, s := range r.KeySchemes {
		path := index("developer_keys.schemes", i)
		if !slices.Contains(known, s) {
			return p.errAt(path, "%s is not a key scheme Conclave accepts (%s)", termtext.Quote(s), strings.Join(known, ", "))
		}
		if slices.Index(r.KeySchemes, s) != i {
			return p.errAt(path, "%s is listed twice", s)
		}
	}
	if r.MaxRSABits < r.MinRSABits {
		return p.errAt("developer_keys.rsa_max_bits", "%d is below rsa_min_bits (%d)", r.MaxRSABits, r.MinRSABits)
	}
	if r.MaxBatchSize < r.MaxRequestSize {
		return p.errAt("bundle_limits.max_batch_size", "%d is below max_request_size (%d)", r.MaxBatchSize, r.MaxRequestSize)
	}
	if r.MaxTotalSize < r.MaxBatchSize {
		return p.errAt("bundle_limits.max_total_size", "%d is below max_batch_size (%d)", r.MaxTotalSize, r.MaxBatchSize)
	}
	if r.MaxTotalSize < r.MaxPublishedSize {
		return p.errAt("bundle_limits.max_total_size", "%d is below max_published_size (%d)", r.MaxTotalSize, r.MaxPublishedSize)
	}
	if err := r.Check(); err != nil {
		return &Error{File: p.name, Msg: err.Error(), Err: err}
	}
	return nil
}

func (p *Policy) checkAttestation() error {
	a := p.Attestation
	if a.MinFirmware != "" {
		parts := strings.Split(a.MinFirmware, ".")
		ok := len(parts) == 3
		for _, s := range parts {
			if n, err := strconv.Atoi(s); err != nil || n < 0 || n > 255 || strconv.Itoa(n) != s {
				ok = false
			}
		}
		if !ok {
			return p.errAt("attestation.min_firmware", "%s is not a firmware version written MAJOR.MINOR.PATCH (such as 5.7.0)", termtext.Quote(a.MinFirmware))
		}
	}
	for _, l := range []struct {
		path  string
		got   []string
		known []string
	}{
		{"attestation.pin_policies", a.PINPolicy, pinPolicies},
		{"attestation.touch_policies", a.TouchPolicy, touchPolicies},
	} {
		for i, s := range l.got {
			if !slices.Contains(l.known, s) {
				return p.errAt(index(l.path, i), "%s is not one of %s", termtext.Quote(s), strings.Join(l.known, ", "))
			}
			if slices.Index(l.got, s) != i {
				return p.errAt(index(l.path, i), "%s is listed twice", s)
			}
		}
	}
	return nil
}

func (p *Policy) checkModules() error {
	for i, m := range p.PKCS11Modules {
		path := index("pkcs11_modules", i)
		if !strings.HasPrefix(m.Path, "/") {
			return p.errAt(field(path, "path"), "%s is not an absolute path", termtext.Quote(m.Path))
		}
		if !isHex64(m.SHA256) {
			return p.errAt(field(path, "sha256"), "%s is not a SHA-256 written as 64 lower-case hex digits", termtext.Quote(m.SHA256))
		}
		for j := range i {
			if p.PKCS11Modules[j] == m {
				return p.errAt(path, "the same module as pkcs11_modules[%d]", j)
			}
		}
	}
	return nil
}

func (p *Policy) checkPreflight() error {
	for i, id := range p.Preflight.Required {
		path := index("preflight.required", i)
		if id == "" {
			return p.errAt(path, "is empty")
		}
		if slices.Index(p.Preflight.Required, id) != i {
			return p.errAt(path, "%s is listed twice", termtext.Quote(id))
		}
	}
	return nil
}

// CheckPreflight refuses a required preflight check that is not one of
// known (the ids the preflight checks have), naming its line.
func (p *Policy) CheckPreflight(known []string) error {
	for i, id := range p.Preflight.Required {
		if !slices.Contains(known, id) {
			return p.errAt(index("preflight.required", i), "no preflight check has the id %s (the ids are %s)", termtext.Quote(id), strings.Join(known, ", "))
		}
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (p *Policy) checkHolders() error {
	if len(p.Holders) == 0 {
		return p.errAt("holders", "no holder: nobody could sign")
	}
	names := map[string]int{}
	keyids := map[string]string{}
	where := map[string]string{} // token serial+slot or URI → path
	for i, h := range p.Holders {
		path := index("holders", i)
		if err := p.text(field(path, "name"), h.Name, true); err != nil {
			return err
		}
		folded := strings.ToLower(h.Name)
		if j, dup := names[folded]; dup {
			return p.errAt(field(path, "name"), "%s is also the name of holders[%d]: the log names holders, so names must differ", termtext.Quote(h.Name), j)
		}
		names[folded] = i
		if err := p.text(field(path, "contact"), h.Contact, false); err != nil {
			return err
		}
		if len(h.Keys) == 0 {
			return p.errAt(field(path, "keys"), "no key: the holder could not sign")
		}
		if !slices.ContainsFunc(h.Keys, func(k HolderKey) bool { return !k.Spare }) {
			return p.errAt(field(path, "keys"), "every key of %s is a spare: a spare stands in for the holder's own token, so one key must not be a spare", termtext.Quote(h.Name))
		}
		for j, k := range h.Keys {
			kp := index(field(path, "keys"), j)
			if !isHex64(k.KeyID) {
				return p.errAt(field(kp, "keyid"), "%s is not a keyid (64 lower-case hex digits)", termtext.Quote(k.KeyID))
			}
			if other, dup := keyids[k.KeyID]; dup {
				return p.errAt(field(kp, "keyid"), "keyid %s is also %s", k.KeyID, other)
			}
			keyids[k.KeyID] = kp
			if err := p.checkToken(kp, k); err != nil {
				return err
			}
			at := k.URI
			if k.Token == TokenYubiKey {
				at = fmt.Sprintf("yubikey %d slot %s", k.Serial, k.Slot)
			}
			if other, dup := where[at]; dup {
				return p.errAt(kp, "the same token key as %s (%s)", other, termtext.Safe(at))
			}
			where[at] = kp
		}
	}
	return nil
}

// checkCustody: the vault is copied to at least two media.
func (p *Policy) checkCustody() error {
	if p.VaultCopies < MinVaultCopies {
		return p.errAt("custody.vault_copies", "%d is too few: at least %d, since one copy is lost to one fire or one theft", p.VaultCopies, MinVaultCopies)
	}
	return nil
}

func (p *Policy) checkToken(path string, k HolderKey) error {
	switch k.Token {
	case TokenYubiKey:
		switch {
		case k.Serial == 0:
			return p.errAt(field(path, "serial"), "missing: a YubiKey is recognised by its serial number before its PIN is asked")
		case k.Slot == "":
			return p.errAt(field(path, "slot"), "missing: name the PIV slot holding the key")
		case !slices.Contains(pivSlots, k.Slot):
			return p.errAt(field(path, "slot"), "%s is not a PIV signing slot (9a, 9c, 9d, 9e, 82–95)", termtext.Quote(k.Slot))
		case k.URI != "":
			return p.errAt(field(path, "uri"), "a YubiKey key is named by serial and slot, not by a URI")
		}
		return nil
	case TokenPKCS11:
		if err := p.uriOnly(path, k, "pkcs11:", "a PKCS#11 URI (RFC 7512) such as pkcs11:token=ceremony;object=alice"); err != nil {
			return err
		}
		if len(p.PKCS11Modules) == 0 && !p.Rehearsal {
			return p.errAt(field(path, "token"), "a pkcs11 key needs pkcs11_modules to list the modules allowed to use it")
		}
		return nil
	case TokenSoftkey:
		if !p.Rehearsal {
			return p.errAt(field(path, "token"), "softkey keys are files on the ceremony machine and protect nothing; they are allowed only in a policy with rehearsal: true")
		}
		return p.uriOnly(path, k, "softkey:name=", "softkey:name=NAME")
	}
	return p.errAt(field(path, "token"), "%s is not a token kind (yubikey, pkcs11, softkey)", termtext.Quote(k.Token))
}

func (p *Policy) uriOnly(path string, k HolderKey, prefix, want string) error {
	switch {
	case k.Serial != 0:
		return p.errAt(field(path, "serial"), "only a yubikey key has a serial")
	case k.Slot != "":
		return p.errAt(field(path, "slot"), "only a yubikey key has a slot")
	case k.URI == "":
		return p.errAt(field(path, "uri"), "missing: a %s key is named by %s", k.Token, want)
	case !strings.HasPrefix(k.URI, prefix) || len(k.URI) == len(prefix):
		return p.errAt(field(path, "uri"), "%s is not %s", termtext.Quote(k.URI), want)
	}
	return nil
}

// SignedRoles names the roles ceremonies sign under this policy: the
// delegating role, or every shard, sorted.
func (p *Policy) SignedRoles() []string {
	if len(p.Shards) == 0 {
		if p.DelegatingRole == "" {
			return nil
		}
		return []string{p.DelegatingRole}
	}
	out := make([]string, 0, len(p.Shards))
	for _, s := range p.Shards {
		out = append(out, s.Role)
	}
	sort.Strings(out)
	return out
}

// ShardFor names the role that delegates a normalised project name: the
// delegating role, or the shard with the longest prefix of the name.
// It returns "" only for a policy that Check refuses.
func (p *Policy) ShardFor(project string) string {
	if len(p.Shards) == 0 {
		return p.DelegatingRole
	}
	best, bestLen := "", -1
	for _, s := range p.Shards {
		for _, pre := range s.Prefixes {
			if len(pre) > bestLen && strings.HasPrefix(project, pre) {
				best, bestLen = s.Role, len(pre)
			}
		}
	}
	return best
}

// Holder finds the holder who enrolled keyid.
func (p *Policy) Holder(keyid string) (*Holder, bool) {
	for i := range p.Holders {
		for _, k := range p.Holders[i].Keys {
			if k.KeyID == keyid {
				return &p.Holders[i], true
			}
		}
	}
	return nil, false
}

// Expiry is the role's policy from the roles section, or the default for
// a role it does not name (defaultRolePolicy).
func (p *Policy) Expiry(role string) RolePolicy {
	if rp, ok := p.Roles[role]; ok {
		return rp
	}
	return defaultRolePolicy(role)
}

// defaultRolePolicy is a role's policy when the roles section does not
// name it: a year, warned 30 days before, for root and targets; 90
// days, warned 14 days before, for a signed role.
func defaultRolePolicy(role string) RolePolicy {
	if role == tuf.TypeRoot || role == tuf.TypeTargets {
		return RolePolicy{Expiry: DefaultTopExpiry, Warning: DefaultTopWarning}
	}
	return RolePolicy{Expiry: DefaultExpiry, Warning: DefaultWarning}
}

// durationUnits are the units a policy writes durations in.
var durationUnits = map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute}

// MaxDuration bounds every duration in a policy: ten years.
const MaxDuration = 3650 * 24 * time.Hour

// ParseDuration reads a duration written as a whole number of days, hours
// or minutes: "90d", "36h", "30m". Seconds and smaller are not written in
// a policy: nothing in a ceremony is that precise.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%s is not a duration: write a whole number of days, hours or minutes, such as 90d, 36h or 30m", termtext.Quote(s))
	if len(s) < 2 || len(s) > 12 {
		return 0, bad
	}
	unit, ok := durationUnits[s[len(s)-1]]
	digits := s[:len(s)-1]
	if !ok || (len(digits) > 1 && digits[0] == '0') {
		return 0, bad
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != digits {
		return 0, bad
	}
	if n > int64(MaxDuration/unit) {
		return 0, fmt.Errorf("%s is longer than ten years (3650d)", s)
	}
	return time.Duration(n) * unit, nil
}

// FormatDuration writes d as ParseDuration reads it, in the largest unit
// that divides it.
func FormatDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
}
