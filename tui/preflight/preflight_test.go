package preflight

import (
	"errors"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/tui/internal/golden"
	"github.com/conclave-keys/conclave/tui/internal/keys"
	"github.com/conclave-keys/conclave/tui/theme"
)

var now = time.Date(2026, 12, 3, 9, 30, 15, 0, time.UTC)

func report() (*preflight.Report, []session.Check) {
	r := &preflight.Report{CheckedAt: now, Failed: 1, Unchecked: 1, Results: []preflight.Result{
		{ID: preflight.IDInterfaces, Title: "Network interfaces", Status: preflight.Fail, Message: "Interface wlan0 is up. Bring it down (ip link set wlan0 down) or unplug it, then run the checks again.", Details: []string{"wlan0: up, 2 addresses"}},
		{ID: preflight.IDRouteIPv4, Title: "Default route (IPv4)", Status: preflight.Pass, Message: "No default route."},
		{ID: preflight.IDRadios, Title: "Radios", Status: preflight.Unchecked, Message: "The radios could not be listed: /sys/class/rfkill is missing."},
		{ID: preflight.IDClock, Title: "Clock", Status: preflight.Info, Message: "The clock says 2026-12-03 09:30:15 UTC."},
	}}
	var cs []session.Check
	for _, x := range r.Results {
		cs = append(cs, session.Check{ID: x.ID, Status: string(x.Status), Message: x.Message})
	}
	return r, cs
}

func newModel(th *theme.Theme, s theme.Size) *Model {
	return newModelAs(th, s, false)
}

func newModelAs(th *theme.Theme, s theme.Size, rehearsal bool) *Model {
	m := New(Options{Name: "Olga", Required: []string{preflight.IDInterfaces, preflight.IDRadios}, Rehearsal: rehearsal, Run: report, Now: func() time.Time { return now }}, th, s)
	r, c := report()
	m, _ = m.Update(ranMsg{r, c})
	return m
}

func press(m *Model, ks ...string) (*Model, tea.Cmd) {
	var c tea.Cmd
	for _, k := range ks {
		m, c = m.Update(keys.Press(k))
	}
	return m, c
}

func typeText(m *Model, s string) *Model {
	for _, k := range keys.Type(s) {
		m, _ = m.Update(k)
	}
	return m
}

// TestOverrideOnlyWhereTheCheckCouldNotLook: o on a failed check refuses
// with what to do; on a check that could not look it takes a typed reason,
// which the Done carries with the checks and the clock confirmed.
func TestOverrideOnlyWhereTheCheckCouldNotLook(t *testing.T) {
	m := newModel(theme.New(theme.Options{}), theme.Minimum)
	m, _ = press(m, "o")
	if m.phase != phaseChecks || m.notice != "only a check that could not look takes an override; a failed check must be fixed, then run again (r)" {
		t.Fatalf("override of a failed check: phase %d, notice %q", m.phase, m.notice)
	}
	m, _ = press(m, "down", "down", "o")
	if m.phase != phaseReason || !m.Typing() {
		t.Fatalf("override of an unchecked check: phase %d", m.phase)
	}
	m = typeText(m, "the laptop has no radio; checked by Wendy")
	m, _ = press(m, "enter", "enter")
	_, c := press(m, "c")
	d, ok := c().(Done)
	if !ok {
		t.Fatalf("c sent %T, not Done", c())
	}
	want := map[string]string{preflight.IDRadios: "the laptop has no radio; checked by Wendy"}
	if d.By != "Olga" || !d.Clock.Equal(now) || len(d.Overrides) != 1 || d.Overrides[preflight.IDRadios] != want[preflight.IDRadios] || len(d.Checks) != 4 {
		t.Errorf("Done %+v", d)
	}
}

// TestTypedReferenceTime: in a rehearsal, the time typed from the
// reference clock is the one confirmed; a malformed one is refused with the form to use.
func TestTypedReferenceTime(t *testing.T) {
	m := newModelAs(theme.New(theme.Options{}), theme.Minimum, true)
	m, _ = press(m, "enter", "t", "ctrl+u")
	m = typeText(m, "2026-12-03 9:31")
	m, c := press(m, "enter")
	if c != nil || m.notice != "write the time as YYYY-MM-DD HH:MM:SS, in UTC" {
		t.Fatalf("malformed time: notice %q", m.notice)
	}
	m, _ = press(m, "ctrl+u")
	m = typeText(m, "2026-12-03 09:31:02")
	_, c = press(m, "enter")
	d := c().(Done)
	if want := time.Date(2026, 12, 3, 9, 31, 2, 0, time.UTC); !d.Clock.Equal(want) {
		t.Errorf("clock %s, want %s", d.Clock, want)
	}
}

// TestRealCeremonyConfirmsTheMachineClock: outside a rehearsal the time
// cannot be typed, only this machine's clock confirmed.
func TestRealCeremonyConfirmsTheMachineClock(t *testing.T) {
	m := newModelAs(theme.New(theme.Options{}), theme.Minimum, false)
	m, _ = press(m, "enter", "t")
	if m.phase != phaseClock || m.notice != "a real ceremony confirms this machine's clock: if it is wrong, set it (date -s), then confirm it" {
		t.Fatalf("t in a real ceremony: phase %d, notice %q", m.phase, m.notice)
	}
	_, c := press(m, "c")
	if d := c().(Done); !d.Clock.Equal(now) {
		t.Errorf("clock %s", d.Clock)
	}
}

// TestRefusedGoesBack: the session's refusal is shown where it can be
// acted on: the clock for a clock error, the checks otherwise.
func TestRefusedGoesBack(t *testing.T) {
	m := newModel(theme.New(theme.Options{}), theme.Minimum)
	m, _ = press(m, "enter", "c")
	m, _ = m.Update(Refused{Err: errors.New("the confirmed time is not later than the vault's last ceremony"), Clock: true})
	if m.phase != phaseClock || m.refusal == "" {
		t.Errorf("clock refusal: phase %d", m.phase)
	}
	m, _ = m.Update(Refused{Err: errors.New("preflight: required checks network.interfaces neither passed nor were overridden")})
	if m.phase != phaseChecks {
		t.Errorf("checks refusal: phase %d", m.phase)
	}
}

func TestViews(t *testing.T) {
	states := map[string]func(*Model) *Model{
		"checks": func(m *Model) *Model { return m },
		"override": func(m *Model) *Model {
			m, _ = press(m, "down", "down", "o")
			return typeText(m, "the laptop has no radio; checked by Wendy")
		},
		"clock": func(m *Model) *Model { m, _ = press(m, "enter"); return m },
		"refused": func(m *Model) *Model {
			m, _ = press(m, "enter", "c")
			m, _ = m.Update(Refused{Err: errors.New("preflight: required checks network.interfaces neither passed nor were overridden; a failed check must be fixed, one that could not look needs a written reason")})
			return m
		},
	}
	for name, state := range states {
		t.Run(name, func(t *testing.T) {
			golden.Views(t, name, func(s theme.Size, th *theme.Theme) string {
				return state(newModel(th, s)).View()
			})
		})
	}
}
