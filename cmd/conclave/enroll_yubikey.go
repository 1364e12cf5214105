//go:build cgo

package main

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/enrolment"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// runEnrollYubikey takes a YubiKey through enrolment, step by step:
// check the card against the policy, replace factory credentials, generate
// the key, verify its attestation, sign the proof of possession, check
// the record as an officer will, write it.
func runEnrollYubikey(ctx context.Context, env *environment, args []string) error {
	c := enrollYubikeyCommand
	var f enrollFlags
	fs := f.define(env, c)
	fs.UintVar(&f.serial, "serial", 0, "the YubiKey's serial `N` (default: the only one present)")
	fs.StringVar(&f.slot, "slot", yubikey.DefaultSlot, "the PIV `SLOT` to generate the key in: 9a, 9c, 9d, 9e or 82–95; it must be empty")
	fs.StringVar(&f.attestationRoots, "attestation-roots", "", "verify the attestation against the PEM certificates in `DIR` instead of Yubico's roots (a test or rehearsal CA; marked NON-YUBICO)")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("enroll yubikey takes no arguments")
	}
	if f.serial > 0xffffffff {
		return usagef("--serial %d: a YubiKey serial is at most 4294967295", f.serial)
	}
	if err := f.prepare(env, "enroll yubikey"); err != nil {
		return err
	}
	defer f.pins.Close()
	roots, err := attestationRoots(f.attestationRoots)
	if err != nil {
		return err
	}
	return f.enrolYubiKey(ctx, roots)
}

