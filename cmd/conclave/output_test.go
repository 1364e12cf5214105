package main

import (
	"bytes"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{6978400 * time.Microsecond, "6.98 s"},
		{1 * time.Second, "1.00 s"},
		{59994 * time.Millisecond, "60.0 s"},
		{12345 * time.Millisecond, "12.3 s"},
		{340 * time.Millisecond, "340 ms"},
		{1500 * time.Microsecond, "1.50 ms"},
		{12 * time.Microsecond, "12.0 µs"},
		{800, "800 ns"},
		{125 * time.Second, "2 min 05 s"},
		{3599600 * time.Millisecond, "1 h 00 min"},
		{62*time.Minute + 20*time.Second, "1 h 02 min"},
		{-2 * time.Second, "-2.00 s"},
	}
	for _, tc := range tests {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestShortKeyID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"69d5e3c0b1a2f4d6e8c0a2b4d6f8e0c2a4b6d8f0e2c4a6b8d0f2e4c6a8b07b52", "69d5…7b52"},
		{"abcdef012345", "abcdef012345"},
		{"69D5E3C0B1A2F4D6E8C0A2B4D6F8E0C2", "69D5E3C0B1A2F4D6E8C0A2B4D6F8E0C2"}, // not lowercase hex: whole
		{"69d5e3c0b1a2\x1b[8mhidden7b52", `69d5e3c0b1a2\x1b[8mhidden7b52`},
	}
	for _, tc := range tests {
		if got := shortKeyID(tc.id); got != tc.want {
			t.Errorf("shortKeyID(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

func TestTerminalWidth(t *testing.T) {
	// Not a terminal: 80 columns.
	if w := terminalWidth(&bytes.Buffer{}); w != 80 {
		t.Errorf("width of a buffer: %d", w)
	}
}

// TestProgressSilentOffTerminal: progress writes nothing when the output
// is not a terminal, however long the phase.
func TestProgressSilentOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := startProgress(&environment{stderr: &buf}, "judging requests", 10)
	p.Add(5)
	p.draw() // even when asked to draw
	p.Done()
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}
