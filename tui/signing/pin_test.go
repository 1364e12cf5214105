package signing

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/tui/theme"
)

// pinAsked puts a model in the state where Bob's YubiKey asks for its PIN
// (3 tries left), and returns the ask the token waits on.
func pinAsked(t *testing.T, c *clock, req hsm.PINRequest) (*Model, *ask) {
	t.Helper()
	m := newModel(newRoom(), c, theme.Minimum, plainTheme())
	m.mode, m.busy, m.holder, m.over = modeSigning, true, "Bob", make(chan struct{})
	q := &ask{holder: "Bob", pin: &req, answer: make(chan answer, 1)}
	m.Update(askMsg{q})
	if m.mode != modePIN {
		t.Fatalf("mode after a PIN request = %d, want the PIN field", m.mode)
	}
	return m, q
}

func bobsPIN() hsm.PINRequest {
	return hsm.PINRequest{Token: "YubiKey 5 NFC, serial 23456789", RetriesLeft: 3}
}

// answered returns what the program answered the token, if anything.
func answered(q *ask) (answer, bool) {
	select {
	case a := <-q.answer:
		return a, true
	default:
		return answer{}, false
	}
}

// TestPINSent: a PIN of 6 to 8 characters goes to the token, and the
// field keeps nothing of it.
func TestPINSent(t *testing.T) {
	c := &clock{}
	m, q := pinAsked(t, c, bobsPIN())
	typeText(m, c, "314159", 200*time.Millisecond)
	buf := m.pin.buf[:cap(m.pin.buf)]
	m.Update(press("enter"))
	a, ok := answered(q)
	if !ok || string(a.pin) != "314159" || a.err != nil {
		t.Fatalf("answer = %q, %v, %v; want the PIN", a.pin, a.err, ok)
	}
	for i, b := range buf {
		if b != 0 {
			t.Fatalf("byte %d of the field's buffer is %q after the PIN was sent", i, b)
		}
	}
	if m.SecretFocused() || m.mode != modeSigning {
		t.Errorf("after sending: mode %d, focused %v", m.mode, m.SecretFocused())
	}
}

// TestPINLengthHidden: the field shows the same for one character as for
// eight, and never a character typed.
func TestPINLengthHidden(t *testing.T) {
	c := &clock{}
	m1, _ := pinAsked(t, c, bobsPIN())
	typeText(m1, c, "9", 200*time.Millisecond)
	m8, _ := pinAsked(t, c, bobsPIN())
	typeText(m8, c, "98765432", 200*time.Millisecond)
	if plain(m1.View()) != plain(m8.View()) {
		t.Fatalf("one character and eight draw differently:\n%s\n---\n%s", plain(m1.View()), plain(m8.View()))
	}
	if strings.Contains(plain(m8.View()), "98765432") {
		t.Fatal("the PIN is on screen")
	}
	empty, _ := pinAsked(t, c, bobsPIN())
	if plain(empty.View()) == plain(m1.View()) {
		t.Fatal("an empty field draws as a typed one: the holder cannot see that keys arrive")
	}
}

// TestPINPasteRefused: a bracketed paste never reaches the field.
func TestPINPasteRefused(t *testing.T) {
	c := &clock{}
	m, q := pinAsked(t, c, bobsPIN())
	typeText(m, c, "12", 200*time.Millisecond)
	m.Update(tea.PasteStartMsg{})
	m.Update(tea.PasteMsg{Content: "345678"})
	m.Update(tea.PasteEndMsg{})
	if got := string(m.pin.buf); got != "12" {
		t.Fatalf("field holds %q after a paste, want %q", got, "12")
	}
	if m.pin.notice != noticePaste || !strings.Contains(plain(m.View()), "Pasting is refused here") {
		t.Fatalf("notice %q", m.pin.notice)
	}
	if _, ok := answered(q); ok {
		t.Fatal("a paste answered the token")
	}
}

// TestPINLengthChecked: a YubiKey PIN of 5 or 9 characters is not sent:
// no try is spent, the field is wiped, the room is told why.
func TestPINLengthChecked(t *testing.T) {
	for _, pin := range []string{"12345", "123456789"} {
		c := &clock{}
		m, q := pinAsked(t, c, bobsPIN())
		typeText(m, c, pin, 200*time.Millisecond)
		m.Update(press("enter"))
		if a, ok := answered(q); ok {
			t.Fatalf("%d characters: sent %q", len(pin), a.pin)
		}
		if !m.pin.empty() || m.pin.notice != noticeLength || m.mode != modePIN {
			t.Fatalf("%d characters: field %q, notice %q, mode %d", len(pin), m.pin.buf, m.pin.notice, m.mode)
		}
	}
}

