package signing

import (
	tea "charm.land/bubbletea/v2"

	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/theme"
)

// TestTouchBanner: the banner shows once the token has waited
// TouchDelay, not before; it is held back while a PIN is typed and the
// wait counts again from the PIN; it goes when the wait is over.
func TestTouchBanner(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)}
	m := newModel(newRoom(), c, theme.Minimum, plainTheme())
	m.mode, m.busy, m.holder, m.over = modeSigning, true, "Bob", make(chan struct{})
	done := make(chan struct{})
	m.Update(touchMsg{token: "YubiKey 5 NFC, serial 23456789", done: done})
	const banner = "TOUCH THE TOKEN NOW"
	c.advance(999 * time.Millisecond)
	m.Update(TickMsg{})
	if strings.Contains(plain(m.View()), banner) {
		t.Fatal("banner before the delay")
	}
	c.advance(time.Millisecond)
	m.Update(TickMsg{})
	if !strings.Contains(plain(m.View()), banner) {
		t.Fatalf("no banner after the delay:\n%s", plain(m.View()))
	}

	// A PIN request holds the banner back, however long it takes.
	req := bobsPIN()
	q := &ask{holder: "Bob", pin: &req, answer: make(chan answer, 1)}
	m.Update(askMsg{q})
	c.advance(5 * time.Second)
	if strings.Contains(plain(m.View()), banner) {
		t.Fatal("banner over the PIN field")
	}
	typeText(m, c, "314159", 200*time.Millisecond)
	m.Update(press("enter"))
	c.advance(999 * time.Millisecond)
	if strings.Contains(plain(m.View()), banner) {
		t.Fatal("banner before the delay counted from the PIN")
	}
	c.advance(time.Millisecond)
	if !strings.Contains(plain(m.View()), banner) {
		t.Fatal("no banner after the delay counted from the PIN")
	}
	close(done)
	m.Update(touchDoneMsg{done})
	if strings.Contains(plain(m.View()), banner) {
		t.Fatal("banner after the touch")
	}
}

// TestSigningLockedUntilAcknowledged: nobody signs before someone in the
// room acknowledged the digest; the acknowledgement is recorded in the
// log with the digest; a name not given at the opening is refused.
func TestSigningLockedUntilAcknowledged(t *testing.T) {
	c := &clock{}
	s := newRoom()
	m := newModel(s, c, theme.Minimum, plainTheme())
	m.Update(press("s"))
	m.cursor = 1 // Bob
	if _, cmd := m.Update(press("enter")); cmd != nil || m.busy {
		t.Fatal("signing started before the acknowledgement")
	}
	if !strings.HasPrefix(m.notice, "Signing is locked until what is signed is acknowledged") {
		t.Fatalf("notice %q", m.notice)
	}
	m.Update(press("w"))
	m.Update(press("a"))
	typeText(m, c, "Mallory", 100*time.Millisecond)
	_, cmd := m.Update(press("enter"))
	m.Update(cmd())
	if len(m.acked) != 0 || !strings.Contains(m.notice, session.ErrNotPresent.Error()) {
		t.Fatalf("acked %q, notice %q", m.acked, m.notice)
	}
	if m.mode != modeAck {
		t.Fatalf("mode %d after a refused name, want the name still asked", m.mode)
	}
	m.Update(press("esc"))
	acknowledge(t, m, c)
	want := "Wendy: acknowledged what is signed: digest " + roomDigest + " (targets version 5)"
	if len(s.notes) != 1 || s.notes[0] != want {
		t.Fatalf("notes %q, want %q", s.notes, want)
	}
	m.Update(press("s"))
	if _, cmd := m.Update(press("enter")); cmd == nil || !m.busy {
		t.Fatalf("signing did not start after the acknowledgement (notice %q)", m.notice)
	}
}

