// Package tuf reads, writes, signs and verifies the subset of The Update
// Framework metadata (specification 1.0.x) that Conclave handles: root and
// targets metadata with delegations, which it produces, and snapshot and
// timestamp metadata, which it only reads and verifies.
//
// # Round trips
//
// Other tools add fields of their own (x-… extensions). Every object keeps
// the members Conclave does not know and writes them back, so re-signing
// never drops them: for any file Parse accepts, the canonical form of the
// typed value is byte for byte the canonical form of the signed JSON read,
// but for an expiry read in another RFC 3339 form than Conclave's, which is
// written in Conclave's (see [Expiry]). Signatures are always checked
// against the signed JSON as read.
//
// # Strictness
//
// Parse rejects duplicate member names, duplicate keyids in signatures,
// non-integer numbers, a wrong or missing _type, malformed or weak keys,
// thresholds below 1, times that are not RFC 3339, and trailing data.
// Every error names the JSON path and the rule broken.
package tuf

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/internal/parallel"
)

// SpecVersion is the TUF specification version Conclave writes.
const SpecVersion = "1.0.31"

// Role types (the _type field).
const (
	TypeRoot      = "root"
	TypeTargets   = "targets"
	TypeSnapshot  = "snapshot"
	TypeTimestamp = "timestamp"
)

// TopLevelRoles are the roles root metadata must name.
var TopLevelRoles = []string{TypeRoot, TypeSnapshot, TypeTargets, TypeTimestamp}

// ErrMalformed is wrapped by every parse failure.
var ErrMalformed = errors.New("malformed metadata")

// Expiry is the expires field: an instant. Conclave writes it in one form
// only, whole seconds in UTC with a Z ("2027-01-01T00:00:00Z"), and reads
// any RFC 3339 date-time (RFC 3339 §5.6): older TUF tools wrote offsets and
// fractions of a second ("2021-12-18T13:28:12.99008-06:00" is in a public
// production root chain), and such a chain must stay walkable from its
// first root. Reading another form never changes what signatures cover:
// those are checked against the signed bytes as read (File.SignedBytes).
type Expiry struct {
	time.Time
	// read is the text as read when it was not in the canonical form;
	// empty when it was, and when the expiry was set in code.
	read string
}

// canonicalTime is the only form Conclave writes.
const canonicalTime = "2006-01-02T15:04:05Z"

// NewExpiry truncates t to whole seconds in UTC.
func NewExpiry(t time.Time) Expiry {
	return Expiry{Time: t.UTC().Truncate(time.Second)}
}

// String is the form written to metadata: always the canonical form. A
// fraction of a second read is dropped, so the expiry written is never
// later than the one read.
func (x Expiry) String() string {
	return x.Time.UTC().Truncate(time.Second).Format(canonicalTime)
}

// NonCanonical returns the text as read when it was not in the canonical
// form ("2021-12-18T13:28:12.99008-06:00"), and "" when it was or when the
// expiry was set in code.
func (x Expiry) NonCanonical() string { return x.read }

// ErrTimeForm is wrapped by the refusal of a time that is not an RFC 3339
// date-time.
var ErrTimeForm = errors.New("not an RFC 3339 time")

// ParseTime reads an RFC 3339 date-time (RFC 3339 §5.6): a date, "T", a
// time with an optional fraction of a second, and "Z" or a numeric offset;
// "t" and "z" may be lowercase (the ABNF is case-insensitive). A leap
// second (":60") is read as the next second, as POSIX time counts it. The
// instant is returned in UTC. Go's own parser also takes a comma before
// the fraction and hours beyond the grammar's two digits, so the grammar
// is checked here first.
func ParseTime(s string) (time.Time, error) {
	if !rfc3339(s) {
		return time.Time{}, ErrTimeForm
	}
	u := strings.ToUpper(s)
	leap := u[17:19] == "60"
	if leap {
		u = u[:17] + "59" + u[19:]
	}
	t, err := time.Parse(time.RFC3339Nano, u)
	if err != nil {
		return time.Time{}, ErrTimeForm
	}
	if leap {
		t = t.Add(time.Second)
	}
	return t.UTC(), nil
}

