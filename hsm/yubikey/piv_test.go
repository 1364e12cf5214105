//go:build cgo

package yubikey_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

var ctx = context.Background()

func gen(alg hsm.Algorithm, pin, touch string) hsm.GenerateOptions {
	return hsm.GenerateOptions{Algorithm: alg, Slot: "9c", PINPolicy: pin, TouchPolicy: touch}
}

// signOnce signs msg the way TUF does for the key type.
func signOnce(t *testing.T, s crypto.Signer, msg []byte) ([]byte, error) {
	t.Helper()
	switch s.Public().(type) {
	case ed25519.PublicKey:
		return s.Sign(rand.Reader, msg, crypto.Hash(0))
	case *rsa.PublicKey:
		d := sha256.Sum256(msg)
		return s.Sign(rand.Reader, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case *ecdsa.PublicKey:
		if s.Public().(*ecdsa.PublicKey).Curve.Params().BitSize == 384 {
			d := sha512.Sum384(msg)
			return s.Sign(rand.Reader, d[:], crypto.SHA384)
		}
		d := sha256.Sum256(msg)
		return s.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	t.Fatalf("unexpected key %T", s.Public())
	return nil, nil
}

func verifyStd(t *testing.T, pub crypto.PublicKey, msg, sig []byte) {
	t.Helper()
	ok := false
	switch p := pub.(type) {
	case ed25519.PublicKey:
		ok = ed25519.Verify(p, msg, sig)
	case *rsa.PublicKey:
		d := sha256.Sum256(msg)
		ok = rsa.VerifyPSS(p, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case *ecdsa.PublicKey:
		if p.Curve.Params().BitSize == 384 {
			d := sha512.Sum384(msg)
			ok = ecdsa.VerifyASN1(p, d[:], sig)
		} else {
			d := sha256.Sum256(msg)
			ok = ecdsa.VerifyASN1(p, d[:], sig)
		}
	}
	if !ok {
		t.Fatal("signature does not verify")
	}
}

func TestEnrolSignEachAlgorithm(t *testing.T) {
	for i, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.ECDSAP384, hsm.Ed25519, hsm.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			serial := uint32(30000000 + i)
			insertCard(t, vcard.Config{Serial: serial, Firmware: [3]byte{5, 7, 1}})
			k := enrol(t, serial, gen(alg, "once", "never"))
			if !k.Attested || k.URI != fmt.Sprintf("yubikey:serial=%d;slot=9c", serial) {
				t.Fatalf("enrolled key %+v", k)
			}
			if !strings.Contains(k.Label, "attested by NON-YUBICO test CA: Conclave virtual YubiKey SIMULATOR attestation root") {
				t.Fatalf("label does not mark the non-Yubico root: %q", k.Label)
			}
			p := &prompts{pins: []string{testPIN}}
			tok := open(t, serial, p, func(o *yubikey.Options) { o.Expect = &yubikey.Expected{Slot: "9c", Public: k.Public} })
			if d := tok.Describe(); !strings.HasPrefix(d, fmt.Sprintf("virtual YubiKey SIMULATOR (not a real token), serial %d", serial)) {
				t.Fatalf("Describe() = %q", d)
			}
			s, err := tok.Signer(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			for n := range 3 {
				msg := fmt.Appendf(nil, "metadata %d", n)
				sig, err := signOnce(t, s, msg)
				if err != nil {
					t.Fatalf("signature %d: %v", n, err)
				}
				verifyStd(t, k.Public, msg, sig)
			}
			// As TUF: Conclave's TUF package signs through this signer and
			// verifies with the key's scheme.
			tk, err := tuf.KeyFromPublic(k.Public)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte(`{"_type":"targets","version":2}`)
			sig, err := tuf.SignMessage(s, tk, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := tk.Verify(msg, sig); err != nil {
				t.Fatal(err)
			}
			if err := tk.Verify([]byte("other"), sig); err == nil {
				t.Fatal("signature verifies over another message")
			}
			// PIN policy once: asked once, with the retries shown.
			if p.timesAsked() != 1 || p.lastAsked().RetriesLeft != 3 {
				t.Fatalf("PIN asked %d times, last %+v", p.timesAsked(), p.asked)
			}
		})
	}
}

func TestPINAlwaysAsksEachTime(t *testing.T) {
	const serial = 30000100
	insertCard(t, vcard.Config{Serial: serial})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "always", "never"))
	p := &prompts{pins: []string{testPIN}}
	s, err := open(t, serial, p).Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := signOnce(t, s, []byte("root")); err != nil {
			t.Fatal(err)
		}
	}
	if p.timesAsked() != 3 {
		t.Fatalf("PIN asked %d times, want 3", p.timesAsked())
	}
}

