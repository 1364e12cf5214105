//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

// TestSignEveryKeyType: each key type Conclave uses is generated on
// SoftHSM, signs TUF metadata bytes through tuf.SignMessage, and the
// signature verifies with the TUF package's own verifier.
func TestSignEveryKeyType(t *testing.T) {
	label := newSoftToken(t)
	log := &promptLog{}
	tok := openSoft(t, label, typedPIN(testUserPIN, log))
	msg := []byte(`{"_type":"targets","spec_version":"1.0.31","version":2}`)
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.ECDSAP384, hsm.Ed25519, hsm.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			k := generate(t, tok, alg, "key-"+string(alg))
			if got := KeyType(k.Public); got != string(alg) {
				t.Fatalf("KeyType = %s, want %s", got, alg)
			}
			if len(k.ID) != idLength || k.Attested {
				t.Fatalf("id %x (want %d random bytes), attested %v (PKCS#11 has no attestation)", k.ID, idLength, k.Attested)
			}
			s, err := tok.Signer(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			tk, err := TUFKey(k)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := tuf.SignMessage(s, tk, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := tk.Verify(msg, sig); err != nil {
				t.Fatalf("TUF verification: %v", err)
			}
			if err := tk.Verify(append(msg, ' '), sig); !errors.Is(err, tuf.ErrBadSignature) {
				t.Fatalf("signature verifies over other bytes: %v", err)
			}
			// The URI the token gave selects the same key again.
			again, err := tok.FindKey(context.Background(), k.URI)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.ID, k.ID) || again.URI != k.URI {
				t.Fatalf("FindKey(%s) = %+v", k.URI, again)
			}
		})
	}
	// One PIN for the whole session: the login is held, not repeated.
	if n := log.pinCount(); n != 1 {
		t.Errorf("PIN asked %d times, want 1", n)
	}
}

// TestSignerOptions: the signer refuses inputs that would make a signature
// other than the one TUF specifies.
func TestSignerOptions(t *testing.T) {
	label := newSoftToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	ctx := context.Background()
	ec, _ := tok.Signer(ctx, generate(t, tok, hsm.ECDSAP256, "ec"))
	ed, _ := tok.Signer(ctx, generate(t, tok, hsm.Ed25519, "ed"))
	rs, _ := tok.Signer(ctx, generate(t, tok, hsm.RSA2048, "rsa"))
	d := sha256.Sum256([]byte("x"))

	_, err := ec.Sign(rand.Reader, d[:16], crypto.SHA256)
	wantMsg(t, err, fmt.Sprintf(`signing with key "ec" (id %x) on %s: an ECDSA key needs a digest and the hash that made it (got 16 bytes, hash SHA-256)`, ec.(*signer).key.ID, tok.Describe()))
	_, err = ed.Sign(rand.Reader, d[:], crypto.SHA256)
	if err == nil || !strings.Contains(err.Error(), "an Ed25519 key signs the message itself, not a SHA-256 digest") {
		t.Fatalf("Ed25519 with a digest: %v", err)
	}
	_, err = rs.Sign(rand.Reader, d[:], crypto.SHA256) // PKCS#1 v1.5
	wantIs(t, err, hsm.ErrMechanism)
	_, err = rs.Sign(rand.Reader, d[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthAuto})
	if err == nil || !strings.Contains(err.Error(), "the RSASSA-PSS salt must be as long as the hash") {
		t.Fatalf("PSS with auto salt: %v", err)
	}
	// Ed25519 signs a message directly; ed25519.Verify accepts it.
	sig, err := ed.Sign(rand.Reader, []byte("hello"), crypto.Hash(0))
	if err != nil || !ed25519.Verify(ed.Public().(ed25519.PublicKey), []byte("hello"), sig) {
		t.Fatalf("Ed25519: %v", err)
	}
	// ECDSA P-256 returns DER.
	sig, err = ec.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(ec.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("ECDSA DER: %v", err)
	}
}

