//go:build !linux

package rehearsal

func resetPeakRSS()  {}
func peakRSS() int64 { return 0 }
