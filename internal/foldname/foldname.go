// Package foldname finds file names that are one file on FAT32 and exFAT
// media, the usual transfer sticks: those file systems compare names
// without regard to case (Microsoft's FAT specification, "Long directory
// entries"; the exFAT specification, section 7.2, the up-case table), so
// "A.json" and "a.json" name one file there. It is pure, for the writers
// and readers of the media (airgap/safefile) and for the bundle format's
// own checks (ceremony/bundle).
package foldname

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Set collects slash-separated paths and finds two that are one file, or
// one directory, on a stick. The zero Set is ready to use.
type Set struct {
	seen map[string]string // fold key → the path first seen with it
}

// Add adds a path and reports a path already added that differs from it
// only in case, either the whole path or one of its directories ("Requests"
// for "Requests/x" when "requests/y" was added); clash is false when
// there is none. Adding the same path twice is no clash.
func (s *Set) Add(path string) (other, clashing string, clash bool) {
	if s.seen == nil {
		s.seen = map[string]string{}
	}
	for i := len(path); i > 0; i = strings.LastIndexByte(path[:i], '/') {
		p := path[:i]
		k := Key(p)
		if prev, ok := s.seen[k]; ok {
			if prev != p {
				return prev, p, true
			}
			// Its directories were added with it.
			if i < len(path) {
				break
			}
			continue
		}
		s.seen[k] = p
	}
	return "", "", false
}

// Key maps s to a key that is the same for two strings exactly when
// strings.EqualFold says they are equal (Unicode simple case folding,
// which folds at least every pair FAT and exFAT do): each rune becomes
// the smallest rune of its folding orbit (unicode.SimpleFold).
func Key(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// The smallest rune of an ASCII letter's orbit is its upper
		// case ('K' before 'k' and the Kelvin sign).
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}
