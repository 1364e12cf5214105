package tuf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// Key types and signature schemes (TUF specification 1.0, §4.2 "keys").
const (
	KeyTypeEd25519 = "ed25519"
	KeyTypeECDSA   = "ecdsa"
	KeyTypeRSA     = "rsa"

	SchemeEd25519    = "ed25519"
	SchemeECDSAP256  = "ecdsa-sha2-nistp256"
	SchemeECDSAP384  = "ecdsa-sha2-nistp384"
	SchemeRSAPSSSHA2 = "rsassa-pss-sha256"

	// legacyKeyTypeECDSAP256 is the keytype early securesystemslib wrote
	// for ECDSA keys. Root histories still carry it, so it is accepted for
	// verifying; Conclave never writes it.
	legacyKeyTypeECDSAP256 = "ecdsa-sha2-nistp256"
)

// ErrInvalidKey is wrapped by every error about a malformed or unusable key.
var ErrInvalidKey = errors.New("invalid key")

// Key is a TUF public key object. Fields Conclave does not know (such as the
// legacy keyid_hash_algorithms, or x-… extensions) are kept, because they
// are part of the keyid.
type Key struct {
	Type   string
	Scheme string
	Public string // keyval.public, as written

	keyvalUnknown []cjson.Member
	unknown       []cjson.Member

	pub    crypto.PublicKey
	id     string // hex SHA-256 of the canonical key object
	pubID  string // hex SHA-256 of the SubjectPublicKeyInfo: the key itself
	legacy string // why the key is in a form Conclave accepts only for verifying
}

