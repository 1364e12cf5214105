package tuf

import (
	"crypto"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// File is one metadata file: the signed part, typed, and its signatures.
// Exactly one of Root, Targets, Snapshot and Timestamp is set.
type File struct {
	Root      *Root
	Targets   *Targets
	Snapshot  *Snapshot
	Timestamp *Timestamp

	Signatures []Signature

	// signed is the canonical JSON of the signed part: the bytes every
	// signature covers. For a parsed file it is computed from the JSON as
	// read, exactly as a TUF client computes it.
	signed  []byte
	unknown []cjson.Member
	// parsed is set by Parse: the typed values were read from the bytes.
	parsed bool
}

// Type is the _type of the signed part.
func (f *File) Type() string {
	switch {
	case f.Root != nil:
		return TypeRoot
	case f.Targets != nil:
		return TypeTargets
	case f.Snapshot != nil:
		return TypeSnapshot
	}
	return TypeTimestamp
}

func (f *File) header() *header {
	switch {
	case f.Root != nil:
		return &f.Root.header
	case f.Targets != nil:
		return &f.Targets.header
	case f.Snapshot != nil:
		return &f.Snapshot.header
	}
	return &f.Timestamp.header
}

// Version is the signed version.
func (f *File) Version() int64 { return f.header().Version }

// Expires is the signed expiry.
func (f *File) Expires() Expiry { return f.header().Expires }

// SignedBytes is the canonical JSON of the signed part.
func (f *File) SignedBytes() []byte { return f.signed }

// Parsed reports whether Parse made f, so that its typed values were read
// from its bytes, strictly. Fields are exported and may have been changed
// since: a caller that relies on the values saying what the bytes say also
// checks that EncodeSigned still equals SignedBytes.
func (f *File) Parsed() bool { return f.parsed }

// Parse reads a metadata file strictly. name is used in error messages.
func Parse(name string, data []byte) (*File, error) {
	v, err := cjson.Parse(data)
	if err != nil {
		return nil, formatErr(name, err)
	}
	f, err := fromValue(v, len(data))
	if err != nil {
		return nil, formatErr(name, err)
	}
	f.parsed = true
	return f, nil
}

// fromValue decodes a parsed file; size is the input's length, an upper
// bound for the canonical signed bytes.
func fromValue(v cjson.Value, size int) (*File, error) {
	top, err := objectAt(v, "")
	if err != nil {
		return nil, err
	}
	sv, _ := top.kind("signed", true, cjson.Object)
	sigs, _ := top.kind("signatures", true, cjson.Array)
	if top.err != nil {
		return nil, top.err
	}
	f := &File{unknown: top.rest()}
	typ, ok := sv.Get("_type")
	if !ok || typ.Kind() != cjson.String {
		return nil, fieldErr("signed._type", "is missing or not a string")
	}
	switch typ.Str() {
	case TypeRoot:
		f.Root, err = decodeRoot(sv, "signed")
	case TypeTargets:
		f.Targets, err = decodeTargets(sv, "signed")
	case TypeSnapshot:
		var s Snapshot
		s.header, s.Meta, s.unknown, err = decodeSnapshotLike(sv, "signed", TypeSnapshot)
		f.Snapshot = &s
	case TypeTimestamp:
		var s Timestamp
		s.header, s.Meta, s.unknown, err = decodeSnapshotLike(sv, "signed", TypeTimestamp)
		f.Timestamp = &s
	default:
		return nil, fieldErr("signed._type", "%s is not a TUF role type (root, targets, snapshot or timestamp)", quote(typ.Str()))
	}
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(sigs.Items()))
	for i, item := range sigs.Items() {
		p := cjson.PathIndex("signatures", i)
		g, err := objectAt(item, p)
		if err != nil {
			return nil, err
		}
		s := Signature{KeyID: g.str("keyid"), Sig: g.str("sig")}
		if g.err != nil {
			return nil, g.err
		}
		if seen[s.KeyID] {
			return nil, fieldErr(cjson.PathField(p, "keyid"), "keyid %s has more than one signature", s.KeyID)
		}
		seen[s.KeyID] = true
		s.unknown = g.rest()
		f.Signatures = append(f.Signatures, s)
	}
	// The signed bytes are the canonical form of the JSON as read, which is
	// what every TUF client computes, independent of the typed decoding.
	var e cjson.Encoder
	e.Grow(size)
	e.Value(sv)
	if f.signed, err = e.Bytes(); err != nil {
		return nil, err
	}
	return f, nil
}

