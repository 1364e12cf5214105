//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/miekg/pkcs11"
)

// BenchmarkSign measures signatures through SoftHSM for each key type, two
// ways: "conclave" is the whole Signer.Sign (presence check, login check,
// session, key lookup, C_SignInit/C_Sign, DER conversion, verification in
// software); "module" is C_SignInit + C_Sign alone on an open session and a
// known key handle. Conclave's overhead per signature is the difference,
// reported as overhead-µs/sig on the conclave run.
func BenchmarkSign(b *testing.B) {
	label := newSoftToken(b)
	tok := openSoft(b, label, typedPIN(testUserPIN, &promptLog{}))
	ctx := context.Background()
	for _, c := range []struct {
		alg  hsm.Algorithm
		data func() ([]byte, crypto.SignerOpts)
	}{
		{hsm.ECDSAP256, func() ([]byte, crypto.SignerOpts) { d := sha256.Sum256([]byte("m")); return d[:], crypto.SHA256 }},
		{hsm.ECDSAP384, func() ([]byte, crypto.SignerOpts) { d := sha512.Sum384([]byte("m")); return d[:], crypto.SHA384 }},
		{hsm.Ed25519, func() ([]byte, crypto.SignerOpts) { return []byte("a TUF metadata payload"), crypto.Hash(0) }},
		{hsm.RSA2048, func() ([]byte, crypto.SignerOpts) {
			d := sha256.Sum256([]byte("m"))
			return d[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}
		}},
	} {
		k := generate(b, tok, c.alg, "bench-"+string(c.alg))
		s, err := tok.Signer(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		msg, opts := c.data()
		mech, err := s.(*signer).mechanism(msg, opts)
		if err != nil {
			b.Fatal(err)
		}
		var moduleNs float64
		b.Run(string(c.alg)+"/module", func(b *testing.B) {
			a := tok.mod.api
			sh, err := a.OpenSession(tok.slot, pkcs11.CKF_SERIAL_SESSION)
			if err != nil {
				b.Fatal(err)
			}
			defer a.CloseSession(sh)
			o, err := tok.findPrivate(sh, "bench", k)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := a.SignInit(sh, []*pkcs11.Mechanism{mech}, o); err != nil {
					b.Fatal(err)
				}
				if _, err := a.Sign(sh, msg); err != nil {
					b.Fatal(err)
				}
			}
			moduleNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/moduleNs, "sigs/s")
		})
		b.Run(string(c.alg)+"/conclave", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Sign(rand.Reader, msg, opts); err != nil {
					b.Fatal(err)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/ns, "sigs/s")
			if moduleNs > 0 {
				b.ReportMetric((ns-moduleNs)/1e3, "overhead-µs/sig")
			}
		})
	}
}
