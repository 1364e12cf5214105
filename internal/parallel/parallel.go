// Package parallel runs work on other goroutines: independent pieces on
// every core (For: the signature checks and key parsing of a large bundle
// or delegating role), and work that a signal may abandon (Until). A
// panic in the work comes back to the caller either way.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For runs work(i) for every i in [0, n), on GOMAXPROCS goroutines that
// take chunks of chunk indices at a time, so uneven work still balances.
// Small n runs on the calling goroutine. A panic in work is raised again
// on the calling goroutine once the others have stopped, so that the
// program's last line of defence (cmd/conclave's recover) sees it: a
// panic on another goroutine would end the process uncaught.
func For(n, chunk int, work func(i int)) {
	if chunk < 1 {
		chunk = 1
	}
	workers := min(runtime.GOMAXPROCS(0), (n+chunk-1)/chunk)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			work(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var panicOnce sync.Once
	var panicked any
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					panicOnce.Do(func() { panicked = v })
					next.Store(int64(n)) // the others stop at their next chunk
				}
			}()
			for {
				start := int(next.Add(int64(chunk))) - chunk
				if start >= n {
					return
				}
				for i := start; i < min(start+chunk, n); i++ {
					work(i)
				}
			}
		}()
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}

// FirstError runs work like For and returns the error of the lowest index
// that failed, which is what a loop in order would have reported: error
// messages stay the same whatever the number of cores.
func FirstError(n, chunk int, work func(i int) error) error {
	errs := make([]error, n)
	For(n, chunk, func(i int) { errs[i] = work(i) })
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
