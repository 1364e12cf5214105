//go:build cgo

package yubikey

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/hsm"
)

// Yubico's PIV attestation roots and intermediates, public certificates
// copied from github.com/go-piv/piv-go/v2 v2.6.0 (piv/key.go and piv/certs/,
// which fetched them from https://developers.yubico.com/PKI/ on 2025-06-20).
// docs/hsm-piv.md lists each with its SHA-256 fingerprint and validity;
// roots_test.go pins the fingerprints.
var (
	//go:embed roots/yubico-piv-root-ca-263751.pem
	yubicoPIVRoot []byte // YubiKey 4.3+ and 5 before the 2024 PKI
	//go:embed roots/yubico-u2f-root-ca-457200631.pem
	yubicoU2FRoot []byte // YubiKey 4 made before mid-2017/2018
	//go:embed roots/yubico-attestation-root-1.pem
	yubicoRoot1 []byte // Yubico's 2024 PKI (valid from December 2024)
	//go:embed roots/yubico-piv-intermediates.pem
	yubicoIntermediates []byte
)

// RootsVersion names the embedded set, so an enrolment record can say which
// set judged it.
const RootsVersion = "yubico-piv-roots-2025-06-20"

// Roots is a set of attestation trust anchors.
type Roots struct {
	// Name is shown wherever a key verified against these roots appears.
	Name   string
	vendor bool
	roots  *x509.CertPool
	inter  []*x509.Certificate
	certs  []*x509.Certificate
}

func mustCerts(p []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, p = pem.Decode(p)
		if b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			panic("embedded Yubico certificate: " + err.Error())
		}
		out = append(out, c)
	}
}

// YubicoRoots is the embedded set of Yubico PIV attestation roots.
func YubicoRoots() *Roots {
	r := &Roots{Name: "Yubico (" + RootsVersion + ")", vendor: true, roots: x509.NewCertPool()}
	for _, c := range append(mustCerts(yubicoPIVRoot), mustCerts(yubicoRoot1)...) {
		r.roots.AddCert(c)
		r.certs = append(r.certs, c)
	}
	for _, c := range mustCerts(yubicoU2FRoot) {
		// The U2F root says pathlen 0, yet YubiKey 4 chains put the
		// device certificate under it; piv-go raises it to 1 for the same
		// reason (RFC 5280 §4.2.1.9). The copy is parsed afresh, so the
		// change stays local.
		c.MaxPathLen = 1
		r.roots.AddCert(c)
		r.certs = append(r.certs, c)
	}
	r.inter = mustCerts(yubicoIntermediates)
	return r
}

// NewRoots makes a non-vendor set (a rehearsal or test CA, e.g. the virtual
// card's). Keys attested under it are marked NON-YUBICO wherever shown.
func NewRoots(name string, certs ...*x509.Certificate) *Roots {
	r := &Roots{Name: name, roots: x509.NewCertPool()}
	for _, c := range certs {
		r.roots.AddCert(c)
		r.certs = append(r.certs, c)
	}
	return r
}

// Fingerprint is the SHA-256 of a certificate, in hex.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// Vendor is true only for the embedded Yubico set.
func (r *Roots) Vendor() bool { return r.vendor }

// Certificates returns the trust anchors.
func (r *Roots) Certificates() []*x509.Certificate { return r.certs }

