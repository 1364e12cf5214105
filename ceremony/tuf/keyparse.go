package tuf

import "github.com/conclave-keys/conclave/ceremony/cjson"

// ParseKey reads one TUF key object (keytype, keyval, scheme, and any
// extra fields, which are kept because they are part of the keyid) at
// path, the way keys in metadata are read. Used for keys that arrive
// outside metadata: a developer's keys in a delegation request, an intake
// key. Errors are *FieldError; a malformed or unusable key wraps
// ErrInvalidKey.
func ParseKey(v cjson.Value, path string) (*Key, error) {
	return decodeKey(v, path)
}
