package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// writeJSON writes v as indented JSON: the form of every --json document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether w is a terminal (TCGETS succeeds on it).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// progressDelay is how long a phase runs before its progress line shows:
// short phases stay silent.
const progressDelay = 2 * time.Second

// progress is a line that shows how far a long phase has got, rewritten in
// place on a terminal. On anything else it writes nothing, so that logs
// and tests see only results.
type progress struct {
	w     io.Writer
	what  string
	total int
	start time.Time

	mu      sync.Mutex
	done    int
	shown   bool
	stopped bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// startProgress begins a progress line for total steps of what ("judging
// requests"); total 0 means unknown, and the line then shows the time the
// phase has taken. It shows after progressDelay, and only when w is a
// terminal. Call Add as steps finish and Done at the end.
func startProgress(w io.Writer, what string, total int) *progress {
	p := &progress{w: w, what: what, total: total, start: time.Now(), stop: make(chan struct{})}
	if !isTerminal(w) {
		p.stopped = true
		return p
	}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer p.wg.Done()
	t := time.NewTimer(progressDelay)
	defer t.Stop()
	tick := (<-chan time.Time)(nil)
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			tk := time.NewTicker(200 * time.Millisecond)
			defer tk.Stop()
			tick = tk.C
			p.draw()
		case <-tick:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	line := fmt.Sprintf("%s: %d s", p.what, int(time.Since(p.start).Seconds()))
	if p.total > 0 {
		line = fmt.Sprintf("%s: %d of %d (%d%%)", p.what, p.done, p.total, p.done*100/p.total)
	}
	// \r back to the start, \x1b[K clears what a longer line left.
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	p.shown = true
}

// Add counts n more steps done. Safe from many goroutines.
func (p *progress) Add(n int) {
	p.mu.Lock()
	p.done += n
	p.mu.Unlock()
}

// Done removes the progress line, if it was shown, so that the results
// that follow start on a clean line. It may be called more than once.
func (p *progress) Done() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
}
