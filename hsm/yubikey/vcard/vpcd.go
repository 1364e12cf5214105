package vcard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ATR is a YubiKey 5 answer-to-reset offering T=1 (piv-go connects with T=1
// only). The historical bytes spell "YubiKey".
var ATR = []byte{
	0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x80, 0x73, 0xc0,
	0x21, 0xc0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4b, 0x65, 0x79, 0x40,
}

// vpcd control bytes (vsmartcard-vpcd 3.3, vpcd.h): a one-byte message from
// the reader is a control request; only GET ATR expects an answer.
const (
	vpcdPowerOff = 0x00
	vpcdPowerOn  = 0x01
	vpcdReset    = 0x02
	vpcdGetATR   = 0x04
)

type connState struct {
	mu   sync.Mutex
	conn net.Conn
	done chan struct{}
}

// ErrNotInserted is returned by Remove when the card is not in a reader.
var ErrNotInserted = errors.New("virtual card is not inserted")

// Insert connects the card to a vpcd virtual reader, as inserting it. addr
// must be a loopback address such as "127.0.0.1:35963": the simulator never
// talks to anything else. It returns once connected; the card then serves
// the reader in the background until [Card.Remove].
func (c *Card) Insert(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("inserting virtual card: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("inserting virtual card: %s is not a loopback address", addr)
	}
	c.conn.mu.Lock()
	defer c.conn.mu.Unlock()
	if c.conn.conn != nil {
		return fmt.Errorf("inserting virtual card: already inserted")
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("inserting virtual card into %s: %w", addr, err)
	}
	done := make(chan struct{})
	c.conn.conn, c.conn.done = conn, done
	go func() {
		defer close(done)
		c.serve(conn)
	}()
	return nil
}

// Remove disconnects the card from its reader, as pulling it out, and waits
// until the connection is closed. Volatile state (PIN verified, management
// key authenticated) is lost, as on a real card.
func (c *Card) Remove() error {
	c.conn.mu.Lock()
	conn, done := c.conn.conn, c.conn.done
	c.conn.conn = nil
	c.conn.mu.Unlock()
	if conn == nil {
		return ErrNotInserted
	}
	err := conn.Close()
	<-done
	return err
}

// Inserted reports whether the card is connected to a reader.
func (c *Card) Inserted() bool {
	c.conn.mu.Lock()
	defer c.conn.mu.Unlock()
	return c.conn.conn != nil
}

// quickAck re-arms TCP_QUICKACK, which Linux clears after use (tcp(7)):
// without it the reader's delayed ACK and Nagle cost about 40 ms per APDU.
func quickAck(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}

func (c *Card) serve(conn net.Conn) {
	defer func() {
		c.mu.Lock()
		c.powerOff()
		c.mu.Unlock()
		c.conn.mu.Lock()
		if c.conn.conn == conn {
			c.conn.conn = nil
		}
		c.conn.mu.Unlock()
		conn.Close()
	}()
	var hdr [2]byte
	for {
		quickAck(conn)
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(conn, msg); err != nil {
			return
		}
		quickAck(conn)
		var resp []byte
		if len(msg) == 1 {
			switch msg[0] {
			case vpcdPowerOff, vpcdReset:
				c.mu.Lock()
				c.powerOff()
				c.mu.Unlock()
				continue
			case vpcdPowerOn:
				continue
			case vpcdGetATR:
				resp = ATR
			default:
				continue
			}
		} else {
			c.mu.Lock()
			match := c.removeOn
			if match != nil && match(msg) {
				c.removeOn = nil
				c.mu.Unlock()
				return // pulled out before answering
			}
			c.mu.Unlock()
			resp = c.Process(msg)
		}
		out := make([]byte, 2+len(resp))
		binary.BigEndian.PutUint16(out, uint16(len(resp)))
		copy(out[2:], resp)
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}