func TestFactoryCredentialsRefused(t *testing.T) {
	const serial = 30000200
	card := insertCard(t, vcard.Config{Serial: serial})
	p := &prompts{pins: []string{pivgo.DefaultPIN}}
	tok := open(t, serial, p)
	info := tok.Info()
	if !info.DefaultPIN || !info.DefaultPUK || !info.DefaultManagementKey || info.PINRetries != 3 || info.PUKRetries != 3 {
		t.Fatalf("info %+v", info)
	}
	desc := tok.Describe()
	_, err := tok.Signer(ctx, hsm.KeyInfo{Slot: "9c"})
	want := desc + " still has the factory PIN; change it first with ykman piv access change-pin"
	if !errors.Is(err, yubikey.ErrFactoryCredentials) || err.Error() != want {
		t.Fatalf("Signer: %v\nwant %s", err, want)
	}
	_, err = tok.GenerateKey(ctx, gen(hsm.ECDSAP256, "once", "never"))
	if !errors.Is(err, yubikey.ErrFactoryCredentials) {
		t.Fatalf("GenerateKey: %v", err)
	}
	// Change PIN and PUK but keep the factory management key: still refused.
	if err := tok.ChangePIN(ctx, []byte(pivgo.DefaultPIN), []byte(testPIN)); err != nil {
		t.Fatal(err)
	}
	if err := tok.ChangePUK(ctx, []byte(pivgo.DefaultPUK), []byte(testPUK)); err != nil {
		t.Fatal(err)
	}
	_, err = tok.GenerateKey(ctx, gen(hsm.ECDSAP256, "once", "never"))
	var fe *yubikey.FactoryCredentialError
	if !errors.As(err, &fe) || fe.What != "management key" {
		t.Fatalf("GenerateKey with factory management key: %v", err)
	}
	// A new PIN equal to the factory one is refused before the card sees it.
	if err := tok.ChangePIN(ctx, []byte(testPIN), []byte(pivgo.DefaultPIN)); err == nil || err.Error() != "new PIN: it is the factory PIN; choose another" {
		t.Fatalf("ChangePIN to factory: %v", err)
	}
	if card.PINRetries() != 3 {
		t.Fatalf("retries spent: %d left", card.PINRetries())
	}
}

func TestTypedFactoryPINNeverSent(t *testing.T) {
	const serial = 30000300
	card := insertCard(t, vcard.Config{Serial: serial})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "always", "never"))
	p := &prompts{pins: []string{pivgo.DefaultPIN}}
	s, err := open(t, serial, p).Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	_, err = signOnce(t, s, []byte("x"))
	if !errors.Is(err, yubikey.ErrFactoryCredentials) {
		t.Fatalf("sign with typed factory PIN: %v", err)
	}
	if card.PINRetries() != 3 {
		t.Fatalf("a try was spent: %d left", card.PINRetries())
	}
}

func TestWrongPINRetriesFinalTryAndBlock(t *testing.T) {
	const serial = 30000400
	card := insertCard(t, vcard.Config{Serial: serial})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "always", "never"))
	p := &prompts{pins: []string{"999999"}}
	tok := open(t, serial, p)
	desc := tok.Describe()
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, left := range []int{2, 1} {
		_, err := signOnce(t, s, []byte("x"))
		var pe *hsm.PINError
		if !errors.As(err, &pe) || pe.RetriesLeft != left {
			t.Fatalf("wrong PIN: %v, want %d left", err, left)
		}
		want := fmt.Sprintf("signing with %s, slot 9c: wrong PIN for %s: %d tries left before it locks", desc, desc, left)
		if err.Error() != want {
			t.Fatalf("got  %s\nwant %s", err, want)
		}
	}
	// One try left: the prompt shows it, and the holder must confirm.
	_, err = signOnce(t, s, []byte("x"))
	if !errors.Is(err, hsm.ErrCancelled) || len(p.confirms) != 1 {
		t.Fatalf("declined final try: %v, confirms %q", err, p.confirms)
	}
	if card.PINRetries() != 1 {
		t.Fatalf("declining spent a try: %d left", card.PINRetries())
	}
	p.confirm = true
	_, err = signOnce(t, s, []byte("x"))
	if !errors.Is(err, hsm.ErrPINLocked) {
		t.Fatalf("final wrong try: %v", err)
	}
	if r := p.lastAsked(); !r.FinalTry || r.RetriesLeft != 1 {
		t.Fatalf("final prompt %+v", r)
	}
	asked := p.timesAsked()
	_, err = signOnce(t, s, []byte("x"))
	if !errors.Is(err, hsm.ErrPINLocked) || p.timesAsked() != asked {
		t.Fatalf("blocked PIN: %v, prompts %d→%d", err, asked, p.timesAsked())
	}
}

