package media

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/internal/fstree"
)

const (
	sataDisk = "sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"
	usbStick = "sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
	usbDisk  = "sys/devices/pci0000:00/0000:00:14.0/usb2/2-3/2-3:1.0/host7/target7:0:0/7:0:0:0/block/sdc"
	sdCard   = "sys/devices/platform/soc/mmc0/mmc0:0001/block/mmcblk0"
	// luksStick holds an encrypted volume, opened as dm-0.
	luksStick = "sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host8/target8:0:0/8:0:0:0/block/sdd"
	// usbBtrfs is mounted with btrfs, whose mountinfo device number is anonymous.
	usbBtrfs = "sys/devices/pci0000:00/0000:00:14.0/usb2/2-4/2-4:1.0/host9/target9:0:0/9:0:0:0/block/sde"
)

// machine is a laptop with its own SATA disk (and an encrypted /home on
// it, dm-1), a USB stick (removable flag set), a USB disk (flag not set,
// read-only, a space in its mount point), an SD card used whole, whose
// label holds a terminal escape, an encrypted USB stick opened as dm-0,
// and a USB disk with btrfs.
func machine(t *testing.T) string {
	return fstree.Write(t, map[string]string{
		"proc/self/mountinfo": `22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
28 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 28 0:25 / /tmp rw shared:3 - tmpfs tmpfs rw,size=1024k
40 28 8:17 / /media/transfer rw,nosuid,nodev,relatime shared:40 - vfat /dev/sdb1 rw,fmask=0022,dmask=0022
41 28 8:33 / /media/vault\040key rw,nosuid shared:41 - ext4 /dev/sdc1 ro
42 28 179:0 / /media/card rw,nosuid master:5 - exfat /dev/mmcblk0 rw
43 28 253:0 / /media/vault rw,nosuid - ext4 /dev/mapper/vault rw,sync,nobarrier
44 28 0:45 / /media/backup rw,nosuid - btrfs /dev/sde1 rw,subvol=/
45 28 253:1 / /home rw - ext4 /dev/mapper/home rw
`,
		sataDisk + "/removable":                  "0\n",
		sataDisk + "/sda1/partition":             "1\n",
		usbStick + "/removable":                  "1\n",
		usbStick + "/sdb1/partition":             "1\n",
		usbStick + "/sdb1/ro":                    "0\n",
		usbDisk + "/removable":                   "0\n",
		usbDisk + "/sdc1/partition":              "1\n",
		sdCard + "/removable":                    "1\n",
		sdCard + "/ro":                           "0\n",
		luksStick + "/removable":                 "1\n",
		luksStick + "/sdd1/partition":            "1\n",
		usbBtrfs + "/removable":                  "0\n",
		usbBtrfs + "/sde1/partition":             "1\n",
		sataDisk + "/sda2/partition":             "1\n",
		"sys/devices/virtual/block/dm-0/dm/name": "vault\n",
		"sys/devices/virtual/block/dm-1/dm/name": "home\n",
	}, map[string]string{
		"sys/dev/block/253:0":                        "../../devices/virtual/block/dm-0",
		"sys/dev/block/253:1":                        "../../devices/virtual/block/dm-1",
		"sys/devices/virtual/block/dm-0/slaves/sdd1": "../../../../pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host8/target8:0:0/8:0:0:0/block/sdd/sdd1",
		"sys/devices/virtual/block/dm-1/slaves/sda2": "../../../../pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2",
		"sys/class/block/sde1":                       "../../devices/pci0000:00/0000:00:14.0/usb2/2-4/2-4:1.0/host9/target9:0:0/9:0:0:0/block/sde/sde1",
		"dev/disk/by-label/VAULT":                    "../../dm-0",
		"sys/dev/block/8:1":                          "../../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1",
		"sys/dev/block/8:17":                         "../../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1",
		"sys/dev/block/8:33":                         "../../devices/pci0000:00/0000:00:14.0/usb2/2-3/2-3:1.0/host7/target7:0:0/7:0:0:0/block/sdc/sdc1",
		"sys/dev/block/179:0":                        "../../devices/platform/soc/mmc0/mmc0:0001/block/mmcblk0",
		"dev/disk/by-label/TRANSFER":                 "../../sdb1",
		`dev/disk/by-label/VAULT\x20KEY`:             "../../sdc1",
		`dev/disk/by-label/EVIL\x1b[2JHIDDEN`:        "../../mmcblk0",
		"dev/disk/by-label/SYSTEM":                   "../../sda1",
	})
}

