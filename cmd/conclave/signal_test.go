package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	it "github.com/conclave-keys/conclave/intake/intaketest"
)

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

// TestInterruptedPackRemovesHalfMadeBundle: a pack stopped after its
// batch file and before the manifest removes the directory it was writing, says so, and exits
// with status 130.
func TestInterruptedPackRemovesHalfMadeBundle(t *testing.T) {
	f := it.New(t)
	dir, pass, del, intakePriv, _ := intakeFiles(t, f)
	var reqs []string
	for i, file := range it.Lines(f.Add(t, "r1", "p-one", "n1"), f.Add(t, "r2", "p-two", "n2"), f.Add(t, "r3", "p-three", "n3")) {
		p := filepath.Join(dir, "req"+string(rune('1'+i))+".json")
		os.WriteFile(p, file, 0o644)
		reqs = append(reqs, p)
	}
	out := filepath.Join(dir, "bundle")
	args := append([]string{"intake", "pack", "--id", "b1", "--source", "example.org", "--delegator", "claimed=" + del,
		"--intake-key", intakePriv, "--passphrase-file", pass, "--out", out}, reqs...)

	// Reading three requests checks ctx three times; WriteContext checks it
	// before each file and once after the last: the fifth check is after
	// the batch file is written.
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