func TestWrongCardDetectedBeforePIN(t *testing.T) {
	const alice, bob = 30000500, 30000501
	insertCard(t, vcard.Config{Serial: alice})
	insertCard(t, vcard.Config{Serial: bob})
	ka := enrol(t, alice, gen(hsm.ECDSAP256, "once", "never"))
	kb := enrol(t, bob, gen(hsm.ECDSAP256, "once", "never"))

	p := &prompts{pins: []string{testPIN}}
	_, err := yubikey.Open(ctx, yubikey.Options{Serial: 12345678, Holder: "Alice", Prompts: p.hsm()})
	var wc *yubikey.WrongCardError
	if !errors.As(err, &wc) || !errors.Is(err, hsm.ErrWrongToken) {
		t.Fatalf("absent card: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "insert YubiKey 12345678 (Alice): found ") {
		t.Fatalf("message %q", err)
	}
	// Right serial, wrong key (Bob's key recorded for Alice's card).
	_, err = yubikey.Open(ctx, yubikey.Options{Serial: alice, Holder: "Alice", Prompts: p.hsm(), Expect: &yubikey.Expected{Slot: "9c", Public: kb.Public}})
	want := fmt.Sprintf("insert YubiKey %d (Alice): slot 9c of this card holds a different key than the one enrolled", alice)
	if !errors.Is(err, hsm.ErrWrongToken) || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if p.timesAsked() != 0 {
		t.Fatal("PIN asked before the card was checked")
	}
	// Two cards and no serial: ambiguous.
	if _, err := yubikey.Open(ctx, yubikey.Options{Prompts: p.hsm()}); !errors.Is(err, hsm.ErrAmbiguousKey) {
		t.Fatalf("no serial with two cards: %v", err)
	}
	// The right one opens and signs.
	tok := open(t, alice, p, func(o *yubikey.Options) { o.Expect = &yubikey.Expected{Slot: "9c", Public: ka.Public} })
	s, err := tok.Signer(ctx, ka)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signOnce(t, s, []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestRemovalMidSignatureThenRetry(t *testing.T) {
	const serial, bob = 30000600, 30000601
	card := insertCard(t, vcard.Config{Serial: serial})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "once", "never"))
	// Another holder's card, open in this process too (a rehearsal).
	insertCard(t, vcard.Config{Serial: bob})
	open(t, bob, &prompts{})
	p := &prompts{pins: []string{testPIN}}
	tok := open(t, serial, p)
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	// Pull the card when the signing command (GENERAL AUTHENTICATE, slot
	// 9c) arrives: after the PIN was verified, before the signature.
	card.RemoveOn(func(apdu []byte) bool { return apdu[1] == 0x87 && apdu[3] == 0x9c })
	_, err = signOnce(t, s, []byte("x"))
	if !errors.Is(err, hsm.ErrTokenRemoved) {
		t.Fatalf("removal: %v", err)
	}
	// Still out: a retry says so.
	waitPresent(t, card.reader, false)
	_, err = signOnce(t, s, []byte("x"))
	if want := fmt.Sprintf("insert YubiKey %d: found %d instead", serial, bob); err == nil || err.Error() != want {
		t.Fatalf("retry with the card out: %v, want %s", err, want)
	}
	card.reinsert(t)
	sig, err := signOnce(t, s, []byte("x"))
	if err != nil {
		t.Fatalf("retry after reinsertion: %v", err)
	}
	verifyStd(t, k.Public, []byte("x"), sig)
	// The card lost power, so the PIN was asked again.
	if p.timesAsked() != 2 {
		t.Fatalf("PIN asked %d times, want 2", p.timesAsked())
	}
}

func TestTouchSignalledAfterDelay(t *testing.T) {
	const serial = 30000700
	card := insertCard(t, vcard.Config{Serial: serial})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "once", "always"))
	p := &prompts{pins: []string{testPIN}}
	s, err := open(t, serial, p, func(o *yubikey.Options) { o.TouchDelay = time.Millisecond }).Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-card.TouchWaits()
		// Touch only once Conclave has told the holder.
		for {
			p.mu.Lock()
			n := p.touches
			p.mu.Unlock()
			if n > 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		card.Touch()
	}()
	sig, err := signOnce(t, s, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	verifyStd(t, k.Public, []byte("x"), sig)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.touches != 1 {
		t.Fatalf("touch prompt %d times", p.touches)
	}
}

