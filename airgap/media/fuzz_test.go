package media

import (
	"strings"
	"testing"
)

// FuzzParseMountinfo: the mount table parser never panics and, when it
// accepts a line, yields its fields.
func FuzzParseMountinfo(f *testing.F) {
	f.Add("40 28 8:17 / /media/transfer rw,nosuid shared:40 - vfat /dev/sdb1 rw,fmask=0022\n")
	f.Add("41 28 8:33 / /media/a\\040b ro - ext4 /dev/sdc1 ro\n")
	f.Add("1 2 3 4 5 6 -\n")
	f.Fuzz(func(t *testing.T, in string) {
		ms, err := parseMountinfo(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.majMin == "" || m.fsType == "" {
				t.Fatalf("accepted a mount without device or type: %+v", m)
			}
		}
	})
}
