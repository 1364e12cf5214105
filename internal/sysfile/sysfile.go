// Package sysfile reads the small attribute files of /sys and /proc that
// the air-gap checks and the media listing look at.
package sysfile

import (
	"bytes"
	"os"
)

// ReadTrimmed reads a small attribute file (sysfs "flags", "operstate",
// "removable"…) without the white space around its value: the kernel ends
// each with a newline.
func ReadTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(b)), nil
}
