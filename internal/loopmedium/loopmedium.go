// Package loopmedium gives tests the file systems of real transfer media:
// an image made by the file system's own mkfs (FAT32 by mkfs.vfat, exFAT
// by mkfs.exfat, ext4 by mkfs.ext4), attached to a loop device and
// mounted, so that what FAT does differently from ext4 (names that fold
// case, 8.3 aliases, no links, no permissions, 2-second times, 4 GiB
// files) is met as a USB stick shows it.
//
// The image is sparse and lies on a tmpfs of its own, whose size is what
// the medium can really store: a tmpfs smaller than the image makes a
// medium that claims more space than it has, as a failing or counterfeit
// stick does.
//
// The kernel's own driver is used where the kernel has one. A kernel built
// without it (as some virtual machines are, the project's CI among them)
// is met with the FUSE driver Debian packages for the same on-disk format:
// exfat-fuse, which Linux distributions used before the kernel had exFAT,
// and fusefat for FAT32. Medium.Driver says which ran, and each test logs
// it. fusefat is a weaker stand-in: it shows a volume label as a file (so
// FAT32 images are made without one), reports no size (statfs gives 0
// blocks), answers a full medium with EPERM rather than ENOSPC, and slows
// down with the number of files in a directory; tests that meet such a
// difference say so. Where neither driver nor loop devices (root with
// CAP_SYS_ADMIN) can be had, the test is skipped with the reason, and the
// reason is also appended to the file $CONCLAVE_SKIP_LOG names, so that
// scripts/test.sh can print what was not checked.
package loopmedium

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FS is a file system a medium can be made with.
type FS string

// The file systems of transfer media.
const (
	FAT32 FS = "FAT32"
	ExFAT FS = "exFAT"
	Ext4  FS = "ext4"
)

// Spec describes a medium to make.
type Spec struct {
	FS FS
	// Size is what the medium claims, in bytes; 0 means 64 MiB. FAT32
	// needs at least 33 MiB (65,525 clusters of 512 bytes).
	Size int64
	// Room is the size of the tmpfs the image lies on, as tmpfs(5)
	// writes it ("4m"): what the medium can really store. Empty gives
	// room for the whole image.
	Room string
	// ClusterSize is the FAT32 or exFAT allocation unit in bytes; 0
	// means 512 for FAT32 (small images) and mkfs.exfat's default.
	ClusterSize int
}

// Medium is a mounted medium.
type Medium struct {
	// Dir is where it is mounted.
	Dir string
	// Backing is the tmpfs the image lies on (fill it to make the
	// medium fail at once).
	Backing string
	// Device is the loop device.
	Device string
	// Driver is the file system driver that mounted it: "vfat",
	// "exfat" or "ext4" (the kernel's), "fusefat" or "exfat-fuse".
	Driver string
}

// FUSE reports whether a FUSE driver (a program) mounted the medium
// rather than the kernel.
func (m *Medium) FUSE() bool { return m.Driver == "fusefat" || m.Driver == "exfat-fuse" }

// Skip skips the test with the reason, and appends "TEST: reason" to the
// file $CONCLAVE_SKIP_LOG names, if it names one.
func Skip(tb testing.TB, format string, args ...any) {
	tb.Helper()
	reason := fmt.Sprintf(format, args...)
	if log := os.Getenv("CONCLAVE_SKIP_LOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintf(f, "%s: %s\n", tb.Name(), strings.ReplaceAll(reason, "\n", " "))
			f.Close()
		}
	}
	tb.Skip(reason)
}

// tool is a program a medium needs and the Debian package that has it.
type tool struct{ name, pkg string }

func (t tool) missing() bool {
	_, err := exec.LookPath(t.name)
	return err != nil
}

var (
	mkfsTool = map[FS]tool{FAT32: {"mkfs.vfat", "dosfstools"}, ExFAT: {"mkfs.exfat", "exfatprogs"}, Ext4: {"mkfs.ext4", "e2fsprogs"}}
	// The kernel's name for each file system, and the FUSE driver used
	// when the kernel has none.
	kernelFS = map[FS]string{FAT32: "vfat", ExFAT: "exfat", Ext4: "ext4"}
	fuseTool = map[FS]tool{FAT32: {"fusefat", "fusefat"}, ExFAT: {"mount.exfat-fuse", "exfat-fuse"}}
)

