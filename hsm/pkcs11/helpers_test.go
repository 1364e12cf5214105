//go:build cgo

package pkcs11

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/miekg/pkcs11"
)

// rawSession opens a read-write session on a test token straight through
// the module, logged in as the user, for setting up what Conclave itself
// would refuse to make.
func rawSession(t testing.TB, tok *Token) (*pkcs11.Ctx, pkcs11.SessionHandle) {
	t.Helper()
	ctx := tok.mod.sh.ctx
	sh, err := ctx.OpenSession(tok.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctx.CloseSession(sh) })
	if err := ctx.Login(sh, pkcs11.CKU_USER, testUserPIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		t.Fatal(err)
	}
	return ctx, sh
}

// rawKeyPair generates a P-256 key pair on the token with a chosen label
// and id, bypassing GenerateKey's checks (as another tool would).
func rawKeyPair(t testing.TB, tok *Token, label string, id []byte) {
	t.Helper()
	ctx, sh := rawSession(t, tok)
	common := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	_, _, err := ctx.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
		append([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, paramsP256)}, common...),
		append([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		}, common...))
	if err != nil {
		t.Fatal(err)
	}
}

// importKey imports a P-256 key made in software (C_CreateObject), as a
// key holder might import a key generated on a laptop.
func importKey(t testing.TB, tok *Token, label string, id []byte, extractable bool) {
	t.Helper()
	ctx, sh := rawSession(t, tok)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubBytes, err := priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	point, err := asn1.Marshal(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	privBytes, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	common := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, paramsP256),
	}
	if _, err := ctx.CreateObject(sh, append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, point),
	}, common...)); err != nil {
		t.Fatal(err)
	}
	if _, err := ctx.CreateObject(sh, append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, extractable),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, privBytes),
	}, common...)); err != nil {
		t.Fatal(err)
	}
}
