package review

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/internal/field"
	"github.com/conclave-keys/conclave/tui/theme"
)

// mode is what the keys do.
type mode int

const (
	modeTable  mode = iota // move, filter, decide
	modeDetail             // one request: the change or its JSON
	modeFilter             // typing a pattern
	modeReason             // typing the reason for a rejection or deferral
	modeBulk               // the bulk approval's summary and count
)

// decision of a row as the session recorded it.
const (
	undecided uint8 = iota
	approved
	rejected
	deferred
)

// Model is the review screen.
type Model struct {
	s  Session
	o  Options
	th *theme.Theme

	width, height int

	report *verdict.Report
	rows   []row
	keys   []rowKey // by row: what the filters read
	state  []uint8  // by row: undecided, approved, rejected, deferred
	// decisions holds the decisions as the session last answered, by row:
	// the screen draws from it, never from the session, which may be
	// recording a decision on another goroutine.
	decisions map[int]session.Decided
	opened    []bool // by row: shown in the detail pane at least once
	byID      map[string]int
	valid     int    // rows open to a decision
	done      int    // valid rows decided
	judged    int    // rows that need judgement, decided
	judge     int    // rows that need judgement
	hits      []bool // by row: the regex pattern matched; nil until answered
	gen       int    // the regex pattern asked last
	asked     bool   // a regex pattern is being matched

	f      filter
	index  []int   // the rows that pass the filter, in report order
	trail  []shown // while a prefix pattern grows: what each shorter one showed
	cursor int     // position in index
	top    int     // position in index of the first row on screen

	mode  mode
	back  mode // where esc leaves the detail pane for
	back2 mode // where the reason field returns to

	text      field.Field // the pattern or the reason being typed
	digits    []rune      // the bulk count being typed
	editMode  Match       // the match mode while the pattern is typed
	reasonRow int         // the row a reason is typed for
	reasonFor string      // session.Reject or session.Defer

	tab  int // detail pane: 0 the change, 1 the JSON
	dtop int // detail pane: first line on screen

	busy    string // what the call in flight is doing; "" when none
	note    string // the outcome of the last action
	noteBad bool
}

// New opens the review of the session's report. It reads the report and
// any decisions already in the log (a resumed ceremony) once, and
// prepares every row: 0.1 to 0.3 s at 100,000 requests
// (BenchmarkOpen100k), so a program calls it in a command, not in Update.
func New(o Options) *Model {
	m := &Model{s: o.Session, o: o, th: o.Theme, width: o.Size.Width, height: o.Size.Height}
	if m.th == nil {
		m.th = theme.New(theme.Options{})
	}
	m.report = o.Session.Report()
	if m.report == nil {
		m.report = &verdict.Report{}
	}
	m.rows, m.keys = newRows(m.report.Requests)
	m.state = make([]uint8, len(m.rows))
	m.opened = make([]bool, len(m.rows))
	m.decisions = map[int]session.Decided{}
	m.byID = make(map[string]int, len(m.rows))
	for i := range m.rows {
		m.byID[m.rows[i].rawID] = i
		if m.rows[i].valid {
			m.valid++
		}
		if m.rows[i].v.Class == verdict.NeedsJudgement {
			m.judge++
		}
	}
	m.refreshAll()
	m.index = make([]int, 0, len(m.rows))
	m.applyFilter()
	return m
}

// Init starts nothing: the report is read.
func (m *Model) Init() tea.Cmd { return nil }

// SetSize sets the screen's size in cells.
func (m *Model) SetSize(s theme.Size) {
	m.width, m.height = s.Width, s.Height
	m.scroll()
}

// Done reports whether every valid request is decided.
func (m *Model) Done() bool { return m.done == m.valid }

// refresh reads one row's decision back from the session.
func (m *Model) refresh(i int) {
	was := m.state[i]
	d, ok := m.s.Decision(m.rows[i].rawID)
	now := undecided
	if ok {
		switch d.Decision {
		case session.Approve:
			now = approved
		case session.Reject:
			now = rejected
		case session.Defer:
			now = deferred
		}
	}
	m.state[i] = now
	if ok {
		m.decisions[i] = d
	} else {
		delete(m.decisions, i)
	}
	step := 0
	if was == undecided && now != undecided {
		step = 1
	} else if was != undecided && now == undecided {
		step = -1
	}
	if m.rows[i].valid {
		m.done += step
	}
	if m.rows[i].v.Class == verdict.NeedsJudgement {
		m.judged += step
	}
}

