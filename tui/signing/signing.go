// Package signing is the signing screen of the terminal program: what is
// signed (the built payloads against the trusted metadata, with their
// digest as numbered hex groups and PGP words, read aloud group by
// group), the acknowledgement that unlocks signing, the threshold panel of
// each role, the roster of tokens in the room, and each holder's turn —
// the token checked before any PIN, the PIN field, the touch banner and a
// card for each thing that can go wrong.
//
// The screen never decides policy: the session says who may sign what and
// what counts. Update never blocks: acknowledging (a line in the log),
// signing (the token, the log) and reading the roster run as commands that
// return messages, and the token's prompts come back through a [Bridge].
package signing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/words"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/theme"
)

// Session is what the screen asks of the ceremony (*session.Session).
// Its methods are called one at a time, never while another runs.
type Session interface {
	Cards() ([]*build.Card, string)
	Progress() []session.Progress
	SignAs(ctx context.Context, holder string) ([]string, error)
	Note(by, text string) error
	// Notes are the notes in the log, a resumed ceremony's included.
	Notes() []session.Noted
}

// Options make a signing screen.
type Options struct {
	Session Session
	// Policy names the holders and their tokens.
	Policy *policy.Policy
	// Bridge carries the tokens' prompts; its Prompts must be the ones the
	// session's tokens were opened with (holders.Options.Prompts).
	Bridge *Bridge
	// List reads the tokens present for the roster; nil shows none.
	List Lister
	// Context ends a signing in progress (the program quitting).
	Context context.Context
	// Now is the clock; time.Now when nil. Tests pass a fake one.
	Now func() time.Time
	// TouchDelay is how long a token waits for a touch before the banner
	// shows (DefaultTouchDelay when zero).
	TouchDelay time.Duration
	// RosterEvery is how often the roster is read while nobody signs
	// (DefaultRosterEvery when zero).
	RosterEvery time.Duration
}

// DefaultTouchDelay keeps the banner away for a touch that is cached or
// comes at once (the YubiKey backend already waits 300 ms before it says
// it waits), and shows it before the holder wonders.
const DefaultTouchDelay = 700 * time.Millisecond

// DefaultRosterEvery is how often tokens are looked for: quick enough that
// a token put in shows before its holder looks up.
const DefaultRosterEvery = time.Second

// mode is what the screen is doing.
type mode int

const (
	modeCards   mode = iota // what is signed
	modeCall                // call and response: one digest group per key press
	modeAck                 // typing the name of who acknowledges
	modeSign                // the threshold panel, holders and roster
	modeSigning             // a holder's token is working
	modePIN                 // the PIN field has focus
	modeConfirm             // a typed "yes" before a final try
	modeError               // an error card
	modeHead                // the holders who may sign the closed log's head (NewHead)
)

// changePage is how far page up and page down move in the changes.
const changePage = 10

// Model is the signing screen.
type Model struct {
	o    Options
	th   *theme.Theme
	size theme.Size

	cards    []*build.Card
	digest   string
	starts   []int // where each card's changes start (changeStarts)
	changes  int   // the changes of all cards
	top      int   // the first change on screen
	progress []session.Progress

	mode   mode
	busy   bool // a session call runs
	acked  []string
	typed  []byte // the name typed to acknowledge, or the "yes" to confirm
	notice string // one sentence under the current block
	group  int    // the digest group called, from 0
	cursor int    // the holder under the cursor

	present []Present
	listErr error
	listing bool
	listed  bool // the roster has been read at least once

	queued  string        // who signs once the roster is read
	holder  string        // who signs now
	over    chan struct{} // closed when the signing ends
	ask     *ask          // the PIN or confirmation the token waits for
	pin     pinField
	final   bool // the holder confirmed a final try in this signing
	touch   *touchState
	err     *errCard
	last    string // what the last signing did
	lastLoc time.Time

	head *headState // nil but on the screen of the log's head (NewHead)
}

type touchState struct {
	token string
	since time.Time
	done  <-chan struct{}
}