// KeyFromPublic makes the key object Conclave writes for a public key:
// ed25519 as hex, ECDSA and RSA as PEM SubjectPublicKeyInfo, with the
// scheme that goes with the key (P-256 → ecdsa-sha2-nistp256, P-384 →
// ecdsa-sha2-nistp384, RSA → rsassa-pss-sha256).
func KeyFromPublic(pub crypto.PublicKey) (*Key, error) {
	k := &Key{}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		k.Type, k.Scheme, k.Public = KeyTypeEd25519, SchemeEd25519, hex.EncodeToString(p)
	case *ecdsa.PublicKey:
		k.Type = KeyTypeECDSA
		switch p.Curve {
		case elliptic.P256():
			k.Scheme = SchemeECDSAP256
		case elliptic.P384():
			k.Scheme = SchemeECDSAP384
		default:
			return nil, fmt.Errorf("%w: ECDSA curve %s is not one TUF clients support (use P-256 or P-384)", ErrInvalidKey, p.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		k.Type, k.Scheme = KeyTypeRSA, SchemeRSAPSSSHA2
	default:
		return nil, fmt.Errorf("%w: unsupported public key type %T", ErrInvalidKey, pub)
	}
	if k.Type != KeyTypeEd25519 {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		k.Public = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	if err := k.load(); err != nil {
		return nil, err
	}
	if k.legacy != "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalidKey, k.legacy)
	}
	return k, nil
}

// ID is the keyid the TUF specification defines: the hex SHA-256 of the
// canonical JSON of the whole key object, extra fields included.
func (k *Key) ID() string { return k.id }

// PublicKey returns the parsed public key.
func (k *Key) PublicKey() crypto.PublicKey { return k.pub }

// Fingerprint identifies the public key itself, whatever fields or keyid
// surround it: the hex SHA-256 of its DER SubjectPublicKeyInfo. Thresholds
// count distinct fingerprints, so one key listed under two keyids counts once.
func (k *Key) Fingerprint() string { return k.pubID }

// Legacy says why the key object is in a form Conclave reads but never
// writes (legacy keytype, keyid_hash_algorithms, hex ECDSA point), or "".
func (k *Key) Legacy() string { return k.legacy }

// Equal reports whether two key objects are byte for byte the same.
func (k *Key) Equal(o *Key) bool { return k.id == o.id }

// encode writes the key object in canonical form.
func (k *Key) encode(e *cjson.Encoder) {
	writeObject(e, k.unknown, []string{"keytype", "keyval", "scheme"}, func(name string) {
		e.Name(name)
		switch name {
		case "keytype":
			e.String(k.Type)
		case "keyval":
			writeObject(e, k.keyvalUnknown, []string{"public"}, func(string) {
				e.Name("public")
				e.String(k.Public)
			})
		case "scheme":
			e.String(k.Scheme)
		}
	})
}

// Canonical returns the key object's canonical JSON, the bytes its keyid hashes.
func (k *Key) Canonical() []byte {
	var e cjson.Encoder
	e.Grow(len(k.Public) + 96)
	k.encode(&e)
	b, err := e.Bytes()
	if err != nil {
		panic("tuf: key encoding: " + err.Error())
	}
	return b
}

// hashCanonical is the SHA-256 of Canonical(), without keeping the bytes
// (a large delegating role has hundreds of thousands of keys).
func (k *Key) hashCanonical() (sum [sha256.Size]byte) {
	cjson.WithEncoder(func(e *cjson.Encoder) {
		k.encode(e)
		b, err := e.Bytes()
		if err != nil {
			panic("tuf: key encoding: " + err.Error())
		}
		sum = sha256.Sum256(b)
	})
	return sum
}

// decodeKey reads a key object at path.
func decodeKey(v cjson.Value, path string) (*Key, error) {
	f, err := objectAt(v, path)
	if err != nil {
		return nil, err
	}
	k := &Key{Type: f.str("keytype"), Scheme: f.str("scheme")}
	if kv, ok := f.kind("keyval", true, cjson.Object); ok {
		g, _ := objectAt(kv, f.at("keyval"))
		k.Public = g.str("public")
		if g.err != nil {
			return nil, g.err
		}
		k.keyvalUnknown = g.rest()
	}
	if f.err != nil {
		return nil, f.err
	}
	k.unknown = f.rest()
	if err := k.load(); err != nil {
		return nil, &FieldError{Path: path, Msg: err.Error(), Err: err}
	}
	return k, nil
}

// load parses the public key, checks it against its type and scheme, and
// computes the keyid and fingerprint.
func (k *Key) load() error {
	var pub crypto.PublicKey
	var der []byte // the SubjectPublicKeyInfo
	var err error
	switch {
	case k.Type == KeyTypeEd25519:
		if k.Scheme != SchemeEd25519 {
			return fmt.Errorf("%w: keytype ed25519 needs scheme %q, not %q", ErrInvalidKey, SchemeEd25519, k.Scheme)
		}
		pub, err = parseEd25519(k.Public)
	case k.Type == KeyTypeECDSA || k.Type == legacyKeyTypeECDSAP256:
		var curve elliptic.Curve
		switch k.Scheme {
		case SchemeECDSAP256:
			curve = elliptic.P256()
		case SchemeECDSAP384:
			curve = elliptic.P384()
		default:
			return fmt.Errorf("%w: keytype %s needs scheme %q or %q, not %q", ErrInvalidKey, k.Type, SchemeECDSAP256, SchemeECDSAP384, k.Scheme)
		}
		if k.Type == legacyKeyTypeECDSAP256 {
			if k.Scheme != SchemeECDSAP256 {
				return fmt.Errorf("%w: legacy keytype %s needs scheme %q", ErrInvalidKey, k.Type, SchemeECDSAP256)
			}
			k.legacy = "legacy keytype " + quote(k.Type) + " (written by early securesystemslib)"
		}
		pub, err = parseECDSA(k.Public, curve)
		if err == errHexPoint {
			err = nil
			pub, err = parseECDSAHex(k.Public, curve)
			if err == nil && k.legacy == "" {
				k.legacy = "ECDSA public key as a hex point instead of PEM (written by early securesystemslib)"
			}
		}
	case k.Type == KeyTypeRSA:
		if k.Scheme != SchemeRSAPSSSHA2 {
			return fmt.Errorf("%w: keytype rsa needs scheme %q, not %q (Conclave signs and verifies RSA only as RSASSA-PSS)", ErrInvalidKey, SchemeRSAPSSSHA2, k.Scheme)
		}
		pub, err = parseRSA(k.Public)
	default:
		return fmt.Errorf("%w: unsupported keytype %q (supported: ed25519, ecdsa, rsa)", ErrInvalidKey, k.Type)
	}
	if err != nil {
		return fmt.Errorf("keyval.public: %w", err)
	}
	for _, m := range k.unknown {
		if m.Name == "keyid_hash_algorithms" && k.legacy == "" {
			k.legacy = "legacy field keyid_hash_algorithms (written by early securesystemslib)"
		}
	}
	// The fingerprint is the hash of the key's DER as Go writes it, never
	// of the DER as the file wrote it: the parser accepts more than one
	// encoding of the same key, and two encodings must not count as two
	// keys towards a threshold (found by FuzzKey; see
	// TestRegressionFingerprintOfNonCanonicalDER).
	if ed, ok := pub.(ed25519.PublicKey); ok {
		// RFC 8410: the SubjectPublicKeyInfo of an Ed25519 key is this fixed
		// prefix and the 32 key bytes; no need for the ASN.1 encoder.
		der = append([]byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}, ed...)
	} else if der, err = x509.MarshalPKIXPublicKey(pub); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	fp := sha256.Sum256(der)
	id := k.hashCanonical()
	k.pub, k.pubID, k.id = pub, hexSum(fp), hexSum(id)
	return nil
}