// rfc3339 checks the date-time grammar of RFC 3339 §5.6, not the ranges
// (time.Parse checks those).
func rfc3339(s string) bool {
	// 2006-01-02T15:04:05 is 19 bytes; then a fraction, then the zone.
	const head = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(head)+1 {
		return false
	}
	for i := 0; i < len(head); i++ {
		c := s[i]
		switch head[i] {
		case 'd':
			if c < '0' || c > '9' {
				return false
			}
		case 'T':
			if c != 'T' && c != 't' {
				return false
			}
		default:
			if c != head[i] {
				return false
			}
		}
	}
	rest := s[len(head):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z" || rest == "z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		for _, i := range []int{1, 2, 4, 5} {
			if rest[i] < '0' || rest[i] > '9' {
				return false
			}
		}
		// time-hour is 00-23 and time-minute 00-59; time.Parse takes more.
		return rest[1:3] <= "23" && rest[4] <= '5'
	}
	return false
}

func parseExpiry(s, path string) (Expiry, error) {
	t, err := ParseTime(s)
	if err != nil {
		return Expiry{}, fieldErr(path, "%s is %w, such as 2027-01-01T00:00:00Z", quote(s), err)
	}
	x := Expiry{Time: t}
	if s != t.Format(canonicalTime) {
		x.read = s
	}
	return x, nil
}

// header is what every role's signed part has.
type header struct {
	SpecVersion string
	Version     int64
	Expires     Expiry
}

func (h *header) decode(f *fields, wantType string) {
	typ, ok := f.kind("_type", true, cjson.String)
	if ok && typ.Str() != wantType {
		f.fail(fieldErr(f.at("_type"), "is %s, expected %s", quote(typ.Str()), quote(wantType)))
	}
	h.SpecVersion = f.str("spec_version")
	if f.err == nil {
		major, _, _ := strings.Cut(h.SpecVersion, ".")
		if major != "1" {
			f.fail(fieldErr(f.at("spec_version"), "%s is not a 1.x version of the TUF specification", quote(h.SpecVersion)))
		}
	}
	h.Version = f.integer("version")
	if f.err == nil && h.Version < 1 {
		f.fail(fieldErr(f.at("version"), "must be at least 1, not %d", h.Version))
	}
	if s, ok := f.kind("expires", true, cjson.String); ok {
		x, err := parseExpiry(s.Str(), f.at("expires"))
		if err != nil {
			f.fail(err)
		}
		h.Expires = x
	}
}

// writeHeaderField writes one of the header members; false if name is not one.
func (h *header) writeField(e *cjson.Encoder, typ, name string) bool {
	switch name {
	case "_type":
		e.Name(name)
		e.String(typ)
	case "spec_version":
		e.Name(name)
		e.String(h.SpecVersion)
	case "version":
		e.Name(name)
		e.Int(h.Version)
	case "expires":
		e.Name(name)
		e.String(h.Expires.String())
	default:
		return false
	}
	return true
}

// RoleKeys is a role's keyids and threshold: root's "roles" entries.
type RoleKeys struct {
	KeyIDs    []string
	Threshold int64
	unknown   []cjson.Member
}

func decodeKeyIDs(f *fields) []string {
	ids, ok := f.strings("keyids", true)
	if !ok {
		return nil
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if seen[id] {
			f.fail(fieldErr(cjson.PathIndex(f.at("keyids"), i), "keyid %s is listed twice", id))
		}
		seen[id] = true
	}
	return ids
}

func decodeThreshold(f *fields) int64 {
	t := f.integer("threshold")
	if f.err == nil && t < 1 {
		f.fail(fieldErr(f.at("threshold"), "must be at least 1, not %d", t))
	}
	return t
}

func writeStrings(e *cjson.Encoder, ss []string) {
	e.BeginArray()
	for _, s := range ss {
		e.String(s)
	}
	e.EndArray()
}

