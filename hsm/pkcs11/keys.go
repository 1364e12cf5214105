//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/conclave-keys/conclave/hsm"
)

// Curve identifiers as they appear in CKA_EC_PARAMS: the DER of the named
// curve's OBJECT IDENTIFIER (PKCS#11 v2.40 §2.3.3; RFC 5480 §2.1.1.1 for the
// NIST curves, RFC 8410 §3 for Ed25519).
var (
	oidP256    = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384    = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
)

func mustDER(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	paramsP256    = mustDER(oidP256)
	paramsP384    = mustDER(oidP384)
	paramsEd25519 = mustDER(oidEd25519)
	// PKCS#11 3.0 §2.3.10 also allows the curve name as a PrintableString.
	paramsEd25519Name = mustDER(asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte("edwards25519")})
)

// ulong decodes a CK_ULONG attribute value (native byte order, 4 or 8 bytes).
func ulong(b []byte) (uint, bool) {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b)), true
	case 4:
		return uint(binary.NativeEndian.Uint32(b)), true
	}
	return 0, false
}

// boolAttr decodes a CK_BBOOL.
func boolAttr(b []byte) (bool, bool) {
	if len(b) != 1 {
		return false, false
	}
	return b[0] != 0, true
}

// decodeECPublic reads CKA_EC_PARAMS and CKA_EC_POINT. The point should be
// DER-wrapped in an OCTET STRING (v2.40 §2.3.3); some HSMs return it bare,
// so both are accepted when unambiguous.
func decodeECPublic(keyType uint, params, point []byte) (crypto.PublicKey, error) {
	var inner []byte
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		// A bare point can happen to parse as an OCTET STRING; then the
		// wrapped reading fails validation and the bare one is tried.
		if pub, err := decodeECPoint(keyType, params, inner); err == nil {
			return pub, nil
		}
	}
	return decodeECPoint(keyType, params, point)
}

func decodeECPoint(keyType uint, params, raw []byte) (crypto.PublicKey, error) {
	switch {
	case keyType == ckkECEdwards && (bytes.Equal(params, paramsEd25519) || bytes.Equal(params, paramsEd25519Name)):
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("ed25519 public key has %d bytes, want %d", len(raw), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(bytes.Clone(raw)), nil
	case keyType == ckkECEdwards:
		return nil, errors.New("unsupported Edwards curve (only Ed25519 is used in TUF)")
	case bytes.Equal(params, paramsP256):
		return ecPoint(elliptic.P256(), raw)
	case bytes.Equal(params, paramsP384):
		return ecPoint(elliptic.P384(), raw)
	}
	return nil, errors.New("unsupported elliptic curve (Conclave signs with P-256 and P-384)")
}

func ecPoint(c elliptic.Curve, raw []byte) (*ecdsa.PublicKey, error) {
	// Checks that the point is uncompressed and on the curve.
	pub, err := ecdsa.ParseUncompressedPublicKey(c, raw)
	if err != nil {
		return nil, fmt.Errorf("invalid %s public key point: %w", c.Params().Name, err)
	}
	return pub, nil
}

func decodeRSAPublic(mod, exp []byte) (*rsa.PublicKey, error) {
	n := new(big.Int).SetBytes(mod)
	e := new(big.Int).SetBytes(exp)
	if n.BitLen() < 2048 {
		return nil, fmt.Errorf("RSA key of %d bits is too small (at least 2048)", n.BitLen())
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, errors.New("RSA public exponent is out of range")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// KeyType names a public key's type as Conclave shows it ("ecdsa-p256",
// "ed25519", "rsa-3072"), matching hsm.Algorithm names.
func KeyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return string(hsm.Ed25519)
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return string(hsm.ECDSAP256)
		case elliptic.P384():
			return string(hsm.ECDSAP384)
		}
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa-%d", k.N.BitLen())
	}
	return "unknown"
}
