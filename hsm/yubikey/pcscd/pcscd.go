//go:build cgo

// Package pcscd starts a private pcscd, with the vsmartcard-vpcd virtual
// reader driver listening on its own loopback ports, so that piv-go →
// libpcsclite → a real pcscd → vpcd → the virtual card (package vcard)
// runs without root, without systemd and without touching the machine's
// own pcscd. Rehearsals start one for their virtual YubiKeys; test binaries
// start one through package pcscdtest.
//
// Use: Start, then os.Setenv("PCSCLITE_CSOCK_NAME", d.Socket) before the
// process's first PC/SC call, then insert vcard cards at d.Addr(i) and
// wait with d.WaitCard; Stop ends the daemon and removes its directory.
//
// How (checked on Debian 12, pcsc-lite 1.9.9, vsmartcard-vpcd 3.3): pcscd
// ignores PCSCLITE_CSOCK_NAME but accepts a socket-activated listener
// (LISTEN_FDS=1, LISTEN_PID its own pid, the socket as fd 3), and -c gives
// it a private reader configuration. libpcsclite reads PCSCLITE_CSOCK_NAME
// once per process: one private pcscd per process can be reached.
package pcscd

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/conclave-keys/conclave/hsm/yubikey/internal/probe"
)

// Paths of the Debian packages pcscd and vsmartcard-vpcd; CONCLAVE_PCSCD
// and CONCLAVE_VPCD override them (other distributions).
var (
	PcscdPath = envOr("CONCLAVE_PCSCD", "/usr/sbin/pcscd")
	VpcdPath  = envOr("CONCLAVE_VPCD", "/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Daemon is a running private pcscd.
type Daemon struct {
	Socket string
	// Ports are the vpcd reader ports, one per virtual card slot; a card
	// connects to 127.0.0.1:Ports[i].
	Ports []int
	// names are the readers' friendly names, one per configuration entry
	// (two readers each).
	names []string
	dir   string
	cmd   *exec.Cmd
	log   *syncBuffer
	wait  chan error

	stopOnce sync.Once
	stopErr  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// maxSocketPath is the longest path a Unix socket can have on Linux:
// sockaddr_un.sun_path holds 108 bytes with the terminating NUL (unix(7)).
const maxSocketPath = 107

// Addr returns the loopback address of reader i for the virtual card.
func (d *Daemon) Addr(i int) string { return fmt.Sprintf("127.0.0.1:%d", d.Ports[i]) }

// Log returns what pcscd printed so far.
func (d *Daemon) Log() string { return d.log.String() }

// freePortPair finds two consecutive TCP ports free on all addresses (vpcd
// binds port and port+1 for the two readers of one configuration entry).
func freePortPair() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("no two consecutive free TCP ports")
}

// Start runs a private pcscd with readers virtual readers (rounded up to an
// even number) in a fresh temporary directory. The caller must Stop it.
func Start(readers int) (*Daemon, error) { return StartIn("", readers, nil) }

// StartNamed is Start with the readers' friendly names chosen by name (see
// StartIn).
func StartNamed(readers int, name func(entry int) string) (*Daemon, error) {
	return StartIn("", readers, name)
}

// StartIn is Start with the daemon's directory made inside parent (the
// system's temporary directory when parent is empty) and the readers'
// friendly names chosen by name, one per pair of readers (entry 0 names
// readers 0 and 1); nil keeps the names "Conclave vpcd N". A name may hold
// any byte but '"' and a line break: tests use it to give readers hostile
// names, as a malicious reader driver could.
func StartIn(parent string, readers int, name func(entry int) string) (*Daemon, error) {
	if name == nil {
		name = func(entry int) string { return fmt.Sprintf("Conclave vpcd %d", entry) }
	}
	for _, p := range []string{PcscdPath, VpcdPath} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s is missing (install the Debian packages pcscd and vsmartcard-vpcd): %w", p, err)
		}
	}
	dir, err := os.MkdirTemp(parent, "conclave-pcscd-")
	if err != nil {
		return nil, err
	}
	d := &Daemon{dir: dir, Socket: filepath.Join(dir, "pcscd.comm"), log: &syncBuffer{}}
	if len(d.Socket) > maxSocketPath {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pcscd's socket %s would be %d bytes long, and a Unix socket path has at most %d: use a shorter temporary directory (TMPDIR)", d.Socket, len(d.Socket), maxSocketPath)
	}
	conf := filepath.Join(dir, "reader.conf.d")
	if err := os.Mkdir(conf, 0o755); err != nil {
		return nil, err
	}
	var cfg strings.Builder
	for i := 0; i < (readers+1)/2; i++ {
		p, err := freePortPair()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		d.Ports = append(d.Ports, p, p+1)
		// vpcd keeps its reader state in static variables indexed by slot,
		// so two entries loading the same file overwrite each other and
		// neither polls its card. A copy of the driver per entry gets its
		// own statics (dlopen loads each path once).
		lib := VpcdPath
		if i > 0 {
			lib = filepath.Join(dir, fmt.Sprintf("libifdvpcd-%d.so", i))
			if err := copyFile(VpcdPath, lib); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
		n := name(i)
		if strings.ContainsAny(n, "\"\r\n") {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("reader name %q: a quote or line break cannot be written in reader.conf", n)
		}
		d.names = append(d.names, n)
		// DEVICENAME "/dev/null:PORT": vpcd listens on PORT and PORT+1.
		fmt.Fprintf(&cfg, "FRIENDLYNAME \"%s\"\nDEVICENAME /dev/null:%d\nLIBPATH %s\nCHANNELID %d\n\n", n, p, lib, p)
	}
	if err := os.WriteFile(filepath.Join(conf, "vpcd"), []byte(cfg.String()), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: d.Socket, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("creating pcscd socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	l.Close()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer f.Close()
	// LISTEN_PID must be pcscd's own pid: the shell sets it to $$ and then
	// execs pcscd, which keeps the pid (sd_listen_fds(3)).
	d.cmd = exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" --foreground $2 -c "$1"`, PcscdPath, conf, logLevel())
	d.cmd.ExtraFiles = []*os.File{f}
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	// Pdeathsig stops pcscd if this process dies (a test binary killed on
	// timeout must not leave daemons behind). Linux sends it when the *thread*
	// that forked exits, and Go retires threads at will — which once made
	// pcscd stop polling its readers mid-run — so the fork happens on a
	// locked thread that then waits for pcscd and so lives as long as it.
	//
	// Setpgid keeps pcscd out of the terminal's process group: a Ctrl-C
	// meant for this process must not kill the daemon under it before it
	// has stopped cleanly (it then stops pcscd itself).
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	d.wait = make(chan error, 1)
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := d.cmd.Start(); err != nil {
			started <- err
			return // the locked thread exits with the goroutine
		}
		started <- nil
		d.wait <- d.cmd.Wait()
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting pcscd: %w", err)
	}
	return d, nil
}

// WaitReaders waits until list reports at least n readers, or pcscd exits,
// or the timeout passes.
func (d *Daemon) WaitReaders(n int, list func() ([]string, error), timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-d.wait:
			d.wait <- err
			return fmt.Errorf("pcscd exited (%v); its log:\n%s", err, d.Log())
		default:
		}
		r, err := list()
		if err == nil && len(r) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pcscd did not show %d readers within %v (last: %q, %v); its log:\n%s", n, timeout, r, err, d.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends pcscd and removes its directory. Calling it again does nothing.
func (d *Daemon) Stop() error {
	d.stopOnce.Do(func() {
		if d.cmd != nil && d.cmd.Process != nil {
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.wait:
			case <-time.After(5 * time.Second):
				_ = d.cmd.Process.Kill()
				<-d.wait
			}
		}
		d.stopErr = os.RemoveAll(d.dir)
	})
	return d.stopErr
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// logLevel is pcscd's log option: errors only, unless CONCLAVE_PCSCD_DEBUG is
// set ("apdu" adds the APDUs), because debug logs grow by megabytes a minute.
func logLevel() string {
	switch os.Getenv("CONCLAVE_PCSCD_DEBUG") {
	case "":
		return "--error"
	case "apdu":
		return "--debug --apdu"
	}
	return "--debug"
}

// Reader returns the PC/SC name of reader i: configuration entry i/2,
// vpcd slot i%2 (pcscd appends "00 0n" to the friendly name).
func (d *Daemon) Reader(i int) string {
	return fmt.Sprintf("%s 00 %02d", d.names[i/2], i%2)
}

// WaitCard waits until pcscd sees a card in reader i (present) or sees the
// reader empty (!present). It asks through a short shared-mode probe that
// never leaves the reader locked, unlike an aborted piv.Open (see
// hsm/yubikey/internal/probe). Use it after Card.Insert and Card.Remove: pcscd
// polls a vpcd reader about every 400 ms.
func (d *Daemon) WaitCard(i int, present bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := probe.Probe(d.Reader(i))
		var pe probe.Error
		switch {
		case present && err == nil:
			return nil
		case !present && errors.As(err, &pe) && pe == probe.ErrNoSmartcard:
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reader %d: card present=%v not seen within %v: %v", i, present, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
