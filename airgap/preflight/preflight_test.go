package preflight

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/media"
	"github.com/conclave-keys/conclave/internal/fstree"
	"github.com/conclave-keys/conclave/internal/termtext"
)

const routeHeader = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"

// ipv6Unreachable is the reject route the kernel always keeps on lo.
const ipv6Unreachable = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"

var fixedNow = time.Date(2026, time.November, 24, 16, 30, 5, 0, time.UTC)

func checker(root string) Checker {
	return Checker{Root: root, Now: func() time.Time { return fixedNow }, Location: time.FixedZone("CET", 3600)}
}

// airGapped: loopback up, a wired card down without link, a Wi-Fi card
// down, both radios blocked, no routes, one USB stick mounted.
func airGapped(t *testing.T) string {
	return fstree.Write(t, map[string]string{
		"sys/class/net/lo/flags":                             "0x9\n",
		"sys/class/net/lo/operstate":                         "unknown\n",
		"sys/class/net/lo/carrier":                           "1\n",
		"sys/class/net/enp3s0/flags":                         "0x1002\n",
		"sys/class/net/enp3s0/operstate":                     "down\n",
		"sys/class/net/wlp2s0/flags":                         "0x1002\n",
		"sys/class/net/wlp2s0/operstate":                     "down\n",
		"sys/class/net/wlp2s0/wireless/x":                    "",
		"sys/class/rfkill/rfkill0/type":                      "wlan\n",
		"sys/class/rfkill/rfkill0/name":                      "phy0\n",
		"sys/class/rfkill/rfkill0/soft":                      "1\n",
		"sys/class/rfkill/rfkill0/hard":                      "0\n",
		"sys/class/rfkill/rfkill1/type":                      "bluetooth\n",
		"sys/class/rfkill/rfkill1/name":                      "hci0\n",
		"sys/class/rfkill/rfkill1/soft":                      "0\n",
		"sys/class/rfkill/rfkill1/hard":                      "1\n",
		"proc/net/route":                                     routeHeader,
		"proc/net/ipv6_route":                                ipv6Unreachable,
		"proc/self/mountinfo":                                "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n40 28 8:17 / /media/transfer rw - vfat /dev/sdb1 rw\n",
		"sys/devices/pci0/usb1/1-1/block/sdb/removable":      "1\n",
		"sys/devices/pci0/usb1/1-1/block/sdb/sdb1/partition": "1\n",
	}, map[string]string{
		"sys/dev/block/8:17":         "../../devices/pci0/usb1/1-1/block/sdb/sdb1",
		"dev/disk/by-label/TRANSFER": "../../sdb1",
	})
}