// New returns the screen at a size, drawn with a theme.
func New(o Options, th *theme.Theme, size theme.Size) *Model {
	m := newScreen(o, th, size)
	m.cards, m.digest = o.Session.Cards()
	m.starts, m.changes = changeStarts(m.cards)
	m.progress = o.Session.Progress()
	m.acked = ackedIn(o.Session.Notes(), ackText(m.digest, m.cards))
	return m
}

// newScreen is a screen with the options' defaults filled in.
func newScreen(o Options, th *theme.Theme, size theme.Size) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.TouchDelay <= 0 {
		o.TouchDelay = DefaultTouchDelay
	}
	if o.RosterEvery <= 0 {
		o.RosterEvery = DefaultRosterEvery
	}
	return &Model{o: o, th: th, size: size, pin: newPINField(1, pinCap)}
}

// Messages the screen's commands return.
type (
	// TickMsg drives the touch banner and the roster. The screen reads
	// the time from Options.Now, so tests send it with a fake clock.
	TickMsg  struct{}
	ackedMsg struct {
		by  string
		err error
	}
	signedMsg struct {
		holder   string
		roles    []string
		err      error
		progress []session.Progress
		head     bool // the log's head was signed, not the metadata
	}
	listedMsg struct {
		present []Present
		err     error
	}
)

// Init reads the roster and starts the clock.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.list(), m.tick()) }

func (m *Model) tick() tea.Cmd {
	return tea.Tick(100*time.Millisecond, func(time.Time) tea.Msg { return TickMsg{} })
}

// SetSize is the shell's window size.
func (m *Model) SetSize(s theme.Size) { m.size = s }

// SecretFocused reports whether a secret is being typed: the shell then
// sends the terminal no query (a late reply would be typed into the PIN
// field) and the screen sends none either.
func (m *Model) SecretFocused() bool { return m.mode == modePIN }

// Typing reports whether the screen takes every key (the PIN field, a
// name or a "yes" being typed): the shell then keeps none for itself.
func (m *Model) Typing() bool {
	return m.mode == modePIN || m.mode == modeConfirm || m.mode == modeAck || (m.mode == modeHead && m.head.ending)
}

// Busy reports whether a signing or a log append runs: quitting now
// cancels it (Options.Context), and the log resumes.
func (m *Model) Busy() bool { return m.busy }

// Wipe zeroes the PIN field and refuses a PIN the token waits for; call
// it on exit.
func (m *Model) Wipe() {
	m.pin.wipe()
	clear(m.typed)
	m.typed = m.typed[:0]
	if m.ask != nil {
		m.ask.answer <- answer{err: hsm.ErrCancelled}
		m.ask = nil
	}
}

// Progress is the signing progress as last read from the session.
func (m *Model) Progress() []session.Progress { return m.progress }

// Complete reports whether every role's threshold is met; on the screen
// of the log's head, whether every holder signed it or passed.
func (m *Model) Complete() bool {
	if m.head != nil {
		return m.head.done
	}
	for _, p := range m.progress {
		if !p.Complete() {
			return false
		}
	}
	return len(m.progress) > 0
}

