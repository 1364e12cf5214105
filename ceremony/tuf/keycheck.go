package tuf

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
)

// The checks here decide whether a public key is what it claims to be:
// one key, with one encoding, that only the holder of its private key can
// sign for. Every key Conclave reads goes through them (Key.load), in TUF
// metadata and in delegation requests alike.

// RSA bounds for every RSA key Conclave reads. The lower bound is
// NIST SP 800-131A's; the upper one bounds the work of a verification (a
// modulus of n bits costs about n² per signature): hardware tokens and
// softkey make at most 8192-bit keys. A policy may narrow both.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// RSAExponent is the only RSA public exponent accepted: every tool that
// makes TUF keys (securesystemslib, go-tuf, tokens, OpenSSL's default)
// uses F4, and small exponents such as 3 make some signature forgeries
// easier when a verifier is lenient (Bleichenbacher, CRYPTO 2006).
const RSAExponent = 65537

// RSASizeError is an RSA key outside the sizes Conclave reads. It wraps
// ErrInvalidKey; Bits lets a caller that applies a narrower policy say by
// how much.
type RSASizeError struct {
	Bits int
}

func (e *RSASizeError) Error() string {
	if e.Bits < MinRSABits {
		return fmt.Sprintf("%v: RSA key has %d bits; at least %d are required", ErrInvalidKey, e.Bits, MinRSABits)
	}
	return fmt.Sprintf("%v: RSA key has %d bits; at most %d are accepted", ErrInvalidKey, e.Bits, MaxRSABits)
}

func (e *RSASizeError) Unwrap() error { return ErrInvalidKey }

// checkRSA refuses a modulus outside [MinRSABits, MaxRSABits], an even
// modulus (not a product of two large primes: its factor 2 is public) and
// any exponent but RSAExponent.
func checkRSA(r *rsa.PublicKey) error {
	if n := r.N.BitLen(); n < MinRSABits || n > MaxRSABits {
		return &RSASizeError{Bits: n}
	}
	if r.N.Bit(0) == 0 {
		return fmt.Errorf("%w: RSA modulus is even, so it is not a product of two large primes", ErrInvalidKey)
	}
	if r.E != RSAExponent {
		return fmt.Errorf("%w: RSA public exponent is %d; only %d is accepted", ErrInvalidKey, r.E, RSAExponent)
	}
	return nil
}

// ed25519SmallOrder are the canonical encodings of the eight points of
// small order (the curve's torsion subgroup: order 1, 2, 4 and 8). For
// such a public key A, [8]A is the identity, so signatures that verify
// for any message can be made without a private key (the identity itself
// is signed for by R = identity, S = 0). Their non-canonical encodings are
// refused before this list is consulted. The same list as libsodium's
// crypto_sign_verify blocklist; TestEd25519SmallOrderList derives it. The
// first two are (0, 1) and (0, -1), the only points with x = 0.
var ed25519SmallOrder = [8][32]byte{
	hex32("0100000000000000000000000000000000000000000000000000000000000000"), // identity, order 1
	hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // (0, -1), order 2
	hex32("0000000000000000000000000000000000000000000000000000000000000000"), // (±√-1, 0), order 4
	hex32("0000000000000000000000000000000000000000000000000000000000000080"),
	hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), // order 8
	hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
	hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
	hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
}

func hex32(s string) (b [32]byte) {
	if n, err := hex.Decode(b[:], []byte(s)); err != nil || n != len(b) {
		panic("tuf: hex32: " + s)
	}
	return b
}

