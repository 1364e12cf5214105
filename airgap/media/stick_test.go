package media

import (
	"testing"

	"github.com/conclave-keys/conclave/internal/loopmedium"
)

// TestFAT32KindOnRealImage: a FAT32 image of 64 MiB with 512-byte
// clusters made by mkfs.vfat is told FAT32 from what statfs says of it
// (its cluster count), not taken for FAT16 by its small size.
func TestFAT32KindOnRealImage(t *testing.T) {
	m := loopmedium.Mount(t, loopmedium.Spec{FS: loopmedium.FAT32})
	if m.Driver == "fusefat" {
		loopmedium.Skip(t, "fusefat, the FUSE FAT32 driver used where the kernel has no vfat, reports no size (statfs gives 0 blocks): the cluster count is checked with the kernel's vfat only")
	}
	sp, err := Statfs(m.Dir)
	if err != nil {
		t.Fatal(err)
	}
	med := Medium{Filesystem: "vfat", Space: &sp}
	assess(&med, mount{fsType: "vfat", options: "rw", superOpts: "rw"})
	if med.Kind != "FAT32" || len(med.Warnings) != 0 {
		t.Errorf("kind %s, warnings %q (space %+v); want FAT32 and none", med.Kind, med.Warnings, sp)
	}
}