func (m *Model) refreshAll() {
	for i := range m.rows {
		m.refresh(i)
	}
}

// applyFilter rebuilds the index, keeping the cursor on the same row when
// it still passes, or on the nearest one before it.
func (m *Model) applyFilter() {
	m.trail = m.trail[:0]
	m.filterFrom(false)
}

// shown is what a prefix pattern showed.
type shown struct {
	pattern string
	index   []int
}

// maxTrail bounds the trail: each entry is a copy of an index, up to
// 800 KB at 100,000 rows.
const maxTrail = 16

// restore shows again what the pattern showed before a character was
// added, when the trail holds it, and reports whether it did.
func (m *Model) restore(pattern string) bool {
	for len(m.trail) > 0 {
		top := m.trail[len(m.trail)-1]
		m.trail = m.trail[:len(m.trail)-1]
		if top.pattern != pattern {
			continue
		}
		at := m.current()
		m.index = top.index
		m.cursor = 0
		if at >= 0 {
			if p := m.position(at); p >= 0 {
				m.cursor = p
			}
		}
		m.scroll()
		return true
	}
	return false
}

// filterFrom applies the filter to every row, or with narrow only to the
// rows shown: when the filter can only have grown stricter (a character
// added to a prefix pattern), what it drops is among them, and a
// keystroke looks at the rows it showed rather than at every row.
func (m *Model) filterFrom(narrow bool) {
	at := -1
	if m.cursor < len(m.index) {
		at = m.index[m.cursor]
	}
	out := m.index[:0] // written behind what narrowing reads
	m.cursor = 0
	keep := func(i int) {
		if m.f.keep(&m.keys[i], i, m.state[i] != undecided, m.hits) {
			if at >= 0 && i <= at {
				m.cursor = len(out)
			}
			out = append(out, i)
		}
	}
	if narrow {
		for _, i := range m.index {
			keep(i)
		}
	} else {
		for i := range m.rows {
			keep(i)
		}
	}
	m.index = out
	if m.cursor >= len(m.index) {
		m.cursor = max(0, len(m.index)-1)
	}
	m.scroll()
}

// matched answers a regex pattern: by row, whether it matched. gen names
// the pattern it answers; an answer to an older one is dropped.
type matched struct {
	gen  int
	hits []bool
}

// match matches a regex pattern against every row, in a command: RE2 is
// linear but not cheap, and a keystroke must not wait for 100,000 names
// (two cores take about 20 ms). The rows it reads never change once the
// screen is open; the answer is new memory.
func match(gen int, re *regexp.Regexp, keys []rowKey) tea.Cmd {
	return func() tea.Msg {
		hits := make([]bool, len(keys))
		parallel.For(len(keys), 4096, func(i int) {
			hits[i] = re.MatchString(keys[i].name) || re.MatchString(keys[i].id)
		})
		return matched{gen: gen, hits: hits}
	}
}

// listRows is how many table rows fit.
func (m *Model) listRows() int {
	return max(1, m.height-5) // title, filter line, header; note, hints
}

// scroll keeps the cursor on screen.
func (m *Model) scroll() {
	n := m.listRows()
	if m.cursor < m.top {
		m.top = m.cursor
	}
	if m.cursor >= m.top+n {
		m.top = m.cursor - n + 1
	}
	m.top = max(0, min(m.top, len(m.index)-n))
}

// current is the row under the cursor, or -1 when the filter shows none.
func (m *Model) current() int {
	if len(m.index) == 0 {
		return -1
	}
	return m.index[m.cursor]
}

func (m *Model) move(delta int) {
	if len(m.index) == 0 {
		return
	}
	m.cursor = max(0, min(len(m.index)-1, m.cursor+delta))
	m.scroll()
	m.dtop = 0
	if m.mode == modeDetail {
		m.open()
	}
}

