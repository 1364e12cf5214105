package parallel

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestForVisitsEachIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 5, 63, 64, 65, 1000} {
		for _, chunk := range []int{0, 1, 7, 64} {
			counts := make([]atomic.Int32, n)
			For(n, chunk, func(i int) { counts[i].Add(1) })
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("n=%d chunk=%d: index %d visited %d times", n, chunk, i, c)
				}
			}
		}
	}
}

func TestFirstErrorIsLowestIndex(t *testing.T) {
	err := FirstError(1000, 3, func(i int) error {
		if i%100 == 37 {
			return fmt.Errorf("item %d: %w", i, errBad)
		}
		return nil
	})
	if err == nil || err.Error() != "item 37: bad" || !errors.Is(err, errBad) {
		t.Fatalf("error %v, want item 37: bad", err)
	}
	if err := FirstError(10, 1, func(int) error { return nil }); err != nil {
		t.Fatalf("error %v, want nil", err)
	}
}

var errBad = errors.New("bad")

// TestForPanicReachesCaller: a panic in one piece of work comes back on
// the calling goroutine, where a recover can catch it.
func TestForPanicReachesCaller(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // several workers, even on one core
	defer func() {
		if v := recover(); v != "piece 700" {
			t.Errorf("recovered %v, want the panic of piece 700", v)
		}
	}()
	For(1000, 10, func(i int) {
		if i == 700 {
			panic(fmt.Sprintf("piece %d", i))
		}
	})
	t.Error("For returned normally")
}

// TestUntilPanicReachesCaller: a panic in work comes back on the calling
// goroutine as a *Panic, with the stack of the goroutine it happened on.
func TestUntilPanicReachesCaller(t *testing.T) {
	defer func() {
		p, ok := recover().(*Panic)
		if !ok || p.Value != "in the work" || !strings.Contains(string(p.Stack), "parallel_test.go") {
			t.Errorf("recovered %#v, want a *Panic of \"in the work\" with its stack", p)
		}
	}()
	Until(context.Background(), func() error { panic("in the work") })
	t.Error("Until returned")
}

// TestUntil returns work's error, or ctx's as soon as it is cancelled,
// while the work is still running.
func TestUntil(t *testing.T) {
	if err := Until(context.Background(), func() error { return errBad }); err != errBad {
		t.Errorf("error %v, want %v", err, errBad)
	}
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	defer close(release)
	err := Until(ctx, func() error {
		cancel()
		<-release
		return errBad
	})
	if err != context.Canceled {
		t.Errorf("error %v, want %v", err, context.Canceled)
	}
}

// TestUntilCancelledBefore: work under a context already cancelled never
// starts, so the answer is the cancellation every time, not at random.
func TestUntilCancelledBefore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	for i := 0; i < 200; i++ {
		if err := Until(ctx, func() error { ran.Add(1); return nil }); !errors.Is(err, context.Canceled) {
			t.Fatalf("try %d: %v, want context.Canceled", i, err)
		}
	}
	// Work started on its own goroutine would have run by now; this
	// waits for it, and asserts nothing about speed.
	time.Sleep(50 * time.Millisecond)
	if n := ran.Load(); n != 0 {
		t.Fatalf("the work ran %d times under a cancelled context", n)
	}
}
