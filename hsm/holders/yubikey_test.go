//go:build cgo

package holders

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/hsm/yubikey/pcscdtest"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

// The YubiKey tests run through the real PC/SC stack: a private pcscd
// with the vpcd driver, and virtual cards (package vcard).
var (
	daemon *pcscdtest.Daemon
	skip   string
)

func TestMain(m *testing.M) {
	os.Exit(pcscdtest.Main(m, 2, pivgo.Cards, &daemon, &skip))
}

const testPIN = "246810"

// enrolledCard inserts a virtual card in reader i and enrols it as a
// holder would: PIN, PUK and management key changed from the factory's,
// an ECDSA P-256 key generated in slot 9c (PIN once, no touch). It
// returns the card and the key's TUF key.
func enrolledCard(t *testing.T, i int, serial uint32) (*vcard.Card, *tuf.Key) {
	t.Helper()
	if daemon == nil {
		t.Skip(skip)
	}
	c, err := vcard.New(vcard.Config{Serial: serial})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(daemon.Addr(i)); err != nil {
		t.Fatal(err)
	}
	if err := daemon.WaitCard(i, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.Inserted() {
			c.Remove()
		}
		daemon.WaitCard(i, false, 10*time.Second)
	})
	ctx := context.Background()
	pin := hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte(testPIN), nil }}
	tok, err := yubikey.Open(ctx, yubikey.Options{Serial: serial, Prompts: pin, Roots: yubikey.NewRoots("test CA", c.CA().Cert)})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.ChangePIN(ctx, []byte(pivgo.DefaultPIN), []byte(testPIN)); err != nil {
		t.Fatal(err)
	}
	if err := tok.ChangePUK(ctx, []byte(pivgo.DefaultPUK), []byte("13572468")); err != nil {
		t.Fatal(err)
	}
	if err := tok.RotateManagementKey(ctx, pivgo.DefaultManagementKey, yubikey.StoreOnCard); err != nil {
		t.Fatal(err)
	}
	k, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.ECDSAP256, Slot: "9c", PINPolicy: "once", TouchPolicy: "never"})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tuf.KeyFromPublic(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	return c, tk
}

// TestYubiKeyWrongKeyBeforePIN: the card with the enrolled serial holds
// another key in the enrolled slot: refused as the wrong token when it is
// opened, before any PIN — the card's PIN counter is untouched.
func TestYubiKeyWrongKeyBeforePIN(t *testing.T) {
	const serial = 41000001
	card, _ := enrolledCard(t, 0, serial)
	enrolled := softkeyFor(t)
	pins := &pinLog{pin: testPIN}
	c := New(Options{Policy: &policy.Policy{}, Keys: map[string]*tuf.Key{enrolled.ID(): enrolled}, Prompts: pins.prompts})
	defer c.Close()
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: enrolled.ID(), Token: policy.TokenYubiKey, Serial: serial, Slot: "9c"})
	var wc *yubikey.WrongCardError
	if !errors.As(err, &wc) || !errors.Is(err, hsm.ErrWrongToken) {
		t.Fatalf("err = %v, want a *yubikey.WrongCardError", err)
	}
	if want := fmt.Sprintf("holder Alice: insert YubiKey %d (Alice): slot 9c of this card holds a different key than the one enrolled", serial); err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if len(pins.asked) != 0 || card.PINRetries() != 3 {
		t.Errorf("PIN asked %d times, %d tries left on the card", len(pins.asked), card.PINRetries())
	}
}

// TestYubiKeyPulledMidSignature: the card is pulled out while it signs;
// the holder is told to insert it again, and once it is back the token is
// opened and checked again and the signature made (the PIN asked again:
// the card lost power).
func TestYubiKeyPulledMidSignature(t *testing.T) {
	const serial = 41000002
	card, k := enrolledCard(t, 1, serial)
	pins := &pinLog{pin: testPIN}
	notice := &syncBuffer{}
	c := New(Options{Policy: &policy.Policy{}, Keys: map[string]*tuf.Key{k.ID(): k}, Prompts: pins.prompts,
		Wait: Wait{Retries: 10, Delay: 500 * time.Millisecond}, Notice: notice})
	defer c.Close()
	s, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenYubiKey, Serial: serial, Slot: "9c"})
	if err != nil {
		t.Fatal(err)
	}
	// Pulled when the signing command (GENERAL AUTHENTICATE, slot 9c)
	// arrives; put back once the holder has been told.
	card.RemoveOn(func(apdu []byte) bool { return apdu[1] == 0x87 && apdu[3] == 0x9c })
	back := make(chan error, 1)
	go func() {
		for !strings.Contains(notice.String(), "insert the token of Alice (YubiKey 41000002, slot 9c) again") {
			time.Sleep(20 * time.Millisecond)
		}
		if err := daemon.WaitCard(1, false, 10*time.Second); err != nil {
			back <- err
			return
		}
		back <- card.Insert(daemon.Addr(1))
	}()
	digest := sha256.Sum256([]byte("payload"))
	sig, err := s.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("sign: %v\nnotice:\n%s", err, notice.String())
	}
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	if err := k.Verify([]byte("payload"), sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if !strings.HasPrefix(notice.String(), "Alice: signing with ") || len(pins.asked) != 2 {
		t.Errorf("PIN asked %d times; notice:\n%s", len(pins.asked), notice.String())
	}
}

// TestYubiKeyAskedTwice: a holder's signer asked for again (the log's
// head is signed after the metadata, by the same card) is the one already
// open: a second open would find the card held exclusively by the first,
// and the holder would be asked for the PIN again.
func TestYubiKeyAskedTwice(t *testing.T) {
	const serial = 41000003
	_, k := enrolledCard(t, 0, serial)
	pins := &pinLog{pin: testPIN}
	c := New(Options{Policy: &policy.Policy{}, Keys: map[string]*tuf.Key{k.ID(): k}, Prompts: pins.prompts})
	defer c.Close()
	holder, key := policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenYubiKey, Serial: serial, Slot: "9c"}
	for i := range 2 {
		s, err := c.Signer(context.Background(), holder, key)
		if err != nil {
			t.Fatalf("signer %d: %v", i+1, err)
		}
		digest := sha256.Sum256([]byte("payload"))
		sig, err := s.Sign(nil, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("signature %d: %v", i+1, err)
		}
		if err := k.Verify([]byte("payload"), sig); err != nil {
			t.Fatalf("signature %d: %v", i+1, err)
		}
	}
	if len(pins.asked) != 1 {
		t.Errorf("PIN asked %d times, want once", len(pins.asked))
	}
}

// syncBuffer is a bytes.Buffer safe for the test's two goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
