//go:build cgo

package pkcs11

import (
	"context"
	"fmt"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
	"github.com/miekg/pkcs11"
)

func parseURI(s string) (*uri.URI, error) { return uri.Parse(s) }

func TestGenerateKeyChecks(t *testing.T) {
	label := newSoftToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	ctx := context.Background()
	k := generate(t, tok, hsm.ECDSAP384, "holder")
	_, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.Ed25519, Label: "holder"})
	wantMsg(t, err, `generating ed25519 key "holder" on `+tok.Describe()+`: an object labelled "holder" already exists; choose another label`)
	_, err = tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: "dsa", Label: "y"})
	wantMsg(t, err, `generating dsa key "y" on `+tok.Describe()+`: unsupported key algorithm "dsa"`)
	_, err = tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.Ed25519, Label: "z", Slot: "9c"})
	wantMsg(t, err, `generating ed25519 key "z" on `+tok.Describe()+`: slot, PIN policy and touch policy are PIV options; a PKCS#11 token has none`)

	// What was made is what a ceremony needs: read back from the token.
	_, sh := rawSession(t, tok)
	objs, err := tok.find(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID)}, 0)
	if err != nil || len(objs) != 1 {
		t.Fatalf("private key: %v, %d objects", err, len(objs))
	}
	attrs, err := tok.mod.api.GetAttributeValue(sh, objs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil), pkcs11.NewAttribute(pkcs11.CKA_SIGN, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, true, true, false} {
		if v, _ := boolAttr(attrs[i].Value); v != want {
			t.Errorf("attribute 0x%x = %v, want %v", attrs[i].Type, v, want)
		}
	}
}

// TestImportedKeyRefused: keys imported from outside the token are refused
// for signing, extractable or not: only CKA_NEVER_EXTRACTABLE and
// CKA_ALWAYS_SENSITIVE, which the token itself sets, prove a key never left.
func TestImportedKeyRefused(t *testing.T) {
	label := newSoftToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	ctx := context.Background()
	importKey(t, tok, "laptop-key", []byte{0x11}, true)
	importKey(t, tok, "laptop-key-2", []byte{0x12}, false)
	for _, c := range []struct {
		sel, why string
	}{
		{"pkcs11:object=laptop-key", "CKA_EXTRACTABLE is true, CKA_ALWAYS_SENSITIVE is false, CKA_NEVER_EXTRACTABLE is false"},
		{"pkcs11:object=laptop-key-2", "CKA_ALWAYS_SENSITIVE is false, CKA_NEVER_EXTRACTABLE is false"},
	} {
		k, err := tok.FindKey(ctx, c.sel)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tok.Signer(ctx, k)
		wantIs(t, err, ErrKeyExportable)
		wantMsg(t, err, fmt.Sprintf(`preparing key %q (id %x) for signing on %s: the private key can be, or once could be, exported from the token (%s)`, k.Label, k.ID, tok.Describe(), c.why))
	}
}
