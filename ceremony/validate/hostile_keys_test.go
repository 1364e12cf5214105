package validate_test

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// oddModulus is an odd number of exactly bits bits: an RSA modulus as far
// as parsing can tell (nothing factors it), made in no time.
func oddModulus(bits int) *big.Int {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	return n.Add(n, big.NewInt(1))
}

func rsaKey(t *testing.T, n *big.Int, e int) cjson.Value {
	return rawKey("rsa", tuf.SchemeRSAPSSSHA2, pemOf(t, &rsa.PublicKey{N: n, E: e}))
}

// ecdsaPointKey is a P-256 key object whose SubjectPublicKeyInfo holds
// point as it is, whatever it is.
func ecdsaPointKey(t *testing.T, point []byte) cjson.Value {
	type algorithm struct{ Algorithm, Curve asn1.ObjectIdentifier }
	der, err := asn1.Marshal(struct {
		Algorithm algorithm
		Point     asn1.BitString
	}{algorithm{asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}}, asn1.BitString{Bytes: point, BitLength: 8 * len(point)}})
	if err != nil {
		t.Fatal(err)
	}
	return rawKey("ecdsa", tuf.SchemeECDSAP256, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

// keyidOf is the keyid of a key object, read or not.
func keyidOf(k cjson.Value) string {
	s := sha256.Sum256(k.Canonical())
	return hexString(s[:])
}

// signatures is an envelope's signature list: n signatures of sigLen zero
// bytes under keyid.
func signatures(keyid string, n, sigLen int) cjson.Value {
	sig := base64.StdEncoding.EncodeToString(make([]byte, sigLen))
	items := make([]cjson.Value, n)
	for i := range items {
		items[i] = cjson.ObjectValue(
			cjson.Member{Name: "keyid", Value: cjson.StringValue(keyid)},
			cjson.Member{Name: "sig", Value: cjson.StringValue(sig)},
		)
	}
	return cjson.ArrayValue(items...)
}

// withKey is an add of project new-project whose only key is k, with the
// possession statement for k (anyone can write one; signing it is what
// takes the key): all that is wrong with the request is k, and the
// signature, by another key.
func withKey(t *testing.T, e *env, k cjson.Value) [][]byte {
	fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
	fs[0] = setMember(t, fs[0], k, "keys", "0")
	st := request.Possession{RequestID: "r1", Project: "new-project", BaseVersion: it.BaseVersion, Keyset: request.NewKeyset([]string{keyidOf(k)}, 1)}
	fs[0] = setMember(t, fs[0], cjson.StringValue(base64.StdEncoding.EncodeToString(st.Payload())), "possession", "payload")
	return fs
}

// TestHostileKeys: keys that are not what they claim to be, and requests
// whose signatures would cost more than one verification per listed key.
// Each case breaks one rule in one request; the corpus keeps them (see
// corpus_test.go).
func TestHostileKeys(t *testing.T) {
	zeros, ff := strings.Repeat("00", 30), strings.Repeat("ff", 30)
	cases := []struct {
		name  string
		build func(e *env) [][]byte
		want  want
	}{
		{"ed25519 identity key", func(e *env) [][]byte {
			return withKey(t, e, rawKey("ed25519", "ed25519", "01"+zeros+"00"))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}}},
		{"ed25519 identity key written as y+p", func(e *env) [][]byte {
			return withKey(t, e, rawKey("ed25519", "ed25519", "ee"+ff+"7f"))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}}},
		{"ed25519 key of order 8", func(e *env) [][]byte {
			return withKey(t, e, rawKey("ed25519", "ed25519", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}}},
		{"ed25519 key not on the curve", func(e *env) [][]byte {
			return withKey(t, e, rawKey("ed25519", "ed25519", "02"+zeros+"00"))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}}},
		{"ECDSA point at infinity", func(e *env) [][]byte {
			return withKey(t, e, ecdsaPointKey(t, []byte{0}))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}}},
		{"ECDSA compressed point", func(e *env) [][]byte {
			pt := append([]byte{2}, make([]byte, 32)...)
			pt[32] = 3
			return withKey(t, e, ecdsaPointKey(t, pt))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}}},
		{"RSA key with an even modulus", func(e *env) [][]byte {
			return withKey(t, e, rsaKey(t, new(big.Int).Lsh(big.NewInt(1), 3071), 65537))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}}},
		{"RSA key with exponent 3", func(e *env) [][]byte {
			return withKey(t, e, rsaKey(t, oddModulus(3072), 3))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}}},
		{"RSA key above the policy's size", func(e *env) [][]byte {
			return withKey(t, e, rsaKey(t, oddModulus(6144), 65537))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyRSALarge}}},
		{"RSA key above a policy that lowered the top", func(e *env) [][]byte {
			e.rules.MaxRSABits = 3072
			return withKey(t, e, rsaKey(t, oddModulus(4096), 65537))
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyRSALarge}}},
		{"huge RSA key with hundreds of signatures under its keyid", func(e *env) [][]byte {
			// The request under 1 MiB that once cost seconds of CPU: a
			// 16384-bit modulus, 300 signatures of its size. The line
			// check refuses it before it is parsed: 300 entries in one
			// array is more than any legal request has.
			k := rsaKey(t, oddModulus(16384), 65537)
			fs := withKey(t, e, k)
			fs[0] = setMember(t, fs[0], signatures(keyidOf(k), 300, 16384/8), "possession", "signatures")
			if len(fs[0]) >= 1<<20 {
				t.Fatalf("the request is %d bytes, over the 1 MiB limit", len(fs[0]))
			}
			return fs
		}, want{verdict.Invalid, []verdict.Code{verdict.RequestTooLarge}}},
		{"huge RSA key with as many signatures under its keyid as a line may have", func(e *env) [][]byte {
			// Past the line check (max_keys + 16 entries), the key's
			// size refuses it before any signature is checked.
			k := rsaKey(t, oddModulus(16384), 65537)
			fs := withKey(t, e, k)
			fs[0] = setMember(t, fs[0], signatures(keyidOf(k), e.rules.MaxKeys+16, 16384/8), "possession", "signatures")
			return fs
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyRSALarge}}},
		{"possession signed twice by one key", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1", "n2")
			d.Possession.Signatures = append(d.Possession.Signatures, d.Possession.Signatures[0])
			return it.Lines(d)
		}, want{verdict.Invalid, []verdict.Code{verdict.SignatureExtra}}},
		{"possession also signed by a key not listed", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1")
			if err := intake.SignEnvelope(d.Possession, it.Key("n2")); err != nil {
				t.Fatal(err)
			}
			return it.Lines(d)
		}, want{verdict.Invalid, []verdict.Code{verdict.SignatureExtra}}},
		{"possession with hundreds of signatures under one keyid", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = setMember(t, fs[0], signatures(it.Key("n1").Key.ID(), 500, 64), "possession", "signatures")
			return fs
		}, want{verdict.Invalid, []verdict.Code{verdict.RequestTooLarge}}},
		{"possession with as many signatures under one keyid as a line may have", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = setMember(t, fs[0], signatures(it.Key("n1").Key.ID(), e.rules.MaxKeys+16, 64), "possession", "signatures")
			return fs
		}, want{verdict.Invalid, []verdict.Code{verdict.SignatureExtra}}},
		{"possession signature that does not verify", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1", "n2")
			d.Possession.Signatures[1].Sig[0] ^= 1
			return it.Lines(d)
		}, want{verdict.Invalid, []verdict.Code{verdict.PossessionInvalid}}},
		{"authorisation signed twice by one current key", func(e *env) [][]byte {
			d := e.f.Rotate(t, "r1", "existing-a", []string{"a1"}, "n1")
			d.Authorisation.Signatures = append(d.Authorisation.Signatures, d.Authorisation.Signatures[0])
			return it.Lines(d)
		}, want{verdict.Invalid, []verdict.Code{verdict.SignatureExtra}}},
		{"authorisation with a bad signature by a current key", func(e *env) [][]byte {
			d := e.f.Rotate(t, "r1", "existing-a", []string{"a1", "a2"}, "n1")
			d.Authorisation.Signatures[0].Sig[0] ^= 1
			return it.Lines(d)
		}, want{verdict.Invalid, []verdict.Code{verdict.KeyChangeBadSig}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.pack = e.f.Pack("b1", c.build(e)...)
			o := e.run()
			checkVerdict(t, o, "r1", c.want)
			e.saveCorpus(c.name, o, corpusExpect{ID: "r1", Class: c.want.class, Codes: c.want.codes})
		})
	}
}