// TestPINOTPTouch: a YubiKey touch that types its OTP into the field is
// recognised and thrown away, with a sentence, and no try is spent;
// recognised by its alphabet and length, or by its speed.
func TestPINOTPTouch(t *testing.T) {
	const otp = "cccjgjgkhcbbirdrfdnlnghhfgrtnnlgedjlftrbdeut" // 44 modhex characters
	for _, tc := range []struct {
		name, typed string
		step        time.Duration
	}{
		{"modhex OTP", otp, 8 * time.Millisecond},
		{"modhex OTP typed slowly", otp, 200 * time.Millisecond},
		{"a device's speed", "0123456789ab", 5 * time.Millisecond},
	} {
		c := &clock{}
		m, q := pinAsked(t, c, bobsPIN())
		typeText(m, c, tc.typed, tc.step)
		m.Update(press("enter"))
		if a, ok := answered(q); ok {
			t.Fatalf("%s: sent %q", tc.name, a.pin)
		}
		if m.pin.notice != noticeOTP || !m.pin.empty() {
			t.Fatalf("%s: notice %q, field %q", tc.name, m.pin.notice, m.pin.buf)
		}
		if !strings.Contains(plain(m.View()), "That was a YubiKey touch") {
			t.Fatalf("%s: the sentence is not on screen:\n%s", tc.name, plain(m.View()))
		}
	}
	// A person typing a PIN that happens to be modhex is not a touch.
	c := &clock{}
	m, q := pinAsked(t, c, bobsPIN())
	typeText(m, c, "cbdefghi", 150*time.Millisecond)
	m.Update(press("enter"))
	if a, ok := answered(q); !ok || string(a.pin) != "cbdefghi" {
		t.Fatalf("a modhex PIN typed by a person: answered %v %q", ok, a.pin)
	}
}

// TestPINTriesShown: the tries the token reports are on screen.
func TestPINTriesShown(t *testing.T) {
	for _, tc := range []struct {
		req  hsm.PINRequest
		want string
	}{
		{hsm.PINRequest{Token: "t", RetriesLeft: 3}, "3 tries are left before the token locks."},
		{hsm.PINRequest{Token: "t", RetriesLeft: -1}, "The token does not say how many tries are left."},
		{hsm.PINRequest{Token: "t", RetriesLeft: -1, CountLow: true}, "The token says few tries are left."},
	} {
		m, _ := pinAsked(t, &clock{}, tc.req)
		if !strings.Contains(plain(m.View()), tc.want) {
			t.Errorf("%+v: %q not on screen:\n%s", tc.req, tc.want, plain(m.View()))
		}
	}
}

// TestPINEscapeCancels: Esc tells the token the holder cancelled, and the
// field is wiped.
func TestPINEscapeCancels(t *testing.T) {
	c := &clock{}
	m, q := pinAsked(t, c, bobsPIN())
	typeText(m, c, "3141", 200*time.Millisecond)
	buf := m.pin.buf[:cap(m.pin.buf)]
	m.Update(press("esc"))
	a, ok := answered(q)
	if !ok || !errors.Is(a.err, hsm.ErrCancelled) || a.pin != nil {
		t.Fatalf("answer %v %v %q", ok, a.err, a.pin)
	}
	if strings.Trim(string(buf), "\x00") != "" {
		t.Fatalf("buffer after Esc: %q", buf)
	}
}

// TestPINClearAndWipe: ctrl+u empties the field and Wipe (on exit)
// zeroes it and refuses the PIN the token waits for.
func TestPINClearAndWipe(t *testing.T) {
	c := &clock{}
	m, q := pinAsked(t, c, bobsPIN())
	typeText(m, c, "3141", 200*time.Millisecond)
	m.Update(press("ctrl+u"))
	if !m.pin.empty() {
		t.Fatalf("ctrl+u left %q", m.pin.buf)
	}
	typeText(m, c, "2718", 200*time.Millisecond)
	buf := m.pin.buf[:cap(m.pin.buf)]
	m.Wipe()
	if strings.Trim(string(buf), "\x00") != "" {
		t.Fatalf("buffer after Wipe: %q", buf)
	}
	if a, ok := answered(q); !ok || !errors.Is(a.err, hsm.ErrCancelled) {
		t.Fatalf("the token's wait after Wipe: %v %v", ok, a.err)
	}
}