// TestAcknowledgementReadBack: a resumed ceremony's log already says who
// acknowledged this digest and these roles, so signing is unlocked without
// asking again; a note naming another digest (the payloads were built
// differently) or other roles unlocks nothing.
func TestAcknowledgementReadBack(t *testing.T) {
	same := "acknowledged what is signed: digest " + roomDigest + " (targets version 5)"
	other := "acknowledged what is signed: digest " + strings.Repeat("0", 64) + " (targets version 5)"
	otherRoles := "acknowledged what is signed: digest " + roomDigest + " (targets version 4)"
	for _, tc := range []struct {
		name   string
		logged []session.Noted
		acked  []string
	}{
		{"same digest", []session.Noted{{By: "Bob", Text: "a note"}, {By: "Wendy", Text: same}, {By: "Wendy", Text: same}}, []string{"Wendy"}},
		{"other digest", []session.Noted{{By: "Wendy", Text: other}}, nil},
		{"other roles", []session.Noted{{By: "Wendy", Text: otherRoles}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{}
			s := newRoom()
			s.logged = tc.logged
			m := newModel(s, c, theme.Minimum, plainTheme())
			if !slices.Equal(m.acked, tc.acked) {
				t.Fatalf("acknowledged by %q, want %q", m.acked, tc.acked)
			}
			m.Update(press("s"))
			m.cursor = 1 // Bob
			_, cmd := m.Update(press("enter"))
			if started := cmd != nil && m.busy; started != (tc.acked != nil) {
				t.Fatalf("signing started: %v (notice %q)", started, m.notice)
			}
			if len(s.notes) != 0 {
				t.Fatalf("notes recorded again: %q", s.notes)
			}
		})
	}
}

// TestThresholdCannotBeMet: a role whose delegation lists fewer holders
// than its threshold disables signing, with the reason.
func TestThresholdCannotBeMet(t *testing.T) {
	c := &clock{}
	s := newRoom()
	s.progress[0].Threshold = 4
	m := newModel(s, c, theme.Minimum, plainTheme())
	acknowledge(t, m, c)
	m.Update(press("s"))
	if _, cmd := m.Update(press("enter")); cmd != nil {
		t.Fatal("signing started for a threshold that cannot be met")
	}
	want := "targets needs 4 signatures and its delegation lists only 3 holders: the threshold cannot be met"
	if !strings.HasPrefix(m.notice, want) {
		t.Fatalf("notice %q", m.notice)
	}
	if !strings.Contains(plain(m.View()), "threshold 4 cannot be met") {
		t.Fatalf("panel:\n%s", plain(m.View()))
	}
}

// TestSignedAndDone: a holder who signed is not asked again; the panel
// counts.
func TestSignedAndDone(t *testing.T) {
	c := &clock{}
	s := newRoom()
	m := newModel(s, c, theme.Minimum, plainTheme())
	acknowledge(t, m, c)
	m.Update(press("s"))
	m.Update(press("enter")) // Alice, who signed
	if m.busy || m.notice != "Alice has signed every role that lists their keys." {
		t.Fatalf("busy %v, notice %q", m.busy, m.notice)
	}
	if !strings.Contains(plain(m.View()), "claimed: 1 of 3 ✔··  needs 2") {
		t.Fatalf("panel:\n%s", plain(m.View()))
	}
	m.Update(signedMsg{holder: "Bob", roles: []string{"targets"}, progress: []session.Progress{{Role: "targets", Version: 5, Threshold: 2,
		Holders: []string{"Alice", "Bob", "Carol"}, Signed: []string{"Alice", "Bob"}}}})
	if !m.Complete() || !strings.Contains(plain(m.View()), "claimed: 2 of 3 ✔✔·  threshold 2 met") || !strings.Contains(plain(m.View()), "Bob signed targets.") {
		t.Fatalf("after Bob:\n%s", plain(m.View()))
	}
}