func TestAttestation(t *testing.T) {
	const serial = 30000800
	insertCard(t, vcard.Config{Serial: serial, Firmware: [3]byte{5, 4, 3}, FormFactor: pivgo.FormfactorUSBCNano})
	k := enrol(t, serial, gen(hsm.ECDSAP384, "once", "cached"))
	tok := open(t, serial, &prompts{})
	a, err := tok.Attest(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if a.Serial != serial || a.Firmware != "5.4.3" || a.PINPolicy != "once" || a.TouchPolicy != "cached" || a.FormFactor != "USB-C Nano" {
		t.Fatalf("attestation %+v", a)
	}
	if !strings.HasPrefix(a.Root, "NON-YUBICO test CA: Conclave virtual YubiKey SIMULATOR attestation root") {
		t.Fatalf("root %q", a.Root)
	}
	v, err := tok.AttestVerified(ctx, "9c")
	if err != nil {
		t.Fatal(err)
	}
	pol := yubikey.Policy{MinFirmware: [3]int{5, 7, 0}}
	if err := pol.Check(v); !errors.Is(err, yubikey.ErrPolicy) || err.Error() != "the attestation does not meet the policy: firmware 5.4.3 is older than 5.7.0 (YSA-2024-03)" {
		t.Fatalf("min firmware: %v", err)
	}
	if err := (yubikey.Policy{RequireVendor: true}).Check(v); !errors.Is(err, yubikey.ErrPolicy) {
		t.Fatalf("require vendor: %v", err)
	}
	if err := (yubikey.Policy{PINPolicies: []string{"always"}}).Check(v); !errors.Is(err, yubikey.ErrPolicy) {
		t.Fatalf("pin policy: %v", err)
	}
	if err := (yubikey.Policy{MinFirmware: [3]int{5, 4, 0}, PINPolicies: []string{"once"}, TouchPolicies: []string{"cached"}}).Check(v); err != nil {
		t.Fatal(err)
	}
	// Against Yubico's roots the simulator is not genuine.
	tok.Close()
	y := open(t, serial, &prompts{}, func(o *yubikey.Options) { o.Roots = yubikey.YubicoRoots() })
	if _, err := y.Attest(ctx, k); !errors.Is(err, yubikey.ErrNotGenuine) {
		t.Fatalf("simulator against Yubico roots: %v", err)
	}
}

func TestCardBusyInAnotherProgram(t *testing.T) {
	const serial = 30000900
	card := insertCard(t, vcard.Config{Serial: serial})
	yk, err := pivgo.Open(daemon.Reader(card.reader))
	if err != nil {
		t.Fatal(err)
	}
	defer yk.Close()
	_, err = yubikey.Open(ctx, yubikey.Options{Serial: serial})
	if !errors.Is(err, yubikey.ErrCardBusy) {
		t.Fatalf("busy card: %v", err)
	}
}

func TestReset(t *testing.T) {
	const serial = 30001000
	insertCard(t, vcard.Config{Serial: serial})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "once", "never"))
	tok := open(t, serial, &prompts{pins: []string{testPIN}})
	for _, c := range []yubikey.ResetConfirmation{{}, {ReallyReset: true, Typed: "yes"}, {Typed: fmt.Sprint(serial)}} {
		if err := tok.Reset(ctx, c); !errors.Is(err, yubikey.ErrResetNotConfirmed) {
			t.Fatalf("Reset(%+v): %v", c, err)
		}
	}
	if _, err := tok.Signer(ctx, k); err != nil {
		t.Fatalf("key gone after refused resets: %v", err)
	}
	if err := tok.Reset(ctx, yubikey.ResetConfirmation{ReallyReset: true, Typed: fmt.Sprint(serial)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Signer(ctx, k); !errors.Is(err, yubikey.ErrFactoryCredentials) {
		t.Fatalf("after reset: %v", err)
	}
}

func TestGenerateRefusesOccupiedSlot(t *testing.T) {
	const serial = 30001100
	insertCard(t, vcard.Config{Serial: serial})
	enrol(t, serial, gen(hsm.ECDSAP256, "once", "never"))
	tok := open(t, serial, &prompts{pins: []string{testPIN}})
	_, err := tok.GenerateKey(ctx, gen(hsm.ECDSAP256, "once", "never"))
	want := tok.Describe() + ": slot 9c already holds a key; Conclave never overwrites one"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	// A retired slot is free.
	k, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.ECDSAP256, Slot: "82", PINPolicy: "once", TouchPolicy: "cached"})
	if err != nil || k.Slot != "82" {
		t.Fatalf("slot 82: %+v %v", k, err)
	}
	keys, err := tok.Keys(ctx)
	if err != nil || len(keys) != 2 || keys[0].Slot != "9c" || keys[1].Slot != "82" {
		t.Fatalf("keys %+v %v", keys, err)
	}
}

