// Package softkey keeps signing keys in files, encrypted with a passphrase.
//
// Software keys are INSECURE: the private key exists in the computer's
// memory and on disk, where malware or a copied file can take it. They are
// for tests and rehearsals only. Everything this package hands out says so
// ([Store.Describe], [InsecureNotice]), and a [Store] and its signers report
// Insecure() == true so that a real ceremony can refuse them.
//
// # File format
//
// A key file is a PEM block of type "ENCRYPTED PRIVATE KEY" holding an
// RFC 5958 EncryptedPrivateKeyInfo: PBES2 (RFC 8018) with PBKDF2-HMAC-SHA256
// and AES-256-CBC — what `openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000`
// writes — around a PKCS#8 PrivateKeyInfo. An auditor can inspect a key
// (openssl asks for the passphrase) with
//
//	openssl pkey -in NAME.key.pem -noout -text
//
// Parsing is strict: one PEM block and nothing else, no PEM headers, no
// trailing DER, only the algorithms above, PBKDF2 iteration counts between
// [MinIterations] and [MaxIterations].
//
// # Algorithms
//
// Ed25519, ECDSA on P-256 and P-384, and RSA of at least 2048 bits (up to
// 8192): the key types of the TUF specification 1.0 §4.2 that Conclave signs
// with.
package softkey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/conclave-keys/conclave/hsm"
)

// InsecureNotice is the sentence shown wherever a software key appears.
const InsecureNotice = "INSECURE software key: for tests and rehearsal only, never for a real ceremony"

// pemType is the PEM label of RFC 7468 §11.
const pemType = "ENCRYPTED PRIVATE KEY"

// RSA key sizes accepted. The lower bound is NIST SP 800-57 Part 1's 112-bit
// security level; the upper bound keeps a hostile file from costing minutes.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

var (
	// ErrWrongPassphrase: the passphrase does not open the key. CBC
	// encryption cannot tell a wrong passphrase from a damaged file.
	ErrWrongPassphrase = errors.New("wrong passphrase (or the key file is damaged)")
	// ErrEmptyPassphrase: a key file is never written without a passphrase.
	ErrEmptyPassphrase = errors.New("the passphrase is empty")
)

// Generate makes a new key of the given algorithm with the system's secure
// random source.
//
// There is no random-source parameter: since Go 1.26 crypto/ecdsa and
// crypto/rsa ignore the one they are given, so accepting one would only
// pretend. Tests that need fixed keys use testing/cryptotest.SetGlobalRandom.
func Generate(alg hsm.Algorithm) (crypto.Signer, error) {
	switch alg {
	case hsm.Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		return priv, nil
	case hsm.ECDSAP256, hsm.ECDSAP384:
		curve := elliptic.P256()
		if alg == hsm.ECDSAP384 {
			curve = elliptic.P384()
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		return k, nil
	case hsm.RSA2048, hsm.RSA3072, hsm.RSA4096:
		bits := map[hsm.Algorithm]int{hsm.RSA2048: 2048, hsm.RSA3072: 3072, hsm.RSA4096: 4096}[alg]
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("generate key: unknown algorithm %q (known: ed25519, ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096)", alg)
	}
}

// checkKey accepts only the key types and sizes Conclave signs with.
func checkKey(key any) error {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return fmt.Errorf("ed25519 private key is %d bytes, not %d", len(k), ed25519.PrivateKeySize)
		}
		return nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ECDSA curve %s is not supported: only P-256 and P-384 are", k.Curve.Params().Name)
		}
		return nil
	case *rsa.PrivateKey:
		bits := k.N.BitLen()
		if bits < minRSABits {
			return fmt.Errorf("RSA key of %d bits is too small: at least %d bits are required", bits, minRSABits)
		}
		if bits > maxRSABits {
			return fmt.Errorf("RSA key of %d bits is too large: at most %d bits are supported", bits, maxRSABits)
		}
		return nil
	default:
		return fmt.Errorf("key type %T is not supported: only ed25519, ECDSA P-256/P-384 and RSA are", key)
	}
}

// Marshal encrypts key under passphrase and returns the PEM file contents.
// The passphrase is not kept.
func Marshal(key crypto.Signer, passphrase []byte) ([]byte, error) {
	return marshal(key, passphrase, DefaultIterations)
}

func marshal(key crypto.Signer, passphrase []byte, iterations int) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("marshal key: %w", ErrEmptyPassphrase)
	}
	plain, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key as PKCS#8: %w", err)
	}
	defer clear(plain)
	der, err := encryptPKCS8(plain, passphrase, iterations)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), nil
}

// decodePEM returns the DER of the single "ENCRYPTED PRIVATE KEY" block,
// refusing anything else in the file (except surrounding white space).
func decodePEM(pemBytes []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(pemBytes)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return nil, errors.New("not a PEM file: it does not start with a -----BEGIN line")
	}
	block, rest := pem.Decode(trimmed)
	if block == nil {
		return nil, errors.New("not a valid PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block")
	}
	switch block.Type {
	case pemType:
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return nil, fmt.Errorf("PEM block %q is an unencrypted private key: only %q is accepted", block.Type, pemType)
	default:
		return nil, fmt.Errorf("PEM block type is %q, not %q", block.Type, pemType)
	}
	if len(block.Headers) != 0 {
		// Proc-Type/DEK-Info headers are the legacy OpenSSL encryption of
		// RFC 1421, which uses MD5 for the key; PKCS#8 PEM has none.
		return nil, errors.New("PEM headers are not allowed (legacy OpenSSL encryption is not supported)")
	}
	return block.Bytes, nil
}

// Parse decrypts a key file written by Marshal (or by openssl, see the
// package documentation). A wrong passphrase gives an error wrapping
// [ErrWrongPassphrase]. The result is an ed25519.PrivateKey, an
// *ecdsa.PrivateKey or an *rsa.PrivateKey.
func Parse(pemBytes, passphrase []byte) (crypto.Signer, error) {
	der, err := decodePEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("parse key file: %w", err)
	}
	enc, err := parseEncrypted(der)
	if err != nil {
		return nil, fmt.Errorf("parse key file: %w", err)
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("parse key file: %w", ErrEmptyPassphrase)
	}
	plain, err := enc.decrypt(passphrase)
	if err != nil {
		return nil, fmt.Errorf("parse key file: %w", err)
	}
	defer clear(plain)
	return parsePlain(plain)
}

// parsePlain parses the decrypted PrivateKeyInfo strictly. Failing to parse
// it is reported as a wrong passphrase: random padding is valid about once
// in 256 tries, and the result is then garbage.
func parsePlain(plain []byte) (crypto.Signer, error) {
	var raw asn1.RawValue
	if err := unmarshalExact(plain, &raw, "PrivateKeyInfo"); err != nil {
		return nil, fmt.Errorf("parse key file: %w", ErrWrongPassphrase)
	}
	key, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		if looksLikeDERSequence(plain) {
			return nil, fmt.Errorf("parse key file: decrypted key is not a valid PKCS#8 private key: %w", err)
		}
		return nil, fmt.Errorf("parse key file: %w", ErrWrongPassphrase)
	}
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("parse key file: %w", err)
	}
	return key.(crypto.Signer), nil
}

// looksLikeDERSequence tells a decrypted key of an unknown type (a valid
// PKCS#8 structure Go cannot use) from random bytes.
func looksLikeDERSequence(b []byte) bool {
	var v struct {
		Version int
		Algo    algorithmIdentifier
		Key     []byte
	}
	rest, err := asn1.Unmarshal(b, &v)
	return err == nil && len(rest) == 0
}
