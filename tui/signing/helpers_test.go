package signing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/tui/internal/keys"
	"github.com/conclave-keys/conclave/tui/theme"
)

// plain is a drawing without its escape sequences (bold, underline).
func plain(s string) string { return sgr.ReplaceAllString(s, "") }

var sgr = regexp.MustCompile("\x1b\\[[0-9;:]*m")

// clock is a fake clock: it moves only when a test moves it.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// roomSession stands for the ceremony: the cards and progress it would
// give, the notes it records, and a SignAs the test chooses.
type roomSession struct {
	cards    []*build.Card
	digest   string
	progress []session.Progress
	present  map[string]bool
	notes    []string
	sign     func(ctx context.Context, holder string) ([]string, error)
}

func (s *roomSession) Cards() ([]*build.Card, string) { return s.cards, s.digest }
func (s *roomSession) Progress() []session.Progress {
	out := make([]session.Progress, len(s.progress))
	copy(out, s.progress)
	return out
}
func (s *roomSession) Note(by, text string) error {
	if !s.present[by] {
		return fmt.Errorf("note: %q: %w", by, session.ErrNotPresent)
	}
	s.notes = append(s.notes, by+": "+text)
	return nil
}
func (s *roomSession) SignAs(ctx context.Context, holder string) ([]string, error) {
	if s.sign == nil {
		return nil, errors.New("no signing in this test")
	}
	return s.sign(ctx, holder)
}

// roomPolicy: Alice and Bob on YubiKeys, Carol on an HSM token.
func roomPolicy() *policy.Policy {
	return &policy.Policy{Holders: []policy.Holder{
		{Name: "Alice", Keys: []policy.HolderKey{{KeyID: strings.Repeat("a1", 32), Token: policy.TokenYubiKey, Serial: 12345678, Slot: "9c"}}},
		{Name: "Bob", Keys: []policy.HolderKey{{KeyID: strings.Repeat("b2", 32), Token: policy.TokenYubiKey, Serial: 23456789, Slot: "9c"}}},
		{Name: "Carol", Keys: []policy.HolderKey{{KeyID: strings.Repeat("c3", 32), Token: policy.TokenPKCS11, URI: "pkcs11:token=carol;serial=5c1e0001;object=carol"}}},
	}}
}

const roomDigest = "3fa209c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f"

func newRoom() *roomSession {
	return &roomSession{
		cards: []*build.Card{{Role: "targets", Version: 5, Expires: time.Date(2027, 3, 3, 12, 0, 0, 0, time.UTC),
			Added: 12, Rotated: 3, Removed: 1, Digest: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Changes: roomChanges()}},
		digest:   roomDigest,
		progress: []session.Progress{{Role: "targets", Version: 5, Threshold: 2, Holders: []string{"Alice", "Bob", "Carol"}, Signed: []string{"Alice"}}},
		present:  map[string]bool{"Alice": true, "Bob": true, "Carol": true, "Wendy": true},
	}
}

// roomTokens: Bob's YubiKey, a YubiKey nobody enrolled, Carol's HSM token.
func roomTokens() []Present {
	return []Present{
		{Kind: policy.TokenYubiKey, Serial: "23456789", Where: "Yubico YubiKey 00", Tries: 3, KeyIDs: map[string]string{"9c": strings.Repeat("b2", 32)}},
		{Kind: policy.TokenYubiKey, Serial: "31415926", Where: "Yubico YubiKey 01", Tries: 3, KeyIDs: map[string]string{"9c": strings.Repeat("d4", 32)}},
		{Kind: policy.TokenPKCS11, Serial: "5c1e0001", Label: "carol", Where: "softhsm slot 1", Tries: -1, State: "PIN ok"},
	}
}

func newModel(s *roomSession, c *clock, size theme.Size, th *theme.Theme) *Model {
	return New(Options{Session: s, Policy: roomPolicy(), Bridge: NewBridge(), Now: c.now, TouchDelay: time.Second}, th, size)
}

func plainTheme() *theme.Theme { return theme.New(theme.Options{}) }

// press is a key press, as tui/internal/keys names it.
var press = keys.Press

// typeText sends each character as a key press, the clock moving step
// between them.
func typeText(m *Model, c *clock, s string, step time.Duration) {
	for _, r := range s {
		c.advance(step)
		m.Update(press(string(r)))
	}
}

// acknowledge has Wendy acknowledge what is signed, running the note's
// command as the program would.
func acknowledge(t *testing.T, m *Model, c *clock) {
	t.Helper()
	m.Update(press("a"))
	typeText(m, c, "Wendy", 100*time.Millisecond)
	_, cmd := m.Update(press("enter"))
	if cmd == nil {
		t.Fatal("enter after a name returned no command")
	}
	m.Update(cmd())
	if len(m.acked) != 1 {
		t.Fatalf("acknowledged by %q, notice %q", m.acked, m.notice)
	}
}

// drive runs a signing's commands as the program does, calling onPIN each
// time the PIN field takes the focus, until the signing's result is in.
func drive(t *testing.T, m *Model, cmd tea.Cmd, onPIN func()) {
	t.Helper()
	if cmd == nil {
		t.Fatalf("no signing started (notice %q)", m.notice)
	}
	msgs := make(chan tea.Msg, 16)
	launch := func(cmd tea.Cmd) {
		if cmd != nil {
			go func() { msgs <- cmd() }()
		}
	}
	launch(cmd)
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		var msg tea.Msg
		select {
		case msg = <-msgs:
		case <-deadline.C:
			t.Fatalf("the signing did not end (mode %d)", m.mode)
		}
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				launch(c)
			}
			continue
		}
		if _, ok := msg.(TickMsg); ok || msg == nil {
			continue
		}
		_, next := m.Update(msg)
		launch(next)
		if m.mode == modePIN {
			onPIN()
			launch(m.o.Bridge.listen(m.over))
		}
		if _, ok := msg.(signedMsg); ok {
			return
		}
	}
}

// roomChanges are the changes of the room's card: 12 projects added, 3
// rotated (one also raising its threshold), 1 removed, sorted by name.
func roomChanges() []build.Change {
	key := func(i int) string { return fmt.Sprintf("%02x", i) + strings.Repeat("9e", 31) }
	d := func(t int64, ids ...string) *build.Delegation {
		return &build.Delegation{KeyIDs: ids, Threshold: t, Paths: []string{"p/*"}}
	}
	var out []build.Change
	for i := range 12 {
		out = append(out, build.Change{Project: fmt.Sprintf("added-%02d", i+1), After: d(1, key(i))})
	}
	out = append(out, build.Change{Project: "gone", Before: d(1, key(40))})
	out = append(out, build.Change{Project: "numpy", Before: d(1, key(50)), After: d(2, key(50), key(51))})
	out = append(out, build.Change{Project: "requests", Before: d(1, key(60)), After: d(1, key(61))})
	out = append(out, build.Change{Project: "scipy", Before: d(1, key(70)), After: d(1, key(71))})
	return out
}