func TestEd25519NeedsFirmware57(t *testing.T) {
	const serial = 30001200
	insertCard(t, vcard.Config{Serial: serial, Firmware: [3]byte{5, 4, 3}})
	enrol(t, serial, gen(hsm.ECDSAP256, "once", "never"))
	tok := open(t, serial, &prompts{pins: []string{testPIN}})
	_, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.Ed25519, Slot: "9a", PINPolicy: "once", TouchPolicy: "never"})
	if !errors.Is(err, hsm.ErrMechanism) {
		t.Fatalf("ed25519 on 5.4: %v", err)
	}
}

func TestList(t *testing.T) {
	const serial = 30001300
	insertCard(t, vcard.Config{Serial: serial, FormFactor: pivgo.FormfactorUSBCKeychain})
	cards, err := yubikey.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cards {
		if c.Serial == serial {
			if !c.Simulator || c.FormFactor != "USB-C Keychain" || c.Firmware != "5.7.1" || c.PINRetries != 3 || c.PUKRetries != 3 || !c.DefaultPIN {
				t.Fatalf("listed %+v", c)
			}
			return
		}
	}
	t.Fatalf("card %d not listed: %+v", serial, cards)
}

func TestTouchMissed(t *testing.T) {
	const serial = 30001400
	insertCard(t, vcard.Config{Serial: serial, TouchTimeout: 50 * time.Millisecond})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "once", "always"))
	p := &prompts{pins: []string{testPIN}}
	s, err := open(t, serial, p).Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	_, err = signOnce(t, s, []byte("x"))
	if !errors.Is(err, yubikey.ErrTouchTimeout) || !errors.Is(err, hsm.ErrNotLoggedIn) {
		t.Fatalf("missed touch: %v", err)
	}
}

func TestSlotKeyAndPolicies(t *testing.T) {
	const serial = 30001500
	insertCard(t, vcard.Config{Serial: serial})
	enrol(t, serial, gen(hsm.ECDSAP384, "always", "cached"))
	tok := open(t, serial, &prompts{})
	sk, err := tok.SlotKey(ctx, "9c")
	if err != nil {
		t.Fatal(err)
	}
	if sk.Algorithm != hsm.ECDSAP384 || sk.PINPolicy != "always" || sk.TouchPolicy != "cached" || sk.Origin != "generated" {
		t.Fatalf("slot key %+v", sk)
	}
	if _, err := tok.SlotKey(ctx, "9d"); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("empty slot: %v", err)
	}
}

