package review

import (
	"testing"

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
	}{
		{"table", nil},
		{"table-decided", []string{"enter", "a", "r", "the keys were never published", "enter", "esc", "G", "k", "k", "a"}},
		{"filtered", []string{"p", "/", "h-", "enter"}},
		{"regex-error", []string{"/", "tab", "tab", "(numpy"}},
		{"detail-hostile", []string{"enter"}},
		{"detail-json", []string{"enter", "tab"}},
		{"detail-long", []string{"/", "h-long", "enter", "enter"}},
		{"detail-invalid", []string{"G", "enter"}},
		{"reason", []string{"d", "waiting for the maintainers to confirm"}},
		{"refused", []string{"G", "a"}},
		{"bulk", []string{"B", "3"}},
		{"none-shown", []string{"/", "zzz", "enter"}},
	}
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			golden.Views(t, v.name, func(s theme.Size, th *theme.Theme) string {
				m := newModel(t, newFake(screenVerdicts()), s, th)
				press(t, m, v.keys...)
				return m.View() + "\n"
			})
		})
	}
}
