package tuf

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// Regression tests for the bugs found while writing this suite.

// TestRegressionPEMJunkBeforeBlock: pem.Decode skips anything it cannot
// read before a block, a broken BEGIN line included, so the check for
// "data before the PEM block" must look before the block that was decoded,
// not before the first BEGIN.
func TestRegressionPEMJunkBeforeBlock(t *testing.T) {
	p256 := publicPEM(t, "p256")
	for _, junk := range []string{"-----BEGIN junk\n", "-----BEGIN PUBLIC KEY-----\n!!!\n", "-----BEGIN X-----\nAAAA\n-----END Y-----\n"} {
		_, err := parseKeyJSON(`{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":` + strconv.Quote(junk+p256) + `}}`)
		wantErr(t, err, ErrInvalidKey, "keys.k: keyval.public: invalid key: data before the PEM block")
	}
	// Line breaks around the block are fine.
	if _, err := parseKeyJSON(`{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":` + strconv.Quote("\n\n"+p256+"\n") + `}}`); err != nil {
		t.Error(err)
	}
}

// TestRegressionInvalidKeyWrapped: a bad key in a metadata file must wrap
// ErrInvalidKey through Parse (the FieldError kept only the text).
func TestRegressionInvalidKeyWrapped(t *testing.T) {
	doc := replaceOnce(t, string(readTestdata(t, "roundtrip", "root.json")),
		`"public": "edc64e18d2c76debc6b2c1d520dd267de6e90f77fc529b464f1531ca03ed99ea"`,
		`"public": "EDC64E18D2C76DEBC6B2C1D520DD267DE6E90F77FC529B464F1531CA03ED99EA"`)
	_, err := Parse("root.json", []byte(doc))
	wantErr(t, err, ErrInvalidKey, "root.json: malformed metadata: signed.keys."+rtKeyEd+": keyval.public: invalid key: an ed25519 public key must be lowercase hex")
	if !errors.Is(err, ErrMalformed) {
		t.Error("not ErrMalformed")
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "signed.keys."+rtKeyEd || !errors.Is(fe.Err, ErrInvalidKey) {
		t.Errorf("FieldError %+v", fe)
	}
}

// TestRegressionFingerprintOfNonCanonicalDER: the x509 parser accepts an
// RSA key whose DER is not the one Go writes for it. The fingerprint (the
// identity thresholds count by) was taken from the DER as written, so two
// encodings of one key could count as two keys. Found by FuzzKey.
func TestRegressionFingerprintOfNonCanonicalDER(t *testing.T) {
	// FuzzKey's find had an even modulus and the exponent 3, refused now
	// (checkRSA); this is the same shape, two bytes after the exponent
	// inside the key's SEQUENCE, with an odd modulus and the exponent 65537.
	pemText := "-----BEGIN PUBLIC KEY-----\nMIIBJDANBgkqhkiG9w0BAQEFAAOCAREAMIIBDAKCAQE" + strings.Repeat("0", 342) + "QIDAQABTTQ=\n-----END PUBLIC KEY-----"
	v, err := cjson.Parse([]byte(`{"keytype":"rsa","keyval":{"public":` + strconv.Quote(pemText) + `},"scheme":"rsassa-pss-sha256"}`))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(v, "k")
	if err != nil {
		t.Fatalf("the key no longer parses, so this test no longer tests anything: %v", err)
	}
	block, _ := pem.Decode([]byte(pemText))
	canonical, err := x509.MarshalPKIXPublicKey(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(block.Bytes, canonical) {
		t.Fatal("the input DER is canonical after all; the test needs a non-canonical encoding")
	}
	want := sha256.Sum256(canonical)
	if k.Fingerprint() != hex.EncodeToString(want[:]) {
		t.Errorf("Fingerprint() = %s, want the SHA-256 of the canonical DER %x", k.Fingerprint(), want)
	}
	// The same key written canonically must be the same key.
	same, err := KeyFromPublic(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if same.Fingerprint() != k.Fingerprint() {
		t.Errorf("two encodings of one key have different fingerprints: %s and %s", k.Fingerprint(), same.Fingerprint())
	}
}