// unreviewed reports whether row i waits for a decision.
func (m *Model) unreviewed(i int) bool { return m.rows[i].valid && m.state[i] == undecided }

func (m *Model) problem(i int) bool { return m.rows[i].problem }

// jump moves the cursor to the next (dir 1) or previous (dir -1) row
// shown for which want holds, wrapping around; it reports whether there
// was one.
func (m *Model) jump(dir int, want func(int) bool) bool {
	n := len(m.index)
	for step := 1; step <= n; step++ {
		p := ((m.cursor+dir*step)%n + n) % n
		if want(m.index[p]) {
			m.cursor = p
			m.scroll()
			m.dtop = 0
			if m.mode == modeDetail {
				m.open()
			}
			return true
		}
	}
	return false
}

// open shows the row under the cursor in the detail pane.
func (m *Model) open() {
	if i := m.current(); i >= 0 {
		m.opened[i] = true
		if m.mode != modeDetail {
			m.back = m.mode
			m.mode = modeDetail
			m.dtop = 0
		}
	}
}

func (m *Model) say(bad bool, format string, a ...any) {
	m.note, m.noteBad = fmt.Sprintf(format, a...), bad
}

// Update handles a key or the answer to a call.
func (m *Model) Update(msg tea.Msg) (*Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.SetSize(theme.SizeOf(msg))
	case Decided:
		return m, m.decided(msg)
	case BulkApproved:
		m.bulkApproved(msg)
	case tea.PasteMsg:
		return m, m.paste(msg.Content)
	case matched:
		if msg.gen == m.gen {
			m.hits, m.asked = msg.hits, false
			m.applyFilter()
		}
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Model) decided(msg Decided) tea.Cmd {
	m.busy = ""
	i, ok := m.byID[msg.RequestID]
	if !ok {
		return nil
	}
	m.refresh(i)
	if msg.Err != nil {
		m.say(true, "not recorded: %s", termtext.Safe(msg.Err.Error()))
		return nil
	}
	m.say(false, "%s %s", pastTense(msg.Decision), m.rows[i].project)
	m.applyFilter()
	// The cursor goes on to the next request waiting for a decision,
	// after the one decided in the order shown.
	if p := m.position(i); p >= 0 {
		m.cursor = p
	}
	if c := m.current(); c >= 0 && (c == i || !m.unreviewed(c)) {
		m.jump(1, m.unreviewed)
	}
	m.scroll()
	if m.mode == modeDetail {
		m.open()
	}
	return nil
}

