package tuf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
)

// ErrBadSignature is wrapped by every signature that does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// hashFor returns the digest algorithm the scheme signs with.
// ed25519 signs the message itself (crypto.Hash(0)).
func (k *Key) hashFor() crypto.Hash {
	switch k.Scheme {
	case SchemeECDSAP384:
		return crypto.SHA384
	case SchemeECDSAP256, SchemeRSAPSSSHA2:
		return crypto.SHA256
	}
	return 0
}

func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(msg)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		return d[:]
	}
	return msg
}

// Verify checks a signature over msg made with this key's scheme:
// ed25519 over the message; ECDSA as ASN.1 DER over SHA-256 (P-256) or
// SHA-384 (P-384); RSASSA-PSS with SHA-256 and MGF1-SHA-256, any valid salt
// length (signers differ: securesystemslib uses the hash length, some HSMs
// the maximum).
func (k *Key) Verify(msg, sig []byte) error {
	ok := false
	switch pub := k.pub.(type) {
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, msg, sig)
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, digest(k.hashFor(), msg), sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPSS(pub, crypto.SHA256, digest(crypto.SHA256, msg), sig,
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256}) == nil
	default:
		return fmt.Errorf("%w: key %s has no usable public key", ErrInvalidKey, k.id)
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// SignMessage signs msg with signer for key and verifies the result against
// key before returning it. The signer gets what its scheme signs: the
// SHA-256 or SHA-384 digest for ECDSA and RSA-PSS (salt length = hash
// length, as securesystemslib signs), the message itself for ed25519. ECDSA
// signers must return ASN.1 DER, as crypto.Signer specifies.
//
// The signer's public key must be the key's: signing with another key is
// refused before the token is asked, and a token that returns a signature
// that does not verify (a faulty device, a swapped key) is caught after.
func SignMessage(signer crypto.Signer, key *Key, msg []byte) ([]byte, error) {
	sig, err := SignMessageUnverified(signer, key, msg)
	if err != nil {
		return nil, err
	}
	if err := key.Verify(msg, sig); err != nil {
		return nil, fmt.Errorf("the signature just made with key %s does not verify (wrong key or faulty token): %w", key.id, err)
	}
	return sig, nil
}

// SignMessageUnverified is SignMessage without the check of the
// signature it returns, for a caller that verifies it itself before
// using it (the ceremony's log checks each signature before recording
// it): verifying twice would hash the message twice, 60 MB for a
// 100,000-project role. The signer's key is still checked first.
func SignMessageUnverified(signer crypto.Signer, key *Key, msg []byte) ([]byte, error) {
	if err := sameKey(signer.Public(), key); err != nil {
		return nil, err
	}
	h := key.hashFor()
	var opts crypto.SignerOpts = h
	if key.Type == KeyTypeRSA {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	sig, err := signer.Sign(rand.Reader, digest(h, msg), opts)
	if err != nil {
		return nil, fmt.Errorf("sign with key %s: %w", key.id, err)
	}
	return sig, nil
}

// ErrWrongSigner: the signer holds a different key from the one expected.
var ErrWrongSigner = errors.New("the signer's public key is not the expected key")

func sameKey(pub crypto.PublicKey, key *Key) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWrongSigner, err)
	}
	want, err := x509.MarshalPKIXPublicKey(key.pub)
	if err != nil || string(der) != string(want) {
		return fmt.Errorf("%w (expected key %s)", ErrWrongSigner, key.id)
	}
	return nil
}
