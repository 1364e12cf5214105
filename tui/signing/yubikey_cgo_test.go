//go:build cgo

package signing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/hsm/yubikey/pcscdtest"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
	"github.com/conclave-keys/conclave/tui/theme"
)

// The virtual YubiKeys run through the real PC/SC stack: a private pcscd
// with the vpcd driver (package pcscdtest) and virtual cards (vcard).
var (
	daemon *pcscdtest.Daemon
	skip   string
)

func TestMain(m *testing.M) {
	os.Exit(pcscdtest.Main(m, 2, pivgo.Cards, &daemon, &skip))
}

const (
	virtualPIN = "246810"
	bobSerial  = 41000002
	spareCard  = 41000003
)

// virtualCard inserts a virtual card in reader i with its factory
// credentials changed, and with an ECDSA P-256 key in slot 9c when
// withKey; it returns the card and the key.
func virtualCard(t *testing.T, i int, serial uint32, withKey bool) (*vcard.Card, *tuf.Key) {
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
	pin := hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte(virtualPIN), nil }}
	tok, err := yubikey.Open(ctx, yubikey.Options{Serial: serial, Prompts: pin, Roots: yubikey.NewRoots("test CA", c.CA().Cert)})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.ChangePIN(ctx, []byte(pivgo.DefaultPIN), []byte(virtualPIN)); err != nil {
		t.Fatal(err)
	}
	if !withKey {
		return c, nil
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

// tokenSession signs as the session does: the holder's token through
// holders.Tokens (checked before any PIN), one signature verified against
// the enrolled key. Its progress counts the holders who signed.
type tokenSession struct {
	*roomSession
	tokens *holders.Tokens
	pol    *policy.Policy
	keys   map[string]*tuf.Key
	signed []string
}

func (s *tokenSession) Progress() []session.Progress {
	p := s.roomSession.Progress()
	p[0].Signed = slices.Clone(s.signed)
	slices.Sort(p[0].Signed)
	return p
}

func (s *tokenSession) SignAs(ctx context.Context, name string) ([]string, error) {
	for _, h := range s.pol.Holders {
		if h.Name != name {
			continue
		}
		signer, err := s.tokens.Signer(ctx, h, h.Keys[0])
		if err != nil {
			return nil, err
		}
		if _, err := tuf.SignMessage(signer, s.keys[h.Keys[0].KeyID], []byte("the payload")); err != nil {
			return nil, err
		}
		s.signed = append(s.signed, name)
		return []string{"targets"}, nil
	}
	return nil, session.ErrNotHolder
}

// TestVirtualYubiKey: Bob signs on a virtual YubiKey through the screen —
// the roster lists his card and a second one, a wrong PIN costs one try
// of the card's counter and shows its card, a card pulled out while the
// PIN is typed shows its card, and the right PIN signs. Carol's enrolled
// card holds no key: refused before any PIN, her card's counter untouched.
func TestVirtualYubiKey(t *testing.T) {
	bob, bobKey := virtualCard(t, 0, bobSerial, true)
	spare, _ := virtualCard(t, 1, spareCard, false)
	carolKey := keyOnNoCard(t)
	pol := &policy.Policy{Holders: []policy.Holder{
		{Name: "Bob", Keys: []policy.HolderKey{{KeyID: bobKey.ID(), Token: policy.TokenYubiKey, Serial: bobSerial, Slot: "9c"}}},
		{Name: "Carol", Keys: []policy.HolderKey{{KeyID: carolKey.ID(), Token: policy.TokenYubiKey, Serial: spareCard, Slot: "9c"}}},
	}}
	keys := map[string]*tuf.Key{bobKey.ID(): bobKey, carolKey.ID(): carolKey}
	br := NewBridge()
	tokens := holders.New(holders.Options{Policy: pol, Keys: keys, Prompts: br.Prompts})
	defer tokens.Close()
	room := newRoom()
	room.progress = []session.Progress{{Role: "targets", Version: 5, Threshold: 2, Holders: []string{"Bob", "Carol"}, Signed: []string{}}}
	room.cards = []*build.Card{room.cards[0]}
	s := &tokenSession{roomSession: room, tokens: tokens, pol: pol, keys: keys}
	c := &clock{t: time.Now()}
	m := New(Options{Session: s, Policy: pol, Bridge: br, List: ListTokens(pol), Now: c.now}, plainTheme(), theme.Laptop)

	m.Update(m.list()())
	acknowledge(t, m, c)
	m.Update(press("s"))
	v := plain(m.View())
	for _, want := range []string{"YubiKey 41000002 · Bob · ", "· slot 9c · 3 PIN tries", "YubiKey 41000003 · Carol · "} {
		if !strings.Contains(v, want) {
			t.Fatalf("roster lacks %q:\n%s", want, v)
		}
	}

	// A wrong PIN: the card counts it, the screen says so.
	_, cmd := m.Update(press("enter"))
	drive(t, m, cmd, func() { typeText(m, c, "135799", 200*time.Millisecond); m.Update(press("enter")) })
	if m.mode != modeError || m.err.kind != cardWrongPIN {
		t.Fatalf("after a wrong PIN: mode %d, card %+v", m.mode, m.err)
	}
	if got := bob.PINRetries(); got != 2 {
		t.Fatalf("card's PIN tries after one wrong PIN = %d, want 2", got)
	}
	if !strings.Contains(plain(m.View()), "2 tries are left before the token locks.") {
		t.Fatalf("wrong PIN card:\n%s", plain(m.View()))
	}

	// Pulled out while the PIN is typed.
	_, cmd = m.Update(press("enter"))
	drive(t, m, cmd, func() {
		if err := bob.Remove(); err != nil {
			t.Fatal(err)
		}
		daemon.WaitCard(0, false, 10*time.Second)
		typeText(m, c, virtualPIN, 200*time.Millisecond)
		m.Update(press("enter"))
	})
	if m.mode != modeError || m.err.kind != cardPulled {
		t.Fatalf("after pulling the card: mode %d, card %+v", m.mode, m.err)
	}

	// Back in: the right PIN signs.
	if err := bob.Insert(daemon.Addr(0)); err != nil {
		t.Fatal(err)
	}
	if err := daemon.WaitCard(0, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	_, cmd = m.Update(press("enter"))
	drive(t, m, cmd, func() { typeText(m, c, virtualPIN, 200*time.Millisecond); m.Update(press("enter")) })
	if m.mode != modeSign || !strings.Contains(plain(m.View()), "Bob signed targets.") {
		t.Fatalf("after the right PIN: mode %d, card %+v\n%s", m.mode, m.err, plain(m.View()))
	}

	// Bob's card stays open for the ceremony: the roster says so, and
	// does not call it busy.
	m.Update(m.list()())
	if v := plain(m.View()); !strings.Contains(v, "YubiKey 41000002 · Bob · ") || !strings.Contains(v, "· slot 9c · open for signing") || strings.Contains(v, "cannot be read") {
		t.Fatalf("roster after Bob signed:\n%s", v)
	}

	// Carol's card holds no key in slot 9c: refused before any PIN.
	m.Update(press("down"))
	_, cmd = m.Update(press("enter"))
	drive(t, m, cmd, func() { t.Fatal("a PIN was asked of the wrong card") })
	if m.mode != modeError || m.err.kind != cardWrongToken {
		t.Fatalf("Carol: mode %d, card %+v", m.mode, m.err)
	}
	if got := spare.PINRetries(); got != 3 {
		t.Fatalf("spare card's PIN tries = %d, want 3 (no PIN asked)", got)
	}
	want := "found        YubiKey 41000003, slot 9c empty"
	if !slices.Contains(m.err.lines, want) {
		t.Fatalf("card lines %q lack %q", m.err.lines, want)
	}
}

// keyOnNoCard is an enrolled key that no card holds.
func keyOnNoCard(t *testing.T) *tuf.Key {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := tuf.KeyFromPublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
