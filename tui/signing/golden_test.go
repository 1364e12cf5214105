package signing

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/tui/internal/golden"
	"github.com/conclave-keys/conclave/tui/theme"
)

// scene draws a model set up by steps at every size, colour off and on,
// and checks that the drawing has exactly the size's lines, none wider.
func scene(t *testing.T, name string, s *roomSession, steps func(t *testing.T, m *Model, c *clock)) {
	t.Helper()
	golden.Views(t, name, func(size theme.Size, th *theme.Theme) string {
		c := &clock{t: time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)}
		m := newModel(s.clone(), c, size, th)
		m.Update(listedMsg{present: roomTokens()})
		steps(t, m, c)
		v := m.View()
		lines := strings.Split(v, "\n")
		if len(lines) != size.Height {
			t.Fatalf("%s at %s: %d lines, want %d", name, size.Name, len(lines), size.Height)
		}
		for i, l := range lines {
			if w := len([]rune(plain(l))); w > size.Width {
				t.Fatalf("%s at %s: line %d is %d wide: %q", name, size.Name, i+1, w, plain(l))
			}
		}
		return v
	})
}

func (s *roomSession) clone() *roomSession {
	c := *s
	c.notes = nil
	return &c
}

// signScreen: Wendy acknowledged, the holders and the roster are shown.
func signScreen(t *testing.T, m *Model, c *clock) {
	acknowledge(t, m, c)
	m.Update(press("s"))
	m.Update(press("down"))
}

// bobSigns: Bob's signing is under way.
func bobSigns(t *testing.T, m *Model, c *clock) {
	signScreen(t, m, c)
	m.mode, m.busy, m.holder, m.over = modeSigning, true, "Bob", make(chan struct{})
}

// failed: Bob's signing failed with err.
func failed(err error) func(t *testing.T, m *Model, c *clock) { return failedAs("Bob", err) }

// failedAs: a holder's signing failed with err.
func failedAs(holder string, err error) func(t *testing.T, m *Model, c *clock) {
	return func(t *testing.T, m *Model, c *clock) {
		signScreen(t, m, c)
		m.mode, m.busy, m.holder, m.over = modeSigning, true, holder, make(chan struct{})
		m.Update(signedMsg{holder: holder, err: err, progress: newRoom().progress})
	}
}

func TestGoldenCards(t *testing.T) {
	scene(t, "cards", newRoom(), func(*testing.T, *Model, *clock) {})
	scene(t, "changes-end", newRoom(), func(_ *testing.T, m *Model, _ *clock) { m.Update(press("G")); m.Update(press("up")) })
	scene(t, "call", newRoom(), func(_ *testing.T, m *Model, _ *clock) {
		m.Update(press("c"))
		m.Update(press(" "))
		m.Update(press(" "))
	})
	scene(t, "acknowledge", newRoom(), func(_ *testing.T, m *Model, c *clock) {
		m.Update(press("a"))
		typeText(m, c, "Wen", 100*time.Millisecond)
	})
}

func TestGoldenSign(t *testing.T) {
	scene(t, "sign", newRoom(), signScreen)
	blocked := newRoom()
	blocked.progress[0].Threshold = 4
	scene(t, "sign-threshold-unmet", blocked, signScreen)
	scene(t, "sign-locked", newRoom(), func(_ *testing.T, m *Model, _ *clock) { m.Update(press("s")) })
	scene(t, "signing", newRoom(), bobSigns)
}

func TestGoldenPIN(t *testing.T) {
	ask := func(req hsm.PINRequest) func(t *testing.T, m *Model, c *clock) {
		return func(t *testing.T, m *Model, c *clock) {
			bobSigns(t, m, c)
			m.Update(askMsg{&ask{holder: "Bob", pin: &req, answer: make(chan answer, 1)}})
		}
	}
	scene(t, "pin-empty", newRoom(), ask(bobsPIN()))
	scene(t, "pin-typed", newRoom(), func(t *testing.T, m *Model, c *clock) {
		ask(bobsPIN())(t, m, c)
		typeText(m, c, "31415", 200*time.Millisecond)
	})
	scene(t, "pin-otp", newRoom(), func(t *testing.T, m *Model, c *clock) {
		ask(bobsPIN())(t, m, c)
		typeText(m, c, "cccjgjgkhcbbirdrfdnlnghhfgrtnnlgedjlftrbdeut", 8*time.Millisecond)
		m.Update(press("enter"))
	})
	scene(t, "pin-final-confirm", newRoom(), ask(hsm.PINRequest{Token: "YubiKey 5 NFC, serial 23456789", RetriesLeft: 1}))
	scene(t, "touch", newRoom(), func(t *testing.T, m *Model, c *clock) {
		bobSigns(t, m, c)
		m.Update(touchMsg{token: "YubiKey 5 NFC, serial 23456789", done: make(chan struct{})})
		c.advance(time.Second)
	})
}

func TestGoldenErrors(t *testing.T) {
	scene(t, "error-wrong-pin", newRoom(), failed(fmt.Errorf("sign targets as Bob: %w", &hsm.PINError{Token: "YubiKey 5 NFC, serial 23456789", RetriesLeft: 2})))
	scene(t, "error-wrong-token", newRoom(), failed(fmt.Errorf("sign targets as Bob: holder Bob: %w", hsm.ErrWrongToken)))
	scene(t, "error-wrong-key", newRoom(), failedAs("Carol", fmt.Errorf("sign targets as Carol: %w",
		&holders.WrongKeyError{Holder: "Carol", Token: `PKCS#11 token "carol" (SoftHSM project SoftHSM v2, serial 5c1e0001)`, Found: strings.Repeat("e5", 32), Want: strings.Repeat("c3", 32)})))
	scene(t, "error-pulled", newRoom(), failed(fmt.Errorf("sign targets as Bob: holder Bob: %w", hsm.ErrTokenRemoved)))
}