// TestCallAndResponse: one digest group per key press, with its two PGP
// words, then back to the cards.
func TestCallAndResponse(t *testing.T) {
	c := &clock{}
	m := newModel(newRoom(), c, theme.Minimum, plainTheme())
	m.Update(press("c"))
	if !strings.Contains(plain(m.View()), "Group 1 of 16") || !strings.Contains(plain(m.View()), "3 f a 2") || !strings.Contains(plain(m.View()), "cowbell  Pacific") {
		t.Fatalf("first group:\n%s", plain(m.View()))
	}
	m.Update(press(" "))
	if !strings.Contains(plain(m.View()), "Group 2 of 16") || !strings.Contains(plain(m.View()), "0 9 c 1") {
		t.Fatalf("second group:\n%s", plain(m.View()))
	}
	m.Update(press("backspace"))
	if !strings.Contains(plain(m.View()), "Group 1 of 16") {
		t.Fatal("back did not go back")
	}
	for range 16 {
		m.Update(press(" "))
	}
	if m.mode != modeCards {
		t.Fatalf("mode %d after the last group", m.mode)
	}
}

// TestErrorCards: each failure a signing can meet is a card with one next
// action and the raw error; Enter tries again, Esc goes back to the
// holders, and the ceremony goes on.
func TestErrorCards(t *testing.T) {
	for _, tc := range []struct {
		err         error
		title, next string
		lines       []string
	}{
		{&hsm.PINError{Token: "YubiKey 5 NFC, serial 23456789", RetriesLeft: 2}, "Wrong PIN", "Press Enter to try again.",
			[]string{"The token of Bob refused the PIN.", "2 tries are left before the token locks."}},
		{fmt.Errorf("sign targets as Bob: %w", &holders.WrongKeyError{Holder: "Bob", Token: "PKCS#11 token \"bob\"", Found: strings.Repeat("d4", 32), Want: strings.Repeat("b2", 32)}),
			"Wrong token", "Take this token out, put in the token of Bob, then press Enter.",
			[]string{"expected key b2b2b2b2…b2b2b2b2", "found key    d4d4d4d4…d4d4d4d4 on PKCS#11 token \"bob\""}},
		{fmt.Errorf("sign targets as Bob: %w", hsm.ErrTokenRemoved), "Token pulled out", "Put it back in, then press Enter: it is checked again from the start.", nil},
		{fmt.Errorf("sign targets as Bob: %w", hsm.ErrNotLoggedIn), "No touch", "Press Enter, then touch the token when the banner says so.", nil},
		{fmt.Errorf("sign targets as Bob: %w", hsm.ErrPINLocked), "PIN locked", "Set this token aside; another holder signs (unblocking is done outside the ceremony).", nil},
	} {
		c := &clock{}
		calls := 0
		s := newRoom()
		s.sign = func(context.Context, string) ([]string, error) { calls++; return nil, tc.err }
		m := newModel(s, c, theme.Minimum, plainTheme())
		acknowledge(t, m, c)
		m.Update(press("s"))
		m.Update(press("down"))
		_, cmd := m.Update(press("enter"))
		drive(t, m, cmd, func() { t.Fatal("PIN asked") })
		if m.mode != modeError || m.err.title != tc.title || m.err.next != tc.next {
			t.Fatalf("%v: mode %d, card %+v", tc.err, m.mode, m.err)
		}
		for _, l := range tc.lines {
			if !strings.Contains(strings.Join(m.err.lines, "\n"), l) {
				t.Errorf("%s: line %q missing from %q", tc.title, l, m.err.lines)
			}
		}
		if m.err.details != termtext.Safe(tc.err.Error()) {
			t.Errorf("%s: details %q", tc.title, m.err.details)
		}
		_, cmd = m.Update(press("enter"))
		drive(t, m, cmd, func() { t.Fatal("PIN asked") })
		if calls != 2 {
			t.Fatalf("%s: Enter did not try again (%d calls)", tc.title, calls)
		}
		m.Update(press("esc"))
		if m.mode != modeSign || m.err != nil {
			t.Fatalf("%s: Esc left mode %d", tc.title, m.mode)
		}
	}
}