// TestBadSignature: a key whose expected public key is not the token's
// (here: the enrolled key is another key; in the field, a swapped key or a
// faulty HSM) yields ErrBadSignature naming the token and the key, and no
// signature.
func TestBadSignature(t *testing.T) {
	label := newSoftToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	k := generate(t, tok, hsm.ECDSAP256, "signing-key")
	other := generate(t, tok, hsm.ECDSAP256, "other-key")
	k.Public = other.Public
	s, err := tok.Signer(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("payload"))
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if sig != nil {
		t.Fatal("a signature was returned")
	}
	wantIs(t, err, hsm.ErrBadSignature)
	wantMsg(t, err, fmt.Sprintf(`signing with key "signing-key" (id %x) on %s: the token's signature does not verify against the expected key (key "signing-key", id %x, ecdsa-p256)`, k.ID, tok.Describe(), k.ID))
}

// TestURISelection: a selector that matches several keys, or none, is an
// error listing the candidates; a unique match is found; a PIN in the URI is
// refused before anything is loaded.
func TestURISelection(t *testing.T) {
	label := newSoftToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	ctx := context.Background()
	a := generate(t, tok, hsm.ECDSAP256, "root")
	// A second key labelled "root" (made by another tool: GenerateKey
	// refuses an existing label).
	bID := []byte{0xb0, 0x0b}
	rawKeyPair(t, tok, "root", bID)

	_, err := tok.FindKey(ctx, "pkcs11:object=root")
	wantIs(t, err, hsm.ErrAmbiguousKey)
	list := []string{fmt.Sprintf(`"root" (id %x, ecdsa-p256)`, a.ID), `"root" (id b00b, ecdsa-p256)`}
	if bytes.Compare(a.ID, bID) > 0 {
		list[0], list[1] = list[1], list[0]
	}
	wantMsg(t, err, fmt.Sprintf(`more than one key matches pkcs11:object=root on %s: %s; select one by id`, tok.Describe(), strings.Join(list, ", ")))

	k, err := tok.FindKey(ctx, "pkcs11:object=root;id=%B0%0B")
	if err != nil || !bytes.Equal(k.ID, bID) {
		t.Fatalf("FindKey by label and id = %+v, %v", k, err)
	}
	// The signer, too, demands exactly one private key.
	k.ID = a.ID
	k.Label = "root"
	if _, err := tok.Signer(ctx, k); err != nil {
		t.Fatal(err)
	}
}

// TestURINotFound: no key or no token matches; the error lists what exists.
func TestURINotFound(t *testing.T) {
	label := newSoftToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	ctx := context.Background()
	rawKeyPair(t, tok, "root", []byte{1})
	rawKeyPair(t, tok, "targets", []byte{2})

	_, err := tok.FindKey(ctx, "pkcs11:object=snapshot;type=private")
	wantIs(t, err, hsm.ErrKeyNotFound)
	wantMsg(t, err, fmt.Sprintf(`no key matches pkcs11:object=snapshot on %s; the token holds: "root" (id 01, ecdsa-p256), "targets" (id 02, ecdsa-p256)`, tok.Describe()))

	k, err := tok.FindKey(ctx, "pkcs11:id=%02")
	if err != nil || k.Label != "targets" {
		t.Fatalf("FindKey by id = %+v, %v", k, err)
	}
	_, err = tok.FindKey(ctx, "pkcs11:object=root;type=public")
	wantMsg(t, err, "the key selector has type=public: Conclave signs with private keys, use type=private")
	_, err = tok.FindKey(ctx, "pkcs11:token=other;object=root")
	wantIs(t, err, hsm.ErrKeyNotFound)

	_, err = Open(ctx, "pkcs11:token=no-such-token?module-path="+softHSMPath, softhsm.policy, hsm.Prompts{})
	wantIs(t, err, hsm.ErrKeyNotFound)
	if !strings.HasPrefix(err.Error(), "no key matches: no token of "+tok.Module().Path()+" matches pkcs11:token=no-such-token; its tokens: ") ||
		!strings.Contains(err.Error(), fmt.Sprintf("%q (serial %s, slot ", label, tok.Status().Serial)) {
		t.Fatalf("error does not list the tokens: %v", err)
	}

	// A PIN in the URI is refused, and not repeated in the error.
	_, err = Open(ctx, "pkcs11:token="+label+"?module-path="+softHSMPath+"&pin-value="+testUserPIN, softhsm.policy, hsm.Prompts{})
	wantIs(t, err, uri.ErrPIN)
	if strings.Contains(err.Error(), testUserPIN) {
		t.Fatalf("the error repeats the PIN: %v", err)
	}
}
