package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/tui/review"
	"github.com/conclave-keys/conclave/tui/signing"
	"github.com/conclave-keys/conclave/tui/theme"
)

// reviewScreen is the review of the judged bundle (tui/review).
// It reads nothing of the shell's, so that a command can make it.
func reviewScreen(s *session.Session, by string, th *theme.Theme, size theme.Size) Screen {
	r := review.New(review.Options{
		Session: s,
		By:      by,
		Trusted: review.TrustedIn(s.Vault()),
		Theme:   th,
		Size:    size,
	})
	return reviewAdapter{r}
}

type reviewAdapter struct{ m *review.Model }

func (a reviewAdapter) Init() tea.Cmd { return a.m.Init() }
func (a reviewAdapter) Update(msg tea.Msg) tea.Cmd {
	_, c := a.m.Update(msg)
	return c
}
func (a reviewAdapter) View() string            { return a.m.View() }
func (a reviewAdapter) SetSize(s theme.Size)    { a.m.SetSize(s) }
func (a reviewAdapter) Bindings() []key.Binding { return a.m.Bindings() }
func (a reviewAdapter) Typing() bool            { return a.m.Typing() }
func (a reviewAdapter) Busy() bool              { return a.m.Busy() }

// DrawsHints: the review draws its keys itself, on its last line.
func (a reviewAdapter) DrawsHints() {}

// signScreen is what is signed, the threshold panel, the roster and each
// holder's turn (tui/signing).
func (m *Model) signScreen(s *session.Session) Screen {
	g := signing.New(signing.Options{
		Session: s,
		Policy:  s.Vault().Policy,
		Bridge:  m.o.Bridge,
		List:    m.o.List,
		Context: m.o.Context,
		Now:     m.o.Now,
	}, m.th, m.body())
	return signAdapter{g}
}

type signAdapter struct{ m *signing.Model }

func (a signAdapter) Init() tea.Cmd { return a.m.Init() }
func (a signAdapter) Update(msg tea.Msg) tea.Cmd {
	_, c := a.m.Update(msg)
	return c
}
func (a signAdapter) View() string            { return a.m.View() }
func (a signAdapter) SetSize(s theme.Size)    { a.m.SetSize(s) }
func (a signAdapter) Bindings() []key.Binding { return a.m.Keys() }

// Typing: the PIN field and the typed names and confirmations of the
// signing screen take every key.
func (a signAdapter) Typing() bool   { return a.m.Typing() }
func (a signAdapter) Busy() bool     { return a.m.Busy() }
func (a signAdapter) Complete() bool { return a.m.Complete() }
func (a signAdapter) Wipe()          { a.m.Wipe() }

// DrawsHints: the signing screen draws its keys itself.
func (a signAdapter) DrawsHints() {}

// SecretFocused reports whether a secret is being typed.
func (a signAdapter) SecretFocused() bool { return a.m.SecretFocused() }
