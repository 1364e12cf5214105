package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
)

// TestReadPINLine: one line per PIN, nothing read beyond its newline.
func TestReadPINLine(t *testing.T) {
	r := strings.NewReader("123456\r\nsecond\nlast")
	for _, want := range []string{"123456", "second", "last"} {
		got, err := readPINLine(r, "fd 3")
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	_, err := readPINLine(r, "fd 3")
	if err == nil || err.Error() != "reading a PIN from fd 3: no PIN left (each PIN asked for is one line, in the order asked)" {
		t.Errorf("at the end: %v", err)
	}
	_, err = readPINLine(strings.NewReader("\nx\n"), "fd 3")
	if !errors.Is(err, hsm.ErrCancelled) || err.Error() != "reading a PIN from fd 3: the line is empty: cancelled by the key holder" {
		t.Errorf("empty line: %v", err)
	}
	long := strings.Repeat("7", maxPIN+1) + "\n"
	_, err = readPINLine(strings.NewReader(long), "fd 3")
	if !errors.Is(err, errPINLine) || strings.Contains(err.Error(), "77") {
		t.Errorf("long line: %v", err)
	}
	// Byte by byte: the next line stays unread.
	one := &countingReader{r: strings.NewReader("246810\nnext\n")}
	if _, err := readPINLine(one, "fd 3"); err != nil {
		t.Fatal(err)
	}
	if one.n != len("246810\n") {
		t.Errorf("read %d bytes for a 7-byte line", one.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestOpenPINInputRefusesStandardStreams: a PIN never shares a stream with
// the ceremony's text.
func TestOpenPINInputRefusesStandardStreams(t *testing.T) {
	for fd := 0; fd <= 2; fd++ {
		_, err := openPINInput(fd, io.Discard)
		want := fmt.Sprintf("--pin-fd %d: use a descriptor of its own (3 or more), not standard input, output or error", fd)
		if err == nil || err.Error() != want {
			t.Errorf("fd %d: %v", fd, err)
		}
	}
	_, err := openPINInput(987, io.Discard)
	if err == nil || err.Error() != "--pin-fd 987: the descriptor is not open (bad file descriptor)" {
		t.Errorf("closed fd: %v", err)
	}
}
