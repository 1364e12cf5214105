//go:build cgo

package yubikey_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/hsm/yubikey"
)

func readCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(p.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Genuine YubiKey chains (testdata/README.md) verify against the embedded
// Yubico roots, offline, whatever this machine's clock says.
func TestVerifyGenuineYubiKeyChains(t *testing.T) {
	y5dev, y5slot := readCert(t, "yubikey5-device.pem"), readCert(t, "yubikey5-slot9a.pem")
	y4dev, y4slot := readCert(t, "yubikey4-2018-device.pem"), readCert(t, "yubikey4-2018-slot9a.pem")

	v, err := yubikey.VerifyAttestation(y5slot, y5dev, yubikey.YubicoRoots(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Vendor || v.Slot != "9a" || v.Serial == 0 || v.PINPolicy == "" || !strings.HasPrefix(v.Root, "Yubico PIV Root CA Serial 263751 (sha256 63ece914e54dd879") {
		t.Fatalf("YubiKey 5 chain: %+v", v)
	}
	// A YubiKey made in 2018: device certificate under the U2F root,
	// without basic constraints, and no serial extension.
	v, err = yubikey.VerifyAttestation(y4slot, y4dev, yubikey.YubicoRoots(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Vendor || v.Serial != 0 || !strings.HasPrefix(v.Root, "Yubico U2F Root CA Serial 457200631") {
		t.Fatalf("YubiKey 4 chain: %+v", v)
	}
	if y4dev.BasicConstraintsValid {
		t.Fatal("the caller's device certificate was modified")
	}
	// Crossed chains fail.
	for _, c := range [][2]*x509.Certificate{{y5slot, y4dev}, {y4slot, y5dev}} {
		if _, err := yubikey.VerifyAttestation(c[0], c[1], yubikey.YubicoRoots(), time.Time{}); !errors.Is(err, yubikey.ErrNotGenuine) {
			t.Fatalf("crossed chain: %v", err)
		}
	}
	// A confirmed ceremony time after the roots expire fails; one inside passes.
	if _, err := yubikey.VerifyAttestation(y5slot, y5dev, yubikey.YubicoRoots(), time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, yubikey.ErrNotGenuine) {
		t.Fatalf("at 2060: %v", err)
	}
	if _, err := yubikey.VerifyAttestation(y5slot, y5dev, yubikey.YubicoRoots(), time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("at 2026: %v", err)
	}
	// Not against another root, and never against the system's web roots.
	if _, err := yubikey.VerifyAttestation(y5slot, y5dev, yubikey.NewRoots("rehearsal"), time.Time{}); !errors.Is(err, yubikey.ErrNotGenuine) {
		t.Fatalf("other root: %v", err)
	}
	if _, err := yubikey.VerifyAttestation(y5slot, y5dev, &yubikey.Roots{Name: "zero"}, time.Time{}); err == nil {
		t.Fatal("zero Roots accepted")
	}
}
