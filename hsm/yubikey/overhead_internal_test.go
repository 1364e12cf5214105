//go:build cgo

package yubikey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"
)

// BenchmarkOverheadP256 is the CPU work Conclave adds to a P-256 signature
// besides the card round trips: option checks, the touch watch, and the
// verification of the signature against the public key.
func BenchmarkOverheadP256(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("x"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	s := &Signer{pub: &k.PublicKey}
	for b.Loop() {
		if err := s.checkOpts(d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
		tw := newTouchWatch(func(string, <-chan struct{}) {}, "x", time.Second, true)
		tw.start()
		tw.stop()
		if err := verify(&k.PublicKey, d[:], sig, crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
