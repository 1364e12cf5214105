// Package uri parses and writes PKCS#11 URIs (RFC 7512), the way Conclave
// names a key on an HSM: pkcs11:token=ceremony;object=root-1;id=%01;type=private
// with the module given as a query attribute (?module-path=/usr/lib/…/lib.so).
//
// # Strictness
//
// A selector decides which key signs, so the parser accepts only what it can
// honour exactly: every attribute must be one RFC 7512 §2.3 defines (vendor
// "x-" attributes are refused, because ignoring one would widen the match),
// each at most once, with its value in the RFC's character set and its
// percent-encoding well formed.
//
// A PIN never belongs in a selector: pin-value and pin-source are refused
// (the PIN comes only from the person, through the prompt). Errors name the
// attribute at fault but never repeat its value, so a PIN typed into a URI by
// mistake does not end up in a log.
//
// This package is pure Go, so it builds without cgo.
package uri

import (
	"errors"
	"fmt"
	"strings"
)

// Scheme is the URI scheme, with its colon.
const Scheme = "pkcs11:"

// Path attributes (RFC 7512 §2.3). They select a library, slot, token and object.
const (
	Token               = "token"
	Manufacturer        = "manufacturer"
	Model               = "model"
	Serial              = "serial"
	LibraryManufacturer = "library-manufacturer"
	LibraryDescription  = "library-description"
	LibraryVersion      = "library-version"
	SlotDescription     = "slot-description"
	SlotManufacturer    = "slot-manufacturer"
	SlotID              = "slot-id"
	Object              = "object"
	Type                = "type"
	ID                  = "id"
)

// Query attributes (RFC 7512 §2.3). Only the module ones are accepted.
const (
	ModulePath = "module-path"
	ModuleName = "module-name"
	PINValue   = "pin-value"
	PINSource  = "pin-source"
)

// pathOrder is the order String writes path attributes in: token first, then
// the object, as people read them.
var pathOrder = []string{
	LibraryManufacturer, LibraryDescription, LibraryVersion,
	SlotManufacturer, SlotDescription, SlotID,
	Token, Manufacturer, Model, Serial,
	Object, ID, Type,
}

var pathAttrs = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range pathOrder {
		m[a] = true
	}
	return m
}()

// ErrPIN is returned for a URI that carries a PIN (pin-value or pin-source).
var ErrPIN = errors.New("a PIN in a key selector is refused: Conclave asks for the PIN when it is needed")

// URI is a parsed PKCS#11 URI. Values are decoded (percent-encoding removed);
// ID holds raw bytes in a string.
type URI struct {
	path  map[string]string
	query map[string]string
}

// Parse reads a PKCS#11 URI strictly. See the package comment for what is refused.
func Parse(s string) (*URI, error) {
	if len(s) < len(Scheme) || !strings.EqualFold(s[:len(Scheme)], Scheme) {
		return nil, errors.New(`a PKCS#11 URI starts with "pkcs11:"`)
	}
	rest := s[len(Scheme):]
	pathPart, queryPart, hasQuery := strings.Cut(rest, "?")
	u := &URI{path: map[string]string{}, query: map[string]string{}}
	if pathPart != "" {
		for i, comp := range strings.Split(pathPart, ";") {
			name, value, err := splitAttr(comp, i, "path", isPathChar)
			if err != nil {
				return nil, err
			}
			if !pathAttrs[name] {
				return nil, fmt.Errorf("unknown PKCS#11 URI path attribute %q (RFC 7512 §2.3 defines %s)", name, strings.Join(pathOrder, ", "))
			}
			if _, dup := u.path[name]; dup {
				return nil, fmt.Errorf("PKCS#11 URI attribute %q appears twice", name)
			}
			if err := checkPathValue(name, value); err != nil {
				return nil, err
			}
			u.path[name] = value
		}
	}
	if hasQuery {
		if queryPart == "" {
			return nil, errors.New("PKCS#11 URI has an empty query after \"?\"")
		}
		for i, comp := range strings.Split(queryPart, "&") {
			name, value, err := splitAttr(comp, i, "query", isQueryChar)
			if err != nil {
				// The value may be a PIN: never echo the component.
				if n, _, ok := strings.Cut(comp, "="); ok && (n == PINValue || n == PINSource) {
					return nil, ErrPIN
				}
				return nil, err
			}
			switch name {
			case PINValue, PINSource:
				return nil, ErrPIN
			case ModulePath, ModuleName:
			default:
				return nil, fmt.Errorf("unknown PKCS#11 URI query attribute %q (Conclave accepts module-path and module-name)", name)
			}
			if _, dup := u.query[name]; dup {
				return nil, fmt.Errorf("PKCS#11 URI attribute %q appears twice", name)
			}
			if value == "" {
				return nil, fmt.Errorf("PKCS#11 URI attribute %q is empty", name)
			}
			if name == ModulePath && !strings.HasPrefix(value, "/") {
				return nil, errors.New("PKCS#11 URI module-path must be an absolute path")
			}
			if name == ModuleName && strings.ContainsAny(value, "/\x00") {
				return nil, errors.New("PKCS#11 URI module-name must be a bare library name, without a directory")
			}
			u.query[name] = value
		}
	}
	return u, nil
}

