package signing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/tui/internal/golden"
	"github.com/conclave-keys/conclave/tui/theme"
)

const roomHead = "7c1f0a3b5d7e9f1a2c4e6b8d0f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a"

// headRoom is the screen of the log's head over the room's policy; sign
// is what signing the head does for a holder.
func headRoom(c *clock, size theme.Size, th *theme.Theme, br *Bridge, sign func(ctx context.Context, holder string) error) *Model {
	return NewHead(HeadOptions{Policy: roomPolicy(), Bridge: br, Now: c.now, TouchDelay: time.Second,
		Head: roomHead, Lines: 41, Sign: sign}, th, size)
}

// TestHeadSignOrPass: each holder signs the head or passes; one who signed
// cannot sign again; once every holder chose, the step is complete and
// says who signed.
func TestHeadSignOrPass(t *testing.T) {
	c := &clock{}
	var asked []string
	m := headRoom(c, theme.Minimum, plainTheme(), NewBridge(), func(_ context.Context, holder string) error {
		asked = append(asked, holder)
		return nil
	})
	_, cmd := m.Update(press("enter")) // Alice
	drive(t, m, cmd, func() { t.Fatal("PIN asked") })
	if m.cursor != 1 || m.Complete() {
		t.Fatalf("after Alice: cursor %d, complete %v", m.cursor, m.Complete())
	}
	m.Update(press("up"))
	if _, cmd := m.Update(press("enter")); cmd != nil || m.notice != "Alice has signed the log's head." {
		t.Fatalf("Alice signed twice (notice %q)", m.notice)
	}
	m.Update(press("down"))
	m.Update(press("p")) // Bob passes
	if m.cursor != 2 || m.Complete() {
		t.Fatalf("after Bob passed: cursor %d, complete %v", m.cursor, m.Complete())
	}
	v := plain(m.View())
	for _, want := range []string{"Alice        ✔ signed the head", "Bob          - passes", "1:7c1f 2:0a3b"} {
		if !strings.Contains(v, want) {
			t.Fatalf("no %q in:\n%s", want, v)
		}
	}
	_, cmd = m.Update(press("enter")) // Carol
	drive(t, m, cmd, func() { t.Fatal("PIN asked") })
	if !m.Complete() || !slices.Equal(m.HeadSigned(), []string{"Alice", "Carol"}) || !slices.Equal(asked, []string{"Alice", "Carol"}) {
		t.Fatalf("complete %v, signed %q, asked %q", m.Complete(), m.HeadSigned(), asked)
	}
}

// TestHeadDone: d ends the step with the others passing, once "yes" is
// typed: a d and an Enter typed by a YubiKey's touch, or q, end nothing.
func TestHeadDone(t *testing.T) {
	m := headRoom(&clock{}, theme.Minimum, plainTheme(), NewBridge(), nil)
	for _, k := range []string{"d", "q", "enter"} {
		m.Update(press(k))
	}
	if m.Complete() || !m.Typing() || m.notice != "Type yes to end head signing (the others pass), or press Esc to go back." {
		t.Fatalf("d, q, enter: complete %v, typing %v, notice %q", m.Complete(), m.Typing(), m.notice)
	}
	m.Update(press("esc"))
	if m.Complete() || m.Typing() {
		t.Fatalf("esc: complete %v, typing %v", m.Complete(), m.Typing())
	}
	for _, k := range []string{"d", "y", "e", "s", "enter"} {
		m.Update(press(k))
	}
	if !m.Complete() || len(m.HeadSigned()) != 0 {
		t.Fatalf("complete %v, signed %q", m.Complete(), m.HeadSigned())
	}
}

