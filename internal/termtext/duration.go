package termtext

import (
	"fmt"
	"time"
)

// Duration rounds d for people: three significant digits with a
// unit, "6.98 s", "340 ms", "12.0 µs"; from a minute up, minutes and
// whole seconds, "2 min 05 s"; from an hour, "1 h 02 min".
func Duration(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%d h %02d min", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		d = d.Round(time.Second)
		if d >= time.Hour {
			return Duration(d)
		}
		return fmt.Sprintf("%d min %02d s", d/time.Minute, d%time.Minute/time.Second)
	case d >= time.Second:
		return sig3(d.Seconds(), "s")
	case d >= time.Millisecond:
		return sig3(float64(d)/float64(time.Millisecond), "ms")
	case d >= time.Microsecond:
		return sig3(float64(d)/float64(time.Microsecond), "µs")
	}
	return fmt.Sprintf("%d ns", int64(d))
}

// sig3 prints v (1 ≤ v < 1000) with three significant digits.
func sig3(v float64, unit string) string {
	s := ""
	switch {
	case v >= 99.95:
		s = fmt.Sprintf("%.0f", v)
	case v >= 9.995:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	return s + " " + unit
}
