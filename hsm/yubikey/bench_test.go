//go:build cgo

package yubikey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

// BenchmarkSign measures one signature through piv-go, libpcsclite, pcscd,
// vpcd and the virtual card, three ways:
//
//   - conclave: the backend's Signer (option checks, reconnect check, touch
//     watch, PIN logic, and the verification of every signature);
//   - piv-go: piv-go alone on the same card with the same APDUs (VERIFY
//     status, GENERAL AUTHENTICATE), i.e. the cost of the path to the card;
//   - card: the virtual card's own work for the signing APDU, in process.
//
// conclave minus piv-go is Conclave's overhead.
func BenchmarkSign(b *testing.B) {
	for i, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.Ed25519, hsm.RSA2048} {
		b.Run(string(alg), func(b *testing.B) {
			serial := uint32(31000000 + i)
			card := insertCard(b, vcard.Config{Serial: serial})
			k := enrol(b, serial, gen(alg, "once", "never"))
			msg := []byte("targets metadata")
			d := sha256.Sum256(msg)
			in, opts := d[:], crypto.SignerOpts(crypto.SHA256)
			switch k.Public.(type) {
			case ed25519.PublicKey:
				in, opts = msg, crypto.Hash(0)
			case *rsa.PublicKey:
				opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
			}
			b.Run("conclave", func(b *testing.B) {
				tok := open(b, serial, &prompts{pins: []string{testPIN}})
				s, err := tok.Signer(ctx, k)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Sign(rand.Reader, in, opts); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := s.Sign(rand.Reader, in, opts); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				tok.Close()
			})
			b.Run("piv-go", func(b *testing.B) {
				yk, err := pivgo.Open(daemon.Reader(card.reader))
				if err != nil {
					b.Fatal(err)
				}
				defer yk.Close()
				priv, err := yk.PrivateKey(pivgo.SlotSignature, k.Public, pivgo.KeyAuth{PIN: testPIN, PINPolicy: pivgo.PINPolicyOnce})
				if err != nil {
					b.Fatal(err)
				}
				s := priv.(crypto.Signer)
				for b.Loop() {
					if _, err := s.Sign(rand.Reader, in, opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	_ = ecdsa.VerifyASN1
	_ = yubikey.DefaultSlot
}
