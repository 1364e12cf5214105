package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/term"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// maxPIN bounds one line of PIN input: PIV PINs are at most 8 bytes and
// PKCS#11 tokens rarely take more than 64; a software key's passphrase
// may be longer. A longer line is refused, never cut.
const maxPIN = 1024

// pinInput answers the tokens' PIN requests (hsm.Prompts): from a file
// descriptor the caller opened (--pin-fd N, one line per request, in the
// order the tokens ask), or typed at the controlling terminal with no
// echo. A PIN never comes from the command line, the environment or the
// ceremony script, and is never written anywhere: the bytes handed to a
// backend are zeroed by it after use, and every buffer here is zeroed
// before it is dropped.
type pinInput struct {
	// fd is the descriptor given with --pin-fd, or nil for the terminal.
	fd    *os.File
	fdNum int
	// notice is where the requests are announced (standard error): the
	// token, and the tries it says are left.
	notice io.Writer

	mu sync.Mutex
}

// errNoPINSource: neither --pin-fd nor a terminal to ask at.
var errNoPINSource = usageError{
	msg:  "a token asks for a PIN and there is no way to give it: name --pin-fd N",
	hint: "or run the ceremony at a terminal, which asks for each PIN without showing it",
}

// openPINInput checks the --pin-fd descriptor (-1: the terminal).
func openPINInput(fd int, notice io.Writer) (*pinInput, error) {
	p := &pinInput{fdNum: fd, notice: notice}
	if fd < 0 {
		return p, nil
	}
	if fd <= 2 {
		// Standard input, output and error carry the ceremony's own
		// text; a PIN there would be mixed with it.
		return nil, usagef("--pin-fd %d: use a descriptor of its own (3 or more), not standard input, output or error", fd)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, usagef("--pin-fd %d: the descriptor is not open (%v)", fd, err)
	}
	p.fd = os.NewFile(uintptr(fd), fmt.Sprintf("fd %d", fd))
	return p, nil
}

// Close closes the --pin-fd descriptor.
func (p *pinInput) Close() error {
	if p.fd == nil {
		return nil
	}
	return p.fd.Close()
}

// prompts returns the callbacks for one holder's token: every request
// names the holder, so the right person types.
func (p *pinInput) prompts(holder string) hsm.Prompts {
	return hsm.Prompts{
		PIN: func(ctx context.Context, req hsm.PINRequest) ([]byte, error) {
			return p.pin(ctx, holder, req)
		},
		Confirm: func(ctx context.Context, question string) (bool, error) {
			return p.confirm(ctx, holder, question)
		},
		Touch: func(token string, done <-chan struct{}) {
			fmt.Fprintf(p.notice, "%s: touch %s now\n", termtext.Safe(holder), termtext.Safe(token))
		},
	}
}

// describePINRequest says what the token said about the tries left.
func describePINRequest(req hsm.PINRequest) string {
	switch {
	case req.PINPad:
		return "enter it on the token's own PIN pad"
	case req.RetriesLeft == 1 || req.FinalTry:
		return "FINAL try: a wrong PIN locks the token"
	case req.RetriesLeft > 0:
		return termtext.Plural(req.RetriesLeft, "try", "tries") + " left"
	case req.CountLow:
		return "the token says few tries are left"
	}
	return "the token does not say how many tries are left"
}

func (p *pinInput) pin(ctx context.Context, holder string, req hsm.PINRequest) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("PIN of %s for %s (%s)", termtext.Safe(holder), termtext.Safe(req.Token), describePINRequest(req))
	if req.PINPad {
		fmt.Fprintf(p.notice, "%s\n", what)
		return nil, nil
	}
	if p.fd != nil {
		fmt.Fprintf(p.notice, "%s: reading it from --pin-fd %d\n", what, p.fdNum)
		return readPINLine(p.fd, fmt.Sprintf("--pin-fd %d", p.fdNum))
	}
	tty, err := openTTY()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	fmt.Fprintf(tty, "%s: ", what)
	pin, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		clear(pin)
		return nil, fmt.Errorf("reading the PIN from the terminal: %w", err)
	}
	if len(pin) == 0 {
		return nil, fmt.Errorf("no PIN typed: %w", hsm.ErrCancelled)
	}
	return pin, nil
}

// confirm answers a backend's question (a final PIN try). Headless, with
// --pin-fd, nobody is there to answer: the answer is no, so a token on
// its last try is never locked by a script.
func (p *pinInput) confirm(ctx context.Context, holder, question string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if p.fd != nil {
		fmt.Fprintf(p.notice, "%s: %s\nanswered no: a ceremony run from a script never spends a token's final PIN try\n", termtext.Safe(holder), termtext.Safe(question))
		return false, nil
	}
	tty, err := openTTY()
	if err != nil {
		return false, err
	}
	defer tty.Close()
	fmt.Fprintf(tty, "%s: %s [type yes to go on] ", termtext.Safe(holder), termtext.Safe(question))
	line, err := readPINLine(tty, "the terminal")
	defer clear(line)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(line)) == "yes", nil
}

// openTTY opens the controlling terminal, as ssh and gpg do: input piped
// to the command is never taken for a PIN.
func openTTY() (*os.File, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errNoPINSource
	}
	if !term.IsTerminal(int(tty.Fd())) {
		tty.Close()
		return nil, errNoPINSource
	}
	return tty, nil
}

// errPINLine is a line of PIN input that cannot be a PIN. It never
// quotes what was read.
var errPINLine = errors.New("the line is longer than any PIN")

// readPINLine reads one line, byte by byte, so that nothing after the
// newline — the next holder's PIN — is read ahead into a buffer. The
// newline (and a carriage return before it) is dropped.
func readPINLine(r io.Reader, from string) ([]byte, error) {
	buf := make([]byte, 0, 64)
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if len(buf) == maxPIN {
				clear(buf)
				b[0] = 0
				return nil, fmt.Errorf("reading a PIN from %s: %w", from, errPINLine)
			}
			buf = appendWiped(buf, b[0])
			b[0] = 0
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(buf) == 0 {
				return nil, fmt.Errorf("reading a PIN from %s: no PIN left (each PIN asked for is one line, in the order asked)", from)
			}
			break // a last line without its newline
		}
		if err != nil {
			clear(buf)
			return nil, fmt.Errorf("reading a PIN from %s: %w", from, err)
		}
	}
	if n := len(buf); n > 0 && buf[n-1] == '\r' {
		buf[n-1] = 0
		buf = buf[:n-1]
	}
	if len(buf) == 0 {
		return nil, fmt.Errorf("reading a PIN from %s: the line is empty: %w", from, hsm.ErrCancelled)
	}
	return buf, nil
}

// appendWiped appends c to buf, zeroing the old array when append has to
// move the bytes to a bigger one.
func appendWiped(buf []byte, c byte) []byte {
	if len(buf) < cap(buf) {
		return append(buf, c)
	}
	grown := make([]byte, len(buf), 2*cap(buf)+1)
	copy(grown, buf)
	clear(buf)
	return append(grown, c)
}