// enrolYubiKey is the enrolment itself. The PIN the holder sets (or types,
// for a card whose PIN is already set) is kept for this enrolment only and
// answers the card's own PIN requests, so it is typed once; it is wiped
// when the enrolment ends.
func (f *enrollFlags) enrolYubiKey(ctx context.Context, roots *yubikey.Roots) error {
	const steps = 7
	alg := hsm.Algorithm(f.algorithm)
	pinPolicy, touchPolicy := enrolment.GenerationPolicies(&f.policy.Attestation)
	var pin []byte
	defer func() { clear(pin) }()
	prompts := hsm.Prompts{
		PIN: func(ctx context.Context, req hsm.PINRequest) ([]byte, error) {
			if pin == nil {
				return nil, hsm.ErrPINRequired
			}
			return append([]byte(nil), pin...), nil
		},
		Confirm: func(ctx context.Context, q string) (bool, error) { return f.pins.confirm(ctx, f.holder, q) },
		Touch: func(token string, done <-chan struct{}) {
			fmt.Fprintf(f.notice, "touch %s now (its light blinks)\n", termtext.Safe(token))
		},
	}

	f.step(1, steps, "finding the YubiKey")
	tok, err := yubikey.Open(ctx, yubikey.Options{Serial: uint32(f.serial), Holder: f.holder, Prompts: prompts, Roots: roots})
	if err != nil {
		return err
	}
	defer tok.Close()
	info := tok.Info()
	fmt.Fprintf(f.notice, "  %s\n", termtext.Safe(tok.Describe()))
	// The card's own firmware, before anything on it changes; the
	// attested firmware is checked again at the end.
	if err := enrolment.CheckYubiKey(f.policy.Attestation, info.Firmware, pinPolicy, touchPolicy); err != nil {
		return refused(fmt.Errorf("%s: %w", tok.Describe(), err))
	}

	f.step(2, steps, "the PIN")
	if info.DefaultPIN {
		fmt.Fprintln(f.notice, "  this YubiKey still has the factory PIN: set your own (6 to 8 characters)")
		cur, err := f.pins.secret(ctx, "current PIN (a new YubiKey's is 123456)")
		if err != nil {
			return err
		}
		defer clear(cur)
		if pin, err = f.pins.newSecret(ctx, "new PIN"); err != nil {
			return err
		}
		if err := tok.ChangePIN(ctx, cur, pin); err != nil {
			return err
		}
		fmt.Fprintln(f.notice, "  PIN changed")
	} else {
		if pin, err = f.pins.secret(ctx, "PIN"); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	f.step(3, steps, "the PUK")
	if info.DefaultPUK {
		fmt.Fprintln(f.notice, "  this YubiKey still has the factory PUK: set your own (6 to 8 characters; it unblocks the PIN, keep it apart)")
		cur, err := f.pins.secret(ctx, "current PUK (a new YubiKey's is 12345678)")
		if err != nil {
			return err
		}
		defer clear(cur)
		puk, err := f.pins.newSecret(ctx, "new PUK")
		if err != nil {
			return err
		}
		defer clear(puk)
		if subtle.ConstantTimeCompare(puk, pin) == 1 {
			return errors.New("new PUK: it is the PIN; the PUK unblocks a forgotten or blocked PIN, so choose another")
		}
		if err := tok.ChangePUK(ctx, cur, puk); err != nil {
			return err
		}
		fmt.Fprintln(f.notice, "  PUK changed")
	} else {
		fmt.Fprintln(f.notice, "  already changed from the factory PUK")
	}

	f.step(4, steps, "the management key")
	if info.DefaultManagementKey {
		// Replacing the factory key is the one use of it (ykman's
		// "--generate --protect"): a random key, AES where the firmware
		// has it, kept on the card behind the PIN.
		if err := tok.RotateManagementKey(ctx, piv.DefaultManagementKey, yubikey.StoreOnCard); err != nil {
			return err
		}
		fmt.Fprintln(f.notice, "  replaced the factory management key with a random one, stored on the card behind the PIN")
	} else {
		fmt.Fprintln(f.notice, "  already changed from the factory management key (the one stored on the card behind the PIN is used)")
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	f.step(5, steps, "generating the key (%s) in slot %s, PIN policy %s, touch policy %s", alg, termtext.Safe(f.slot), pinPolicy, touchPolicy)
	key, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: alg, Slot: f.slot, PINPolicy: pinPolicy, TouchPolicy: touchPolicy})
	if err != nil {
		return err
	}

	f.step(6, steps, "verifying the key's attestation against %s", termtext.Safe(roots.Name))
	att, err := tok.AttestVerified(ctx, key.Slot)
	if err != nil {
		return refused(fmt.Errorf("the key in slot %s was generated, but %w; no record was written", key.Slot, err))
	}
	fmt.Fprintf(f.notice, "  attested by %s\n", termtext.Safe(att.Root))

	f.step(7, steps, "signing the proof of possession (touch the YubiKey when it blinks) and writing the record")
	tk, err := tuf.KeyFromPublic(key.Public)
	if err != nil {
		return err
	}
	r := &enrolment.Record{
		Holder: enrolment.Holder{Name: f.holder, Contact: f.contact},
		Key:    tk,
		Token: enrolment.Token{Kind: enrolment.KindYubiKey, Serial: att.Serial, Slot: key.Slot, Firmware: att.Firmware,
			FormFactor: att.FormFactor, PINPolicy: att.PINPolicy, TouchPolicy: att.TouchPolicy},
		// What the card gave: its slot and device certificates. The
		// vendor's intermediates and roots are the verifier's own.
		Attestation: att.Chain[:2],
		Nonce:       f.nonceBytes,
		Time:        time.Now().UTC().Truncate(time.Second),
	}
	signer, err := tok.Signer(ctx, key)
	if err != nil {
		return err
	}
	if err := r.Sign(signer); err != nil {
		return err
	}
	return f.finish(r, yubikeyChecker{roots})
}

// finish checks the record as `conclave enroll verify` will, then writes
// it and shows its fingerprint.
func (f *enrollFlags) finish(r *enrolment.Record, checker enrolment.AttestationChecker) error {
	if _, err := enrolment.Verify(r, enrolment.VerifyOptions{Attestation: checker, Policy: &f.policy.Attestation, Nonce: f.nonceBytes}); err != nil {
		return refused(fmt.Errorf("the new record does not pass its own check, so it was not written: %w", err))
	}
	name, err := f.writeRecord(r)
	if err != nil {
		return f.recordNotWritten(r, name, err)
	}
	f.writeEnrolled(r, name)
	return nil
}

