package termtext

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
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
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