// encodeSigned writes the typed signed part.
func (f *File) encodeSigned(e *cjson.Encoder) {
	switch {
	case f.Root != nil:
		f.Root.encode(e)
	case f.Targets != nil:
		f.Targets.encode(e)
	case f.Snapshot != nil:
		encodeSnapshotLike(e, &f.Snapshot.header, TypeSnapshot, f.Snapshot.Meta, f.Snapshot.unknown)
	default:
		encodeSnapshotLike(e, &f.Timestamp.header, TypeTimestamp, f.Timestamp.Meta, f.Timestamp.unknown)
	}
}

// EncodeSigned returns the canonical JSON of the typed signed part. For a
// parsed, unchanged file it equals SignedBytes.
func (f *File) EncodeSigned() ([]byte, error) {
	var e cjson.Encoder
	e.Grow(len(f.signed))
	f.encodeSigned(&e)
	return e.Bytes()
}

// NewRootFile and NewTargetsFile start an unsigned file from a typed role.
// The signed bytes are fixed here: change the role afterwards and the file
// must be made anew.
func NewRootFile(r *Root) (*File, error)       { return newFile(&File{Root: r}) }
func NewTargetsFile(t *Targets) (*File, error) { return newFile(&File{Targets: t}) }

func newFile(f *File) (*File, error) {
	if err := f.checkWritable(); err != nil {
		return nil, fmt.Errorf("encode %s metadata: %w", f.Type(), err)
	}
	h := f.header()
	if h.SpecVersion == "" {
		h.SpecVersion = SpecVersion
	}
	b, err := f.EncodeSigned()
	if err != nil {
		return nil, fmt.Errorf("encode %s metadata: %w", f.Type(), err)
	}
	f.signed = b
	return f, nil
}

// Sign adds a signature by the key the delegator lists under keyid. The
// keyid written is the delegator's, never one recomputed from the signer;
// a delegator whose keyid does not match its key is refused, so Conclave
// never writes a signature under a mismatched keyid. The signature is
// verified against the key before it is added.
func (f *File) Sign(keys map[string]*Key, keyid string, signer crypto.Signer) error {
	key, ok := keys[keyid]
	if !ok {
		return fmt.Errorf("sign %s metadata: the delegator lists no key %s", f.Type(), keyid)
	}
	if key.ID() != keyid {
		return fmt.Errorf("sign %s metadata: %w: the delegator lists key %s under keyid %s", f.Type(), ErrKeyIDMismatch, key.ID(), keyid)
	}
	for _, s := range f.Signatures {
		if s.KeyID == keyid {
			return fmt.Errorf("sign %s metadata: key %s has already signed", f.Type(), keyid)
		}
	}
	sig, err := SignMessage(signer, key, f.signed)
	if err != nil {
		return fmt.Errorf("sign %s metadata: %w", f.Type(), err)
	}
	f.Signatures = append(f.Signatures, Signature{KeyID: keyid, Sig: hex.EncodeToString(sig)})
	return nil
}

// Bytes returns the whole file as Conclave writes it: canonical JSON in
// file form (control characters in strings escaped, see
// cjson.Encoder.FileForm), so that it is valid JSON for every client and an
// export can be checked for exactness: a file is exact when it equals
// Bytes of its own parse.
func (f *File) Bytes() []byte {
	e := cjson.Encoder{FileForm: true}
	e.Grow(len(f.signed) + 200*len(f.Signatures) + 64)
	writeObject(&e, f.unknown, []string{"signatures", "signed"}, func(name string) {
		e.Name(name)
		if name == "signatures" {
			e.BeginArray()
			for i := range f.Signatures {
				f.Signatures[i].encode(&e)
			}
			e.EndArray()
			return
		}
		e.Canonical(f.signed)
	})
	b, err := e.Bytes()
	if err != nil {
		panic("tuf: file encoding: " + err.Error())
	}
	return b
}