// Update handles a message. It never blocks.
func (m *Model) Update(msg tea.Msg) (*Model, tea.Cmd) {
	switch msg := msg.(type) {
	case TickMsg:
		var cmd tea.Cmd
		if !m.busy && !m.listing && m.o.Now().Sub(m.lastLoc) >= m.o.RosterEvery {
			cmd = m.list()
		}
		return m, tea.Batch(cmd, m.tick())
	case listedMsg:
		m.listing = false
		m.listed = true
		m.lastLoc = m.o.Now()
		m.present, m.listErr = msg.present, msg.err
		if name := m.queued; name != "" {
			m.queued = ""
			return m, m.start(name)
		}
		return m, nil
	case ackedMsg:
		m.busy = false
		if msg.err != nil {
			m.notice = msg.err.Error()
			return m, nil
		}
		if !slices.Contains(m.acked, msg.by) {
			m.acked = append(m.acked, msg.by)
		}
		m.notice = ""
		m.mode = modeCards
		return m, nil
	case askMsg:
		return m, m.onAsk(msg.q)
	case touchMsg:
		m.touch = &touchState{token: msg.token, since: m.o.Now(), done: msg.done}
		return m, tea.Batch(waitTouch(msg.done), m.o.Bridge.listen(m.over))
	case touchDoneMsg:
		if m.touch != nil && m.touch.done == msg.done {
			m.touch = nil
		}
		return m, nil
	case signedMsg:
		return m, m.onSigned(msg)
	case tea.PasteStartMsg, tea.PasteMsg, tea.PasteEndMsg:
		if m.mode == modePIN {
			m.pin.paste()
		}
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// list reads the roster in a command.
func (m *Model) list() tea.Cmd {
	if m.o.List == nil {
		return nil
	}
	m.listing = true
	list, ctx := m.o.List, m.o.Context
	return func() tea.Msg {
		p, err := list(ctx)
		return listedMsg{p, err}
	}
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	switch m.mode {
	case modePIN:
		return m.pinKey(k)
	case modeConfirm:
		return m.confirmKey(k)
	case modeAck:
		return m.ackKey(k)
	}
	switch m.mode {
	case modeHead:
		return m.headKey(k)
	case modeCards:
		switch k.String() {
		case "c":
			m.mode, m.group = modeCall, 0
		case "a":
			if !m.busy {
				m.mode, m.notice = modeAck, ""
			}
		case "s", "tab":
			m.mode, m.notice = modeSign, ""
		case "down", "j":
			m.top = min(m.top+1, max(m.changes-1, 0))
		case "up", "k":
			m.top = max(m.top-1, 0)
		case "pgdown", "space":
			m.top = min(m.top+changePage, max(m.changes-1, 0))
		case "pgup":
			m.top = max(m.top-changePage, 0)
		case "end", "G":
			m.top = max(m.changes-1, 0)
		case "home", "g":
			m.top = 0
		}
	case modeCall:
		switch k.String() {
		case "space", "enter", "right":
			if m.group < len(digestGroups(m.digest))-1 {
				m.group++
			} else {
				m.mode = modeCards
			}
		case "left", "backspace":
			if m.group > 0 {
				m.group--
			}
		case "esc":
			m.mode = modeCards
		}
	case modeSign:
		names := m.signers()
		switch k.String() {
		case "up", "k":
			if m.cursor > 0 {
				m.cursor--
			}
		case "down", "j":
			if m.cursor < len(names)-1 {
				m.cursor++
			}
		case "w", "tab":
			m.mode, m.notice = modeCards, ""
		case "enter":
			if len(names) == 0 {
				return nil
			}
			return m.start(names[m.cursor])
		}
	case modeError:
		switch k.String() {
		case "enter":
			h := m.holder
			m.err = nil
			return m.start(h)
		case "esc":
			m.err, m.mode = nil, m.listMode()
		}
	}
	return nil
}

// ackKey types the name of who acknowledges what is signed.
func (m *Model) ackKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.Code {
	case tea.KeyEscape:
		m.typed, m.mode = m.typed[:0], modeCards
		return nil
	case tea.KeyBackspace:
		if len(m.typed) > 0 {
			m.typed = m.typed[:len(m.typed)-1]
		}
		return nil
	case tea.KeyEnter:
		by := strings.TrimSpace(string(m.typed))
		m.typed = m.typed[:0]
		if by == "" {
			m.notice = "Type your name as it was given when the ceremony opened."
			return nil
		}
		m.busy = true
		s, text := m.o.Session, ackText(m.digest, m.cards)
		return func() tea.Msg { return ackedMsg{by, s.Note(by, text)} }
	}
	if k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0 && len(m.typed) < 64 {
		m.typed = append(m.typed, k.Text...)
	}
	return nil
}

// ackText is the note recorded for an acknowledgement: the digest read
// aloud and the roles it covers, so the log says what was compared.
func ackText(digest string, cards []*build.Card) string {
	var roles []string
	for _, c := range cards {
		roles = append(roles, fmt.Sprintf("%s version %d", c.Role, c.Version))
	}
	return fmt.Sprintf("acknowledged what is signed: digest %s (%s)", digest, strings.Join(roles, ", "))
}

// ackedIn lists who the log says acknowledged what is signed, read back
// from its notes (a resumed ceremony): only a note naming this digest and
// these roles counts, so a payload built differently is acknowledged anew.
func ackedIn(notes []session.Noted, text string) []string {
	var out []string
	for _, n := range notes {
		if n.Text == text && !slices.Contains(out, n.By) {
			out = append(out, n.By)
		}
	}
	return out
}

// signers are the holders of the roles built, in the policy's order.
func (m *Model) signers() []string {
	var out []string
	for _, h := range m.o.Policy.Holders {
		if len(m.rolesOf(h.Name)) > 0 {
			out = append(out, h.Name)
		}
	}
	return out
}

// rolesOf lists the roles whose delegation lists a holder's keys.
func (m *Model) rolesOf(name string) []string {
	var out []string
	for _, p := range m.progress {
		if slices.Contains(p.Holders, name) {
			out = append(out, p.Role)
		}
	}
	return out
}

// holderRoles maps each holder to their roles.
func (m *Model) holderRoles() map[string][]string {
	out := map[string][]string{}
	for _, p := range m.progress {
		for _, h := range p.Holders {
			out[h] = append(out[h], p.Role)
		}
	}
	return out
}

// blocked says why nobody can sign now, or "".
func (m *Model) blocked() string {
	for _, p := range m.progress {
		if int64(len(p.Holders)) < p.Threshold {
			return fmt.Sprintf("%s needs %d signatures and its delegation lists only %s: the threshold cannot be met, so this ceremony cannot finish; abandon it", p.Role, p.Threshold, termtext.Plural(len(p.Holders), "holder"))
		}
	}
	if len(m.acked) == 0 {
		return "Signing is locked until what is signed is acknowledged: press w, compare the digest, then press a."
	}
	if m.Complete() {
		return "Every role has the signatures its threshold needs."
	}
	return ""
}

// whyNot says why a holder cannot sign now, or "".
func (m *Model) whyNot(name string) string {
	if m.head != nil {
		if slices.Contains(m.head.signed, name) {
			return name + " has signed the log's head."
		}
		return ""
	}
	if r := m.blocked(); r != "" {
		return r
	}
	for _, p := range m.progress {
		if slices.Contains(p.Holders, name) && !slices.Contains(p.Signed, name) {
			return ""
		}
	}
	return name + " has signed every role that lists their keys."
}

// start has a holder sign: the session opens and checks the token, then
// asks for the PIN through the bridge.
func (m *Model) start(name string) tea.Cmd {
	if m.busy {
		return nil
	}
	if why := m.whyNot(name); why != "" {
		m.notice = why
		m.mode = m.listMode()
		return nil
	}
	if m.listing {
		// The roster is being read: reading a card opens it, and a card
		// is opened by one program at a time, so the token would be
		// found busy. The signing starts when the reading is done.
		m.queued, m.holder, m.mode, m.notice = name, name, modeSigning, ""
		return nil
	}
	m.busy, m.holder, m.mode, m.notice, m.final = true, name, modeSigning, "", false
	m.over = make(chan struct{})
	over, s, ctx := m.over, m.o.Session, m.o.Context
	sign := func() tea.Msg {
		defer close(over)
		roles, err := s.SignAs(ctx, name)
		return signedMsg{holder: name, roles: roles, err: err, progress: s.Progress()}
	}
	if m.head != nil {
		signHead := m.head.sign
		sign = func() tea.Msg {
			defer close(over)
			return signedMsg{holder: name, err: signHead(ctx, name), head: true}
		}
	}
	return tea.Batch(sign, m.o.Bridge.listen(over))
}

func (m *Model) onSigned(msg signedMsg) tea.Cmd {
	m.busy, m.touch, m.ask = false, nil, nil
	m.pin.wipe()
	if msg.head {
		return m.onHeadSigned(msg)
	}
	m.progress = msg.progress
	if len(msg.roles) > 0 {
		m.last = fmt.Sprintf("%s signed %s.", msg.holder, strings.Join(msg.roles, ", "))
	}
	if msg.err != nil {
		c := newErrCard(msg.err, m.holderNamed(msg.holder), m.present)
		m.err, m.mode = &c, modeError
		return nil
	}
	m.mode = modeSign
	if len(msg.roles) == 0 {
		m.last = msg.holder + " had nothing left to sign."
	}
	m.lastLoc = time.Time{} // the next tick reads the roster again
	return nil
}

func (m *Model) holderNamed(name string) policy.Holder {
	for _, h := range m.o.Policy.Holders {
		if h.Name == name {
			return h
		}
	}
	return policy.Holder{Name: name}
}

// onAsk shows a token's request: a PIN field, or a typed confirmation.
func (m *Model) onAsk(q *ask) tea.Cmd {
	m.ask = q
	m.notice = ""
	if q.pin == nil {
		m.mode = modeConfirm
		return nil
	}
	if q.pin.PINPad {
		// The PIN is typed on the device; the callback only tells.
		m.ask = nil
		q.answer <- answer{}
		m.notice = "Enter the PIN on the token's own PIN pad."
		return m.o.Bridge.listen(m.over)
	}
	if (q.pin.RetriesLeft == 1 || (q.pin.RetriesLeft < 0 && q.pin.FinalTry)) && !m.final {
		m.mode = modeConfirm
		return nil
	}
	m.pin = newPINField(1, pinCap)
	if m.pivHolder(q.holder) {
		m.pin = newPINField(pivMinPIN, pivMaxPIN)
	}
	m.mode = modePIN
	return nil
}

// pivHolder reports whether a holder's keys are on YubiKeys (PIV PINs).
func (m *Model) pivHolder(name string) bool {
	h := m.holderNamed(name)
	for _, k := range h.Keys {
		if k.Token != policy.TokenYubiKey {
			return false
		}
	}
	return len(h.Keys) > 0
}

func (m *Model) pinKey(k tea.KeyPressMsg) tea.Cmd {
	switch m.pin.key(k, m.o.Now()) {
	case pinSubmit:
		pin := m.pin.take()
		if m.o.Context.Err() != nil {
			// The program is quitting and the wait for this PIN has
			// ended: nobody would read it from the channel.
			clear(pin)
			break
		}
		m.ask.answer <- answer{pin: pin}
	case pinCancel:
		m.ask.answer <- answer{err: hsm.ErrCancelled}
	default:
		return nil
	}
	m.ask, m.mode = nil, modeSigning
	if m.touch != nil {
		m.touch.since = m.o.Now()
	}
	return m.o.Bridge.listen(m.over)
}

// confirmKey takes the typed "yes" before a final try.
func (m *Model) confirmKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.Code {
	case tea.KeyBackspace:
		if len(m.typed) > 0 {
			m.typed = m.typed[:len(m.typed)-1]
		}
		return nil
	case tea.KeyEscape, tea.KeyEnter:
		yes := k.Code == tea.KeyEnter && strings.EqualFold(strings.TrimSpace(string(m.typed)), "yes")
		m.typed = m.typed[:0]
		if k.Code == tea.KeyEnter && !yes {
			m.notice = `Type yes to go on, or press Esc to stop here.`
			return nil
		}
		q := m.ask
		if q.pin != nil {
			// The token asked for a PIN on its final try without asking
			// first: the confirmation is ours.
			if !yes {
				m.ask, m.mode = nil, modeSigning
				q.answer <- answer{err: hsm.ErrCancelled}
				return m.o.Bridge.listen(m.over)
			}
			m.final = true
			return m.onAsk(q)
		}
		m.final = yes
		m.ask, m.mode, m.notice = nil, modeSigning, ""
		q.answer <- answer{yes: yes}
		return m.o.Bridge.listen(m.over)
	}
	if k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0 && len(m.typed) < 16 {
		m.typed = append(m.typed, k.Text...)
	}
	return nil
}

// touchBanner reports whether the touch banner shows: the token has
// waited TouchDelay for a touch, counted from when no PIN was being typed.
func (m *Model) touchBanner() bool {
	return m.touch != nil && m.mode != modePIN && m.mode != modeConfirm && m.o.Now().Sub(m.touch.since) >= m.o.TouchDelay
}

// digestGroups are the digest's numbered groups.
func digestGroups(digest string) []string { return words.Groups(digest) }
