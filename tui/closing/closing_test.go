package closing

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/tui/internal/golden"
	"github.com/conclave-keys/conclave/tui/internal/keys"
	"github.com/conclave-keys/conclave/tui/signing"
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
	Progress:   []session.Progress{{Role: "claimed", Version: 8, Signed: []string{"Alice", "Bob"}, Holders: []string{"Alice", "Bob", "Carol"}, Threshold: 2}},
	HeadSigned: []string{"Alice"},
}

// headPolicy: the holders who may sign the head.
var headPolicy = &policy.Policy{Holders: []policy.Holder{
	{Name: "Alice", Keys: []policy.HolderKey{{KeyID: strings.Repeat("a1", 32), Token: policy.TokenSoftkey}}},
	{Name: "Bob", Keys: []policy.HolderKey{{KeyID: strings.Repeat("b2", 32), Token: policy.TokenSoftkey}}},
}}

// room is what the screen's steps did.
type room struct {
	closed   int
	headBy   []string
	finished int
}

func newModel(th *theme.Theme, s theme.Size, exportErr error) *Model {
	m, _ := newRoom(th, s, exportErr)
	return m
}

func newRoom(th *theme.Theme, s theme.Size, exportErr error) (*Model, *room) {
	r := &room{}
	return New(Options{
		Out:    "/media/transfer/out",
		Export: func(context.Context) ([]File, error) { return files, exportErr },
		Close:  func(context.Context) error { r.closed++; return nil },
		Head: func(size theme.Size) *signing.Model {
			return signing.NewHead(signing.HeadOptions{Policy: headPolicy, Bridge: signing.NewBridge(), Head: summary.Head, Lines: summary.Lines,
				Sign: func(_ context.Context, holder string) error { r.headBy = append(r.headBy, holder); return nil }}, th, size)
		},
		Finish: func(context.Context) (*Summary, error) { r.finished++; return summary, nil },
	}, th, s), r
}

// run runs a command and feeds its message back, as the program does.
func run(m *Model, c tea.Cmd) (*Model, tea.Cmd) {
	return m.Update(c())
}

// TestExportThenClose: the export's files are shown, and only enter
// closes; the holders then sign the log's head or pass, and only then is
// the vault's generation written; the summary says who signed the head.
func TestExportThenClose(t *testing.T) {
	m, r := newRoom(theme.New(theme.Options{}), theme.Minimum, nil)
	export := m.Init()
	if _, c := m.Update(keys.Press("enter")); c != nil {
		t.Fatal("enter closed the ceremony while the export was being written")
	}
	m, c := run(m, export)
	if c != nil || m.phase != phaseExported || len(m.files) != 3 {
		t.Fatalf("after the export: phase %d, %d files", m.phase, len(m.files))
	}
	m, c = m.Update(keys.Press("enter"))
	m, _ = run(m, c)
	if m.phase != phaseHead || r.closed != 1 || r.finished != 0 || !m.DrawsHints() {
		t.Fatalf("after the close: phase %d, closed %d, finished %d", m.phase, r.closed, r.finished)
	}
	if v := m.View(); !strings.Contains(v, "The log's head: signed by the holders who wish to") {
		t.Fatalf("no head step:\n%s", v)
	}
	m, c = m.Update(keys.Press("enter")) // Alice signs
	for _, msg := range c().(tea.BatchMsg) {
		if msg != nil {
			if signed := msg(); signed != nil {
				m, c = m.Update(signed)
				if c != nil {
					break
				}
			}
		}
	}
	if !slices.Equal(r.headBy, []string{"Alice"}) || m.phase != phaseHead {
		t.Fatalf("after Alice: signed %q, phase %d", r.headBy, m.phase)
	}
	m, c = m.Update(keys.Press("p")) // Bob passes: every holder chose
	if m.phase != phaseFinishing || c == nil {
		t.Fatalf("after Bob passed: phase %d", m.phase)
	}
	m, c = run(m, c)
	if e, ok := c().(Ended); !ok || e.Summary != summary || m.phase != phaseDone || r.finished != 1 {
		t.Errorf("after the head: phase %d, %#v", m.phase, c())
	}
	if v := m.View(); !strings.Contains(v, "the log's head signed by Alice, stored with the log in the vault") {
		t.Errorf("summary:\n%s", v)
	}
}

// TestAbandonedHasNoHead: an abandoned ceremony (nothing to export, no
// head step) goes straight to its generation.
func TestAbandonedHasNoHead(t *testing.T) {
	finished := 0
	m := New(Options{Finish: func(context.Context) (*Summary, error) { finished++; return summary, nil }}, theme.New(theme.Options{}), theme.Minimum)
	m, _ = run(m, m.Init())
	if m.phase != phaseDone || finished != 1 {
		t.Fatalf("phase %d, finished %d", m.phase, finished)
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
	golden.Views(t, "head", func(s theme.Size, th *theme.Theme) string {
		m := newModel(th, s, nil)
		m, _ = run(m, m.Init())
		m, c := m.Update(keys.Press("enter"))
		m, _ = run(m, c)
		return m.View()
	})
	golden.Views(t, "summary", func(s theme.Size, th *theme.Theme) string {
		m := newModel(th, s, nil)
		m, _ = run(m, m.Init())
		m, c := m.Update(keys.Press("enter"))
		m, _ = run(m, c)
		for _, k := range []string{"d", "y", "e", "s"} {
			m, _ = m.Update(keys.Press(k))
		}
		m, c = m.Update(keys.Press("enter"))
		m, _ = run(m, c)
		return m.View()
	})
}