// TestHostileManifestSignatures: the manifest envelope follows the same
// rule as every envelope: each trusted intake key signs it once.
func TestHostileManifestSignatures(t *testing.T) {
	e := newEnv(t)
	e.pack = e.f.Pack("b1", it.Lines(e.f.Add(t, "r1", "new-project", "n1"))...)
	e.after = func(dir string) {
		p := filepath.Join(dir, bundle.ManifestName)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := cjson.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		env, err := envelope.Parse(v, "")
		if err != nil {
			t.Fatal(err)
		}
		env.Signatures = append(env.Signatures, env.Signatures[0])
		if err := os.WriteFile(p, env.Marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := e.run()
	if o.refused == nil || o.refused.Code != verdict.ManifestBadSignature {
		t.Fatalf("got %v, want refusal %s", o.refused, verdict.ManifestBadSignature)
	}
	e.saveCorpus("manifest signed twice by the intake key", o, corpusExpect{Refused: verdict.ManifestBadSignature})
}

// TestOffCurveKeySaysWhy: reading an ed25519 key does not decode it (the
// costliest part of reading a key), but a request whose proof of
// possession fails with such a key says the key is not a point, not only
// that a signature failed.
func TestOffCurveKeySaysWhy(t *testing.T) {
	e := newEnv(t)
	e.pack = e.f.Pack("b1", withKey(t, e, rawKey("ed25519", "ed25519", "02"+strings.Repeat("00", 31)))...)
	o := e.run()
	checkVerdict(t, o, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}})
	f := o.byID["r1"].Findings[0]
	if want := "Key 1 is not a usable public key: invalid key: ed25519 public key is not a point on the curve."; f.Sentence != want || f.Path != "keys[0]" {
		t.Errorf("finding %+v, want %q at keys[0]", f, want)
	}
}