// decodeKeys reads a keyid → key object map.
func decodeKeys(v cjson.Value, path string) (map[string]*Key, error) {
	if v.Kind() != cjson.Object {
		return nil, fieldErr(path, "must be an object, not %s", v.Kind())
	}
	members := v.Members()
	decoded := make([]*Key, len(members))
	// Parsing a public key (curve point checks, PEM, hashing) dominates
	// reading a large delegating role, so large key maps use every core.
	// The first error in member order is reported, as a serial loop would.
	errs := parallel.FirstError(len(members), 256, func(i int) error {
		k, err := decodeKey(members[i].Value, cjson.PathField(path, members[i].Name))
		decoded[i] = k
		return err
	})
	if errs != nil {
		return nil, errs
	}
	keys := make(map[string]*Key, len(members))
	for i, m := range members {
		keys[m.Name] = decoded[i]
	}
	return keys, nil
}

func writeKeys(e *cjson.Encoder, keys map[string]*Key) {
	e.BeginObject()
	for _, id := range sortedKeys(keys) {
		e.Name(id)
		keys[id].encode(e)
	}
	e.EndObject()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Root is the signed part of root metadata (TUF §4.3).
type Root struct {
	header
	// ConsistentSnapshot is nil when the field is absent.
	ConsistentSnapshot *bool
	Keys               map[string]*Key
	Roles              map[string]*RoleKeys
	unknown            []cjson.Member
}

func decodeRoot(v cjson.Value, path string) (*Root, error) {
	f, err := objectAt(v, path)
	if err != nil {
		return nil, err
	}
	r := &Root{}
	r.header.decode(f, TypeRoot)
	r.ConsistentSnapshot = f.optBool("consistent_snapshot")
	if f.err != nil {
		return nil, f.err
	}
	if kv, ok := f.kind("keys", true, cjson.Object); ok {
		if r.Keys, err = decodeKeys(kv, f.at("keys")); err != nil {
			return nil, err
		}
	}
	if rv, ok := f.kind("roles", true, cjson.Object); ok {
		r.Roles = make(map[string]*RoleKeys, len(rv.Members()))
		for _, m := range rv.Members() {
			g, err := objectAt(m.Value, cjson.PathField(f.at("roles"), m.Name))
			if err != nil {
				return nil, err
			}
			rk := &RoleKeys{KeyIDs: decodeKeyIDs(g), Threshold: decodeThreshold(g)}
			if g.err != nil {
				return nil, g.err
			}
			rk.unknown = g.rest()
			r.Roles[m.Name] = rk
		}
		for _, name := range TopLevelRoles {
			if r.Roles[name] == nil {
				f.fail(fieldErr(cjson.PathField(f.at("roles"), name), "is missing (root must name the %s role)", name))
			}
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	r.unknown = f.rest()
	return r, nil
}

func (r *Root) encode(e *cjson.Encoder) {
	known := []string{"_type", "consistent_snapshot", "expires", "keys", "roles", "spec_version", "version"}
	writeObject(e, r.unknown, known, func(name string) {
		if r.header.writeField(e, TypeRoot, name) {
			return
		}
		switch name {
		case "consistent_snapshot":
			if r.ConsistentSnapshot != nil {
				e.Name(name)
				e.Bool(*r.ConsistentSnapshot)
			}
		case "keys":
			e.Name(name)
			writeKeys(e, r.Keys)
		case "roles":
			e.Name(name)
			e.BeginObject()
			for _, role := range sortedKeys(r.Roles) {
				e.Name(role)
				r.Roles[role].encode(e)
			}
			e.EndObject()
		}
	})
}

func (rk *RoleKeys) encode(e *cjson.Encoder) {
	writeObject(e, rk.unknown, []string{"keyids", "threshold"}, func(name string) {
		e.Name(name)
		if name == "keyids" {
			writeStrings(e, rk.KeyIDs)
		} else {
			e.Int(rk.Threshold)
		}
	})
}

// TargetFile describes one target (TUF §4.5 "targets").
type TargetFile struct {
	Length int64
	Hashes map[string]string
	// Custom is nil when absent; any JSON value otherwise.
	Custom  *cjson.Value
	unknown []cjson.Member
}

// Targets is the signed part of targets metadata, top-level or delegated
// (TUF §4.5).
type Targets struct {
	header
	Targets map[string]*TargetFile
	// Delegations is nil when the field is absent.
	Delegations *Delegations
	unknown     []cjson.Member
}

// Delegations is the delegations object of targets metadata.
type Delegations struct {
	Keys map[string]*Key
	// Roles is the ordered list of delegated roles; nil when the
	// delegations use SuccinctRoles instead (exactly one is present).
	Roles         []*DelegatedRole
	SuccinctRoles *SuccinctRoles
	unknown       []cjson.Member
}

// DelegatedRole is one entry of delegations.roles.
type DelegatedRole struct {
	Name        string
	KeyIDs      []string
	Threshold   int64
	Terminating bool
	// Exactly one of Paths and PathHashPrefixes is non-nil (an empty,
	// non-nil list is written as []).
	Paths            []string
	PathHashPrefixes []string
	unknown          []cjson.Member
}

func decodeTargets(v cjson.Value, path string) (*Targets, error) {
	f, err := objectAt(v, path)
	if err != nil {
		return nil, err
	}
	t := &Targets{}
	t.header.decode(f, TypeTargets)
	if f.err != nil {
		return nil, f.err
	}
	if tv, ok := f.kind("targets", true, cjson.Object); ok {
		t.Targets = make(map[string]*TargetFile, len(tv.Members()))
		for _, m := range tv.Members() {
			tf, err := decodeTargetFile(m.Value, cjson.PathField(f.at("targets"), m.Name))
			if err != nil {
				return nil, err
			}
			t.Targets[m.Name] = tf
		}
	}
	if dv, ok := f.kind("delegations", false, cjson.Object); ok {
		if t.Delegations, err = decodeDelegations(dv, f.at("delegations")); err != nil {
			return nil, err
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	t.unknown = f.rest()
	return t, nil
}

func decodeHashes(f *fields, name string, required bool) map[string]string {
	hv, ok := f.kind(name, required, cjson.Object)
	if !ok {
		return nil
	}
	hashes := make(map[string]string, len(hv.Members()))
	for _, m := range hv.Members() {
		if m.Value.Kind() != cjson.String {
			f.fail(fieldErr(cjson.PathField(f.at(name), m.Name), "must be a string, not %s", m.Value.Kind()))
			return nil
		}
		hashes[m.Name] = m.Value.Str()
	}
	if len(hashes) == 0 {
		// go-tuf refuses empty hashes; a file Conclave accepts must be one
		// every client accepts.
		f.fail(fieldErr(f.at(name), "must list at least one hash"))
		return nil
	}
	return hashes
}

func writeHashes(e *cjson.Encoder, h map[string]string) {
	e.BeginObject()
	for _, alg := range sortedKeys(h) {
		e.Name(alg)
		e.String(h[alg])
	}
	e.EndObject()
}

func decodeTargetFile(v cjson.Value, path string) (*TargetFile, error) {
	f, err := objectAt(v, path)
	if err != nil {
		return nil, err
	}
	tf := &TargetFile{Length: f.integer("length"), Hashes: decodeHashes(f, "hashes", true)}
	if f.err == nil && tf.Length < 0 {
		f.fail(fieldErr(f.at("length"), "must not be negative"))
	}
	if c, ok := f.get("custom", false); ok {
		tf.Custom = &c
	}
	if f.err != nil {
		return nil, f.err
	}
	tf.unknown = f.rest()
	return tf, nil
}

func (tf *TargetFile) encode(e *cjson.Encoder) {
	writeObject(e, tf.unknown, []string{"custom", "hashes", "length"}, func(name string) {
		switch name {
		case "custom":
			if tf.Custom != nil {
				e.Name(name)
				e.Value(*tf.Custom)
			}
		case "hashes":
			e.Name(name)
			writeHashes(e, tf.Hashes)
		case "length":
			e.Name(name)
			e.Int(tf.Length)
		}
	})
}

func decodeDelegations(v cjson.Value, path string) (*Delegations, error) {
	f, err := objectAt(v, path)
	if err != nil {
		return nil, err
	}
	d := &Delegations{}
	if kv, ok := f.kind("keys", true, cjson.Object); ok {
		if d.Keys, err = decodeKeys(kv, f.at("keys")); err != nil {
			return nil, err
		}
	}
	rv, hasRoles := f.kind("roles", false, cjson.Array)
	sv, hasSuccinct := f.kind("succinct_roles", false, cjson.Object)
	if f.err != nil {
		return nil, f.err
	}
	switch {
	case hasRoles && hasSuccinct:
		return nil, fieldErr(path, "has both roles and succinct_roles; exactly one is allowed")
	case !hasRoles && !hasSuccinct:
		return nil, fieldErr(path, "has neither roles nor succinct_roles; exactly one is required")
	case hasRoles:
		d.Roles = make([]*DelegatedRole, 0, len(rv.Items()))
		seen := make(map[string]bool, len(rv.Items()))
		for i, item := range rv.Items() {
			p := cjson.PathIndex(f.at("roles"), i)
			r, err := decodeDelegatedRole(item, p)
			if err != nil {
				return nil, err
			}
			if seen[r.Name] {
				return nil, fieldErr(cjson.PathField(p, "name"), "role %s is delegated twice", quote(r.Name))
			}
			seen[r.Name] = true
			d.Roles = append(d.Roles, r)
		}
	default:
		if d.SuccinctRoles, err = decodeSuccinct(sv, f.at("succinct_roles")); err != nil {
			return nil, err
		}
	}
	d.unknown = f.rest()
	return d, nil
}

func decodeDelegatedRole(v cjson.Value, path string) (*DelegatedRole, error) {
	f, err := objectAt(v, path)
	if err != nil {
		return nil, err
	}
	r := &DelegatedRole{Name: f.str("name"), KeyIDs: decodeKeyIDs(f), Threshold: decodeThreshold(f), Terminating: f.boolean("terminating")}
	paths, hasPaths := f.strings("paths", false)
	prefixes, hasPrefixes := f.strings("path_hash_prefixes", false)
	if f.err != nil {
		return nil, f.err
	}
	switch {
	case hasPaths && hasPrefixes:
		return nil, fieldErr(path, "has both paths and path_hash_prefixes; exactly one is allowed")
	case !hasPaths && !hasPrefixes:
		return nil, fieldErr(path, "has neither paths nor path_hash_prefixes; exactly one is required")
	}
	r.Paths, r.PathHashPrefixes = paths, prefixes
	for i, p := range prefixes {
		if !isHex(p) {
			return nil, fieldErr(cjson.PathIndex(cjson.PathField(path, "path_hash_prefixes"), i), "%s is not a hex prefix", quote(p))
		}
	}
	if r.Name == "" {
		return nil, fieldErr(cjson.PathField(path, "name"), "must not be empty")
	}
	// python-tuf and tuf-js refuse a whole targets file that delegates a
	// top-level role name; Conclave reads it as they do.
	if slices.Contains(TopLevelRoles, r.Name) {
		return nil, fieldErr(cjson.PathField(path, "name"), "%s is a top-level role; a delegation may not name it", quote(r.Name))
	}
	r.unknown = f.rest()
	return r, nil
}

// spliceRoles is the number of delegated roles from which the keys and
// the roles are encoded side by side, each on a core of its own, and
// spliced into place: they are nearly all of a large delegating role's
// bytes (100,000 projects make about 60 MB).
const spliceRoles = 4096

func (d *Delegations) encode(e *cjson.Encoder) {
	var keys, roles *cjson.Encoder
	if len(d.Roles) >= spliceRoles {
		keys, roles = new(cjson.Encoder), new(cjson.Encoder)
		keys.Grow(keysSize(d.Keys))
		roles.Grow(rolesSize(d.Roles))
		parallel.For(2, 1, func(i int) {
			if i == 0 {
				writeKeys(keys, d.Keys)
			} else {
				writeRoles(roles, d.Roles)
			}
		})
	}
	writeObject(e, d.unknown, []string{"keys", "roles", "succinct_roles"}, func(name string) {
		switch name {
		case "keys":
			e.Name(name)
			if keys != nil {
				e.Splice(keys)
			} else {
				writeKeys(e, d.Keys)
			}
		case "roles":
			if d.Roles != nil {
				e.Name(name)
				if roles != nil {
					e.Splice(roles)
				} else {
					writeRoles(e, d.Roles)
				}
			}
		case "succinct_roles":
			if d.SuccinctRoles != nil {
				e.Name(name)
				d.SuccinctRoles.encode(e)
			}
		}
	})
}

// keysSize and rolesSize are about the size of the keys' and the roles'
// encoding, so that their encoders do not copy tens of megabytes as they
// grow; more is allocated if it is short.
func keysSize(keys map[string]*Key) int {
	n := 2
	for id, k := range keys {
		n += len(id) + len(k.Type) + len(k.Scheme) + len(k.Public) + 48
	}
	return n
}

func rolesSize(roles []*DelegatedRole) int {
	n := 2
	for _, r := range roles {
		n += len(r.Name) + 80 + 67*len(r.KeyIDs)
		for _, p := range r.Paths {
			n += len(p) + 3
		}
	}
	return n
}

func writeRoles(e *cjson.Encoder, roles []*DelegatedRole) {
	e.BeginArray()
	for _, r := range roles {
		r.encode(e)
	}
	e.EndArray()
}

var delegatedRoleFields = []string{"keyids", "name", "path_hash_prefixes", "paths", "terminating", "threshold"}

func (r *DelegatedRole) encode(e *cjson.Encoder) {
	writeObject(e, r.unknown, delegatedRoleFields, func(name string) {
		switch name {
		case "keyids":
			e.Name(name)
			writeStrings(e, r.KeyIDs)
		case "name":
			e.Name(name)
			e.String(r.Name)
		case "path_hash_prefixes":
			if r.PathHashPrefixes != nil {
				e.Name(name)
				writeStrings(e, r.PathHashPrefixes)
			}
		case "paths":
			if r.Paths != nil {
				e.Name(name)
				writeStrings(e, r.Paths)
			}
		case "terminating":
			e.Name(name)
			e.Bool(r.Terminating)
		case "threshold":
			e.Name(name)
			e.Int(r.Threshold)
		}
	})
}

func (t *Targets) encode(e *cjson.Encoder) {
	known := []string{"_type", "delegations", "expires", "spec_version", "targets", "version"}
	writeObject(e, t.unknown, known, func(name string) {
		if t.header.writeField(e, TypeTargets, name) {
			return
		}
		switch name {
		case "delegations":
			if t.Delegations != nil {
				e.Name(name)
				t.Delegations.encode(e)
			}
		case "targets":
			e.Name(name)
			e.BeginObject()
			for _, p := range sortedKeys(t.Targets) {
				e.Name(p)
				t.Targets[p].encode(e)
			}
			e.EndObject()
		}
	})
}

// MetaFile is an entry of snapshot's or timestamp's meta (TUF §4.4, §4.6).
type MetaFile struct {
	Version int64
	Length  *int64            // nil when absent
	Hashes  map[string]string // nil when absent
	unknown []cjson.Member
}

// Snapshot and Timestamp are read and verified, never produced.
type Snapshot struct {
	header
	Meta    map[string]*MetaFile
	unknown []cjson.Member
}

// Timestamp is the signed part of timestamp metadata.
type Timestamp struct {
	header
	Meta    map[string]*MetaFile
	unknown []cjson.Member
}

func decodeMeta(f *fields) map[string]*MetaFile {
	mv, ok := f.kind("meta", true, cjson.Object)
	if !ok {
		return nil
	}
	meta := make(map[string]*MetaFile, len(mv.Members()))
	for _, m := range mv.Members() {
		g, err := objectAt(m.Value, cjson.PathField(f.at("meta"), m.Name))
		if err != nil {
			f.fail(err)
			return nil
		}
		mf := &MetaFile{Version: g.integer("version"), Hashes: decodeHashes(g, "hashes", false)}
		if lv, ok := g.kind("length", false, cjson.Int); ok {
			n := lv.Int()
			mf.Length = &n
			if n < 0 {
				g.fail(fieldErr(g.at("length"), "must not be negative"))
			}
		}
		if g.err == nil && mf.Version < 1 {
			g.fail(fieldErr(g.at("version"), "must be at least 1, not %d", mf.Version))
		}
		if g.err != nil {
			f.fail(g.err)
			return nil
		}
		mf.unknown = g.rest()
		meta[m.Name] = mf
	}
	return meta
}

func (mf *MetaFile) encode(e *cjson.Encoder) {
	writeObject(e, mf.unknown, []string{"hashes", "length", "version"}, func(name string) {
		switch name {
		case "hashes":
			if mf.Hashes != nil {
				e.Name(name)
				writeHashes(e, mf.Hashes)
			}
		case "length":
			if mf.Length != nil {
				e.Name(name)
				e.Int(*mf.Length)
			}
		case "version":
			e.Name(name)
			e.Int(mf.Version)
		}
	})
}

func writeMeta(e *cjson.Encoder, meta map[string]*MetaFile) {
	e.BeginObject()
	for _, name := range sortedKeys(meta) {
		e.Name(name)
		meta[name].encode(e)
	}
	e.EndObject()
}

func decodeSnapshotLike(v cjson.Value, path, typ string) (header, map[string]*MetaFile, []cjson.Member, error) {
	f, err := objectAt(v, path)
	if err != nil {
		return header{}, nil, nil, err
	}
	var h header
	h.decode(f, typ)
	meta := decodeMeta(f)
	if f.err != nil {
		return header{}, nil, nil, f.err
	}
	return h, meta, f.rest(), nil
}

func encodeSnapshotLike(e *cjson.Encoder, h *header, typ string, meta map[string]*MetaFile, unknown []cjson.Member) {
	known := []string{"_type", "expires", "meta", "spec_version", "version"}
	writeObject(e, unknown, known, func(name string) {
		if h.writeField(e, typ, name) {
			return
		}
		e.Name(name)
		writeMeta(e, meta)
	})
}

// Signature is one entry of a metadata file's signatures.
type Signature struct {
	KeyID string
	// Sig is the signature as lowercase hex (what the file holds).
	Sig     string
	unknown []cjson.Member
}

func (s *Signature) encode(e *cjson.Encoder) {
	writeObject(e, s.unknown, []string{"keyid", "sig"}, func(name string) {
		e.Name(name)
		if name == "keyid" {
			e.String(s.KeyID)
		} else {
			e.String(s.Sig)
		}
	})
}

// versionString formats a version for messages.
func versionString(v int64) string { return strconv.FormatInt(v, 10) }

// formatErr adds the file name to a parse error.
func formatErr(name string, err error) error {
	return fmt.Errorf("%s: %w: %w", name, ErrMalformed, err)
}

// RehearsalMark is the member of root's signed part that marks metadata
// made by a Conclave rehearsal, whose keys are throwaway: its value is a
// sentence for whoever reads the file (RehearsalNotice). The TUF
// specification lets metadata carry members it does not define, and
// clients ignore them (§4, "Unrecognized fields"), so a marked root is
// still a valid root; being in the signed part, the mark cannot be
// removed without the root's keys. Everything a client trusts through a
// marked root is the rehearsal's.
const RehearsalMark = "x-conclave-rehearsal"

// RehearsalNotice is what a rehearsal writes under RehearsalMark.
const RehearsalNotice = "made by a Conclave rehearsal with throwaway keys; never publish"

// Rehearsal reports whether the root carries RehearsalMark, and its text:
// the string it holds, or the canonical JSON of another value (any value
// marks the root).
func (r *Root) Rehearsal() (text string, marked bool) {
	for _, m := range r.unknown {
		if m.Name == RehearsalMark {
			if m.Value.Kind() == cjson.String {
				return m.Value.Str(), true
			}
			return string(m.Value.Canonical()), true
		}
	}
	return "", false
}

// MarkRehearsal sets RehearsalMark to text. Make the file
// (NewRootFile) after marking the root: the mark is in the signed part.
func (r *Root) MarkRehearsal(text string) {
	r.unknown = slices.DeleteFunc(r.unknown, func(m cjson.Member) bool { return m.Name == RehearsalMark })
	r.unknown = append(r.unknown, cjson.Member{Name: RehearsalMark, Value: cjson.StringValue(text)})
	sort.Slice(r.unknown, func(i, j int) bool { return r.unknown[i].Name < r.unknown[j].Name })
}
