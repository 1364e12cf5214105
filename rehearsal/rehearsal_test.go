package rehearsal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
)

func TestRunWritesVerifiableMetadata(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var log bytes.Buffer
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	res, err := Run(context.Background(), Options{Out: dir, Projects: 25, Now: now, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(log.String(), "REHEARSAL — software keys generated in memory: INSECURE") {
		t.Errorf("the output must start by saying the keys are insecure:\n%s", log.String())
	}
	// Each phase's line ends with its time as every report shows one
	// (termtext.Duration), never Go's "1.234567ms".
	for _, ph := range res.Phases {
		if want := " " + termtext.Duration(ph.Duration) + "\n"; !strings.Contains(log.String(), ph.Name) || !strings.Contains(log.String(), want) {
			t.Errorf("no line for phase %q ending %q:\n%s", ph.Name, want, log.String())
		}
	}
	names := []string{"1.root.json", "root.json", "targets.json", "claimed.json"}
	for i, f := range res.Files {
		if filepath.Base(f) != names[i] {
			t.Errorf("file %d is %s, want %s", i, f, names[i])
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != len(names) {
		t.Fatalf("output directory holds %d entries (%v), want exactly %v", len(entries), err, names)
	}
	read := func(name string) *tuf.File {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := tuf.Parse(name, b)
		if err != nil {
			t.Fatal(err)
		}
		// Every file is exactly the bytes Conclave writes for it.
		if !bytes.Equal(f.Bytes(), b) {
			t.Errorf("%s is not in Conclave's exact file form", name)
		}
		return f
	}
	root, top, claimed := read("root.json"), read("targets.json"), read("claimed.json")
	if r1 := read("1.root.json"); !bytes.Equal(r1.SignedBytes(), root.SignedBytes()) {
		t.Error("1.root.json and root.json differ")
	}
	if _, err := root.VerifyWithRoot(root.Root); err != nil {
		t.Error(err)
	}
	if _, err := top.VerifyWithRoot(root.Root); err != nil {
		t.Error(err)
	}
	res2, err := claimed.VerifyDelegated(top.Targets, "claimed")
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Signers) != 2 || res2.Threshold != 2 {
		t.Errorf("claimed signed by %v with threshold %d, want 2 of 2", res2.Signers, res2.Threshold)
	}
	roles := claimed.Targets.Delegations.Roles
	if len(roles) != 25 {
		t.Fatalf("claimed delegates %d projects, want 25", len(roles))
	}
	for _, r := range roles {
		if !r.Terminating || len(r.Paths) != 1 || r.Paths[0] != r.Name+"/*" {
			t.Errorf("role %s: terminating %v, paths %v; want terminating with [%s/*]", r.Name, r.Terminating, r.Paths, r.Name)
		}
	}
	if got, want := claimed.Expires().String(), "2027-02-24T10:00:00Z"; got != want {
		t.Errorf("claimed expires %s, want %s", got, want)
	}
}

func TestRunRefusesNonEmptyOutput(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "root.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), Options{Out: dir, Projects: 1, Now: time.Now()})
	want := "output directory " + dir + " is not empty; a rehearsal never overwrites files"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// cancelAt cancels the rehearsal when phase begins or, with midway, once
// some of its steps are done.
type cancelAt struct {
	phase  string
	midway bool
	cancel context.CancelFunc

	mu      sync.Mutex
	current string
	begun   []string
}

func (c *cancelAt) Begin(phase string, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current = phase
	c.begun = append(c.begun, phase)
	if phase == c.phase && !c.midway {
		c.cancel()
	}
}

func (c *cancelAt) Add(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current == c.phase && c.midway && n > 0 {
		c.cancel()
	}
}

func (c *cancelAt) End() {}

// TestRunInterruptedRemovesWhatItMade cancels the rehearsal as each phase
// begins (and once in the middle of key generation) and checks that it
// stops there, says so, wraps context.Canceled, and leaves nothing behind:
// not the files it wrote, not the directories it created.
func TestRunInterruptedRemovesWhatItMade(t *testing.T) {
	const n = 8 * progressEvery
	generating := fmt.Sprintf("generate keys (3 holders, %d projects)", n)
	written := []string{"claimed.json", "targets.json", "root.json", "1.root.json"} // removed last first
	for _, tc := range []struct {
		phase     string
		midway    bool // cancel after some projects were made, not as the phase begins
		wantFiles []string
	}{
		{phase: generating},
		{phase: generating, midway: true},
		{phase: "build claimed role"},
		{phase: "canonical-encode claimed"},
		{phase: "sign root, targets, claimed (2 of 3 holders)"},
		{phase: "write files"},
		{phase: "read back, parse and verify all files", wantFiles: written},
	} {
		name := tc.phase
		if tc.midway {
			name += " (midway)"
		}
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "a", "out") // two directories to create
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			progress := &cancelAt{phase: tc.phase, midway: tc.midway, cancel: cancel}
			var log bytes.Buffer
			_, err := Run(ctx, Options{Out: out, Projects: n, Now: time.Now(), Log: &log, Progress: progress})
			var ie *InterruptedError
			if !errors.Is(err, context.Canceled) || !errors.As(err, &ie) {
				t.Fatalf("error %v, want an *InterruptedError wrapping context.Canceled", err)
			}
			want := "rehearsal interrupted; removed what it had made (0 files, 2 directories)"
			if len(tc.wantFiles) > 0 {
				want = "rehearsal interrupted; removed what it had made (4 files, 2 directories)"
			}
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			var wantPaths []string
			for _, f := range tc.wantFiles {
				wantPaths = append(wantPaths, filepath.Join(out, f))
			}
			if fmt.Sprint(ie.Files) != fmt.Sprint(wantPaths) {
				t.Errorf("removed files %v, want %v", ie.Files, wantPaths)
			}
			if want := []string{out, filepath.Dir(out)}; fmt.Sprint(ie.Dirs) != fmt.Sprint(want) {
				t.Errorf("removed directories %v, want %v", ie.Dirs, want)
			}
			if entries, err := os.ReadDir(parent); err != nil || len(entries) != 0 {
				t.Errorf("left behind in %s: %v (%v)", parent, entries, err)
			}
			// It stopped where it was told to: no phase began after it.
			if last := progress.begun[len(progress.begun)-1]; last != tc.phase {
				t.Errorf("phases begun %q, want the last to be %q", progress.begun, tc.phase)
			}
		})
	}
}

// TestRunInterruptedKeepsAnExistingDirectory: an output directory that was
// there (empty) before the rehearsal stays; only the files go.
func TestRunInterruptedKeepsAnExistingDirectory(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progress := &cancelAt{phase: "read back, parse and verify all files", cancel: cancel}
	_, err := Run(ctx, Options{Out: out, Projects: 3, Now: time.Now(), Progress: progress})
	if want := "rehearsal interrupted; removed what it had made (4 files, 0 directories)"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if entries, err := os.ReadDir(out); err != nil || len(entries) != 0 {
		t.Errorf("%s holds %v (%v), want it empty", out, entries, err)
	}
}

// TestRunAlreadyCancelled: a context cancelled before the start writes
// nothing at all, not even the output directory.
func TestRunAlreadyCancelled(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Out: out, Projects: 3, Now: time.Now()})
	if want := "rehearsal interrupted before it wrote anything"; !errors.Is(err, context.Canceled) || err.Error() != want {
		t.Fatalf("error %v, want %q wrapping context.Canceled", err, want)
	}
	if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (%v)", out, err)
	}
}

// TestVerifyStopsWhenInterrupted: reading back and verifying, which writes
// nothing, stops as soon as the context is cancelled, even while a read is
// under way (here blocked on a FIFO that holds no data, as a read from a
// slow medium would be).
func TestVerifyStopsWhenInterrupted(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "root.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() {
		result <- parallel.Until(ctx, func() error { return verifyWritten(ctx, dir, time.Now()) })
	}()
	// A non-blocking open for writing succeeds only once the reader has
	// the FIFO open; holding it open, with nothing written, keeps the
	// read blocked.
	var w int
	for {
		fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			w = fd
			break
		}
		if !errors.Is(err, syscall.ENXIO) {
			t.Fatal(err)
		}
		runtime.Gosched()
	}
	defer syscall.Close(w)
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
