//go:build cgo

package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/rehearsal"
)

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/conclave-rehearsal-123/root.json": "/tmp/conclave-rehearsal-123/root.json",
		"/tmp/my out/root.json":                 "'/tmp/my out/root.json'",
		"/tmp/it's/root.json":                   `'/tmp/it'\''s/root.json'`,
		"":                                      "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestRehearseTooFewRequests: a rehearsal too small to show every kind
// of request is refused before anything starts.
func TestRehearseTooFewRequests(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, out, errOut := run(t, "rehearse", "--out", dir, "--requests", "5")
	if want := "error: --requests must be at least 20, so that every kind of request is shown\n"; code != exitUsage || !strings.HasPrefix(errOut, want) || out != "" {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant prefix %q", code, out, errOut, want)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (%v)", dir, err)
	}
}

// rehearsalBinary builds conclave once for the tests that run a
// rehearsal: each runs in a process of its own, because the PC/SC library
// reaches only the first private pcscd of a process, and this test binary
// starts others.
var rehearsalBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "conclave-rehearse-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "conclave")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

// rehearsalCommand returns the command for a rehearsal with its own
// temporary directory (where its tokens' private directory goes), short
// enough for pcscd's socket path; it skips when the token software is
// missing (fails under CI=true).
func rehearsalCommand(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds conclave and runs a whole rehearsal; run without -short")
	}
	if err := rehearsal.CheckTokenSoftware(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err.Error())
	}
	bin, err := rehearsalBinary()
	if err != nil {
		t.Fatalf("go build: %v", err)
	}
	tmp, err := os.MkdirTemp("", "cr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	cmd := exec.Command(bin, append([]string{"rehearse"}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	return cmd, tmp
}

