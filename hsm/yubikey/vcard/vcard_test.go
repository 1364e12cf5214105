//go:build cgo

package vcard_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/hsm/yubikey/pcscdtest"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

var (
	daemon *pcscdtest.Daemon
	skip   string
)

func TestMain(m *testing.M) {
	os.Exit(pcscdtest.Main(m, 4, piv.Cards, &daemon, &skip))
}

func need(t *testing.T) {
	t.Helper()
	if daemon == nil {
		t.Skip(skip)
	}
}

// insert puts a new card in reader i and opens it with piv-go.
func insert(t *testing.T, i int, cfg vcard.Config) (*vcard.Card, *piv.YubiKey) {
	t.Helper()
	need(t)
	c, err := vcard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(daemon.Addr(i)); err != nil {
		t.Fatal(err)
	}
	if err := daemon.WaitCard(i, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	yk, err := piv.Open(daemon.Reader(i))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		yk.Close()
		c.Remove()
		if err := daemon.WaitCard(i, false, 10*time.Second); err != nil {
			t.Error(err)
		}
	})
	if s, err := yk.Serial(); err != nil || s != cfg.Serial {
		t.Fatalf("serial %d %v", s, err)
	}
	return c, yk
}

func TestPivGoAgainstVirtualCard(t *testing.T) {
	// Each firmware in its own reader: a card put into a reader right after
	// another was pulled can race pcscd's 400 ms presence poll.
	for i, fw := range [][3]byte{{5, 7, 1}, {5, 4, 3}} {
		t.Run(fmt.Sprintf("%d.%d.%d", fw[0], fw[1], fw[2]), func(t *testing.T) {
			card, yk := insert(t, i, vcard.Config{Serial: 10000000 + uint32(fw[1]), Firmware: fw})
			if v := yk.Version(); v.Major != int(fw[0]) || v.Minor != int(fw[1]) {
				t.Fatalf("version %v", v)
			}
			if r, err := yk.Retries(); err != nil || r != 3 {
				t.Fatalf("retries %d %v", r, err)
			}
			ff, err := yk.FormFactor()
			if err != nil || ff != piv.FormfactorUSBAKeychain {
				t.Fatalf("form factor %v %v", ff, err)
			}
			algs := []piv.Algorithm{piv.AlgorithmEC256, piv.AlgorithmEC384, piv.AlgorithmRSA2048}
			if fw[1] >= 7 {
				algs = append(algs, piv.AlgorithmEd25519)
			}
			for _, alg := range algs {
				pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature, piv.Key{Algorithm: alg, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever})
				if err != nil {
					t.Fatalf("generate %v: %v", alg, err)
				}
				priv, err := yk.PrivateKey(piv.SlotSignature, pub, piv.KeyAuth{PIN: piv.DefaultPIN})
				if err != nil {
					t.Fatal(err)
				}
				msg := []byte("hello")
				d := sha256.Sum256(msg)
				switch p := pub.(type) {
				case *ecdsa.PublicKey:
					sig, err := priv.(crypto.Signer).Sign(rand.Reader, d[:], crypto.SHA256)
					if err != nil || !ecdsa.VerifyASN1(p, d[:], sig) {
						t.Fatalf("ecdsa sign: %v", err)
					}
				case ed25519.PublicKey:
					sig, err := priv.(crypto.Signer).Sign(rand.Reader, msg, crypto.Hash(0))
					if err != nil || !ed25519.Verify(p, msg, sig) {
						t.Fatalf("ed25519 sign: %v", err)
					}
				case *rsa.PublicKey:
					opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
					sig, err := priv.(crypto.Signer).Sign(rand.Reader, d[:], opts)
					if err != nil {
						t.Fatal(err)
					}
					if err := rsa.VerifyPSS(p, crypto.SHA256, d[:], sig, opts); err != nil {
						t.Fatal(err)
					}
				}
				att, err := yk.Attest(piv.SlotSignature)
				if err != nil {
					t.Fatal(err)
				}
				dev, err := yk.AttestationCertificate()
				if err != nil {
					t.Fatal(err)
				}
				roots := x509.NewCertPool()
				roots.AddCert(card.CA().Cert)
				a, err := (&piv.Verifier{Roots: roots}).Verify(dev, att)
				if err != nil {
					t.Fatal(err)
				}
				if a.Serial != card.Serial() || a.PINPolicy != piv.PINPolicyAlways || a.Slot != piv.SlotSignature {
					t.Fatalf("attestation %+v", a)
				}
				// Not a Yubico root: piv-go's default verifier must refuse it.
				if _, err := piv.Verify(dev, att); err == nil {
					t.Fatal("simulator attestation verified against Yubico's roots")
				}
			}
			// Wrong PIN: retries go down and block at zero.
			for want := 2; want >= 0; want-- {
				err := yk.VerifyPIN("999999")
				var ae piv.AuthErr
				if !errors.As(err, &ae) || ae.Retries != want {
					t.Fatalf("wrong PIN: %v, want %d retries", err, want)
				}
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); err == nil {
				t.Fatal("blocked PIN accepted")
			}
			// Reset needs the PUK blocked too; piv-go's Reset does both.
			if err := yk.Reset(); err != nil {
				t.Fatal(err)
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
				t.Fatal(err)
			}
		})
	}
}
