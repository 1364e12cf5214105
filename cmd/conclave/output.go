package main

// Output for people. Every command's text output goes through these
// helpers, so the rules hold in one place:
//
//   - Lines are wrapped (termtext.Wrap) to the terminal's width, or to 80
//     columns when the output is not a terminal (a file, a pipe, a test).
//   - Durations are rounded for reading (termtext.Duration): "6.98 s",
//     "340 ms", "2 min 05 s".
//   - Keyids are shown shortened (termtext.ShortHex), "69d5…7b52", as the docs show them; the
//     full keyid is in --json. The short form is for reading aloud, never
//     for deciding: two keys can share one.
//   - Counts agree with their nouns: "1 file", "2 files" (termtext.Plural).
//   - Text from outside (names, metadata, token strings) still goes
//     through termtext first; these helpers only lay it out.
//   - A phase that may take more than about two seconds shows a progress
//     line that updates in place, on a terminal only (progress).

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/conclave-keys/conclave/internal/termtext"
	"golang.org/x/term"
)

// terminalWidth is the width of w when it is a terminal, else
// termtext.Width (80).
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width >= 20 {
			return width
		}
	}
	return termtext.Width
}

// isTerminalReader reports whether r is a terminal.
func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeWrapped writes text wrapped to width, every line after indent.
func writeWrapped(w io.Writer, text, indent string, width int) {
	fmt.Fprintln(w, termtext.Wrap(text, width, indent, indent))
}

// writeTerm writes "  name         text", the text wrapped under itself:
// the command list and the subcommand list.
func writeTerm(w io.Writer, name, text string) {
	first := fmt.Sprintf("  %-12s ", name)
	if len(name) > 12 {
		first = "  " + name + " "
	}
	fmt.Fprintln(w, termtext.Wrap(text, terminalWidth(w), first, strings.Repeat(" ", 15)))
}

// writeJSON writes v as indented JSON: the form of every --json document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
	delay time.Duration

	mu      sync.Mutex
	done    int
	shown   bool
	stopped bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// startProgress begins a progress line on env.stderr for total steps of
// what ("judging requests"); with total 0 the line shows the time spent.
// It shows after progressDelay, and only when stderr is a terminal. Call
// Add as steps finish and Done at the end; main calls Done too before it
// prints an error, so that the error starts on a clean line.
func startProgress(env *environment, what string, total int) *progress {
	return startProgressAfter(env, what, total, progressDelay)
}

func startProgressAfter(env *environment, what string, total int, delay time.Duration) *progress {
	p := &progress{w: env.stderr, what: what, total: total, start: time.Now(), delay: delay, stop: make(chan struct{})}
	env.progress = p
	if !isTerminal(p.w) {
		p.stopped = true
		return p
	}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer p.wg.Done()
	t := time.NewTimer(p.delay)
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
	line := fmt.Sprintf("%s… %s", p.what, termtext.Duration(time.Since(p.start)))
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
// that follow start on a clean line.
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
