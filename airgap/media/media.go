// Package media lists the removable media mounted on the ceremony machine:
// the USB sticks and cards that carry bundles in and exports out.
//
// Conclave never mounts, unmounts or formats anything: mounting is left to
// the people in the room (and the operating system), so that no medium is
// touched before they decide to. This package only reads what Linux
// publishes:
//
//   - /proc/self/mountinfo (proc(5)): what is mounted where, with which file
//     system and options;
//   - /sys/dev/block/MAJ:MIN → /sys/devices/…/block/DISK[/PART] (sysfs-block
//     in the kernel's Documentation/ABI): the device behind a mount, its
//     "removable" flag and "ro" state, whether it hangs off a USB bus, and
//     for a device-mapper volume (LUKS, LVM) the devices under it
//     ("slaves"); /sys/class/block/NAME when the mount table gives an
//     anonymous device number (btrfs);
//   - /dev/disk/by-label (udev): volume labels.
//
// Every path is read under Lister.Root, so tests use a fixture tree.
package media

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/conclave-keys/conclave/internal/sysfile"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Space is the size of a mounted file system.
type Space struct {
	// Total is the size in bytes.
	Total uint64 `json:"total_bytes"`
	// Free is what an ordinary user may still write (statfs f_bavail).
	Free uint64 `json:"free_bytes"`
	// BlockSize is the file system's allocation unit (statfs f_bsize):
	// on FAT, the cluster size, which tells FAT32 from FAT16 and FAT12.
	BlockSize uint64 `json:"block_size"`
}

// Medium is one mount of a removable device.
type Medium struct {
	// Device is what is mounted, as the mount table names it:
	// "/dev/sdb1", or "/dev/mapper/vault" for an encrypted volume.
	Device string `json:"device"`
	// Disk is the removable disk it is on, e.g. "sdb" (for an encrypted
	// or LVM volume, the disk under it): the one to pull out.
	Disk string `json:"disk"`
	// MountPoint is where it is mounted.
	MountPoint string `json:"mount_point"`
	// Filesystem is the type, e.g. "vfat", "exfat", "ext4".
	Filesystem string `json:"filesystem"`
	// Kind names the file system for people: "FAT32", "FAT16" or
	// "FAT12" for vfat (by its count of clusters, as Microsoft's FAT
	// specification decides it; "FAT" when the space is not measured),
	// "exFAT", "ext4", or else the type as the mount table gives it.
	Kind string `json:"kind"`
	// WriteMode is "sync" when the medium is mounted with the sync
	// option (every write goes to the medium before it returns), else
	// "async" (writes wait in memory until synced; Conclave syncs every
	// file it writes).
	WriteMode string `json:"write_mode"`
	// Warnings say, one sentence each, why the medium may be a poor
	// transfer medium: a file system other than FAT32, exFAT or ext4, or
	// mount options under which a sync does not reach the medium.
	Warnings []string `json:"warnings,omitempty"`
	// Label is the volume label, empty when it has none. It comes from the
	// medium: show it with Printable.
	Label string `json:"label,omitempty"`
	// ReadOnly is true when the mount, the file system or the device is
	// read-only.
	ReadOnly bool `json:"read_only"`
	// RemovableBecause says why the device counts as removable.
	RemovableBecause string `json:"removable_because"`
	// Space is nil when the free space is not known (fixture trees, or
	// statfs failed: see SpaceError).
	Space      *Space `json:"space,omitempty"`
	SpaceError string `json:"space_error,omitempty"`
}

// Lister finds removable media.
type Lister struct {
	// Root is the file system root the kernel's files are read under:
	// "/" on a real machine, a fixture tree in tests.
	Root string
	// Statfs measures a mounted file system (given by its real mount
	// point). Nil leaves Space unset.
	Statfs func(mountPoint string) (Space, error)
}

// System lists the media of this machine.
func System() Lister { return Lister{Root: "/", Statfs: Statfs} }

