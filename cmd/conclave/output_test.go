package main

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestTerminalWidth(t *testing.T) {
	// Not a terminal: 80 columns.
	if w := terminalWidth(&bytes.Buffer{}); w != 80 {
		t.Errorf("width of a buffer: %d", w)
	}
}

// TestProgressSilentOffTerminal: progress writes nothing when the output
// is not a terminal, however long the phase.
func TestProgressSilentOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := startProgress(&environment{stderr: &buf}, "judging requests", 10)
	p.Add(5)
	p.draw() // even when asked to draw
	p.Done()
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}

// openPTY opens a pseudo-terminal: the program's side (a terminal) and
// the side that reads what it shows.
func openPTY(t *testing.T) (term, reader *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("name the pseudo-terminal: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	// Raw: the reader sees the bytes as written (no \n → \r\n).
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err == nil {
		tio.Oflag &^= unix.OPOST
		unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio)
	}
	return s, m
}

// TestProgressOnTerminal: on a terminal the line is drawn in place and
// cleared at the end, so the results start on a clean line.
func TestProgressOnTerminal(t *testing.T) {
	tty, reader := openPTY(t)
	env := &environment{stderr: tty}
	p := startProgressAfter(env, "judging requests", 10, time.Hour) // drawn only when asked
	p.Add(5)
	p.draw()
	p.Done()
	p.Done() // main calls it again before printing an error: harmless
	fmt.Fprint(tty, "end\n")
	got := make([]byte, 0, 128)
	buf := make([]byte, 128)
	for !bytes.HasSuffix(got, []byte("end\n")) {
		n, err := reader.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	want := "\rjudging requests: 5 of 10 (50%)\x1b[K\r\x1b[Kend\n"
	if string(got) != want {
		t.Errorf("terminal got %q, want %q", got, want)
	}
}
