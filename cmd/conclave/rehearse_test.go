package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRehearseCheckLineNamesThisBinary: the line that tells how to check
// the output names the binary that ran, not whatever "conclave" PATH finds.
func TestRehearseCheckLineNamesThisBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	code, out, errOut := run(t, "rehearse", "--out", dir, "--requests", "3")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := "\nCheck them yourself:\n  " + self + " verify --trusted-root " + dir + "/root.json " + dir + "/targets.json " + dir + "/claimed.json\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("output ends:\n%s\nwant:\n%s", out[max(0, len(out)-len(want)-100):], want)
	}
}

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

// TestRehearseInterrupted: a cancelled context (what SIGINT and SIGTERM
// do) stops the rehearsal; the command says so and returns an error that
// wraps context.Canceled, leaving no output directory behind.
func TestRehearseInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	err := runRehearse(ctx, &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, []string{"--out", dir, "--requests", "3"})
	if !errors.Is(err, context.Canceled) || err.Error() != "rehearsal interrupted before it wrote anything" {
		t.Fatalf("error %v, want \"rehearsal interrupted before it wrote anything\" wrapping context.Canceled", err)
	}
	if want := "interrupted: stopping at the next safe point, then removing what was written\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (%v)", dir, err)
	}
}

// TestRehearseSIGINT sends a real SIGINT to a built conclave in the middle
// of a long rehearsal: it stops, says what it removed, leaves nothing
// behind, and exits as main exits for an interrupted command.
func TestRehearseSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds conclave and runs a long rehearsal; run without -short")
	}
	bin := filepath.Join(t.TempDir(), "conclave")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	cmd := exec.Command(bin, "rehearse", "--out", dir, "--requests", "200000")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The rehearsal has begun once it prints its first line; key
	// generation for 200,000 projects then takes seconds.
	sc := bufio.NewScanner(stdout)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "REHEARSAL") {
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
	if !errors.As(err, &ee) {
		t.Fatalf("exit: %v, want a failure", err)
	}
	// main maps an error wrapping context.Canceled to its exit status for
	// an interruption; the binary must exit with the same.
	wantCode := runMain(cancelled(), &environment{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}},
		[]string{"rehearse", "--out", filepath.Join(t.TempDir(), "x"), "--requests", "1"})
	if ee.ExitCode() != wantCode || wantCode != exitInterrupted {
		t.Errorf("exit status %d, want %d (as main exits for an interrupted command)", ee.ExitCode(), wantCode)
	}
	wantErr := "interrupted: stopping at the next safe point, then removing what was written\n" +
		"interrupted: rehearsal interrupted; removed what it had made (0 files, 1 directory)\n"
	if stderr.String() != wantErr {
		t.Errorf("stderr %q\nwant   %q", stderr.String(), wantErr)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "Wrote and verified") {
			t.Errorf("the rehearsal finished after SIGINT:\n%s", strings.Join(lines, "\n"))
		}
	}
	if entries, err := os.ReadDir(parent); err != nil || len(entries) != 0 {
		t.Errorf("left behind in %s: %v (%v)", parent, entries, err)
	}
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
