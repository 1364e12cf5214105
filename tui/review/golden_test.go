package review

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/tui/internal/golden"
	"github.com/conclave-keys/conclave/tui/theme"
)

// TestGolden draws each state of the screen at every size, colour off and
// on, with hostile names among the requests (escape sequences, a bidi
// override, a line break, a 460-character name, wide characters): they
// must show as escapes and be cut to their columns.
func TestGolden(t *testing.T) {
	views := []struct {
		name string
		keys []string
		wait bool // the last key's command is not answered yet
	}{
		{"table", nil, false},
		{"table-decided", []string{"enter", "a", "r", "the keys were never published", "enter", "esc", "G", "k", "k", "a"}, false},
		{"filtered", []string{"p", "/", "h-", "enter"}, false},
		{"regex-error", []string{"/", "tab", "tab", "(numpy"}, false},
		{"detail-hostile", []string{"enter"}, false},
		{"detail-json", []string{"enter", "tab"}, false},
		{"detail-long", []string{"/", "h-long", "enter", "enter"}, false},
		{"detail-invalid", []string{"G", "enter"}, false},
		{"reason", []string{"d", "waiting for the maintainers to confirm"}, false},
		{"refused", []string{"G", "a"}, false},
		{"bulk", []string{"B", "3"}, false},
		{"none-shown", []string{"/", "zzz", "enter"}, false},
		{"recording", []string{"/", "numpy-8", "enter", "a"}, true},
		{"bulk-count-refused", []string{"B", "o", "esc", "o", "esc", "o", "esc", "o", "esc", "o", "esc", "o", "esc", "36", "enter"}, false},
		{"matching", []string{"/", "tab", "tab", "^h"}, true},
	}
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			golden.Views(t, v.name, func(s theme.Size, th *theme.Theme) string {
				m := newModel(t, newFake(screenVerdicts()), s, th)
				keys := v.keys
				if v.wait {
					keys = keys[:len(keys)-1]
				}
				press(t, m, keys...)
				if v.wait {
					for _, r := range v.keys[len(v.keys)-1] {
						m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
					}
				}
				return m.View() + "\n"
			})
		})
	}
}