// Mount makes and mounts a medium as the Spec says; it is unmounted and
// its loop device detached when the test ends.
func Mount(tb testing.TB, s Spec) *Medium {
	tb.Helper()
	what := fmt.Sprintf("the %s medium cases are not checked", s.FS)
	if s.Size == 0 {
		s.Size = 64 << 20
	}
	mk, ok := mkfsTool[s.FS]
	if !ok {
		tb.Fatalf("loopmedium: unknown file system %q", s.FS)
	}
	for _, t := range []tool{mk, {"losetup", "mount"}, {"blockdev", "util-linux"}} {
		if t.missing() {
			Skip(tb, "%s is not installed (Debian package %s, which scripts/setup.sh installs): %s", t.name, t.pkg, what)
		}
	}
	room := s.Room
	if room == "" {
		// The image, and the tmpfs's own bookkeeping.
		room = strconv.FormatInt(s.Size+(4<<20), 10)
	}
	m := &Medium{Backing: Tmpfs(tb, 0, room)}
	img := filepath.Join(m.Backing, "medium.img")
	must(tb, os.WriteFile(img, nil, 0o600))
	must(tb, os.Truncate(img, s.Size))
	if out, err := exec.Command(mk.name, mkfsArgs(s, img)...).CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", mk.name, err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		Skip(tb, "cannot set up a loop device (%v: %s); loop devices need root with CAP_SYS_ADMIN and /dev/loop-control: %s", err, strings.TrimSpace(string(out)), what)
	}
	m.Device = strings.TrimSpace(string(out))
	// Cleanups run last-added first: unmount, then detach. A FUSE
	// driver may still hold the device for a moment after the unmount;
	// the kernel then detaches it when the driver lets go
	// (LO_FLAGS_AUTOCLEAR), and losetup reports success.
	tb.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", m.Device).CombinedOutput(); err != nil {
			tb.Errorf("losetup --detach %s: %v\n%s", m.Device, err, out)
		}
	})
	// A loop device left read-only by someone else would make this a
	// read-only medium instead.
	if out, err := exec.Command("blockdev", "--setrw", m.Device).CombinedOutput(); err != nil {
		tb.Fatalf("blockdev --setrw %s: %v\n%s", m.Device, err, out)
	}
	m.Dir = tb.TempDir()
	m.Driver = kernelFS[s.FS]
	err = unix.Mount(m.Device, m.Dir, m.Driver, 0, "")
	if errors.Is(err, unix.ENODEV) && s.FS != Ext4 {
		// The kernel has no driver for it.
		m.Driver = mountFUSE(tb, s.FS, m, what)
	} else if err != nil {
		tb.Fatalf("mount %s (%s) on %s: %v", m.Device, m.Driver, m.Dir, err)
	}
	tb.Cleanup(func() { unmount(tb, m) })
	tb.Logf("%s medium on %s (%s driver), %d bytes claimed, room %s", s.FS, m.Device, m.Driver, s.Size, room)
	return m
}

// mountFUSE mounts m with the FUSE driver for fs and returns its name.
func mountFUSE(tb testing.TB, fs FS, m *Medium, what string) string {
	tb.Helper()
	ft := fuseTool[fs]
	if ft.missing() {
		Skip(tb, "this kernel has no %s driver (mount says ENODEV), and %s, the FUSE driver for it, is not installed (Debian package %s, which scripts/setup.sh installs): %s", kernelFS[fs], ft.name, ft.pkg, what)
	}
	args := []string{m.Device, m.Dir}
	if fs == FAT32 {
		// fusefat mounts read-only unless told "rw+".
		args = append(args, "-o", "rw+")
	}
	if out, err := exec.Command(ft.name, args...).CombinedOutput(); err != nil {
		Skip(tb, "this kernel has no %s driver (mount says ENODEV), and its FUSE driver %s could not mount the image (%v: %s): %s", kernelFS[fs], ft.name, err, strings.TrimSpace(string(out)), what)
	}
	return strings.TrimPrefix(ft.name, "mount.")
}

// unmount unmounts m. A FUSE driver may answer EBUSY for a moment after
// its last file was closed, so it is asked a few times, and then detached
// lazily (the driver ends when the kernel lets it go).
func unmount(tb testing.TB, m *Medium) {
	var err error
	for range 20 {
		if err = unix.Unmount(m.Dir, 0); !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if errors.Is(err, unix.EBUSY) && m.FUSE() {
		err = unix.Unmount(m.Dir, unix.MNT_DETACH)
	}
	if err != nil {
		tb.Errorf("unmount %s: %v", m.Dir, err)
	}
}

// Remount unmounts the medium and mounts it again with the same driver,
// so that nothing of it is left in the page cache: what is read next comes
// from the image, as when a stick is carried to another machine.
func (m *Medium) Remount(tb testing.TB, fs FS) {
	tb.Helper()
	unmount(tb, m)
	if m.FUSE() {
		mountFUSE(tb, fs, m, "the medium could not be mounted again")
		return
	}
	if err := unix.Mount(m.Device, m.Dir, m.Driver, 0, ""); err != nil {
		tb.Fatalf("mount %s (%s) on %s again: %v", m.Device, m.Driver, m.Dir, err)
	}
}

func mkfsArgs(s Spec, img string) []string {
	switch s.FS {
	case FAT32:
		cluster := s.ClusterSize
		if cluster == 0 {
			cluster = 512
		}
		// -F 32: FAT32 whatever the size; -S 512: sectors of 512
		// bytes, as USB sticks have. No label: fusefat would show it
		// as a file.
		return []string{"-F", "32", "-S", "512", "-s", strconv.Itoa(cluster / 512), img}
	case ExFAT:
		args := []string{"-L", "CONCLAVE"}
		if s.ClusterSize != 0 {
			args = append(args, "-c", strconv.Itoa(s.ClusterSize))
		}
		return append(args, img)
	default:
		// No journal, few inodes, tables written now: what mkfs writes
		// stays small, and nothing is written later behind the test's
		// back.
		return []string{"-q", "-F", "-O", "^has_journal", "-N", "64", "-E", "lazy_itable_init=0", img}
	}
}

// Tmpfs mounts a tmpfs of the given size (as tmpfs(5) writes it) with the
// mount flags, unmounted when the test ends; it skips the test where
// mounting is not allowed.
func Tmpfs(tb testing.TB, flags uintptr, size string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, "size="+size+",mode=0755"); err != nil {
		Skip(tb, "cannot mount a tmpfs (%v): this needs root with CAP_SYS_ADMIN, as in the project's test container; the medium cases are not checked", err)
	}
	tb.Cleanup(func() {
		// A FUSE driver may hold the loop device, and so the image on
		// this tmpfs, for a moment after its medium was unmounted.
		var err error
		for range 20 {
			if err = unix.Unmount(dir, 0); !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(dir, unix.MNT_DETACH)
		}
		if err != nil {
			tb.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
