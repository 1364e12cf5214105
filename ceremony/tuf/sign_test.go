package tuf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
	"testing"
)

func signTargets(t *testing.T) *File {
	t.Helper()
	tg := &Targets{Targets: map[string]*TargetFile{"a": {Length: 1, Hashes: map[string]string{"sha256": "00"}}}}
	tg.Version, tg.Expires = 1, testExpiry
	return mustTargetsFile(t, tg)
}

// TestSignEveryKeyType signs through a crypto.Signer for each key type and
// checks the signature with the standard library directly, in the encoding
// each scheme specifies.
func TestSignEveryKeyType(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(t *testing.T, pub crypto.PublicKey, msg, sig []byte)
	}{
		{"ed25519", func(t *testing.T, pub crypto.PublicKey, msg, sig []byte) {
			if !ed25519.Verify(pub.(ed25519.PublicKey), msg, sig) {
				t.Error("ed25519.Verify failed")
			}
		}},
		{"p256", func(t *testing.T, pub crypto.PublicKey, msg, sig []byte) {
			checkDER(t, sig)
			d := sha256.Sum256(msg)
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
				t.Error("ecdsa.VerifyASN1 over SHA-256 failed")
			}
		}},
		{"p384", func(t *testing.T, pub crypto.PublicKey, msg, sig []byte) {
			checkDER(t, sig)
			d := sha512.Sum384(msg)
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
				t.Error("ecdsa.VerifyASN1 over SHA-384 failed")
			}
		}},
		{"rsa2048", func(t *testing.T, pub crypto.PublicKey, msg, sig []byte) {
			d := sha256.Sum256(msg)
			// securesystemslib signs with salt length = hash length; so does Conclave.
			if err := rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}); err != nil {
				t.Errorf("rsa.VerifyPSS with salt 32: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signer := fileSigner(t, tc.name)
			key := mustKey(t, signer.Public())
			f := signTargets(t)
			if err := f.Sign(keyMap(key), key.ID(), signer); err != nil {
				t.Fatal(err)
			}
			if len(f.Signatures) != 1 || f.Signatures[0].KeyID != key.ID() {
				t.Fatalf("signatures %+v", f.Signatures)
			}
			sig, err := hex.DecodeString(f.Signatures[0].Sig)
			if err != nil || hex.EncodeToString(sig) != f.Signatures[0].Sig {
				t.Fatalf("signature is not lowercase hex: %q", f.Signatures[0].Sig)
			}
			tc.check(t, signer.Public(), f.SignedBytes(), sig)
			res := f.VerifyRole("targets", keyMap(key), []string{key.ID()}, 1)
			if res.Err() != nil || len(res.Signers) != 1 || res.Checks[0].Status != SigCounted {
				t.Errorf("VerifyRole: %v %+v", res.Err(), res.Checks)
			}
			// And the written file verifies after parsing.
			g := mustParse(t, "targets.json", f.Bytes())
			if err := g.VerifyRole("targets", keyMap(key), []string{key.ID()}, 1).Err(); err != nil {
				t.Error(err)
			}
		})
	}
}

func checkDER(t *testing.T, sig []byte) {
	t.Helper()
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &rs)
	if err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
		t.Errorf("ECDSA signature is not one DER SEQUENCE of two positive INTEGERs: %x (%v)", sig, err)
	}
}

// TestSignKeyIDFromDelegator: the keyid written is the delegator's, which
// here differs from the keyid KeyFromPublic would compute, because the
// delegator's key object has an extra field.
func TestSignKeyIDFromDelegator(t *testing.T) {
	signer := edSigner(1)
	k, err := parseKeyJSON(`{"keytype":"ed25519","scheme":"ed25519","x-origin":"hsm","keyval":{"public":"` + hex.EncodeToString(signer.Public().(ed25519.PublicKey)) + `"}}`)
	if err != nil {
		t.Fatal(err)
	}
	plain := mustKey(t, signer.Public())
	if k.ID() == plain.ID() {
		t.Fatal("extra field did not change the keyid")
	}
	f := signTargets(t)
	if err := f.Sign(map[string]*Key{k.ID(): k}, k.ID(), signer); err != nil {
		t.Fatal(err)
	}
	if f.Signatures[0].KeyID != k.ID() {
		t.Errorf("keyid %s, want the delegator's %s", f.Signatures[0].KeyID, k.ID())
	}
}

