package closing

import (
	"context"
	"errors"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/tui/internal/golden"
	"github.com/conclave-keys/conclave/tui/internal/keys"
	"github.com/conclave-keys/conclave/tui/theme"
)

var files = []File{
	{Name: "8.claimed.json", SHA256: "3f2a9c0e5b7d41e8a6c2f09b1d3e5a7c9e1f3b5d7a9c1e3f5b7d9a1c3e5f7b9d", Size: 48211},
	{Name: "decisions.json", SHA256: "a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00", Size: 2210},
	{Name: "manifest.json", SHA256: "00ffeeddccbbaa99887766554433221100f9e8d7c6b5a4938271605f4e3d2c1b", Size: 512},
}

var summary = &Summary{
	CeremonyID: "20261203T093015Z-1a2b3c4d", State: session.StateClosed,
	Head: "7c1f0a3b5d7e9f1a2c4e6b8d0f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a", Lines: 41,
	Generation: "gen-000002", GenerationHash: "5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a7c1f0a3b5d7e9f1a2c4e6b8d0f1a3c",
	Progress: []session.Progress{{Role: "claimed", Version: 8, Signed: []string{"Alice", "Bob"}, Holders: []string{"Alice", "Bob", "Carol"}, Threshold: 2}},
}

func newModel(th *theme.Theme, s theme.Size, exportErr error) *Model {
	return New(Options{
		Out:    "/media/transfer/out",
		Export: func(context.Context) ([]File, error) { return files, exportErr },
		Finish: func(context.Context) (*Summary, error) { return summary, nil },
	}, th, s)
}

// run runs a command and feeds its message back, as the program does.
func run(m *Model, c tea.Cmd) (*Model, tea.Cmd) {
	return m.Update(c())
}

// TestExportThenClose: the export's files are shown, and only enter
// closes; the summary follows and says the ceremony ended.
func TestExportThenClose(t *testing.T) {
	m := newModel(theme.New(theme.Options{}), theme.Minimum, nil)
	export := m.Init()
	if _, c := m.Update(keys.Press("enter")); c != nil {
		t.Fatal("enter closed the ceremony while the export was being written")
	}
	m, c := run(m, export)
	if c != nil || m.phase != phaseExported || len(m.files) != 3 {
		t.Fatalf("after the export: phase %d, %d files", m.phase, len(m.files))
	}
	m, c = m.Update(keys.Press("enter"))
	m, c = run(m, c)
	if e, ok := c().(Ended); !ok || e.Summary != summary || m.phase != phaseDone {
		t.Errorf("after the close: phase %d, %#v", m.phase, c())
	}
}

// TestExportFailsThenRetried: a failed export says why and what to do; r
// tries again.
func TestExportFailsThenRetried(t *testing.T) {
	fail := errors.New("write /media/transfer/out/8.claimed.json: no space left on device")
	m := newModel(theme.New(theme.Options{}), theme.Minimum, fail)
	m, _ = run(m, m.Init())
	if m.phase != phaseFailed || m.err != fail {
		t.Fatalf("phase %d, err %v", m.phase, m.err)
	}
	m, c := m.Update(keys.Press("r"))
	if c == nil || m.phase != phaseExporting {
		t.Errorf("r: phase %d", m.phase)
	}
}

func TestViews(t *testing.T) {
	golden.Views(t, "exported", func(s theme.Size, th *theme.Theme) string {
		m := newModel(th, s, nil)
		m, _ = run(m, m.Init())
		return m.View()
	})
	golden.Views(t, "failed", func(s theme.Size, th *theme.Theme) string {
		m := newModel(th, s, errors.New("write /media/transfer/out/8.claimed.json: no space left on device"))
		m, _ = run(m, m.Init())
		return m.View()
	})
	golden.Views(t, "summary", func(s theme.Size, th *theme.Theme) string {
		m := newModel(th, s, nil)
		m, _ = run(m, m.Init())
		m, c := m.Update(keys.Press("enter"))
		m, _ = run(m, c)
		return m.View()
	})
}