// TestWrongYubiKeyFingerprints: a wrong YubiKey shows the enrolled key
// and the key found in the same slot of the card that is in.
func TestWrongYubiKeyFingerprints(t *testing.T) {
	h := roomPolicy().Holders[1]
	c := newErrCard(fmt.Errorf("holder Bob: %w", hsm.ErrWrongToken), h, roomTokens()[1:])
	want := []string{
		"This token is not the one Bob enrolled. No PIN was asked and no try was spent.",
		"expected key b2b2b2b2…b2b2b2b2 (YubiKey 23456789, slot 9c)",
		"found key    d4d4d4d4…d4d4d4d4 (YubiKey 31415926, slot 9c)",
	}
	if strings.Join(c.lines, "\n") != strings.Join(want, "\n") || c.next != "Insert YubiKey 23456789 (Bob), then press Enter." {
		t.Fatalf("card %q, next %q", c.lines, c.next)
	}
}

// TestSigningWaitsForTheRoster: a signing asked for while the roster is
// being read starts when the reading is done (reading a card opens it,
// and the token would be found busy), and no roster is read while a
// holder signs.
func TestSigningWaitsForTheRoster(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)}
	s := newRoom()
	m := New(Options{Session: s, Policy: roomPolicy(), Bridge: NewBridge(), Now: c.now,
		List: func(context.Context) ([]Present, error) { return roomTokens(), nil }}, plainTheme(), theme.Minimum)
	acknowledge(t, m, c)
	m.Update(press("s"))
	m.Update(press("down"))
	c.advance(time.Hour)
	m.Update(TickMsg{})
	if !m.listing {
		t.Fatal("the tick did not read the roster")
	}
	if _, cmd := m.Update(press("enter")); cmd != nil || m.busy {
		t.Fatal("the signing started while the roster was being read")
	}
	_, cmd := m.Update(listedMsg{present: roomTokens()})
	if cmd == nil || !m.busy || m.holder != "Bob" {
		t.Fatalf("the signing did not start after the roster: busy %v, holder %q", m.busy, m.holder)
	}
	c.advance(time.Hour)
	m.Update(TickMsg{})
	if m.listing {
		t.Fatal("the roster is read while Bob signs")
	}
}

// TestHostileNames: names from the policy and the metadata, and what a
// token says, reach the screen only through termtext: no escape sequence
// of theirs is written to the terminal.
func TestHostileNames(t *testing.T) {
	const evil = "Mal\x1b]52;c;cGluCg==\x07lory\u202e"
	c := &clock{}
	s := newRoom()
	s.cards[0].Role = "targets\x1b[2J"
	s.progress[0].Role = "targets\x1b[2J"
	s.progress[0].Holders = []string{"Alice", evil}
	pol := roomPolicy()
	pol.Holders[1].Name = evil
	s.present[evil] = true
	m := New(Options{Session: s, Policy: pol, Bridge: NewBridge(), Now: c.now}, plainTheme(), theme.Laptop)
	m.Update(listedMsg{present: []Present{{Kind: policy.TokenPKCS11, Label: "\x1b[31mred", Serial: "1\x1b[A", Tries: -1, State: "PIN ok\x1b[K"}}})
	views := []string{m.View()}
	acknowledge(t, m, c)
	m.Update(press("s"))
	views = append(views, m.View())
	m.mode, m.busy, m.holder, m.over = modeSigning, true, evil, make(chan struct{})
	m.Update(touchMsg{token: "YubiKey\x1b[2J", done: make(chan struct{})})
	c.advance(time.Hour)
	views = append(views, m.View())
	req := hsm.PINRequest{Token: "tok\x1b[2J", RetriesLeft: 3}
	m.Update(askMsg{&ask{holder: evil, pin: &req, answer: make(chan answer, 1)}})
	views = append(views, m.View())
	m.Update(signedMsg{holder: evil, err: fmt.Errorf("token \x1b[2J said: %w", hsm.ErrTokenRemoved), progress: s.progress})
	views = append(views, m.View())
	for i, v := range views {
		if strings.ContainsAny(plain(v), "\x1b\x07\u202e") {
			t.Fatalf("view %d writes a control or bidi character of the input:\n%q", i, plain(v))
		}
	}
}

// manyChanges is a room whose card changes n projects.
func manyChanges(n int) *roomSession {
	s := newRoom()
	ch := make([]build.Change, n)
	for i := range ch {
		ch[i] = build.Change{Project: fmt.Sprintf("project-%06d", i), After: &build.Delegation{KeyIDs: []string{strings.Repeat("ab", 32)}, Threshold: 1}}
	}
	s.cards[0].Changes = ch
	return s
}