// The YubiKey attestation extensions (Yubico, "PIV attestation",
// https://developers.yubico.com/PIV/Introduction/PIV_attestation.html).
var (
	oidFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

type extensions struct {
	firmware   [3]int
	serial     uint32
	pin        piv.PINPolicy
	touch      piv.TouchPolicy
	formFactor piv.Formfactor
}

func parseExtensions(c *x509.Certificate) (*extensions, error) {
	var e extensions
	for _, x := range c.Extensions {
		switch {
		case x.Id.Equal(oidFirmware):
			if len(x.Value) != 3 {
				return nil, fmt.Errorf("attestation firmware extension: %d bytes, want 3", len(x.Value))
			}
			e.firmware = [3]int{int(x.Value[0]), int(x.Value[1]), int(x.Value[2])}
		case x.Id.Equal(oidSerial):
			var n int64
			if rest, err := asn1.Unmarshal(x.Value, &n); err != nil || len(rest) != 0 || n < 0 || n > 0xffffffff {
				return nil, errors.New("attestation serial extension: not a 32-bit serial number")
			}
			e.serial = uint32(n)
		case x.Id.Equal(oidPolicy):
			if len(x.Value) != 2 {
				return nil, fmt.Errorf("attestation policy extension: %d bytes, want 2", len(x.Value))
			}
			e.pin = map[byte]piv.PINPolicy{1: piv.PINPolicyNever, 2: piv.PINPolicyOnce, 3: piv.PINPolicyAlways, 4: piv.PINPolicyMatchOnce, 5: piv.PINPolicyMatchAlways}[x.Value[0]]
			e.touch = map[byte]piv.TouchPolicy{1: piv.TouchPolicyNever, 2: piv.TouchPolicyAlways, 3: piv.TouchPolicyCached}[x.Value[1]]
			if e.pin == 0 || e.touch == 0 {
				return nil, fmt.Errorf("attestation policy extension: unknown policy %x", x.Value)
			}
		case x.Id.Equal(oidFormFactor):
			if len(x.Value) != 1 {
				return nil, fmt.Errorf("attestation form factor extension: %d bytes, want 1", len(x.Value))
			}
			e.formFactor = piv.Formfactor(x.Value[0])
		}
	}
	return &e, nil
}

// Verified is an attestation that chained to a root of r.
type Verified struct {
	hsm.Attestation
	// Vendor is true when the root is one of Yubico's.
	Vendor bool
	public crypto.PublicKey
	// Slot is the attested slot, from the certificate's subject.
	Slot string
}

// VerifyAttestation checks a slot attestation certificate against the
// device (slot f9) certificate and roots, offline, and reads what it states.
//
// Time: attestation certificates carry validity periods the device copies
// from its f9 certificate, unrelated to when the key was made, and the
// ceremony machine's clock is not trusted blindly. With now == zero the
// chain is judged at the latest NotBefore of the chain — an instant inside
// every period if the chain was ever valid; otherwise at now (the time a
// person confirmed in preflight).
func VerifyAttestation(slotCert, device *x509.Certificate, roots *Roots, now time.Time) (*Verified, error) {
	if roots == nil {
		roots = YubicoRoots()
	}
	if roots.roots == nil {
		// A zero Roots would make x509 fall back to the system's web roots.
		return nil, errors.New("attestation roots not set: use YubicoRoots or NewRoots")
	}
	at := now
	if at.IsZero() {
		at = slotCert.NotBefore
		if device.NotBefore.After(at) {
			at = device.NotBefore
		}
	}
	inter := x509.NewCertPool()
	for _, c := range roots.inter {
		inter.AddCert(c)
	}
	// Some YubiKey 4 device certificates lack basic constraints, which RFC
	// 5280 requires of a CA; treat the device certificate as the CA it is
	// (piv-go does the same). A copy, so the caller's certificate is kept.
	dev, err := x509.ParseCertificate(device.Raw)
	if err != nil {
		return nil, fmt.Errorf("parsing the device attestation certificate: %w", err)
	}
	if !dev.BasicConstraintsValid {
		dev.BasicConstraintsValid, dev.IsCA = true, true
	}
	inter.AddCert(dev)
	chains, err := slotCert.Verify(x509.VerifyOptions{
		Roots: roots.roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrNotGenuine, roots.Name, err)
	}
	e, err := parseExtensions(slotCert)
	if err != nil {
		return nil, err
	}
	root := chains[0][len(chains[0])-1]
	v := &Verified{
		Attestation: hsm.Attestation{
			Chain:       [][]byte{slotCert.Raw, device.Raw},
			Serial:      e.serial,
			Firmware:    fmt.Sprintf("%d.%d.%d", e.firmware[0], e.firmware[1], e.firmware[2]),
			PINPolicy:   pinPolicyName(e.pin),
			TouchPolicy: touchPolicyName(e.touch),
			FormFactor:  e.formFactor.String(),
			Root:        root.Subject.CommonName + " (sha256 " + Fingerprint(root)[:16] + "…)",
		},
		Vendor: roots.vendor,
		public: slotCert.PublicKey,
	}
	if !roots.vendor {
		v.Root = "NON-YUBICO " + roots.Name + ": " + v.Root
	}
	for _, c := range chains[0][2:] {
		v.Chain = append(v.Chain, c.Raw)
	}
	if cn := slotCert.Subject.CommonName; len(cn) > len("YubiKey PIV Attestation ") {
		v.Slot = cn[len("YubiKey PIV Attestation "):]
	}
	return v, nil
}

// Policy is what an enrolment may require of an attested key.
type Policy struct {
	// MinFirmware, e.g. {5, 7, 0}: firmware before 5.7.0 is affected by
	// Yubico Security Advisory YSA-2024-03 (an ECDSA side channel in the
	// Infineon library, "EUCLEAK").
	MinFirmware [3]int
	// PINPolicies and TouchPolicies allowed ("once", "always", "cached"…);
	// empty allows any.
	PINPolicies   []string
	TouchPolicies []string
	// RequireVendor refuses roots other than Yubico's.
	RequireVendor bool
}

// Check returns an error wrapping ErrPolicy naming the first unmet rule.
func (p Policy) Check(v *Verified) error {
	if p.RequireVendor && !v.Vendor {
		return fmt.Errorf("%w: the key is attested by %s, not by Yubico", ErrPolicy, v.Root)
	}
	var fw [3]int
	if _, err := fmt.Sscanf(v.Firmware, "%d.%d.%d", &fw[0], &fw[1], &fw[2]); err != nil {
		return fmt.Errorf("%w: firmware %q unreadable", ErrPolicy, v.Firmware)
	}
	for i := range fw {
		if fw[i] != p.MinFirmware[i] {
			if fw[i] < p.MinFirmware[i] {
				return fmt.Errorf("%w: firmware %s is older than %d.%d.%d (YSA-2024-03)", ErrPolicy, v.Firmware, p.MinFirmware[0], p.MinFirmware[1], p.MinFirmware[2])
			}
			break
		}
	}
	if len(p.PINPolicies) > 0 && !contains(p.PINPolicies, v.PINPolicy) {
		return fmt.Errorf("%w: PIN policy %s, want one of %v", ErrPolicy, v.PINPolicy, p.PINPolicies)
	}
	if len(p.TouchPolicies) > 0 && !contains(p.TouchPolicies, v.TouchPolicy) {
		return fmt.Errorf("%w: touch policy %s, want one of %v", ErrPolicy, v.TouchPolicy, p.TouchPolicies)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// attest reads and verifies a slot's attestation. Callers hold t.mu.
func (t *Token) attest(slot piv.Slot) (*Verified, error) {
	c, err := t.yk.Attest(slot)
	if err != nil {
		if errors.Is(err, piv.ErrNotFound) {
			return nil, fmt.Errorf("%s, slot %s: no attestation (empty slot or imported key): %w", t.describe(), slot, hsm.ErrKeyNotFound)
		}
		return nil, t.fail(err)
	}
	dev, err := t.yk.AttestationCertificate()
	if err != nil {
		return nil, t.fail(err)
	}
	var now time.Time
	if t.opts.Now != nil {
		now = t.opts.Now()
	}
	v, err := VerifyAttestation(c, dev, t.opts.Roots, now)
	if err != nil {
		return nil, fmt.Errorf("%s, slot %s: %w", t.describe(), slot, err)
	}
	if v.Serial == 0 {
		// Early YubiKey 4 firmware omits the serial extension: such an
		// attestation cannot tie the key to this card.
		return nil, fmt.Errorf("%s, slot %s: the attestation names no serial number (old firmware), so it cannot be tied to this card: %w", t.describe(), slot, ErrNotGenuine)
	}
	if v.Serial != t.info.Serial {
		return nil, fmt.Errorf("%s, slot %s: attestation names serial %d: %w", t.describe(), slot, v.Serial, ErrNotGenuine)
	}
	return v, nil
}

// Attest implements hsm.Attester: the key's attestation, verified against
// Options.Roots. The result's Root starts with "NON-YUBICO" for other roots.
func (t *Token) Attest(ctx context.Context, key hsm.KeyInfo) (*hsm.Attestation, error) {
	v, err := t.AttestVerified(ctx, key.Slot)
	if err != nil {
		return nil, err
	}
	if key.Public != nil && !samePublic(key.Public, v.public) {
		return nil, fmt.Errorf("%s, slot %s: attested key differs from the expected key: %w", t.Describe(), key.Slot, hsm.ErrWrongToken)
	}
	return &v.Attestation, nil
}

// AttestVerified is Attest with the vendor flag.
func (t *Token) AttestVerified(ctx context.Context, slot string) (*Verified, error) {
	s, err := ParseSlot(slot)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ensure(ctx); err != nil {
		return nil, err
	}
	return t.attest(s)
}