func TestAirGapped(t *testing.T) {
	c := checker(airGapped(t))
	c.Statfs = func(string) (media.Space, error) {
		return media.Space{Total: 16 << 30, Free: 12 << 30, BlockSize: 32 << 10}, nil
	}
	r := c.Run()
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := `Conclave preflight, 2026-11-24 16:30:05 UTC

PASS       Network interfaces [network.interfaces]
           None of the 2 network interfaces other than loopback is switched on
           or connected.
             - enp3s0 (wired or virtual): switched off, operational state down
             - wlp2s0 (wireless): switched off, operational state down

PASS       IPv4 default route [network.default-route-ipv4]
           There is no IPv4 default route.

PASS       IPv6 default route [network.default-route-ipv6]
           There is no IPv6 default route.

PASS       Radios (Wi-Fi, Bluetooth…) [radio.rfkill]
           All 2 radios are off.
             - Wi-Fi phy0 (rfkill0): off (blocked in software)
             - Bluetooth hci0 (rfkill1): off (hardware switch)

CONFIRM    Clock [clock]
           The expiry dates of what is signed are computed from this clock. A
           person must compare it with a trusted clock kept outside this
           machine.
             - UTC:   Tuesday 24 November 2026, 16:30:05 UTC
             - local: Tuesday 24 November 2026, 17:30:05 CET (+01:00)
           To confirm: Does this time match a trusted clock, to the minute?

INFO       Removable media [media.removable]
           1 removable medium mounted.
             - /dev/sdb1, label "TRANSFER", FAT32 (vfat), read-write, async
               writes, 12.0 GiB free of 16.0 GiB, at "/media/transfer"

No check failed. To be confirmed by a person: Clock.
`
	if buf.String() != want {
		t.Fatalf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
	if !r.OK() {
		t.Fatal("OK() = false")
	}
}

// connected: a wired card up with a cable, a Wi-Fi radio on, default
// routes for both IPv4 and IPv6.
func TestConnected(t *testing.T) {
	root := fstree.Write(t, map[string]string{
		"sys/class/net/lo/flags":        "0x9\n",
		"sys/class/net/eth0/flags":      "0x1003\n",
		"sys/class/net/eth0/operstate":  "up\n",
		"sys/class/net/eth0/carrier":    "1\n",
		"sys/class/net/usb0/flags":      "0x1002\n",
		"sys/class/net/usb0/operstate":  "down\n",
		"sys/class/net/usb0/carrier":    "1\n",
		"sys/class/rfkill/rfkill0/type": "wlan\n",
		"sys/class/rfkill/rfkill0/name": "phy0\n",
		"sys/class/rfkill/rfkill0/soft": "0\n",
		"sys/class/rfkill/rfkill0/hard": "0\n",
		"proc/net/route":                routeHeader + "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\neth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
		"proc/net/ipv6_route":           ipv6Unreachable + "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003     eth0\n",
		"proc/self/mountinfo":           "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
	}, nil)
	r := checker(root).Run()
	got := map[string]Result{}
	for _, res := range r.Results {
		got[res.ID] = res
	}
	for _, tc := range []struct {
		id, msg string
		details []string
	}{
		{IDInterfaces, "Network interfaces eth0, usb0 are switched on or connected: this machine is not air-gapped. Switch them off (ip link set eth0 down) and unplug any cable; better, remove the network hardware.",
			[]string{"eth0 (wired or virtual): switched on, link detected, operational state up", "usb0 (wired or virtual): switched off, link detected, operational state down"}},
		{IDRouteIPv4, "There is an IPv4 default route: this machine is set up to reach other networks. Remove it (ip -4 route flush default) and find out what configured it.",
			[]string{"default route via 192.168.1.1 on eth0"}},
		{IDRouteIPv6, "There is an IPv6 default route: this machine is set up to reach other networks. Remove it (ip -6 route flush default) and find out what configured it (often router advertisements).",
			[]string{"default route via fe80::1 on eth0"}},
		{IDRadios, "A radio is on: Wi-Fi phy0 (rfkill0). Switch it off (rfkill block all, or the machine's radio switch).",
			[]string{"Wi-Fi phy0 (rfkill0): ON"}},
	} {
		res := got[tc.id]
		if res.Status != Fail || res.Message != tc.msg || strings.Join(res.Details, "|") != strings.Join(tc.details, "|") {
			t.Errorf("%s: got %s %q %q\nwant fail %q %q", tc.id, res.Status, res.Message, res.Details, tc.msg, tc.details)
		}
	}
	if r.Failed != 4 || r.OK() {
		t.Fatalf("Failed = %d, want 4", r.Failed)
	}
	var buf bytes.Buffer
	r.WriteText(&buf)
	if !strings.HasSuffix(buf.String(), "\n4 of 6 checks FAILED. Do not go on with a ceremony until each is fixed. To be\nconfirmed by a person: Clock.\n") {
		t.Fatalf("text ends:\n%s", buf.String())
	}
}

// TestCannotCheck: an empty root (no /sys, no /proc) must leave every
// check that looks at the system unchecked, never passed, and the report
// not OK.
func TestCannotCheck(t *testing.T) {
	r := checker(t.TempDir()).Run()
	want := map[string]Status{IDInterfaces: Unchecked, IDRouteIPv4: Unchecked, IDRouteIPv6: Unchecked, IDRadios: Unchecked, IDClock: Confirm, IDRemovable: Unchecked}
	for _, res := range r.Results {
		if res.Status != want[res.ID] {
			t.Errorf("%s: status %s, want %s (%s)", res.ID, res.Status, want[res.ID], res.Message)
		}
	}
	if r.OK() || r.Failed != 0 || r.Unchecked != 5 {
		t.Errorf("OK %v, failed %d, unchecked %d; want not OK, 0, 5", r.OK(), r.Failed, r.Unchecked)
	}
	if got := r.Results[0].Message; !strings.HasPrefix(got, "Could not check the network interfaces (open ") || !strings.HasSuffix(got, "no such file or directory). Without this check the air gap is not shown: make sure /sys is mounted.") {
		t.Errorf("interfaces message: %q", got)
	}
}

func TestClockUnset(t *testing.T) {
	c := checker(t.TempDir())
	c.Now = func() time.Time { return time.Date(1970, 1, 1, 0, 0, 42, 0, time.UTC) }
	res := c.clock(c.Now())
	if res.Status != Fail || res.Message != "The clock is wrong: it is before 1 January 2026. Set it from a trusted clock before the ceremony; expiry dates are computed from it." {
		t.Fatalf("got %s %q", res.Status, res.Message)
	}
}

func TestJSON(t *testing.T) {
	r := checker(airGapped(t)).Run()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back struct {
		CheckedAt time.Time `json:"checked_at"`
		OK        bool      `json:"ok"`
		Failed    int       `json:"failed"`
		Unchecked int       `json:"unchecked"`
		Overrides int       `json:"overridden"`
		Results   []Result  `json:"results"`
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, res := range back.Results {
		ids = append(ids, res.ID+"="+string(res.Status))
	}
	want := "network.interfaces=pass network.default-route-ipv4=pass network.default-route-ipv6=pass radio.rfkill=pass clock=confirm media.removable=info"
	if !back.OK || back.Failed != 0 || !back.CheckedAt.Equal(fixedNow) || strings.Join(ids, " ") != want {
		t.Fatalf("JSON: ok=%v failed=%d at=%v ids=%s", back.OK, back.Failed, back.CheckedAt, strings.Join(ids, " "))
	}
}

// withFiles is the air-gapped fixture with some files replaced (a value of
// "-" removes the file, or every file under a directory ending in "/").
func withFiles(t *testing.T, change map[string]string) string {
	t.Helper()
	root := airGapped(t)
	for p, data := range change {
		full := filepath.Join(root, filepath.FromSlash(p))
		if data == "-" {
			if err := os.RemoveAll(full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func result(t *testing.T, r *Report, id string) Result {
	t.Helper()
	for _, res := range r.Results {
		if res.ID == id {
			return res
		}
	}
	t.Fatalf("no result %s", id)
	return Result{}
}

// TestRegressionCouldNotLookIsUnchecked: each way a check finds nothing to
// look at used to pass (IPv6 "disabled", no rfkill devices) or to read as
// a network found; each is now unchecked, and blocks.
func TestRegressionCouldNotLookIsUnchecked(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change map[string]string
		id     string
		msg    string
	}{
		{"no IPv6 routing table", map[string]string{"proc/net/ipv6_route": "-"}, IDRouteIPv6,
			"There is no IPv6 routing table to read (/proc/net/ipv6_route is missing): IPv6 may be disabled in the kernel, or /proc is not mounted, and Conclave cannot tell which. If IPv6 is disabled on purpose, override this check with that reason."},
		{"no rfkill class", map[string]string{"sys/class/rfkill": "-"}, IDRadios,
			"The kernel publishes no radio switches (/sys/class/rfkill is missing). Conclave cannot see whether a radio is on: a radio whose driver has no rfkill switch does not show here. If the machine has no radio hardware, override this check with that reason."},
		{"no rfkill devices", map[string]string{"sys/class/rfkill/rfkill0": "-", "sys/class/rfkill/rfkill1": "-"}, IDRadios,
			"The machine reports no radio switch (no rfkill devices). Conclave cannot see whether a radio is on: a radio whose driver has no rfkill switch does not show here. If the machine has no radio hardware, override this check with that reason."},
		{"a radio whose state cannot be read", map[string]string{"sys/class/rfkill/rfkill1/soft": "-"}, IDRadios,
			"The state of Bluetooth hci0 (rfkill1) could not be read, so nothing shows that it is off."},
		{"an interface whose flags cannot be read", map[string]string{"sys/class/net/enp3s0/flags": "-"}, IDInterfaces,
			"The state of network interface enp3s0 could not be read, so nothing shows that it is switched off."},
		{"no IPv4 routing table", map[string]string{"proc/net/route": "-"}, IDRouteIPv4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := checker(withFiles(t, tc.change)).Run()
			res := result(t, r, tc.id)
			if res.Status != Unchecked || (tc.msg != "" && res.Message != tc.msg) {
				t.Errorf("got %s %q\nwant unchecked %q", res.Status, res.Message, tc.msg)
			}
			if r.OK() || r.Unchecked != 1 || r.Failed != 0 {
				t.Errorf("OK %v, unchecked %d, failed %d; want not OK, 1, 0", r.OK(), r.Unchecked, r.Failed)
			}
			var buf bytes.Buffer
			r.WriteText(&buf)
			if !strings.Contains(buf.String(), "\nUNCHECKED  ") || !strings.Contains(buf.String(), "\n1 check of 6 could not look (UNCHECKED). Do not go on with a ceremony until each") {
				t.Errorf("text:\n%s", buf.String())
			}
		})
	}
}

// TestOverride: a written reason lets the report pass a check that could
// not look, and is shown; it never passes a check that looked and found a
// network, and an override that was not needed is shown as unused.
func TestOverride(t *testing.T) {
	root := withFiles(t, map[string]string{"proc/net/ipv6_route": "-", "sys/class/net/enp3s0/flags": "0x1003\n"})
	c := checker(root)
	c.Overrides = map[string]string{
		IDRouteIPv6:  "ipv6.disable=1 on the kernel command line \x1b[8m\u202e",
		IDInterfaces: "we know",
		IDRouteIPv4:  "not needed",
	}
	r := c.Run()
	if got := result(t, r, IDRouteIPv6); got.Status != Unchecked || got.Override != c.Overrides[IDRouteIPv6] {
		t.Errorf("IPv6: %s, override %q", got.Status, got.Override)
	}
	if got := result(t, r, IDInterfaces); got.Status != Fail || got.Override != "" {
		t.Errorf("interfaces: %s, override %q; an override must not pass a check that looked", got.Status, got.Override)
	}
	if r.OK() || r.Failed != 1 || r.Unchecked != 0 || r.Overridden != 1 || strings.Join(r.UnusedOverrides, " ") != "network.interfaces network.default-route-ipv4" {
		t.Errorf("OK %v failed %d unchecked %d overridden %d unused %v", r.OK(), r.Failed, r.Unchecked, r.Overridden, r.UnusedOverrides)
	}
	var buf bytes.Buffer
	r.WriteText(&buf)
	for _, want := range []string{
		"\n           OVERRIDDEN, with the reason: ipv6.disable=1 on the kernel command\n           line \\x1b[8m\\u202e\n",
		"\n1 of 6 checks FAILED. Do not go on with a ceremony until each is fixed. Could\nnot look, overridden with a written reason: IPv6 default route. Not used,\nbecause the check could look: the override for network.interfaces,\nnetwork.default-route-ipv4. To be confirmed by a person: Clock.\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	r.WriteJSON(&buf)
	if !strings.Contains(buf.String(), `"override": "ipv6.disable=1 on the kernel command line \u001b[8m`+"\u202e"+`"`) {
		t.Errorf("JSON must keep the reason exact:\n%s", buf.String())
	}

	c.Overrides = map[string]string{IDRouteIPv6: "ipv6.disable=1"}
	c.Root = withFiles(t, map[string]string{"proc/net/ipv6_route": "-"})
	if r := c.Run(); !r.OK() || r.Overridden != 1 {
		t.Errorf("overridden alone: OK %v, overridden %d", r.OK(), r.Overridden)
	}
}

func TestParseOverride(t *testing.T) {
	id, reason, err := ParseOverride("radio.rfkill= no radio hardware: board has none ")
	if err != nil || id != IDRadios || reason != "no radio hardware: board has none" {
		t.Fatalf("got %q %q %v", id, reason, err)
	}
	for in, want := range map[string]string{
		"radio.rfkill":     `override "radio.rfkill" is not written ID=REASON`,
		"radio=none":       `override "radio=none": no check has the ID "radio" (the IDs are network.interfaces, network.default-route-ipv4, network.default-route-ipv6, radio.rfkill, clock, media.removable)`,
		"radio.rfkill=   ": `override "radio.rfkill=   ": the reason is empty; say why it is safe to go on without this check`,
	} {
		if _, _, err := ParseOverride(in); err == nil || err.Error() != want {
			t.Errorf("ParseOverride(%q) = %v, want %s", in, err, want)
		}
	}
}

// TestRemovableWarnings: a stick formatted NTFS and one mounted so that a
// sync does not reach it are named in the details, and the message says
// there are warnings to read; the check stays for the record (Info).
func TestRemovableWarnings(t *testing.T) {
	root := fstree.Write(t, map[string]string{
		"proc/self/mountinfo":                                "40 28 8:17 / /media/a rw - ntfs3 /dev/sdb1 rw\n41 28 8:33 / /media/b rw - ext4 /dev/sdc1 rw,nobarrier\n",
		"sys/devices/pci0/usb1/1-1/block/sdb/removable":      "1\n",
		"sys/devices/pci0/usb1/1-1/block/sdb/sdb1/partition": "1\n",
		"sys/devices/pci0/usb1/1-2/block/sdc/removable":      "1\n",
		"sys/devices/pci0/usb1/1-2/block/sdc/sdc1/partition": "1\n",
	}, map[string]string{
		"sys/dev/block/8:17": "../../devices/pci0/usb1/1-1/block/sdb/sdb1",
		"sys/dev/block/8:33": "../../devices/pci0/usb1/1-2/block/sdc/sdc1",
	})
	res := checker(root).removable()
	want := Result{ID: IDRemovable, Title: "Removable media", Status: Info,
		Message: "2 removable media mounted. 2 warnings below: read them before using these media.",
		Details: []string{
			`/dev/sdb1, no label, ntfs3, read-write, async writes, free space not measured, at "/media/a"`,
			"WARNING: /dev/sdb1: its file system is ntfs3; transfer media are expected to be FAT32, exFAT or ext4, the file systems Conclave is tested on",
			`/dev/sdc1, no label, ext4, read-write, async writes, free space not measured, at "/media/b"`,
			"WARNING: /dev/sdc1: it is mounted with nobarrier: a sync does not wait for the medium to store the data, so a file Conclave reports written may be lost when the medium is pulled out; mount it without nobarrier",
		}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("got  %#v\nwant %#v", res, want)
	}
}

// TestRouteOnOddInterfaceName: an interface name may hold any character
// but '/', ':' and ASCII white space, so a no-break space or NEL is part
// of it, not a field separator: a default route on such an interface is
// still found.
func TestRouteOnOddInterfaceName(t *testing.T) {
	root := airGapped(t)
	name := "wan\u00a0x\u0085y"
	for file, table := range map[string]string{
		"proc/net/route":      routeHeader + name + "\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
		"proc/net/ipv6_route": ipv6Unreachable + "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003 " + name + "\n",
	} {
		if err := os.WriteFile(filepath.Join(root, file), []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]Result{}
	for _, res := range checker(root).Run().Results {
		got[res.ID] = res
	}
	for id, want := range map[string]string{IDRouteIPv4: "default route via 192.168.1.1 on " + termtext.Safe(name), IDRouteIPv6: "default route via fe80::1 on " + termtext.Safe(name)} {
		if res := got[id]; res.Status != Fail || strings.Join(res.Details, "|") != want {
			t.Errorf("%s: %s %q, want fail %q", id, res.Status, res.Details, want)
		}
	}
}