// position is where row i is in the index, or the position of the first
// row after it, or -1 when none is.
func (m *Model) position(i int) int {
	lo, hi := 0, len(m.index)
	for lo < hi {
		mid := (lo + hi) / 2
		if m.index[mid] < i {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(m.index) {
		return -1
	}
	return lo
}

func pastTense(decision string) string {
	switch decision {
	case session.Approve:
		return "approved"
	case session.Reject:
		return "rejected"
	case session.Defer:
		return "deferred"
	}
	return termtext.Safe(decision)
}

func (m *Model) bulkApproved(msg BulkApproved) {
	m.busy = ""
	var ce *session.BulkCountError
	switch {
	case errors.As(msg.Err, &ce):
		m.say(true, "not recorded: %s undecided rule-approvable requests, not the %s typed: count again", theme.Count(ce.Undecided), theme.Count(ce.Confirmed))
		return
	case msg.Err != nil:
		m.say(true, "not recorded: %s", termtext.Safe(msg.Err.Error()))
		return
	}
	m.refreshAll()
	m.mode = modeTable
	m.digits = m.digits[:0]
	m.say(false, "approved %s rule-approvable requests together", theme.Count(msg.Count))
	m.applyFilter()
	if i := m.current(); i >= 0 && !m.unreviewed(i) {
		m.jump(1, m.unreviewed)
	}
}

// paste takes pasted text into a pattern or a reason, never into the
// count: the count is typed by someone who read it.
func (m *Model) paste(s string) tea.Cmd {
	switch m.mode {
	case modeFilter, modeReason:
		m.text.Paste(s)
		if m.mode == modeFilter {
			m.boundPattern()
			return m.setPattern()
		}
	case modeBulk:
		m.say(true, "type the count: pasting it proves nothing")
	}
	return nil
}

// boundPattern cuts the pattern to MaxPattern bytes, and says so.
func (m *Model) boundPattern() {
	v := m.text.Value()
	if len(v) <= MaxPattern {
		return
	}
	n := MaxPattern
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	m.text.Set(v[:n])
	m.say(true, "a pattern is at most %d bytes", MaxPattern)
}

// setPattern takes the typed pattern. A regex is matched in a command;
// until its answer the table shows what it showed, and says so.
func (m *Model) setPattern() tea.Cmd {
	was := m.f
	m.f.setPattern(m.text.Value(), m.editMode)
	if m.f.mode == Regexp && m.f.re != nil {
		m.gen++
		m.asked = true
		return match(m.gen, m.f.re, m.keys)
	}
	m.asked = false
	switch {
	case was.mode != Prefix || m.f.mode != Prefix || m.f.pattern == was.pattern:
		m.applyFilter()
	case strings.HasPrefix(m.f.pattern, was.pattern):
		// Stricter: what passes is among the rows shown.
		if len(m.trail) == maxTrail {
			m.trail = append(m.trail[:0], m.trail[1:]...)
		}
		m.trail = append(m.trail, shown{was.pattern, slices.Clone(m.index)})
		m.filterFrom(true)
	case !m.restore(m.f.pattern):
		m.applyFilter()
	}
	return nil
}

// Typing reports whether a field has focus (the pattern, a reason, the
// bulk count): every key is for it.
func (m *Model) Typing() bool {
	return m.mode == modeFilter || m.mode == modeReason || m.mode == modeBulk
}

// Busy reports whether a decision is being recorded.
func (m *Model) Busy() bool { return m.busy != "" }

// isBusy refuses a second call while one is in flight, and says so.
func (m *Model) isBusy() bool {
	if m.busy != "" {
		m.say(true, "wait: %s", m.busy)
		return true
	}
	return false
}

// The keys.
var (
	keyUp       = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up"))
	keyDown     = key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down"))
	keyPgUp     = key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up"))
	keyPgDown   = key.NewBinding(key.WithKeys("pgdown", "space"), key.WithHelp("pgdn", "page down"))
	keyHome     = key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "first"))
	keyEnd      = key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "last"))
	keyOpen     = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open"))
	keyApprove  = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "approve"))
	keyReject   = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reject"))
	keyDefer    = key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "defer"))
	keyFilter   = key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter"))
	keyProblems = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "problems"))
	keyUnrev    = key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "undecided"))
	keyKind     = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "kind"))
	keyClear    = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filters"))
	keyNextU    = key.NewBinding(key.WithKeys("n"), key.WithHelp("n/N", "next undecided"))
	keyPrevU    = key.NewBinding(key.WithKeys("N"))
	keyNextP    = key.NewBinding(key.WithKeys("]"), key.WithHelp("]/[", "next problem"))
	keyPrevP    = key.NewBinding(key.WithKeys("["))
	keyBulk     = key.NewBinding(key.WithKeys("B"), key.WithHelp("B", "bulk"))
	keyFinish   = key.NewBinding(key.WithKeys("F"), key.WithHelp("F", "finish"))
	keyTab      = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "change / JSON"))
	keyBack     = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	keyMode     = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "prefix/exact/regex"))
	keyKeep     = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep"))
	keyClearPat = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear"))
	keyRecord   = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "record"))
	keyCancel   = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
	keyBulkOK   = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "approve the count typed"))
	keyFlagged  = key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "open the next flagged"))
)

