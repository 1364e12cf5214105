package vault

import (
	"errors"
	"fmt"
	"strconv"
)

// RegisterFormat is register.json's "format".
const RegisterFormat = "conclave-vault-register/1"

type registerFile struct {
	Format string                       `json:"format"`
	Roles  map[string]map[string]string `json:"roles"`
}

// ErrRegisterConflict: a second, different payload for a (role, version)
// already registered. One payload per (role, version), ever: a holder's
// signature over one payload must never be taken for a signature over
// another of the same version.
var ErrRegisterConflict = errors.New("a different payload is registered for this role and version")

// Lookup returns the payload hash registered for (role, version).
func (r Register) Lookup(role string, version int64) (string, bool) {
	h, ok := r[role][version]
	return h, ok
}

// Add registers the payload hash of (role, version). The same hash again
// is no change; another one is refused with ErrRegisterConflict.
func (r Register) Add(role string, version int64, sha256 string) error {
	if !isSHA256Hex(sha256) {
		return fmt.Errorf("register %s version %d: %q is not a lowercase hex SHA-256", role, version, sha256)
	}
	if version < 1 {
		return fmt.Errorf("register %s version %d: versions count from 1", role, version)
	}
	if old, ok := r.Lookup(role, version); ok {
		if old != sha256 {
			return fmt.Errorf("register %s version %d: %w (registered %s, now %s)", role, version, ErrRegisterConflict, old, sha256)
		}
		return nil
	}
	if r[role] == nil {
		r[role] = map[int64]string{}
	}
	r[role][version] = sha256
	return nil
}

// clone copies the register.
func (r Register) clone() Register {
	out := make(Register, len(r))
	for role, vs := range r {
		m := make(map[int64]string, len(vs))
		for v, h := range vs {
			m[v] = h
		}
		out[role] = m
	}
	return out
}

// marshal writes register.json.
func (r Register) marshal() []byte {
	f := registerFile{Format: RegisterFormat, Roles: map[string]map[string]string{}}
	for role, vs := range r {
		m := map[string]string{}
		for v, h := range vs {
			m[strconv.FormatInt(v, 10)] = h
		}
		f.Roles[role] = m
	}
	return marshalJSON(f)
}

// parseRegister reads register.json.
func parseRegister(data []byte) (Register, error) {
	var f registerFile
	if err := decodeExact(data, &f); err != nil {
		return nil, err
	}
	if f.Format != RegisterFormat {
		return nil, fmt.Errorf("format is %q, not %q", f.Format, RegisterFormat)
	}
	r := Register{}
	for role, vs := range f.Roles {
		for vstr, h := range vs {
			v, err := strconv.ParseInt(vstr, 10, 64)
			if err != nil || strconv.FormatInt(v, 10) != vstr {
				return nil, fmt.Errorf("roles.%s: %q is not a version number", role, vstr)
			}
			if err := r.Add(role, v, h); err != nil {
				return nil, fmt.Errorf("roles.%s.%s: %w", role, vstr, err)
			}
		}
	}
	return r, nil
}
