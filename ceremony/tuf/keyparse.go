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

// ParsePlainKey is ParseKey for a key object that has exactly keytype,
// keyval.public and scheme, all strings, given as those three strings:
// the same key and the same errors as ParseKey on that object, without
// building it first (a bundle carries 200,000 such keys).
func ParsePlainKey(keytype, public, scheme, path string) (*Key, error) {
	k := &Key{Type: keytype, Scheme: scheme, Public: public}
	if err := k.load(); err != nil {
		return nil, &FieldError{Path: path, Msg: err.Error(), Err: err}
	}
	return k, nil
}