// Statfs measures a file system with statfs(2).
func Statfs(mountPoint string) (Space, error) {
	var s unix.Statfs_t
	if err := unix.Statfs(mountPoint, &s); err != nil {
		return Space{}, fmt.Errorf("statfs %s: %w", mountPoint, err)
	}
	bs := uint64(s.Bsize)
	return Space{Total: s.Blocks * bs, Free: s.Bavail * bs, BlockSize: bs}, nil
}

func (l Lister) path(p string) string { return filepath.Join(l.Root, filepath.FromSlash(p)) }

// mount is one line of mountinfo.
type mount struct {
	majMin     string
	mountPoint string
	options    string // per-mount options
	fsType     string
	source     string
	superOpts  string
}

// parseMountinfo reads /proc/self/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Optional fields end at the lone "-".
func parseMountinfo(r io.Reader) ([]mount, error) {
	var ms []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		// One space separates the fields; strings.Fields would also
		// split at a no-break space or NEL inside a path, which the
		// kernel leaves unescaped.
		f := strings.FieldsFunc(sc.Text(), func(r rune) bool { return r == ' ' })
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 6 || sep < 0 || len(f) < sep+3 {
			return nil, fmt.Errorf("mountinfo line %d: unexpected format", line)
		}
		m := mount{majMin: f[2], mountPoint: unescapeOctal(f[4]), options: f[5], fsType: f[sep+1], source: unescapeOctal(f[sep+2])}
		if len(f) > sep+3 {
			m.superOpts = f[sep+3]
		}
		ms = append(ms, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return ms, nil
}

// unescapeOctal undoes the kernel's \ooo escapes (space, tab, newline,
// backslash) in mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unescapeUdev undoes udev's \xHH escapes in /dev/disk/by-label names.
func unescapeUdev(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hasOption(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// resolve follows one symbolic link textually (sysfs links are relative),
// so that a fixture tree's links stay inside it.
func resolve(link string) (string, error) {
	t, err := os.Readlink(link)
	if err != nil {
		return "", err
	}
	if filepath.IsAbs(t) {
		return "", fmt.Errorf("%s: absolute link target %s", link, t)
	}
	return filepath.Clean(filepath.Join(filepath.Dir(link), t)), nil
}

// List returns the removable media that are mounted, sorted by mount point.
func (l Lister) List() ([]Medium, error) {
	f, err := os.Open(l.path("/proc/self/mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	labels := l.labels()
	var media []Medium
	for _, m := range mounts {
		med, kname, ok, err := l.medium(m)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		med.Label = labels[kname]
		if l.Statfs != nil {
			sp, err := l.Statfs(m.mountPoint)
			if err != nil {
				med.SpaceError = err.Error()
			} else {
				med.Space = &sp
			}
		}
		assess(&med, m)
		media = append(media, med)
	}
	sort.Slice(media, func(i, j int) bool { return media[i].MountPoint < media[j].MountPoint })
	return media, nil
}

// medium looks up the block device behind a mount; ok is false when the
// mount is not on a removable block device. kname is the kernel's name for
// the device ("sdb1", "dm-0"), which udev's label links point to.
func (l Lister) medium(m mount) (med Medium, kname string, ok bool, err error) {
	dev, err := resolve(l.path("/sys/dev/block/" + m.majMin))
	if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(m.source, "/dev/") && !strings.Contains(m.source[len("/dev/"):], "/") {
		// btrfs reports an anonymous device number; its source
		// still names the partition.
		dev, err = resolve(l.path("/sys/class/block/" + m.source[len("/dev/"):]))
	}
	if errors.Is(err, os.ErrNotExist) {
		return Medium{}, "", false, nil // not a block device: proc, tmpfs, overlay…
	}
	if err != nil {
		return Medium{}, "", false, fmt.Errorf("find the device of %s: %w", m.mountPoint, err)
	}
	disk, why, roDev := removable(dev, 0)
	if why == "" {
		return Medium{}, "", false, nil
	}
	kname = filepath.Base(dev)
	// The name people used to mount it: /dev/sdb1, /dev/mapper/vault.
	device := "/dev/" + kname
	if strings.HasPrefix(m.source, "/dev/") {
		device = m.source
	}
	return Medium{
		Device:           device,
		Disk:             disk,
		MountPoint:       m.mountPoint,
		Filesystem:       m.fsType,
		ReadOnly:         roDev || hasOption(m.options, "ro") || hasOption(m.superOpts, "ro"),
		RemovableBecause: why,
	}, kname, true, nil
}

// FAT cluster counts (Microsoft's FAT specification, "FAT type
// determination"): fewer than 4,085 clusters is FAT12, fewer than 65,525
// FAT16, more FAT32. Linux's statfs on vfat gives the cluster size as the
// block size and the count of data clusters as the blocks.
const (
	fat16Clusters = 4085
	fat32Clusters = 65525
)

// assess fills in the medium's Kind, WriteMode and Warnings from its mount.
func assess(med *Medium, m mount) {
	med.WriteMode = "async"
	if hasOption(m.options, "sync") || hasOption(m.superOpts, "sync") {
		med.WriteMode = "sync"
	}
	switch m.fsType {
	case "vfat":
		med.Kind = "FAT"
		if sp := med.Space; sp != nil && sp.BlockSize > 0 && sp.Total > 0 {
			switch clusters := sp.Total / sp.BlockSize; {
			case clusters < fat16Clusters:
				med.Kind = "FAT12"
			case clusters < fat32Clusters:
				med.Kind = "FAT16"
			default:
				med.Kind = "FAT32"
			}
		}
	case "exfat":
		med.Kind = "exFAT"
	default:
		med.Kind = m.fsType
	}
	switch med.Kind {
	case "FAT32", "exFAT", "ext4":
	case "FAT":
		// FAT of a size not measured: nothing known against it.
	case "FAT12", "FAT16":
		med.Warnings = append(med.Warnings, "it is formatted "+med.Kind+", not FAT32: an old FAT for small media, which holds few files in its top directory; format transfer media FAT32 or exFAT")
	case "fuseblk":
		med.Warnings = append(med.Warnings, "it is mounted through a FUSE driver (fuseblk), so Conclave cannot tell its file system, nor that a sync reaches the medium; transfer media are expected to be FAT32, exFAT or ext4, mounted by the kernel's own driver")
	default:
		if strings.HasPrefix(m.fsType, "fuse.") {
			// A FUSE driver that names itself (fuse.fusefat): whether
			// a sync reaches the device is up to it.
			med.Warnings = append(med.Warnings, "it is mounted through a FUSE driver ("+m.fsType+"), so Conclave cannot tell that a sync reaches the medium; transfer media are expected to be FAT32, exFAT or ext4, mounted by the kernel's own driver")
			break
		}
		med.Warnings = append(med.Warnings, "its file system is "+m.fsType+"; transfer media are expected to be FAT32, exFAT or ext4, the file systems Conclave is tested on")
	}
	// ext4(5): with barriers off, a sync returns before the device has
	// stored the data, so a stick pulled out after Conclave reported a
	// file written may not hold it.
	for _, o := range []string{"nobarrier", "barrier=0"} {
		if hasOption(m.options, o) || hasOption(m.superOpts, o) {
			med.Warnings = append(med.Warnings, "it is mounted with "+o+": a sync does not wait for the medium to store the data, so a file Conclave reports written may be lost when the medium is pulled out; mount it without "+o)
		}
	}
}

// removable says whether the block device at sysfs path dev is removable:
// the whole disk's "removable" flag, or a USB bus on its path. A
// device-mapper device (an encrypted LUKS volume, LVM) is removable when
// a device under it is (its "slaves" directory, sysfs-block ABI). It
// returns the name of the removable disk (for a mapped device, the one
// under it), the reason (empty when not removable), and whether the device
// or its disk is read-only.
func removable(dev string, depth int) (disk, why string, ro bool) {
	diskDir := dev
	if _, err := os.Stat(filepath.Join(dev, "partition")); err == nil {
		diskDir = filepath.Dir(dev)
	}
	disk = filepath.Base(diskDir)
	for _, p := range []string{dev, diskDir} {
		if v, _ := sysfile.ReadTrimmed(filepath.Join(p, "ro")); v == "1" {
			ro = true
		}
	}
	if v, _ := sysfile.ReadTrimmed(filepath.Join(diskDir, "removable")); v == "1" {
		return disk, "the kernel marks " + disk + " as removable", ro
	}
	if onUSB(dev) {
		return disk, disk + " is connected by USB", ro
	}
	if depth >= 4 {
		return disk, "", ro
	}
	slaves, _ := os.ReadDir(filepath.Join(dev, "slaves"))
	for _, e := range slaves {
		under, err := resolve(filepath.Join(dev, "slaves", e.Name()))
		if err != nil {
			continue
		}
		if d, w, r := removable(under, depth+1); w != "" {
			return d, fmt.Sprintf("%s is a mapped volume (encrypted or LVM) on %s; %s", disk, d, w), ro || r
		}
	}
	return disk, "", ro
}

// onUSB tells whether the device's sysfs path passes through a USB host
// controller ("…/usb1/1-2/…"): USB disks often do not set "removable".
func onUSB(sysPath string) bool {
	for _, c := range strings.Split(filepath.ToSlash(sysPath), "/") {
		if strings.HasPrefix(c, "usb") && len(c) > 3 && c[3] >= '0' && c[3] <= '9' {
			return true
		}
	}
	return false
}

// labels maps device names ("sdb1") to volume labels from the udev links
// in /dev/disk/by-label. A missing directory means no labels.
func (l Lister) labels() map[string]string {
	out := map[string]string{}
	dir := l.path("/dev/disk/by-label")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		t, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		out[path.Base(filepath.ToSlash(t))] = unescapeUdev(e.Name())
	}
	return out
}

// Printable shows a string from a medium (a label) in quotes, so that a
// label can neither hide itself, repaint the terminal nor end its quote
// ([termtext.Quote]).
func Printable(s string) string { return termtext.Quote(s) }

// Size formats a byte count for people: "3.7 GiB".
func Size(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// KindText names a medium's file system with its kind first: "FAT32
// (vfat)", "ext4".
func KindText(m Medium) string {
	if m.Kind == "" || m.Kind == m.Filesystem {
		return m.Filesystem
	}
	return m.Kind + " (" + m.Filesystem + ")"
}

// WriteText prints the media for the people in the room.
func WriteText(w io.Writer, media []Medium) error {
	if len(media) == 0 {
		_, err := fmt.Fprintln(w, "No removable medium is mounted. (Conclave never mounts anything: insert the medium and mount it with the system's tools.)")
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s mounted. (Conclave never mounts or unmounts anything.)\n", termtext.Plural(len(media), "removable medium", "removable media"))
	for _, m := range media {
		label := "no label"
		if m.Label != "" {
			label = "label " + Printable(m.Label)
		}
		state := "read-write"
		if m.ReadOnly {
			state = "READ-ONLY"
		}
		fmt.Fprintf(&b, "\n%s, %s\n", termtext.Safe(m.Device), label)
		fmt.Fprintf(&b, "  mounted at   %s\n", termtext.Safe(m.MountPoint))
		if !m.ReadOnly && m.WriteMode != "" {
			state += ", " + termtext.Safe(m.WriteMode) + " writes"
		}
		fmt.Fprintf(&b, "  file system  %s, %s\n", termtext.Safe(KindText(m)), state)
		switch {
		case m.Space != nil:
			fmt.Fprintf(&b, "  free space   %s of %s\n", Size(m.Space.Free), Size(m.Space.Total))
		case m.SpaceError != "":
			fmt.Fprintf(&b, "  free space   unknown (%s)\n", termtext.Safe(m.SpaceError))
		default:
			fmt.Fprintf(&b, "  free space   not measured\n")
		}
		fmt.Fprintf(&b, "  removable    yes: %s\n", termtext.Safe(m.RemovableBecause))
		for _, w := range m.Warnings {
			fmt.Fprintf(&b, "  WARNING      %s\n", termtext.Safe(w))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