func TestList(t *testing.T) {
	root := machine(t)
	l := Lister{Root: root, Statfs: func(mp string) (Space, error) {
		if mp == "/media/card" {
			return Space{}, errors.New("statfs /media/card: input/output error")
		}
		return Space{Total: 8 << 30, Free: 3 << 30, BlockSize: 32 << 10}, nil
	}}
	media, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(media, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := `[
  {
    "device": "/dev/sde1",
    "disk": "sde",
    "mount_point": "/media/backup",
    "filesystem": "btrfs",
    "kind": "btrfs",
    "write_mode": "async",
    "warnings": [
      "its file system is btrfs; transfer media are expected to be FAT32, exFAT or ext4, the file systems Conclave is tested on"
    ],
    "read_only": false,
    "removable_because": "sde is connected by USB",
    "space": {
      "total_bytes": 8589934592,
      "free_bytes": 3221225472,
      "block_size": 32768
    }
  },
  {
    "device": "/dev/mmcblk0",
    "disk": "mmcblk0",
    "mount_point": "/media/card",
    "filesystem": "exfat",
    "kind": "exFAT",
    "write_mode": "async",
    "label": "EVIL\u001b[2JHIDDEN",
    "read_only": false,
    "removable_because": "the kernel marks mmcblk0 as removable",
    "space_error": "statfs /media/card: input/output error"
  },
  {
    "device": "/dev/sdb1",
    "disk": "sdb",
    "mount_point": "/media/transfer",
    "filesystem": "vfat",
    "kind": "FAT32",
    "write_mode": "async",
    "label": "TRANSFER",
    "read_only": false,
    "removable_because": "the kernel marks sdb as removable",
    "space": {
      "total_bytes": 8589934592,
      "free_bytes": 3221225472,
      "block_size": 32768
    }
  },
  {
    "device": "/dev/mapper/vault",
    "disk": "sdd",
    "mount_point": "/media/vault",
    "filesystem": "ext4",
    "kind": "ext4",
    "write_mode": "sync",
    "warnings": [
      "it is mounted with nobarrier: a sync does not wait for the medium to store the data, so a file Conclave reports written may be lost when the medium is pulled out; mount it without nobarrier"
    ],
    "label": "VAULT",
    "read_only": false,
    "removable_because": "dm-0 is a mapped volume (encrypted or LVM) on sdd; the kernel marks sdd as removable",
    "space": {
      "total_bytes": 8589934592,
      "free_bytes": 3221225472,
      "block_size": 32768
    }
  },
  {
    "device": "/dev/sdc1",
    "disk": "sdc",
    "mount_point": "/media/vault key",
    "filesystem": "ext4",
    "kind": "ext4",
    "write_mode": "async",
    "label": "VAULT KEY",
    "read_only": true,
    "removable_because": "sdc is connected by USB",
    "space": {
      "total_bytes": 8589934592,
      "free_bytes": 3221225472,
      "block_size": 32768
    }
  }
]`
	if string(got) != want {
		t.Fatalf("List:\n%s\nwant:\n%s", got, want)
	}

	var buf bytes.Buffer
	if err := WriteText(&buf, media); err != nil {
		t.Fatal(err)
	}
	wantText := `5 removable media mounted. (Conclave never mounts or unmounts anything.)

/dev/sde1, no label
  mounted at   /media/backup
  file system  btrfs, read-write, async writes
  free space   3.0 GiB of 8.0 GiB
  removable    yes: sde is connected by USB
  WARNING      its file system is btrfs; transfer media are expected to be FAT32, exFAT or ext4, the file systems Conclave is tested on

/dev/mmcblk0, label "EVIL\x1b[2JHIDDEN"
  mounted at   /media/card
  file system  exFAT (exfat), read-write, async writes
  free space   unknown (statfs /media/card: input/output error)
  removable    yes: the kernel marks mmcblk0 as removable

/dev/sdb1, label "TRANSFER"
  mounted at   /media/transfer
  file system  FAT32 (vfat), read-write, async writes
  free space   3.0 GiB of 8.0 GiB
  removable    yes: the kernel marks sdb as removable

/dev/mapper/vault, label "VAULT"
  mounted at   /media/vault
  file system  ext4, read-write, sync writes
  free space   3.0 GiB of 8.0 GiB
  removable    yes: dm-0 is a mapped volume (encrypted or LVM) on sdd; the kernel marks sdd as removable
  WARNING      it is mounted with nobarrier: a sync does not wait for the medium to store the data, so a file Conclave reports written may be lost when the medium is pulled out; mount it without nobarrier

/dev/sdc1, label "VAULT KEY"
  mounted at   /media/vault key
  file system  ext4, READ-ONLY
  free space   3.0 GiB of 8.0 GiB
  removable    yes: sdc is connected by USB
`
	if buf.String() != wantText {
		t.Fatalf("WriteText:\n%s\nwant:\n%s", buf.String(), wantText)
	}
	if strings.ContainsRune(buf.String(), 0x1b) {
		t.Fatal("a label's escape character reached the terminal")
	}
}

func TestListNothing(t *testing.T) {
	root := fstree.Write(t, map[string]string{"proc/self/mountinfo": "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n"}, nil)
	media, err := Lister{Root: root}.List()
	if err != nil || len(media) != 0 {
		t.Fatalf("List = %v, %v", media, err)
	}
	var buf bytes.Buffer
	WriteText(&buf, media)
	if want := "No removable medium is mounted. (Conclave never mounts anything: insert the medium and mount it with the system's tools.)\n"; buf.String() != want {
		t.Fatalf("got %q", buf.String())
	}
}

func TestListBadMountinfo(t *testing.T) {
	root := fstree.Write(t, map[string]string{"proc/self/mountinfo": "28 1 8:1 / / rw ext4 /dev/sda1 rw\n"}, nil)
	_, err := Lister{Root: root}.List()
	if err == nil || err.Error() != "list mounts: mountinfo line 1: unexpected format" {
		t.Fatalf("error = %v", err)
	}
	_, err = Lister{Root: t.TempDir()}.List()
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error = %v, want ErrNotExist", err)
	}
}

