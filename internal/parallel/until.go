package parallel

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Until runs work on a goroutine of its own and returns what it returns,
// or ctx.Err() as soon as ctx is cancelled, without waiting for it. Only
// for work that writes nothing: it is abandoned where it stands and what
// it returns later is dropped, which is what lets a signal stop a parse
// that takes seconds, or a read that hangs on a failing medium.
//
// A panic in work is raised again on the calling goroutine as a *Panic,
// with the stack where it happened: on the goroutine of its own it would
// end the process uncaught, with no report.
func Until(ctx context.Context, work func() error) error {
	// Cancelled before it starts, the work does not start: a select with
	// both cases ready picks one at random, so quick work would otherwise
	// sometimes report success after the signal.
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- &Panic{Value: v, Stack: debug.Stack()}
			}
		}()
		done <- work()
	}()
	select {
	case err := <-done:
		if p, ok := err.(*Panic); ok {
			panic(p)
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Panic is a panic of work run by Until, raised again on the caller's
// goroutine: the value, and the stack of the goroutine it happened on.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string  { return fmt.Sprint(p.Value) }
func (p *Panic) String() string { return fmt.Sprint(p.Value) }