func TestSignRefusals(t *testing.T) {
	a, b := edSigner(1), edSigner(2)
	ka, kb := mustKey(t, a.Public()), mustKey(t, b.Public())
	keys := keyMap(ka, kb)

	f := signTargets(t)
	wantErr(t, f.Sign(keys, ka.ID(), b), ErrWrongSigner,
		"sign targets metadata: the signer's public key is not the expected key (expected key "+ka.ID()+")")

	wantErr(t, f.Sign(keys, ka.ID(), fakeCorruptSigner{a}), ErrBadSignature,
		"sign targets metadata: the signature just made with key "+ka.ID()+" does not verify (wrong key or faulty token): signature does not verify")

	wantErr(t, f.Sign(keys, ka.ID(), fakeSwappedSigner{claims: a.Public(), signs: b}), ErrBadSignature,
		"sign targets metadata: the signature just made with key "+ka.ID()+" does not verify (wrong key or faulty token): signature does not verify")

	wantErr(t, f.Sign(keys, ka.ID(), fakeFailingSigner{a}), nil,
		"sign targets metadata: sign with key "+ka.ID()+": token removed")

	wantErr(t, f.Sign(keys, "00ff", a), nil, "sign targets metadata: the delegator lists no key 00ff")

	// A delegator listing a key under a keyid that is not its hash.
	wantErr(t, f.Sign(map[string]*Key{"00ff": ka}, "00ff", a), ErrKeyIDMismatch,
		"sign targets metadata: keyid does not match its key: the delegator lists key "+ka.ID()+" under keyid 00ff")

	if len(f.Signatures) != 0 {
		t.Fatalf("a refused signing added %d signatures", len(f.Signatures))
	}
	if err := f.Sign(keys, ka.ID(), a); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.Sign(keys, ka.ID(), a), nil, "sign targets metadata: key "+ka.ID()+" has already signed")
	if len(f.Signatures) != 1 {
		t.Errorf("%d signatures", len(f.Signatures))
	}

	// The faulty signers are caught for every key type.
	for _, name := range []string{"p256", "p384", "rsa2048"} {
		s := fileSigner(t, name)
		k := mustKey(t, s.Public())
		_, err := SignMessage(fakeCorruptSigner{s}, k, []byte("m"))
		wantErr(t, err, ErrBadSignature, "the signature just made with key "+k.ID()+" does not verify (wrong key or faulty token): signature does not verify")
		_, err = SignMessage(s, ka, []byte("m"))
		wantErr(t, err, ErrWrongSigner, "the signer's public key is not the expected key (expected key "+ka.ID()+")")
	}
}

// TestRSASaltLengths: signers differ in the PSS salt length (securesystemslib
// uses the hash length, some HSMs the maximum); every valid one verifies.
func TestRSASaltLengths(t *testing.T) {
	priv := fileSigner(t, "rsa2048").(*rsa.PrivateKey)
	key := mustKey(t, priv.Public())
	msg := []byte(`{"_type":"targets"}`)
	d := sha256.Sum256(msg)
	for _, salt := range []int{rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash, 0, 20, 64} {
		sig, err := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		if err := key.Verify(msg, sig); err != nil {
			t.Errorf("salt length %d: %v", salt, err)
		}
		if err := key.Verify([]byte(`{"_type":"root"}`), sig); err != ErrBadSignature {
			t.Errorf("salt length %d, other message: %v", salt, err)
		}
	}
	// PKCS #1 v1.5 is not RSASSA-PSS.
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Verify(msg, sig); err != ErrBadSignature {
		t.Errorf("PKCS #1 v1.5 signature: %v", err)
	}
	// Nor is PSS over SHA-512.
	d512 := sha512.Sum512(msg)
	sig, err = rsa.SignPSS(rand.Reader, priv, crypto.SHA512, d512[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Verify(msg, sig); err != ErrBadSignature {
		t.Errorf("PSS SHA-512 signature: %v", err)
	}
}

// TestECDSAWrongHash: a P-384 key signs SHA-384; a signature over SHA-256
// of the same message does not verify, nor does a raw r||s signature.
func TestECDSAWrongHash(t *testing.T) {
	priv := fileSigner(t, "p384").(*ecdsa.PrivateKey)
	key := mustKey(t, priv.Public())
	msg := []byte("message")
	d := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, d[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Verify(msg, sig); err != ErrBadSignature {
		t.Errorf("P-384 over SHA-256: %v", err)
	}
	d384 := sha512.Sum384(msg)
	sig, err = ecdsa.SignASN1(rand.Reader, priv, d384[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Verify(msg, sig); err != nil {
		t.Errorf("P-384 over SHA-384: %v", err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &rs); err != nil {
		t.Fatal(err)
	}
	raw := append(rs.R.FillBytes(make([]byte, 48)), rs.S.FillBytes(make([]byte, 48))...)
	if err := key.Verify(msg, raw); err != ErrBadSignature {
		t.Errorf("raw r||s: %v", err)
	}
}
