package main

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// TestProgramWaitsForCommands: once the program ends, the log is closed
// only after a command still running (a signature, the build) has ended,
// also one inside a batch, and a command not yet started does not run.
func TestProgramWaitsForCommands(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &inFlight{}
	var ended atomic.Bool
	started := make(chan struct{})
	slow := func() tea.Msg {
		close(started)
		<-ctx.Done()
		runtime.Gosched() // still writing to the log after the cancel
		ended.Store(true)
		return nil
	}
	batch := f.track(tea.Batch(slow, func() tea.Msg { return nil }))().(tea.BatchMsg)
	go batch[0]()
	<-started
	cancel()
	f.wait()
	if !ended.Load() {
		t.Fatal("the program's commands were not waited for")
	}
	ran := false
	if msg := f.track(func() tea.Msg { ran = true; return nil })(); msg != nil || ran {
		t.Errorf("a command ran after the wait: %v", msg)
	}
}