// checkWritable refuses metadata that Conclave reads but never writes,
// because some client would refuse it or because it hides a mistake.
func (f *File) checkWritable() error {
	h := f.header()
	if h.Version < 1 {
		return fieldErr("signed.version", "must be at least 1, not %d", h.Version)
	}
	if f.Root != nil {
		r := f.Root
		if r.ConsistentSnapshot == nil {
			// Readers disagree about a missing field: python-tuf leaves it
			// out, go-tuf writes false back and then fails every signature.
			return fieldErr("signed.consistent_snapshot", "must be set (true or false)")
		}
		if err := checkKeyMap(r.Keys, "signed.keys"); err != nil {
			return err
		}
		for _, name := range TopLevelRoles {
			rk := r.Roles[name]
			if rk == nil {
				return fieldErr(cjson.PathField("signed.roles", name), "is missing (root must name the %s role)", name)
			}
			if err := checkRoleKeys(r.Keys, rk.KeyIDs, rk.Threshold, cjson.PathField("signed.roles", name)); err != nil {
				return err
			}
		}
	}
	if f.Targets != nil {
		for _, p := range sortedKeys(f.Targets.Targets) {
			if len(f.Targets.Targets[p].Hashes) == 0 {
				// go-tuf refuses a target without hashes.
				return fieldErr(cjson.PathField(cjson.PathField("signed.targets", p), "hashes"), "must list at least one hash")
			}
		}
		if d := f.Targets.Delegations; d != nil {
			if err := checkKeyMap(d.Keys, "signed.delegations.keys"); err != nil {
				return err
			}
			if (d.Roles == nil) == (d.SuccinctRoles == nil) {
				return fieldErr("signed.delegations", "must have exactly one of roles and succinct_roles")
			}
			for i, r := range d.Roles {
				// A role's path is written only to name a fault: a
				// delegating role may list 100,000 projects.
				if (r.Paths == nil) == (r.PathHashPrefixes == nil) {
					return fieldErr(cjson.PathIndex("signed.delegations.roles", i), "must have exactly one of paths and path_hash_prefixes")
				}
				if roleKeysFine(d.Keys, r.KeyIDs, r.Threshold) {
					continue
				}
				if err := checkRoleKeys(d.Keys, r.KeyIDs, r.Threshold, cjson.PathIndex("signed.delegations.roles", i)); err != nil {
					return err
				}
			}
			if s := d.SuccinctRoles; s != nil {
				if err := checkRoleKeys(d.Keys, s.KeyIDs, s.Threshold, "signed.delegations.succinct_roles"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkKeyMap refuses keyids that do not match their keys: Conclave never
// writes one.
func checkKeyMap(keys map[string]*Key, path string) error {
	if bad := KeyIDMismatches(keys); len(bad) > 0 {
		return fieldErr(cjson.PathField(path, bad[0]), "%w: the key hashes to %s", ErrKeyIDMismatch, keys[bad[0]].ID())
	}
	return nil
}

// roleKeysFine reports that checkRoleKeys would accept a role that lists
// a few keyids, without the map and the path checkRoleKeys makes; false
// means only that checkRoleKeys must look.
func roleKeysFine(keys map[string]*Key, keyids []string, threshold int64) bool {
	if threshold < 1 || len(keyids) > 16 {
		return false
	}
	for i, id := range keyids {
		if keys[id] == nil || slices.Contains(keyids[:i], id) {
			return false
		}
	}
	return true
}

// checkRoleKeys refuses a role whose keyids are not all defined (go-tuf
// refuses such metadata), listed twice, or whose threshold is below 1.
func checkRoleKeys(keys map[string]*Key, keyids []string, threshold int64, path string) error {
	seen := map[string]bool{}
	for _, id := range keyids {
		if keys[id] == nil {
			return fieldErr(cjson.PathField(path, "keyids"), "%w: %s", ErrMissingKey, id)
		}
		if seen[id] {
			return fieldErr(cjson.PathField(path, "keyids"), "keyid %s is listed twice", id)
		}
		seen[id] = true
	}
	if threshold < 1 {
		return fieldErr(cjson.PathField(path, "threshold"), "must be at least 1, not %d", threshold)
	}
	return nil
}