// splitAttr splits "name=value" and decodes the value.
func splitAttr(comp string, i int, part string, allowed func(byte) bool) (name, value string, err error) {
	name, raw, ok := strings.Cut(comp, "=")
	if comp == "" {
		return "", "", fmt.Errorf("PKCS#11 URI %s has an empty attribute at position %d", part, i+1)
	}
	if !ok {
		return "", "", fmt.Errorf("PKCS#11 URI %s attribute at position %d has no \"=\"", part, i+1)
	}
	if name == "" {
		return "", "", fmt.Errorf("PKCS#11 URI %s attribute at position %d has no name", part, i+1)
	}
	for j := 0; j < len(name); j++ {
		c := name[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", "", fmt.Errorf("PKCS#11 URI %s attribute at position %d has a malformed name", part, i+1)
		}
	}
	value, err = unescape(raw, allowed)
	if err != nil {
		return "", "", fmt.Errorf("PKCS#11 URI attribute %q: %w", name, err)
	}
	return name, value, nil
}

func unescape(s string, allowed func(byte) bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", fmt.Errorf("malformed percent-encoding at byte %d", i+1)
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case allowed(c):
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("character at byte %d must be percent-encoded", i+1)
		}
	}
	return b.String(), nil
}

func checkPathValue(name, v string) error {
	switch name {
	case Type:
		switch v {
		case "public", "private", "cert", "secret-key", "data":
			return nil
		}
		return fmt.Errorf("PKCS#11 URI type must be public, private, cert, secret-key or data")
	case SlotID:
		if v == "" || strings.TrimLeft(v, "0123456789") != "" || len(v) > 19 {
			return fmt.Errorf("PKCS#11 URI slot-id must be a decimal number")
		}
	case LibraryVersion:
		maj, min, dot := strings.Cut(v, ".")
		if maj == "" || strings.TrimLeft(maj, "0123456789") != "" || len(maj) > 3 ||
			dot && (min == "" || strings.TrimLeft(min, "0123456789") != "" || len(min) > 3) {
			return fmt.Errorf("PKCS#11 URI library-version must be MAJOR or MAJOR.MINOR")
		}
	case ID:
		// Any bytes, including none.
	}
	return nil
}

// unreserved is RFC 3986 unreserved.
func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathChar is RFC 7512 pk11-pchar without pct-encoded.
func isPathChar(c byte) bool {
	return unreserved(c) || strings.IndexByte(":[]@!$'()*+,=&", c) >= 0
}

// isQueryChar is RFC 7512 pk11-qchar without pct-encoded.
func isQueryChar(c byte) bool {
	return unreserved(c) || strings.IndexByte("/?|:[]@!$'()*+,=", c) >= 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Get returns a path or query attribute's decoded value and whether it is present.
func (u *URI) Get(name string) (string, bool) {
	if v, ok := u.path[name]; ok {
		return v, true
	}
	v, ok := u.query[name]
	return v, ok
}

// Set sets a path attribute (or module-path / module-name in the query).
// It panics on a name Parse would refuse: callers pass constants.
func (u *URI) Set(name, value string) {
	if u.path == nil {
		u.path, u.query = map[string]string{}, map[string]string{}
	}
	switch {
	case pathAttrs[name]:
		u.path[name] = value
	case name == ModulePath || name == ModuleName:
		u.query[name] = value
	default:
		panic("uri: Set with attribute " + name)
	}
}

// New returns an empty URI ("pkcs11:"), which matches everything.
func New() *URI { return &URI{path: map[string]string{}, query: map[string]string{}} }

// Matches reports whether an attribute is absent (matches anything) or equal to v.
func (u *URI) Matches(name, v string) bool {
	want, ok := u.Get(name)
	return !ok || want == v
}

// String writes the URI in a fixed attribute order. Values are
// percent-encoded where RFC 7512 requires; the id is always fully
// percent-encoded (§2.3 recommends it, since it is binary).
func (u *URI) String() string {
	var b strings.Builder
	b.WriteString(Scheme)
	first := true
	for _, name := range pathOrder {
		v, ok := u.path[name]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(';')
		}
		first = false
		b.WriteString(name)
		b.WriteByte('=')
		escape(&b, v, name == ID, isPathChar)
	}
	sep := byte('?')
	for _, name := range []string{ModuleName, ModulePath} {
		v, ok := u.query[name]
		if !ok {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(name)
		b.WriteByte('=')
		escape(&b, v, false, isQueryChar)
	}
	return b.String()
}

func escape(b *strings.Builder, v string, all bool, allowed func(byte) bool) {
	const hexdigits = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		// "&", "=", ";" and "?" are delimiters: always encoded even where
		// the grammar would allow them, so that the output reads unambiguously.
		if !all && allowed(c) && strings.IndexByte("&=;?", c) < 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
}