// TestFinalTryConfirmation: before a last try the holder types yes; a
// token that asks itself (hsm.Prompts.Confirm) is answered the same way
// and is not asked twice.
func TestFinalTryConfirmation(t *testing.T) {
	c := &clock{}
	m := newModel(newRoom(), c, theme.Minimum, plainTheme())
	m.mode, m.busy, m.holder, m.over = modeSigning, true, "Bob", make(chan struct{})
	req := hsm.PINRequest{Token: "YubiKey 5 NFC, serial 23456789", RetriesLeft: 1}
	q := &ask{holder: "Bob", pin: &req, answer: make(chan answer, 1)}
	m.Update(askMsg{q})
	if m.mode != modeConfirm || m.SecretFocused() {
		t.Fatalf("mode %d: a final try went straight to the PIN field", m.mode)
	}
	if !strings.Contains(plain(m.View()), "has ONE PIN try left: a wrong PIN locks it.") {
		t.Fatalf("question not on screen:\n%s", plain(m.View()))
	}
	m.Update(press("y"))
	m.Update(press("enter"))
	if m.mode != modeConfirm || m.notice == "" {
		t.Fatalf(`"y" confirmed a final try (mode %d)`, m.mode)
	}
	typeText(m, c, "yes", 200*time.Millisecond)
	m.Update(press("enter"))
	if m.mode != modePIN {
		t.Fatalf(`mode %d after "yes", want the PIN field`, m.mode)
	}
	if !strings.Contains(plain(m.View()), "ONE try is left: a wrong PIN now locks the token.") {
		t.Fatalf("the PIN field does not say it is the last try:\n%s", plain(m.View()))
	}

	// The token's own question, then its PIN request: one confirmation.
	m2 := newModel(newRoom(), c, theme.Minimum, plainTheme())
	m2.mode, m2.busy, m2.holder, m2.over = modeSigning, true, "Bob", make(chan struct{})
	cq := &ask{holder: "Bob", question: "YubiKey 23456789 has ONE PIN try left: a wrong PIN locks it. Enter the PIN anyway?", answer: make(chan answer, 1)}
	m2.Update(askMsg{cq})
	typeText(m2, c, "yes", 200*time.Millisecond)
	m2.Update(press("enter"))
	if a, ok := answered(cq); !ok || !a.yes {
		t.Fatalf("token's confirmation: %v %v", ok, a.yes)
	}
	m2.Update(askMsg{&ask{holder: "Bob", pin: &req, answer: make(chan answer, 1)}})
	if m2.mode != modePIN {
		t.Fatalf("mode %d: asked twice for one final try", m2.mode)
	}

	// Esc declines.
	m3 := newModel(newRoom(), c, theme.Minimum, plainTheme())
	m3.mode, m3.busy, m3.holder, m3.over = modeSigning, true, "Bob", make(chan struct{})
	q3 := &ask{holder: "Bob", pin: &req, answer: make(chan answer, 1)}
	m3.Update(askMsg{q3})
	m3.Update(press("esc"))
	if a, ok := answered(q3); !ok || !errors.Is(a.err, hsm.ErrCancelled) {
		t.Fatalf("Esc at the final try: %v %v", ok, a.err)
	}
}

// TestNoTerminalQueryWhilePINFocused: while the PIN field has focus,
// nothing the screen does sends the terminal a query (a late reply would
// be typed into the field).
func TestNoTerminalQueryWhilePINFocused(t *testing.T) {
	queries := map[string]bool{}
	for _, q := range []tea.Msg{tea.RequestBackgroundColor(), tea.RequestForegroundColor(), tea.RequestCursorColor(),
		tea.RequestCursorPosition(), tea.RequestWindowSize(), tea.RequestTerminalVersion(), tea.ReadClipboard(), tea.ReadPrimaryClipboard()} {
		queries[fmt.Sprintf("%T", q)] = true
	}
	c := &clock{}
	m, _ := pinAsked(t, c, bobsPIN())
	if !m.SecretFocused() {
		t.Fatal("the PIN field has no focus")
	}
	var cmds []tea.Cmd
	for _, msg := range []tea.Msg{TickMsg{}, press("1"), press("backspace"), tea.PasteMsg{Content: "x"},
		touchMsg{token: "t", done: make(chan struct{})}, tea.WindowSizeMsg{Width: 80, Height: 24}, tea.FocusMsg{}} {
		c.advance(2 * time.Second)
		_, cmd := m.Update(msg)
		cmds = append(cmds, cmd)
		if !m.SecretFocused() {
			t.Fatalf("%T took the focus from the PIN field", msg)
		}
	}
	for len(cmds) > 0 {
		cmd := cmds[0]
		cmds = cmds[1:]
		if cmd == nil {
			continue
		}
		got := make(chan tea.Msg, 1)
		go func() { got <- cmd() }()
		select {
		case msg := <-got:
			if b, ok := msg.(tea.BatchMsg); ok {
				cmds = append(cmds, b...)
				continue
			}
			if queries[fmt.Sprintf("%T", msg)] {
				t.Fatalf("the screen sent the terminal a query (%T) while the PIN field had focus", msg)
			}
		case <-time.After(300 * time.Millisecond):
			// A command still waiting (for the token, for a touch) sends nothing.
		}
	}
}
