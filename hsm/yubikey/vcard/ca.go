package vcard

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// SimulatorOrganization is written into every certificate the simulator
// makes, so that no attestation from it can be mistaken for Yubico's.
const SimulatorOrganization = "Conclave virtual YubiKey SIMULATOR (not a real token)"

// The YubiKey attestation extensions (Yubico, "PIV attestation",
// https://developers.yubico.com/PIV/Introduction/PIV_attestation.html).
var (
	oidFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// CA is the simulator's attestation root. It plays the part of Yubico's PIV
// attestation root for virtual cards, and nothing else: its name says it is
// a simulator, and Conclave marks keys that chain to it as not attested by
// Yubico.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

// NewCA makes a fresh simulator attestation root (ECDSA P-256), valid from
// one hour ago for ten years.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating simulator CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject: pkix.Name{
			CommonName:   "Conclave virtual YubiKey SIMULATOR attestation root",
			Organization: []string{SimulatorOrganization},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            2,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating simulator CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing simulator CA certificate: %w", err)
	}
	return &CA{Cert: cert, key: key}, nil
}

// issueDevice makes the card's slot f9 certificate: the intermediate that
// signs slot attestations. Real YubiKeys carry one issued by Yubico at the
// factory.
func (ca *CA) issueDevice(serial uint32, pub crypto.PublicKey) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject: pkix.Name{
			CommonName:   fmt.Sprintf("Conclave virtual YubiKey SIMULATOR device %d", serial),
			Organization: []string{SimulatorOrganization},
		},
		NotBefore:             ca.Cert.NotBefore,
		NotAfter:              ca.Cert.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("creating simulator device certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// attestation is what a slot attestation certificate states.
type attestation struct {
	slot       byte
	pub        crypto.PublicKey
	firmware   [3]byte
	serial     uint32
	pinPolicy  byte
	touch      byte
	formFactor byte
}

// issueSlot makes a slot attestation certificate signed by the device key,
// with the subject and extensions a YubiKey uses (subject CN "YubiKey PIV
// Attestation 9c", which piv-go parses for the slot).
func issueSlot(device *x509.Certificate, deviceKey crypto.Signer, a attestation) ([]byte, error) {
	serialDER, err := asn1.Marshal(int64(a.serial))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject: pkix.Name{
			CommonName:   fmt.Sprintf("YubiKey PIV Attestation %02x", a.slot),
			Organization: []string{SimulatorOrganization},
		},
		NotBefore: device.NotBefore,
		NotAfter:  device.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFirmware, Value: a.firmware[:]},
			{Id: oidSerial, Value: serialDER},
			{Id: oidPolicy, Value: []byte{a.pinPolicy, a.touch}},
			{Id: oidFormFactor, Value: []byte{a.formFactor}},
		},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, device, a.pub, deviceKey)
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}