// recordNotWritten is the error for a record that could not be written
// after its key was made: the record holds no secret (a public key, an
// attestation, a proof of possession), so it is printed on standard output
// to be saved by hand, and nothing is lost.
func (f *enrollFlags) recordNotWritten(r *enrolment.Record, name string, err error) error {
	data, mErr := r.Marshal()
	if mErr != nil {
		return mErr
	}
	// Exact, not through termtext: it must parse when saved. Its text is
	// the holder's name and contact (checkEnrollText allows no control
	// character), and what the token and the key gave as canonical JSON.
	f.result.Write(append(data, '\n'))
	where := "PKCS#11 " + termtext.Safe(r.Token.URI)
	if r.Token.Kind == enrolment.KindYubiKey {
		where = fmt.Sprintf("YubiKey serial %d, slot %s", r.Token.Serial, termtext.Safe(r.Token.Slot))
	}
	return withHint(fmt.Errorf("the key was made on the token (%s), but its record could not be written to %s: %w", where, termtext.Safe(f.out), err),
		"the record is printed above, on standard output; it holds no secret: save it as a file ("+termtext.Safe(name)+") on another medium\n"+
			"then check it with conclave enroll verify, as every record is checked")
}

// attestationRoots are Yubico's roots, or the PEM certificates in dir.
func attestationRoots(dir string) (*yubikey.Roots, error) {
	if dir == "" {
		return yubikey.YubicoRoots(), nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--attestation-roots: %w", err)
	}
	var certs []*x509.Certificate
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !(strings.HasSuffix(e.Name(), ".pem") || strings.HasSuffix(e.Name(), ".crt")) {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		data, err := safefile.ReadNamed(p, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("--attestation-roots: %s: %w", p, err)
		}
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("--attestation-roots: %s: %w", p, err)
			}
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, usagef("--attestation-roots %s: no PEM certificate in a .pem or .crt file there", termtext.Safe(dir))
	}
	return yubikey.NewRoots(dir, certs...), nil
}

// yubikeyChecker verifies a YubiKey attestation for package enrolment:
// the slot's certificate and the device's, offline, against roots.
type yubikeyChecker struct{ roots *yubikey.Roots }

// enrolmentAttestationChecker is the checker `conclave enroll verify`
// uses, for other commands that read enrolment records: Yubico's roots,
// or the PEM certificates in rootsDir.
func enrolmentAttestationChecker(rootsDir string) (enrolment.AttestationChecker, error) {
	roots, err := attestationRoots(rootsDir)
	if err != nil {
		return nil, err
	}
	return yubikeyChecker{roots}, nil
}

func (c yubikeyChecker) CheckAttestation(chain [][]byte) (*enrolment.Attested, error) {
	if len(chain) != 2 {
		return nil, fmt.Errorf("a YubiKey attestation is two certificates (the slot's and the device's), not %d", len(chain))
	}
	slot, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("the slot's attestation certificate: %w", err)
	}
	dev, err := x509.ParseCertificate(chain[1])
	if err != nil {
		return nil, fmt.Errorf("the device's attestation certificate: %w", err)
	}
	v, err := yubikey.VerifyAttestation(slot, dev, c.roots, time.Time{})
	if err != nil {
		return nil, err
	}
	if v.Serial == 0 {
		return nil, errors.New("the attestation names no serial number (old firmware), so it cannot be tied to a card")
	}
	return &enrolment.Attested{Public: slot.PublicKey, Serial: v.Serial, Slot: v.Slot, Firmware: v.Firmware,
		PINPolicy: v.PINPolicy, TouchPolicy: v.TouchPolicy, FormFactor: v.FormFactor, Root: v.Root, Vendor: v.Vendor}, nil
}