// Bindings lists the keys that work now, for the footer and the help
// overlay.
func (m *Model) Bindings() []key.Binding {
	switch m.mode {
	case modeFilter:
		return []key.Binding{keyMode, keyKeep, keyClearPat}
	case modeReason:
		return []key.Binding{keyRecord, keyCancel}
	case modeBulk:
		b := []key.Binding{keyBulkOK, keyBack}
		if _, unopened := m.flagged(); unopened > 0 {
			b = append(b, keyFlagged)
		}
		return b
	case modeDetail:
		return append([]key.Binding{keyApprove, keyReject, keyDefer, keyBack, keyTab, keyNextU, keyNextP, keyUp, keyDown}, m.finishBinding()...)
	}
	// Most needed first: the footer cuts the line at the screen's width.
	b := []key.Binding{keyApprove, keyReject, keyDefer, keyOpen, keyFilter, keyNextU}
	b = append(b, m.finishBinding()...)
	if m.canBulk() {
		b = append(b, keyBulk)
	}
	b = append(b, keyNextP, keyProblems, keyUnrev, keyKind, keyUp, keyDown, keyPgUp, keyPgDown, keyHome, keyEnd)
	if len(m.f.words()) > 0 {
		b = append(b, keyClear)
	}
	return b
}

func (m *Model) finishBinding() []key.Binding {
	if m.Done() {
		return []key.Binding{keyFinish}
	}
	return nil
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	switch m.mode {
	case modeFilter:
		return m.filterKey(k)
	case modeReason:
		return m.reasonKey(k)
	case modeBulk:
		return m.bulkKey(k)
	case modeDetail:
		switch {
		case key.Matches(k, keyBack):
			m.mode = m.back
			return nil
		case key.Matches(k, keyTab):
			m.tab = 1 - m.tab
			m.dtop = 0
			return nil
		case key.Matches(k, keyUp):
			m.dtop = max(0, m.dtop-1)
			return nil
		case key.Matches(k, keyDown):
			m.dtop++
			return nil
		case key.Matches(k, keyPgUp):
			m.dtop = max(0, m.dtop-m.detailRows())
			return nil
		case key.Matches(k, keyPgDown):
			m.dtop += m.detailRows()
			return nil
		}
	}
	switch {
	case key.Matches(k, keyUp):
		m.move(-1)
	case key.Matches(k, keyDown):
		m.move(1)
	case key.Matches(k, keyPgUp):
		m.move(-m.listRows())
	case key.Matches(k, keyPgDown):
		m.move(m.listRows())
	case key.Matches(k, keyHome):
		m.move(-len(m.index))
	case key.Matches(k, keyEnd):
		m.move(len(m.index))
	case key.Matches(k, keyOpen):
		m.open()
	case key.Matches(k, keyNextU):
		if !m.jump(1, m.unreviewed) {
			m.say(false, "no request shown is waiting for a decision")
		}
	case key.Matches(k, keyPrevU):
		if !m.jump(-1, m.unreviewed) {
			m.say(false, "no request shown is waiting for a decision")
		}
	case key.Matches(k, keyNextP):
		if !m.jump(1, m.problem) {
			m.say(false, "no request shown needs judgement or is invalid")
		}
	case key.Matches(k, keyPrevP):
		if !m.jump(-1, m.problem) {
			m.say(false, "no request shown needs judgement or is invalid")
		}
	case key.Matches(k, keyApprove):
		return m.approve()
	case key.Matches(k, keyReject):
		m.askReason(session.Reject)
	case key.Matches(k, keyDefer):
		m.askReason(session.Defer)
	case key.Matches(k, keyFinish):
		if m.isBusy() {
			return nil
		}
		if m.Done() {
			return finished
		}
		m.say(true, "%s valid requests are still undecided", theme.Count(m.valid-m.done))
	case m.mode == modeDetail:
		// The table's own keys do not work behind the detail pane.
	case key.Matches(k, keyFilter):
		m.mode = modeFilter
		m.text.Set(m.f.pattern)
		m.editMode = m.f.mode
	case key.Matches(k, keyProblems):
		m.f.problems = !m.f.problems
		m.applyFilter()
	case key.Matches(k, keyUnrev):
		m.f.unreviewed = !m.f.unreviewed
		m.applyFilter()
	case key.Matches(k, keyKind):
		m.f.kind = kinds[(indexOf(kinds, m.f.kind)+1)%len(kinds)]
		m.applyFilter()
	case key.Matches(k, keyClear):
		m.f = filter{}
		m.applyFilter()
	case key.Matches(k, keyBulk):
		m.startBulk()
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return 0
}

func (m *Model) filterKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, keyMode):
		m.editMode = (m.editMode + 1) % 3
	case key.Matches(k, keyKeep):
		m.mode = modeTable
		return nil
	case key.Matches(k, keyClearPat):
		m.text.Set("")
		m.mode = modeTable
	case m.text.Key(k):
		m.boundPattern()
	default:
		return nil
	}
	return m.setPattern()
}