// TestHeadPINAndErrorCard: signing the head asks the PIN in the signing
// screen's own field, through the bridge; a wrong PIN is the same card as
// for the metadata, Enter tries again, and the second try signs.
func TestHeadPINAndErrorCard(t *testing.T) {
	c := &clock{}
	br := NewBridge()
	var pins []string
	m := headRoom(c, theme.Minimum, plainTheme(), br, func(ctx context.Context, holder string) error {
		pin, err := br.Prompts(holder).PIN(ctx, hsm.PINRequest{Token: "YubiKey 5 NFC, serial 23456789", RetriesLeft: 3})
		if err != nil {
			return err
		}
		pins = append(pins, string(pin))
		if string(pin) != "123456" {
			return &hsm.PINError{Token: "YubiKey 5 NFC, serial 23456789", RetriesLeft: 2}
		}
		return nil
	})
	m.Update(press("down")) // Bob, on a YubiKey: a PIV PIN
	_, cmd := m.Update(press("enter"))
	drive(t, m, cmd, func() {
		if !m.SecretFocused() || !strings.Contains(plain(m.View()), "PIN for Bob") {
			t.Fatalf("no PIN field:\n%s", plain(m.View()))
		}
		typeText(m, c, "654321", 200*time.Millisecond)
		if strings.Contains(m.View(), "654321") {
			t.Fatal("the PIN is drawn")
		}
		m.Update(press("enter"))
	})
	if m.mode != modeError || m.err.title != "Wrong PIN" || len(m.HeadSigned()) != 0 {
		t.Fatalf("mode %d, card %+v", m.mode, m.err)
	}
	_, cmd = m.Update(press("enter"))
	drive(t, m, cmd, func() { typeText(m, c, "123456", 200*time.Millisecond); m.Update(press("enter")) })
	if !slices.Equal(m.HeadSigned(), []string{"Bob"}) || !slices.Equal(pins, []string{"654321", "123456"}) || m.mode != modeHead {
		t.Fatalf("signed %q, pins %q, mode %d", m.HeadSigned(), pins, m.mode)
	}
}

// headScene draws the screen of the log's head, set up by steps, at every
// size, colour off and on (as scene does for the signing screen).
func headScene(t *testing.T, name string, steps func(m *Model, c *clock)) {
	t.Helper()
	golden.Views(t, name, func(size theme.Size, th *theme.Theme) string {
		c := &clock{t: time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)}
		m := headRoom(c, size, th, NewBridge(), nil)
		m.Update(listedMsg{present: roomTokens()})
		steps(m, c)
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

// aliceSignedBobSigns: Alice signed the head and Bob's signing runs.
func aliceSignedBobSigns(m *Model, _ *clock) {
	m.Update(signedMsg{holder: "Alice", head: true})
	m.mode, m.busy, m.holder, m.over = modeSigning, true, "Bob", make(chan struct{})
}

func TestGoldenHead(t *testing.T) {
	headScene(t, "head", func(*Model, *clock) {})
	headScene(t, "head-signed", func(m *Model, _ *clock) {
		m.Update(signedMsg{holder: "Alice", head: true})
		m.Update(press("p"))
	})
	headScene(t, "head-pin", func(m *Model, c *clock) {
		aliceSignedBobSigns(m, c)
		req := bobsPIN()
		m.Update(askMsg{&ask{holder: "Bob", pin: &req, answer: make(chan answer, 1)}})
		typeText(m, c, "31415", 200*time.Millisecond)
	})
	headScene(t, "head-error", func(m *Model, c *clock) {
		aliceSignedBobSigns(m, c)
		m.Update(signedMsg{holder: "Bob", head: true, err: fmt.Errorf("Bob signing the log's head: %w", &hsm.PINError{Token: "YubiKey 5 NFC, serial 23456789", RetriesLeft: 2})})
	})
}

// TestPINAfterCancelIsWiped: a PIN entered as the program quits (its
// context ended) is wiped, not left in the answer channel nobody reads.
func TestPINAfterCancelIsWiped(t *testing.T) {
	m := headRoom(&clock{}, theme.Minimum, plainTheme(), NewBridge(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.o.Context = ctx
	q := &ask{holder: "Alice", pin: &hsm.PINRequest{}, answer: make(chan answer, 1)}
	m.ask, m.mode, m.pin = q, modePIN, newPINField(pivMinPIN, pivMaxPIN)
	for _, k := range []string{"1", "2", "3", "4", "5", "6", "enter"} {
		m.Update(press(k))
	}
	if len(q.answer) != 0 {
		a := <-q.answer
		t.Fatalf("the PIN was handed on after the cancel: %q", a.pin)
	}
	if m.mode != modeSigning || len(m.pin.buf) != 0 {
		t.Errorf("mode %v, field %q", m.mode, m.pin.buf)
	}
}