// leftBehind lists what a rehearsal left in its temporary directory, and
// the processes still running from it (a private pcscd names its reader
// configuration there).
func leftBehind(t *testing.T, tmp string) []string {
	t.Helper()
	var left []string
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		left = append(left, filepath.Join(tmp, e.Name()))
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(tmp)) {
			left = append(left, "process: "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return left
}

// TestRehearseEndToEnd runs a whole rehearsal — two virtual YubiKeys
// through a private pcscd and vpcd, SoftHSM, the headless ceremony — and
// checks its output independently: conclave verify accepts the export
// from the generated root, the decision report and the rehearsal notice
// are there, the output says where everything went and that it is a
// rehearsal, and nothing is left running or lying in the temporary
// directory.
func TestRehearseEndToEnd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	cmd, tmp := rehearsalCommand(t, "--out", out, "--requests", "60")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("conclave rehearse: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	text := stdout.String()
	for _, want := range []string{
		"REHEARSAL — virtual YubiKeys and a SoftHSM token",
		"start tokens: 2 virtual YubiKeys (pcscd, vpcd), SoftHSM",
		"adopt the repository into a vault (binding: Alice, Carol)",
		"the ceremony, from opening to close",
		"verify the export as a TUF client would (conclave verify)",
		"compare the export with the planned decisions",
		"search every file written for a PIN (none found)",
		"tokens stopped, their private directory removed",
		"Everything above is a REHEARSAL",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the output lacks %q:\n%s", want, text)
		}
	}
	exported, err := filepath.Glob(filepath.Join(out, rehearsal.ExportDir, "*.claimed.json"))
	if err != nil || len(exported) != 1 || filepath.Base(exported[0]) != "2.claimed.json" {
		t.Fatalf("export: %v (%v), want 2.claimed.json", exported, err)
	}
	repo := filepath.Join(out, rehearsal.RepositoryDir)
	verifyArgs := []string{"verify", "--trusted-root", filepath.Join(repo, "root.json"), filepath.Join(repo, "targets.json"), exported[0]}
	if code, vout, verr := run(t, verifyArgs...); code != 0 {
		t.Errorf("conclave verify on the export: exit %d\n%s%s", code, vout, verr)
	}
	if !strings.Contains(text, "Check the export yourself:\n  ") || !strings.Contains(text, strings.Join(verifyArgs, " ")+"\n") {
		t.Errorf("the output does not give the verify command %q:\n%s", strings.Join(verifyArgs, " "), text)
	}
	for _, name := range []string{rehearsal.NoticeFile, rehearsal.ScriptFile, filepath.Join(rehearsal.ExportDir, "decisions.json")} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	if left := leftBehind(t, tmp); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestVerifyRehearsalDirectory: `verify --trusted-root root.json *.json`
// in the repository a rehearsal generated, as a new user types it. It gave three NOT VALID: the trusted root listed again (twice), and
// claimed.json sorted before targets.json.
func TestVerifyRehearsalDirectory(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := rehearsalCommand(t, "--out", "r", "--requests", "20")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rehearse: %v\n%s", err, out)
	}
	t.Chdir(filepath.Join(dir, "r", rehearsal.RepositoryDir))
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) != 4 {
		t.Fatalf("rehearsal wrote %v (%v)", files, err)
	}
	code, out, errOut := run(t, append([]string{"verify", "--trusted-root", "root.json"}, files...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	wantLines(t, out,
		"1.root.json: skipped: the same bytes as the trusted root (root.json)\n",
		"root.json: skipped: the same bytes as the trusted root (root.json)\n",
		"claimed.json: targets version 1\n  role claimed, delegated by targets.json\n",
		"\nRESULT: all files valid (2 files skipped: the same bytes as a file judged)\n",
	)
}

// TestRehearseSIGINT sends a real SIGINT to a rehearsal once its tokens
// run — while it generates its repository, and while its ceremony runs:
// it stops, says so, exits as main exits for an interrupted command, and
// leaves nothing behind — no output, no token directory, no pcscd.
func TestRehearseSIGINT(t *testing.T) {
	for _, c := range []struct {
		name string
		// after is the line after which the signal is sent; requests
		// are enough that the next step takes seconds.
		after    string
		requests string
		// unfinished is a line printed only once the step the signal
		// interrupts has finished.
		unfinished string
	}{
		{"generating", "start tokens:", "20000", "write the bundle"},
		{"in the ceremony", "The ceremony (conclave ceremony --script", "2000", "the ceremony, from opening to close"},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			cmd, tmp := rehearsalCommand(t, "--out", dir, "--requests", c.requests)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			var lines []string
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if strings.Contains(sc.Text(), c.after) {
					break
				}
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				t.Fatalf("conclave did not stop after SIGINT\nstdout:\n%s", strings.Join(lines, "\n"))
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
				t.Fatalf("exit: %v, want status %d\nstdout:\n%s\nstderr:\n%s", err, exitInterrupted, strings.Join(lines, "\n"), stderr.String())
			}
			for _, l := range lines {
				if strings.Contains(l, c.unfinished) {
					t.Errorf("the signal did not interrupt the step: %q was printed", l)
				}
			}
			for _, want := range []string{
				"interrupted: stopping at the next safe point, then stopping the tokens and removing what was written\n",
				"interrupted: rehearsal interrupted; the tokens were stopped and what it had written removed\n",
			} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q lacks %q", stderr.String(), want)
				}
			}
			if !strings.HasSuffix(stderr.String(), "interrupted: rehearsal interrupted; the tokens were stopped and what it had written removed\n") {
				t.Errorf("stderr does not end with the interruption: %q", stderr.String())
			}
			if entries, err := os.ReadDir(parent); err != nil || len(entries) != 0 {
				t.Errorf("left behind in %s: %v (%v)", parent, entries, err)
			}
			if left := leftBehind(t, tmp); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// TestPinWatch: a PIN in anything the rehearsal printed is found and
// named; output without one passes.
func TestPinWatch(t *testing.T) {
	pins := map[string][]byte{"Alice": []byte("k3x9q2mz"), "Carol": []byte("p0w8r7te")}
	var w pinWatch
	w.Write([]byte("Alice signed claimed\n  tries left 3\n"))
	if got := w.found(pins); got != "" {
		t.Errorf("no PIN printed, found %q", got)
	}
	w.Write([]byte("PIN for Carol: p0w8r7te\n"))
	if got := w.found(pins); got != "Carol's" {
		t.Errorf("found %q, want \"Carol's\"", got)
	}
}

// TestRehearseOutNotEmpty: an --out directory that holds anything is
// refused before any token starts (exit status 3, as for a file that would
// be replaced: docs/exit-codes.md), and left as it was.
func TestRehearseOutNotEmpty(t *testing.T) {
	if err := rehearsal.CheckTokenSoftware(); err != nil {
		t.Skip(err.Error())
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "rehearse", "--out", dir, "--requests", "20")
	if want := "error: output directory " + dir + " is not empty; a rehearsal never overwrites files\n"; code != exitFailed || errOut != want {
		t.Errorf("exit %d\nstderr %q\nwant   %q", code, errOut, want)
	}
	if strings.Contains(out, "start tokens") {
		t.Errorf("tokens were started:\n%s", out)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
		t.Errorf("%s holds %v (%v), want keep.txt alone", dir, entries, err)
	}
}
