package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	it "github.com/conclave-keys/conclave/intake/intaketest"
	"golang.org/x/sys/unix"
)

// buildConclave builds the binary once per test run.
func buildConclave(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary: not in -short")
	}
	bin := filepath.Join(t.TempDir(), "conclave")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSIGINTStopsImport sends a real SIGINT to the binary while an import
// is under way. The import is held in the middle of its reading by a
// named pipe given as --history (as a read can hang on a failing medium):
// the test knows the process is there once its own open of the pipe for
// writing returns. The process must stop at once, say that nothing was
// written, and exit with status 130.
func TestSIGINTStopsImport(t *testing.T) {
	bin := buildConclave(t)
	args, bundleDir := importSetup(t, twoRequests)
	fifo := filepath.Join(t.TempDir(), "history.json")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append(append(args[:len(args)-1], "--history", fifo), bundleDir)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Blocks until the import opens the pipe to read it.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	defer w.Close()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("wait: %v (want exit status 130)\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	want := "interrupted: nothing was written; the bundle was not judged to the end\n"
	if stderr.String() != want || stdout.String() != "" {
		t.Errorf("stdout %q\nstderr %q\nwant stderr %q", stdout.String(), stderr.String(), want)
	}
}

// countdownCtx is a context whose Err turns to context.Canceled after n
// calls: a signal arriving at an exact point of the work, without timing.
type countdownCtx struct {
	context.Context
	n atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestInterruptedPackRemovesHalfMadeBundle: a pack stopped between two
// request files removes the directory it was writing, says so, and exits
// with status 130.
func TestInterruptedPackRemovesHalfMadeBundle(t *testing.T) {
	f := it.New(t)
	dir, pass, del, intakePriv, _ := intakeFiles(t, f)
	var reqs []string
	for i, file := range it.Files(f.Add(t, "r1", "p-one", "n1"), f.Add(t, "r2", "p-two", "n2"), f.Add(t, "r3", "p-three", "n3")) {
		p := filepath.Join(dir, "req"+string(rune('1'+i))+".json")
		os.WriteFile(p, file.Data, 0o644)
		reqs = append(reqs, p)
	}
	out := filepath.Join(dir, "bundle")
	args := append([]string{"intake", "pack", "--id", "b1", "--source", "example.org", "--delegator", del,
		"--intake-key", intakePriv, "--passphrase-file", pass, "--out", out}, reqs...)

	// Reading three requests checks ctx three times; WriteContext checks it
	// once per file: the fifth check is after the first file is written.
	ctx := &countdownCtx{Context: context.Background()}
	ctx.n.Store(4)
	var stdout, stderr bytes.Buffer
	code := runMain(ctx, &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, args)
	want := "interrupted: removed the half-made bundle " + out + "\n"
	if code != 130 || stderr.String() != want || stdout.String() != "" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant %q", code, stdout.String(), stderr.String(), want)
	}
	if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the half-made bundle is still there: %v", err)
	}
	// Not cancelled, the same pack is complete.
	if code := runMain(context.Background(), &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, args); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err != nil {
		t.Error(err)
	}
}

// TestImportInterruptedAtOnce: an import whose context is cancelled before
// it starts stops with status 130 and writes nothing. Under -race it also
// checks that the judging left running on its own goroutine touches
// nothing main reads while it prints the interruption (the progress
// line); the second, complete import gives that goroutine time to run.
func TestImportInterruptedAtOnce(t *testing.T) {
	args, dir := importSetup(t, twoRequests)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := runMain(ctx, &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, append(slices.Clone(args[:len(args)-1]), dir)) // text, without --json
	want := "interrupted: nothing was written; the bundle was not judged to the end\n"
	if code != 130 || out.String() != "" || errOut.String() != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 130, nothing, %q", code, out.String(), errOut.String(), want)
	}
	if code, out, errOut := run(t, append(args, dir)...); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
}