// TestChangesScroll: the changes of a large card are drawn from the one on
// top, with the count; the keys move through them to the last.
func TestChangesScroll(t *testing.T) {
	m := newModel(manyChanges(100000), &clock{}, theme.Laptop, plainTheme())
	v := plain(m.View())
	if !strings.Contains(v, "Changes  1–") || !strings.Contains(v, " of 100,000") || !strings.Contains(v, "+ targets  project-000000  added") {
		t.Fatalf("first page:\n%s", v)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnd})
	v = plain(m.View())
	if !strings.Contains(v, "Changes  100,000–100,000 of 100,000") || !strings.Contains(v, "project-099999") || strings.Contains(v, "project-099998") {
		t.Fatalf("end:\n%s", v)
	}
	m.Update(press("up"))
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgUp})
	if m.top != 100000-12 {
		t.Fatalf("top after up and page up = %d", m.top)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyHome})
	if m.top != 0 {
		t.Fatalf("top after home = %d", m.top)
	}
}

// BenchmarkCardsView100k: one frame of what is signed, for a card of
// 100,000 changes.
func BenchmarkCardsView100k(b *testing.B) {
	m := newModel(manyChanges(100000), &clock{}, theme.Laptop, plainTheme())
	m.top = 50000
	for b.Loop() {
		_ = m.View()
	}
}

// TestTyping: while a PIN, a name or a "yes" is typed, the screen takes
// every key (the shell keeps none of them: "q" or "?" is a character).
func TestTyping(t *testing.T) {
	c := &clock{}
	m := newModel(newRoom(), c, theme.Minimum, plainTheme())
	if m.Typing() {
		t.Fatal("typing on the cards")
	}
	m.Update(press("a"))
	if !m.Typing() {
		t.Fatal("not typing while a name is asked")
	}
	m.Update(press("esc"))
	pm, _ := pinAsked(t, c, bobsPIN())
	if !pm.Typing() {
		t.Fatal("not typing in the PIN field")
	}
	req := hsm.PINRequest{Token: "t", RetriesLeft: 1}
	cm, _ := pinAsked(t, c, bobsPIN())
	cm.Update(askMsg{&ask{holder: "Bob", pin: &req, answer: make(chan answer, 1)}})
	if cm.mode != modeConfirm || !cm.Typing() {
		t.Fatalf("mode %d, typing %v: a final try's confirmation", cm.mode, cm.Typing())
	}
}

// TestTokenNameEscapes: a token serial in a key's URI is percent-decoded,
// so it may hold a terminal control; the roster shows it escaped.
func TestTokenNameEscapes(t *testing.T) {
	for _, u := range []string{"pkcs11:token=t;serial=%1b%5b31m", "not a uri \x1b[31m"} {
		if got := tokenName(policy.HolderKey{Token: policy.TokenPKCS11, URI: u}); strings.ContainsRune(got, 0x1b) {
			t.Errorf("tokenName(%q) = %q: a raw escape", u, got)
		}
	}
}

// TestRosterBeforeFirstReading: until the roster has been read once, the
// screen says it is looking, not that no token is in the room; after a
// reading that found nothing, it says so.
func TestRosterBeforeFirstReading(t *testing.T) {
	c := &clock{}
	m := New(Options{Session: newRoom(), Policy: roomPolicy(), Bridge: NewBridge(), Now: c.now,
		List: func(context.Context) ([]Present, error) { return nil, nil }}, plainTheme(), theme.Minimum)
	acknowledge(t, m, c)
	m.Update(press("s"))
	if v := m.View(); !strings.Contains(v, "looking for tokens…") || strings.Contains(v, "none found") {
		t.Fatalf("before the first reading:\n%s", v)
	}
	m.Update(listedMsg{})
	if v := m.View(); !strings.Contains(v, "none found") || strings.Contains(v, "looking for tokens") {
		t.Fatalf("after a reading that found nothing:\n%s", v)
	}
}
