package tuf

import (
	"errors"
	"strconv"
	"testing"
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
