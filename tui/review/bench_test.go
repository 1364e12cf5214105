package review

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/tui/theme"
)

// benchModel is a review of 100,000 requests at the laptop size, colour
// on, the cursor in the middle.
func benchModel(b *testing.B) *Model {
	b.Helper()
	m := newModel(b, newFake(generated(100_000)), theme.Laptop, theme.New(theme.Options{Color: true}))
	m.cursor = len(m.index) / 2
	m.scroll()
	return m
}

// BenchmarkFrame100k: one frame of the table at 100,000 requests (goal:
// under 10 ms).
func BenchmarkFrame100k(b *testing.B) {
	m := benchModel(b)
	b.ResetTimer()
	for b.Loop() {
		m.move(1)
		_ = m.View()
	}
}

// BenchmarkFilterKeystroke100k: one character typed into the pattern at
// 100,000 requests and the frame drawn (goal: under 16 ms), in each match
// mode. A prefix or exact pattern is applied in Update; a regex is
// matched in the command the keystroke returns (BenchmarkRegexAnswer100k).
func BenchmarkFilterKeystroke100k(b *testing.B) {
	for _, tc := range []struct {
		name string
		keys []tea.KeyPressMsg
		text string
	}{
		{"prefix", []tea.KeyPressMsg{{Code: '/', Text: "/"}}, "numpy-1"},
		{"exact", []tea.KeyPressMsg{{Code: '/', Text: "/"}, {Code: tea.KeyTab}}, "numpy-1"},
		{"regex", []tea.KeyPressMsg{{Code: '/', Text: "/"}, {Code: tea.KeyTab}, {Code: tea.KeyTab}}, "(num|sci)py-1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := benchModel(b)
			for _, k := range tc.keys {
				m.Update(k)
			}
			i := 0
			b.ResetTimer()
			for b.Loop() {
				// Type the pattern a character at a time, then erase it.
				if i < len(tc.text) {
					r := rune(tc.text[i])
					m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
				} else {
					m.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
				}
				i = (i + 1) % (2 * len(tc.text))
				_ = m.View()
			}
		})
	}
}

// BenchmarkFilterToggle100k: a filter switched on or off ("problems
// only") at 100,000 requests and the frame drawn: a pass over every row.
func BenchmarkFilterToggle100k(b *testing.B) {
	m := benchModel(b)
	b.ResetTimer()
	for b.Loop() {
		m.Update(tea.KeyPressMsg{Code: 'p', Text: "p"})
		_ = m.View()
	}
}

// BenchmarkRegexAnswer100k: a regex pattern matched against 100,000
// requests (in the command a keystroke returns), the answer applied and
// the frame drawn: how long after the keystroke the table shows the
// result.
func BenchmarkRegexAnswer100k(b *testing.B) {
	m := benchModel(b)
	m.Update(tea.KeyPressMsg{Code: '/', Text: "/"})
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	var cmds []tea.Cmd
	for _, r := range "(num|sci)py-1" {
		_, cmd := m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
		cmds = append(cmds, cmd)
	}
	last := cmds[len(cmds)-1]
	b.ResetTimer()
	for b.Loop() {
		m.Update(last())
		_ = m.View()
	}
}

// BenchmarkOpen100k: opening the screen on 100,000 requests, every row
// prepared once.
func BenchmarkOpen100k(b *testing.B) {
	f := newFake(generated(100_000))
	b.ResetTimer()
	for b.Loop() {
		newModel(b, f, theme.Laptop, nil)
	}
}