// checkEd25519 refuses an Ed25519 public key that is not in its one
// canonical encoding, or that is of small order. crypto/ed25519 accepts
// both: it reads y modulo p (so a key can have two encodings, two keyids
// and two fingerprints) and verifies against small-order keys.
//
// RFC 8032, §5.1.3: the key is y, 255 bits little-endian, and the sign of
// x in the top bit. The two non-canonical forms are y ≥ p = 2^255-19 (the
// encodings y+p of y < 19) and x = 0 with its sign bit set (x is 0 only
// for y = ±1). Both are byte comparisons, as is the small-order list.
//
// Whether the bytes decode to a point at all is not checked here but by
// [Key.CheckPoint]: decoding costs a field exponentiation, most of the
// work of reading a key, and every key of every request is read. A key
// that is not a point cannot be of small order or encoded twice, and
// crypto/ed25519 refuses it in every verification, so no signature ever
// counts for it: it can neither prove possession nor reach a threshold.
// What it lacks is a clear reason, which CheckPoint gives where a
// signature by such a key failed.
func checkEd25519(pub ed25519.PublicKey) error {
	if yNotReduced(pub) {
		return fmt.Errorf("%w: ed25519 public key is not canonically encoded: its y coordinate is not reduced modulo 2^255-19, so the same key has another encoding and another keyid", ErrInvalidKey)
	}
	if pub[31]&0x80 != 0 {
		y := [32]byte(pub)
		y[31] &= 0x7f
		if y == ed25519SmallOrder[0] || y == ed25519SmallOrder[1] { // y = 1, y = -1
			return fmt.Errorf("%w: ed25519 public key is not canonically encoded: x is 0 but its sign bit is set, so the same key has another encoding and another keyid", ErrInvalidKey)
		}
	}
	for _, s := range ed25519SmallOrder {
		if [32]byte(pub) == s {
			return fmt.Errorf("%w: ed25519 public key is of small order: anyone can sign for it", ErrInvalidKey)
		}
	}
	return nil
}

// yNotReduced reports y ≥ 2^255-19: bytes 0xed or more, then thirty 0xff,
// then 0x7f once the sign bit is cleared (little-endian).
func yNotReduced(pub ed25519.PublicKey) bool {
	if pub[31]&0x7f != 0x7f || pub[0] < 0xed {
		return false
	}
	for _, b := range pub[1:31] {
		if b != 0xff {
			return false
		}
	}
	return true
}

// CheckPoint refuses an ed25519 key whose bytes do not decode to a point
// on the curve; other keys pass (their parsers decode them). Reading a
// key does not check this (see checkEd25519): call it to explain why a
// signature by the key did not verify.
func (k *Key) CheckPoint() error {
	if pub, ok := k.pub.(ed25519.PublicKey); ok && !ed25519Decodes(pub) {
		return fmt.Errorf("%w: ed25519 public key is not a point on the curve", ErrInvalidKey)
	}
	return nil
}

// ed25519Decodes reports whether crypto/ed25519 decodes the key to a
// point. It has no function for that alone: VerifyWithOptions decodes the
// key first and, as Ed25519ph with a digest of the wrong length, stops
// right after, before any curve arithmetic. Its error for a key that does
// not decode has this text only (crypto/internal/fips140/ed25519,
// newPublicKey); TestEd25519KeyChecks notices if that changes.
func ed25519Decodes(pub ed25519.PublicKey) bool {
	err := ed25519.VerifyWithOptions(pub, nil, nil, &ed25519.Options{Hash: crypto.SHA512})
	return err == nil || err.Error() != "ed25519: bad public key"
}

// ecPointError names what is wrong with an ECDSA point the parser
// refused, where crypto/ecdsa's own words ("invalid uncompressed public
// key") do not (SEC 1 §2.3.3: 00 is the point at infinity, 02 and 03 start
// a compressed point).
func ecPointError(point []byte, err error) error {
	switch {
	case len(point) == 1 && point[0] == 0:
		return errors.New("ECDSA public key is the point at infinity, which is no key")
	case len(point) > 0 && (point[0] == 2 || point[0] == 3):
		return errors.New("ECDSA public key is a compressed point; only the uncompressed form is read, so that a key has one encoding")
	}
	return err
}

// spkiPoint is the public key bits of a SubjectPublicKeyInfo (RFC 5280,
// §4.1), or nil: read only to explain a refusal.
func spkiPoint(der []byte) []byte {
	var spki struct {
		Algorithm asn1.RawValue
		Point     asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	return spki.Point.Bytes
}