// approve approves the request under the cursor. A request that needs
// judgement is approved only once someone opened it.
func (m *Model) approve() tea.Cmd {
	i := m.current()
	if i < 0 || m.isBusy() {
		return nil
	}
	r := &m.rows[i]
	if r.v.Class == verdict.NeedsJudgement && !m.opened[i] {
		m.say(true, "open %s first (enter): it needs judgement", r.project)
		return nil
	}
	m.busy = "recording the approval of " + r.project
	m.note = ""
	return decide(m.s, r.rawID, session.Approve, "", m.o.By)
}

func (m *Model) askReason(decision string) {
	i := m.current()
	if i < 0 || m.isBusy() {
		return
	}
	m.reasonRow, m.reasonFor = i, decision
	m.back2 = m.mode
	m.mode = modeReason
	m.text.Set("")
	m.note = ""
}

func (m *Model) reasonKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, keyCancel):
		m.mode = m.back2
		m.text.Set("")
	case key.Matches(k, keyRecord):
		reason := m.text.Value()
		if reason == "" {
			m.say(true, "type the reason: the repository reads it")
			return nil
		}
		r := &m.rows[m.reasonRow]
		m.mode = m.back2
		m.text.Set("")
		m.busy = "recording the decision about " + r.project
		return decide(m.s, r.rawID, m.reasonFor, reason, m.o.By)
	default:
		m.text.Key(k)
	}
	return nil
}

// canBulk reports whether any rule-approvable request waits.
func (m *Model) canBulk() bool {
	for i := range m.rows {
		if m.rows[i].v.Class == verdict.RuleApprovable && m.state[i] == undecided {
			return true
		}
	}
	return false
}

// flagged counts the requests that need judgement and wait for a
// decision, and how many of them nobody opened.
func (m *Model) flagged() (waiting, unopened int) {
	for i := range m.rows {
		if m.rows[i].v.Class == verdict.NeedsJudgement && m.state[i] == undecided {
			waiting++
			if !m.opened[i] {
				unopened++
			}
		}
	}
	return waiting, unopened
}

func (m *Model) startBulk() {
	if m.isBusy() {
		return
	}
	if !m.canBulk() {
		m.say(false, "no rule-approvable request is waiting")
		return
	}
	m.mode = modeBulk
	m.digits = m.digits[:0]
	m.note = ""
}

func (m *Model) bulkKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, keyBack):
		m.mode = modeTable
		m.digits = m.digits[:0]
	case key.Matches(k, keyFlagged):
		m.openNextFlagged()
	case key.Matches(k, keyBulkOK):
		if _, unopened := m.flagged(); unopened > 0 {
			m.say(true, "open the %s flagged requests nobody opened first (o): each is decided on its own", theme.Count(unopened))
			return nil
		}
		n, err := strconv.Atoi(string(m.digits))
		if err != nil {
			m.say(true, "type the number of requests to approve, in digits")
			return nil
		}
		if m.isBusy() {
			return nil
		}
		m.busy = "recording the bulk approval"
		return bulk(m.s, n, m.o.By)
	case k.String() == "backspace":
		if len(m.digits) > 0 {
			m.digits = m.digits[:len(m.digits)-1]
		}
	case len(k.Text) == 1 && k.Text[0] >= '0' && k.Text[0] <= '9' && len(m.digits) < 9:
		m.digits = append(m.digits, rune(k.Text[0]))
	}
	return nil
}

// openNextFlagged opens the next request that needs judgement and that
// nobody opened, with every filter cleared so that it is in the table.
func (m *Model) openNextFlagged() {
	for i := range m.rows {
		if m.rows[i].v.Class == verdict.NeedsJudgement && m.state[i] == undecided && !m.opened[i] {
			m.f = filter{}
			m.applyFilter()
			m.cursor = m.position(i)
			m.scroll()
			m.open()
			m.back = modeBulk
			return
		}
	}
}
