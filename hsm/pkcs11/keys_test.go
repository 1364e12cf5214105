//go:build cgo

package pkcs11

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"testing"

	"github.com/miekg/pkcs11"
)

// TestDecodeECPoint: CKA_EC_POINT is accepted DER-wrapped (as PKCS#11
// v2.40 §2.3.3 says) and bare (as some HSMs return it), including a bare
// P-256 point whose first coordinate byte makes it look like an OCTET STRING.
func TestDecodeECPoint(t *testing.T) {
	for range 200 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := k.PublicKey.Bytes()
		wrapped, _ := asn1.Marshal(raw)
		for _, point := range [][]byte{raw, wrapped} {
			pub, err := decodeECPublic(pkcs11.CKK_EC, paramsP256, point)
			if err != nil || !pub.(*ecdsa.PublicKey).Equal(&k.PublicKey) {
				t.Fatalf("point %x: %v", point, err)
			}
		}
	}
	// 0x04 0x40 ... : a bare point that parses as a 64-byte OCTET STRING.
	for {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		raw, _ := k.PublicKey.Bytes()
		if raw[1] != 0x3f {
			continue
		}
		pub, err := decodeECPublic(pkcs11.CKK_EC, paramsP256, raw)
		if err != nil || !pub.(*ecdsa.PublicKey).Equal(&k.PublicKey) {
			t.Fatalf("ambiguous bare point %x: %v", raw, err)
		}
		break
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	wrapped, _ := asn1.Marshal([]byte(edPub))
	for _, params := range [][]byte{paramsEd25519, paramsEd25519Name} {
		pub, err := decodeECPublic(ckkECEdwards, params, wrapped)
		if err != nil || !pub.(ed25519.PublicKey).Equal(edPub) {
			t.Fatalf("Ed25519: %v", err)
		}
	}
	for _, c := range []struct {
		kt     uint
		params []byte
		point  []byte
		want   string
	}{
		{pkcs11.CKK_EC, mustDER(asn1.ObjectIdentifier{1, 3, 132, 0, 35}), wrapped, "unsupported elliptic curve (Conclave signs with P-256 and P-384)"},
		{ckkECEdwards, mustDER(asn1.ObjectIdentifier{1, 3, 101, 113}), wrapped, "unsupported Edwards curve (only Ed25519 is used in TUF)"},
		{ckkECEdwards, paramsEd25519, []byte{4, 2, 1, 2}, "ed25519 public key has 4 bytes, want 32"},
		{pkcs11.CKK_EC, paramsP256, []byte{4, 1, 2, 3}, "invalid P-256 public key point: invalid P256 point encoding"},
	} {
		_, err := decodeECPublic(c.kt, c.params, c.point)
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
}

func TestDecodeRSAPublic(t *testing.T) {
	big := make([]byte, 256)
	big[0] = 0x80
	if _, err := decodeRSAPublic(big, []byte{1, 0, 1}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mod, exp []byte
		want     string
	}{
		{big[:128], []byte{1, 0, 1}, "RSA key of 1024 bits is too small (at least 2048)"},
		{big, []byte{2}, "RSA public exponent is out of range"},
		{big, []byte{1, 0, 0, 0, 0, 1}, "RSA public exponent is out of range"},
	} {
		_, err := decodeRSAPublic(c.mod, c.exp)
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
}