// Firmware 5.2 has no metadata (policies come from the attestation) and a
// 3DES management key.
func TestFirmware52(t *testing.T) {
	const serial = 30001600
	insertCard(t, vcard.Config{Serial: serial, Firmware: [3]byte{5, 2, 7}})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "once", "never"))
	p := &prompts{pins: []string{testPIN}}
	tok := open(t, serial, p)
	if info := tok.Info(); info.PINRetries != 3 || info.PUKRetries != -1 {
		t.Fatalf("info %+v", info)
	}
	sk, err := tok.SlotKey(ctx, "9c")
	if err != nil || sk.PINPolicy != "once" || sk.Origin != "" {
		t.Fatalf("slot key %+v %v", sk, err)
	}
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := signOnce(t, s, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if p.timesAsked() != 1 {
		t.Fatalf("PIN asked %d times", p.timesAsked())
	}
}

// A YubiKey 4 (firmware 4.3): serial from the OTP application, no
// metadata, no Ed25519, 3DES management key.
func TestFirmware43(t *testing.T) {
	const serial = 30001700
	insertCard(t, vcard.Config{Serial: serial, Firmware: [3]byte{4, 3, 7}})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "once", "never"))
	p := &prompts{pins: []string{testPIN}}
	tok := open(t, serial, p)
	if d := tok.Describe(); !strings.Contains(d, fmt.Sprintf("serial %d", serial)) || !strings.Contains(d, "firmware 4.3.7") {
		t.Fatalf("Describe() = %q", d)
	}
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signOnce(t, s, []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// pcscd stopping under an open token (the daemon crashed or was stopped) is
// reported, not hung on. It stops pcscd, so it runs in a child process with
// its own.
func TestPCSCDStopsMidSession(t *testing.T) {
	needPCSCD(t)
	if os.Getenv("CONCLAVE_TEST_STOP_CHILD") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPCSCDStopsMidSession$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CONCLAVE_TEST_STOP_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	const serial = 30001800
	insertCard(t, vcard.Config{Serial: serial})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "once", "never"))
	s, err := open(t, serial, &prompts{pins: []string{testPIN}}).Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Stop(); err != nil {
		t.Fatal(err)
	}
	daemon = nil // the cleanups must not wait for it
	_, err = signOnce(t, s, []byte("x"))
	if !errors.Is(err, hsm.ErrTokenRemoved) && !errors.Is(err, yubikey.ErrNoPCSCD) {
		t.Fatalf("sign after pcscd stopped: %v", err)
	}
	t.Logf("sign after pcscd stopped: %v", err)
	_, err = signOnce(t, s, []byte("x"))
	if !errors.Is(err, yubikey.ErrNoPCSCD) {
		t.Fatalf("retry without pcscd: %v", err)
	}
}

func TestBadSignatureCaught(t *testing.T) {
	const serial = 30001900
	card := insertCard(t, vcard.Config{Serial: serial})
	k := enrol(t, serial, gen(hsm.Ed25519, "once", "never"))
	s, err := open(t, serial, &prompts{pins: []string{testPIN}}).Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	card.CorruptNextSignature()
	if _, err := signOnce(t, s, []byte("x")); !errors.Is(err, hsm.ErrBadSignature) {
		t.Fatalf("corrupted signature: %v", err)
	}
	if _, err := signOnce(t, s, []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestDiscardedManagementKeyFreezesSlots(t *testing.T) {
	const serial = 30002000
	insertCard(t, vcard.Config{Serial: serial})
	k := enrol(t, serial, gen(hsm.ECDSAP256, "once", "never"))
	tok := open(t, serial, &prompts{pins: []string{testPIN}})
	if err := tok.RotateManagementKey(ctx, nil, yubikey.Discard); err != nil {
		t.Fatal(err)
	}
	_, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.ECDSAP256, Slot: "82", PINPolicy: "once", TouchPolicy: "never"})
	want := tok.Describe() + " has no management key stored on it (run the set-up with the key stored on the card)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	// The existing key still signs.
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signOnce(t, s, []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// TestOpenTwiceInOneProgram: a card this program already holds open is
// named as such, not as a wrong card ("found 30000502 instead" would send
// the holder looking for another YubiKey).
func TestOpenTwiceInOneProgram(t *testing.T) {
	const serial = 30000502
	insertCard(t, vcard.Config{Serial: serial})
	p := &prompts{pins: []string{testPIN}}
	open(t, serial, p)
	_, err := yubikey.Open(ctx, yubikey.Options{Serial: serial, Holder: "Alice", Prompts: p.hsm()})
	want := fmt.Sprintf("YubiKey %d is already open in this program; close that use of it first", serial)
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}
