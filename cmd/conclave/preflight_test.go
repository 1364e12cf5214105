package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runAirgapCLI runs the CLI in process: exit status, stdout, stderr.
func runAirgapCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

func writeFixture(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestPreflightExitStatus(t *testing.T) {
	gapped := writeFixture(t, map[string]string{
		"sys/class/net/lo/flags":        "0x9\n",
		"sys/class/rfkill/rfkill0/soft": "1\n",
		"sys/class/rfkill/rfkill0/hard": "0\n",
		"proc/net/route":                "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
		"proc/net/ipv6_route":           "",
		"proc/self/mountinfo":           "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
	})
	code, out, errOut := runAirgapCLI(t, "preflight", "--root", gapped)
	if code != 0 || errOut != "" || !strings.Contains(out, "\nNo check failed. To be confirmed by a person: Clock.\n") {
		t.Fatalf("air-gapped fixture: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// No IPv6 routing table and no radio switch: nothing to look at, which
	// blocks until people say why that is safe.
	noIPv6 := writeFixture(t, map[string]string{
		"sys/class/net/lo/flags": "0x9\n",
		"proc/net/route":         "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
		"proc/self/mountinfo":    "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
	})
	code, out, errOut = runAirgapCLI(t, "preflight", "--root", noIPv6)
	if code != 1 || errOut != "" || !strings.Contains(out, "\nUNCHECKED  IPv6 default route [network.default-route-ipv6]\n") || !strings.Contains(out, "\n2 checks of 6 could not look (UNCHECKED).") {
		t.Fatalf("fixture without IPv6 and rfkill: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runAirgapCLI(t, "preflight", "--root", noIPv6,
		"--override", "network.default-route-ipv6=ipv6.disable=1 on the kernel command line",
		"--override", "radio.rfkill=the board has no radio")
	if code != 0 || errOut != "" || !strings.Contains(out, "\n           OVERRIDDEN, with the reason: the board has no radio\n") {
		t.Fatalf("overridden: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = runAirgapCLI(t, "preflight", "--root", noIPv6, "--override", "radio.rfkill")
	if code != 2 || errOut != "error: override \"radio.rfkill\" is not written ID=REASON\nusage: conclave preflight [--json] [--override ID=REASON]... [--vault VAULT]\n" {
		t.Fatalf("bad override: exit %d, stderr %q", code, errOut)
	}

	connected := writeFixture(t, map[string]string{
		"sys/class/net/lo/flags":       "0x9\n",
		"sys/class/net/eth0/flags":     "0x1003\n",
		"sys/class/net/eth0/operstate": "up\n",
		"proc/net/route":               "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
		"proc/self/mountinfo":          "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
	})
	code, out, errOut = runAirgapCLI(t, "preflight", "--json", "--root", connected)
	if code != 1 || errOut != "" || !strings.Contains(out, `"id": "network.interfaces",`) || !strings.Contains(out, `"ok": false`) {
		t.Fatalf("connected fixture: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	code, _, errOut = runAirgapCLI(t, "preflight", "extra")
	if code != 2 || errOut != "error: preflight takes no arguments\nusage: conclave preflight [--json] [--override ID=REASON]... [--vault VAULT]\n" {
		t.Fatalf("argument: exit %d, stderr %q", code, errOut)
	}
}

func TestMediaCommand(t *testing.T) {
	root := writeFixture(t, map[string]string{"proc/self/mountinfo": "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n"})
	code, out, errOut := runAirgapCLI(t, "media", "--json", "--root", root)
	if code != 0 || out != "{\n  \"format\": \"conclave-media/1\",\n  \"media\": []\n}\n" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	empty := t.TempDir()
	code, _, errOut = runAirgapCLI(t, "media", "--root", empty)
	want := "error: list mounts: open " + filepath.Join(empty, "proc/self/mountinfo") + ": no such file or directory\n" +
		"hint: Conclave reads /proc/self/mountinfo and /sys to find media: make sure /proc and /sys are mounted\n"
	if code != 3 || errOut != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut, want)
	}
}