func parseEd25519(s string) (crypto.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: an ed25519 public key must be %d bytes as lowercase hex", ErrInvalidKey, ed25519.PublicKeySize)
	}
	if hasUpperHex(s) {
		return nil, fmt.Errorf("%w: an ed25519 public key must be lowercase hex", ErrInvalidKey)
	}
	if err := checkEd25519(b); err != nil {
		return nil, err
	}
	return ed25519.PublicKey(b), nil
}

// hexSum is the lowercase hex of a SHA-256, in one allocation rather
// than hex.EncodeToString's two: every key of a bundle has two.
func hexSum(sum [sha256.Size]byte) string {
	var b [2 * sha256.Size]byte
	hex.Encode(b[:], sum[:])
	return string(b[:])
}

// hasUpperHex reports an upper-case hex digit: a byte loop, as this runs
// for every key of a bundle.
func hasUpperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'F' {
			return true
		}
	}
	return false
}

var errHexPoint = errors.New("hex point")

// decodeOnePEM accepts exactly one PEM block of type PUBLIC KEY, without
// headers, with nothing but whitespace around it.
func decodeOnePEM(s string) ([]byte, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return nil, fmt.Errorf("%w: not a PEM block", ErrInvalidKey)
	}
	// The block starts at the last BEGIN line before its end: pem.Decode
	// skips anything it cannot read before a block, broken BEGIN lines too.
	if i := bytes.LastIndex([]byte(s[:len(s)-len(rest)]), []byte("-----BEGIN")); len(bytes.TrimSpace([]byte(s[:i]))) != 0 {
		return nil, fmt.Errorf("%w: data before the PEM block", ErrInvalidKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the PEM block (only one PUBLIC KEY block is allowed)", ErrInvalidKey)
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: PEM block is %q, not \"PUBLIC KEY\"", ErrInvalidKey, block.Type)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: PEM block has headers", ErrInvalidKey)
	}
	return block.Bytes, nil
}

func parseECDSA(s string, curve elliptic.Curve) (crypto.PublicKey, error) {
	if isHex(s) {
		return nil, errHexPoint
	}
	der, err := decodeOnePEM(s)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		// x509 reads the point as SEC 1 §2.3.4 uncompressed, and refuses
		// the point at infinity, compressed points, coordinates not
		// reduced modulo the field prime and points not on the curve: what
		// it accepts has one encoding (TestECDSAPointChecks).
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, ecPointError(spkiPoint(der), err))
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: PEM holds an %s key, not ECDSA", ErrInvalidKey, keyKind(pub))
	}
	if ec.Curve != curve {
		return nil, fmt.Errorf("%w: key is on curve %s but the scheme needs %s", ErrInvalidKey, ec.Curve.Params().Name, curve.Params().Name)
	}
	return ec, nil
}

// parseECDSAHex reads the uncompressed point (04 || X || Y) in hex that
// early securesystemslib wrote.
func parseECDSAHex(s string, curve elliptic.Curve) (crypto.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not hex", ErrInvalidKey)
	}
	// The same checks as parseECDSA's, by the same code.
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, b)
	if err != nil {
		return nil, fmt.Errorf("%w: hex ECDSA point: %v", ErrInvalidKey, ecPointError(b, err))
	}
	return pub, nil
}

func parseRSA(s string) (crypto.PublicKey, error) {
	der, err := decodeOnePEM(s)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	r, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: PEM holds an %s key, not RSA", ErrInvalidKey, keyKind(pub))
	}
	if err := checkRSA(r); err != nil {
		return nil, err
	}
	return r, nil
}

func keyKind(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA"
	case *rsa.PublicKey:
		return "RSA"
	case ed25519.PublicKey:
		return "ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