// TestParseMountinfoOtherSpaces: the kernel separates mountinfo's fields
// with a space and escapes only space, tab, newline and backslash in a
// path (proc(5)); a no-break space or NEL in a mount point (udisks names
// it after the medium's label, which the medium chooses) is part of the
// path, not a separator that would shift the fields and let the label
// name the file system, the device and the options.
func TestParseMountinfoOtherSpaces(t *testing.T) {
	mp := "/media/u/a\u00a0b\u00a0-\u00a0ext4\u00a0/dev/fake\u0085ro"
	ms, err := parseMountinfo(strings.NewReader("40 28 8:17 / " + mp + " rw,nosuid shared:40 - vfat /dev/sdb1 rw\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := mount{majMin: "8:17", mountPoint: mp, options: "rw,nosuid", fsType: "vfat", source: "/dev/sdb1", superOpts: "rw"}
	if len(ms) != 1 || ms[0] != want {
		t.Errorf("parsed %+v, want %+v", ms, want)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`a\040b`: "a b", `a\134b`: `a\b`, `trail\04`: `trail\04`, `x\999`: `x\999`} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{`A\x20B`: "A B", `A\x2fB`: "A/B", `A\x2`: `A\x2`, `A\xzz`: `A\xzz`} {
		if got := unescapeUdev(in); got != want {
			t.Errorf("unescapeUdev(%q) = %q, want %q", in, got, want)
		}
	}
	for n, want := range map[uint64]string{0: "0 bytes", 1023: "1023 bytes", 1536: "1.5 KiB", 3 << 30: "3.0 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestWriteTextEscapesEverything: every field of a medium comes from the
// mount table, /sys or the medium itself, and statfs's error quotes the
// mount point. Each is shown through termtext, never obeyed: the device
// name's byte that is not UTF-8 used to reach the terminal raw, and the
// statfs error and the removable reason were printed as they were.
func TestWriteTextEscapesEverything(t *testing.T) {
	const evil = "e\x1b[8m\u202e\xff"
	var buf bytes.Buffer
	err := WriteText(&buf, []Medium{{
		Device: "/dev/" + evil, MountPoint: "/media/" + evil, Filesystem: "vfat" + evil, Label: evil + `"`,
		RemovableBecause: evil + " is connected by USB", SpaceError: "statfs /media/" + evil + ": input/output error",
	}})
	if err != nil {
		t.Fatal(err)
	}
	const esc = `e\x1b[8m\u202e\xff`
	want := "1 removable medium mounted. (Conclave never mounts or unmounts anything.)\n\n" +
		"/dev/" + esc + `, label "` + esc + `\""` + "\n" +
		"  mounted at   /media/" + esc + "\n" +
		"  file system  vfat" + esc + ", read-write\n" +
		"  free space   unknown (statfs /media/" + esc + ": input/output error)\n" +
		"  removable    yes: " + esc + " is connected by USB\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestAssess: the kind of a medium's file system, its write mode and the
// warnings, from its mount and its measured space.
func TestAssess(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		fsType, options, superOpts string
		space                      *Space
		kind, mode                 string
		warnings                   int
	}{
		{"vfat", "rw", "rw,fmask=0022", &Space{Total: 8 * gib, BlockSize: 32 << 10}, "FAT32", "async", 0},
		{"vfat", "rw", "rw", &Space{Total: 32 << 20, BlockSize: 1 << 10}, "FAT16", "async", 1},
		{"vfat", "rw", "rw", &Space{Total: 1 << 20, BlockSize: 512}, "FAT12", "async", 1},
		{"vfat", "rw", "rw", nil, "FAT", "async", 0},
		{"vfat", "rw", "rw", &Space{BlockSize: 1024}, "FAT", "async", 0}, // a driver that reports no size
		{"vfat", "rw", "rw,sync", nil, "FAT", "sync", 0},
		{"exfat", "rw,sync", "rw", nil, "exFAT", "sync", 0},
		{"ext4", "rw", "rw,barrier=0", nil, "ext4", "async", 1},
		{"fuseblk", "rw", "rw,user_id=0", nil, "fuseblk", "async", 1},
		{"fuse.fusefat", "rw", "rw,user_id=0", nil, "fuse.fusefat", "async", 1},
		{"ntfs3", "rw", "rw", nil, "ntfs3", "async", 1},
	} {
		med := Medium{Filesystem: c.fsType, Space: c.space}
		assess(&med, mount{fsType: c.fsType, options: c.options, superOpts: c.superOpts})
		if med.Kind != c.kind || med.WriteMode != c.mode || len(med.Warnings) != c.warnings {
			t.Errorf("%s %s / %s %+v: kind %s, mode %s, warnings %q; want %s, %s, %d", c.fsType, c.options, c.superOpts, c.space, med.Kind, med.WriteMode, med.Warnings, c.kind, c.mode, c.warnings)
		}
	}
}
