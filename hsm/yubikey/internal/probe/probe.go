//go:build cgo

// Package probe reads what piv-go cannot ask a YubiKey: the PIN and PUK
// retry counters and whether the PIN, PUK and management key are still the
// factory defaults, all from GET METADATA (Yubico INS F7, firmware 5.3+),
// which spends no try. It talks to pcscd directly through libpcsclite, in
// shared mode and only between piv-go sessions (piv-go holds the card
// exclusively while open), and sends only SELECT, GET SERIAL, GET VERSION
// and GET METADATA: nothing that changes the card.
//
// A successful probe also shows that the card answers, which matters before
// piv.Open: piv-go v2.6.0 leaks its PC/SC handle — and so keeps the reader
// locked for the rest of the process — when the card vanishes between its
// SCardConnect and its first command.
package probe

// #cgo linux pkg-config: libpcsclite
// #include <stdlib.h>
// #include <PCSC/winscard.h>
// #include <PCSC/wintypes.h>
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// Info is what the probe learnt.
type Info struct {
	Serial   uint32
	Firmware [3]byte
	// HasMetadata is false before firmware 5.3; the fields below are then zero.
	HasMetadata bool
	PINRetries  int
	PINMax      int
	PUKRetries  int
	PUKMax      int
	// DefaultPIN, DefaultPUK and DefaultManagementKey are the card's own
	// "default value" flags (metadata tag 05).
	DefaultPIN           bool
	DefaultPUK           bool
	DefaultManagementKey bool
	// ManagementKeyAlgorithm is 0x03 (3DES), 0x08, 0x0a, 0x0c (AES-128/192/256).
	ManagementKeyAlgorithm byte
}

// Error is a PC/SC return code (pcsclite.h).
type Error uint32

// PC/SC codes callers act on.
const (
	ErrNoSmartcard    Error = 0x8010000C
	ErrSharingViolate Error = 0x8010000B
	ErrNoService      Error = 0x8010001D
	ErrRemovedCard    Error = 0x80100069
	ErrResetCard      Error = 0x80100068
	ErrUnknownReader  Error = 0x80100009
	ErrReaderUnavail  Error = 0x80100017
	ErrNoReaders      Error = 0x8010002E
)

func (e Error) Error() string {
	switch e {
	case ErrNoSmartcard:
		return "no card in the reader"
	case ErrSharingViolate:
		return "the card is in use by another program"
	case ErrNoService:
		return "pcscd is not running"
	case ErrRemovedCard:
		return "the card was removed"
	case ErrResetCard:
		return "the card was reset"
	case ErrUnknownReader, ErrReaderUnavail:
		return "the reader is gone"
	case ErrNoReaders:
		return "no smart card reader"
	}
	return fmt.Sprintf("pc/sc error 0x%08x", uint32(e))
}

func check(rc C.LONG) error {
	if rc == C.SCARD_S_SUCCESS {
		return nil
	}
	return Error(uint32(rc))
}

// StatusError is a card's status word other than 9000.
type StatusError uint16

func (e StatusError) Error() string { return fmt.Sprintf("card answered %04x", uint16(e)) }

// Probe connects to reader in shared mode, reads serial, version and (on
// 5.3+) the PIN, PUK and management key metadata, and disconnects.
func Probe(reader string) (*Info, error) {
	var ctx C.SCARDCONTEXT
	if err := check(C.SCardEstablishContext(C.SCARD_SCOPE_SYSTEM, nil, nil, &ctx)); err != nil {
		return nil, err
	}
	defer C.SCardReleaseContext(ctx)
	cr := C.CString(reader)
	defer C.free(unsafe.Pointer(cr))
	var h C.SCARDHANDLE
	var proto C.DWORD
	if err := check(C.SCardConnect(ctx, cr, C.SCARD_SHARE_SHARED, C.SCARD_PROTOCOL_T1, &h, &proto)); err != nil {
		return nil, err
	}
	defer C.SCardDisconnect(h, C.SCARD_LEAVE_CARD)
	tx := func(apdu []byte) ([]byte, error) {
		var resp [258]byte
		n := C.DWORD(len(resp))
		rc := C.SCardTransmit(h, C.SCARD_PCI_T1, (*C.BYTE)(unsafe.Pointer(&apdu[0])), C.DWORD(len(apdu)), nil, (*C.BYTE)(unsafe.Pointer(&resp[0])), &n)
		if err := check(rc); err != nil {
			return nil, err
		}
		if n < 2 {
			return nil, errors.New("short card response")
		}
		if sw := binary.BigEndian.Uint16(resp[n-2:]); sw != 0x9000 {
			return nil, StatusError(sw)
		}
		return append([]byte(nil), resp[:n-2]...), nil
	}
	// SELECT the PIV application (NIST SP 800-73-4 part 2 §3.1.1).
	if _, err := tx([]byte{0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08}); err != nil {
		return nil, fmt.Errorf("selecting PIV: %w", err)
	}
	v, err := tx([]byte{0x00, 0xfd, 0x00, 0x00, 0x00})
	if err != nil || len(v) != 3 {
		return nil, fmt.Errorf("reading the firmware version: %v", err)
	}
	info := &Info{Firmware: [3]byte(v)}
	var s []byte
	if v[0] >= 5 {
		s, err = tx([]byte{0x00, 0xf8, 0x00, 0x00, 0x00})
	} else {
		// Before firmware 5 the serial comes from the OTP application
		// (Yubico INS 01 P1 10, as piv-go and ykman read it).
		if _, err = tx([]byte{0x00, 0xa4, 0x04, 0x00, 0x08, 0xa0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}); err == nil {
			s, err = tx([]byte{0x00, 0x01, 0x10, 0x00, 0x00})
		}
		if _, err2 := tx([]byte{0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08}); err == nil {
			err = err2
		}
	}
	if err != nil || len(s) != 4 {
		return nil, fmt.Errorf("reading the serial number: %v", err)
	}
	info.Serial = binary.BigEndian.Uint32(s)
	if v[0] < 5 || (v[0] == 5 && v[1] < 3) {
		return info, nil
	}
	info.HasMetadata = true
	meta := func(ref byte) (map[byte][]byte, error) {
		b, err := tx([]byte{0x00, 0xf7, 0x00, ref, 0x00})
		if err != nil {
			return nil, fmt.Errorf("reading metadata %02x: %w", ref, err)
		}
		m := map[byte][]byte{}
		for len(b) >= 2 && int(b[1]) <= len(b)-2 {
			m[b[0]] = b[2 : 2+b[1]]
			b = b[2+b[1]:]
		}
		return m, nil
	}
	for _, ref := range []byte{0x80, 0x81} {
		m, err := meta(ref)
		if err != nil {
			return nil, err
		}
		def := len(m[0x05]) == 1 && m[0x05][0] == 1
		var max, left int
		if r := m[0x06]; len(r) == 2 {
			max, left = int(r[0]), int(r[1])
		}
		if ref == 0x80 {
			info.PINRetries, info.PINMax, info.DefaultPIN = left, max, def
		} else {
			info.PUKRetries, info.PUKMax, info.DefaultPUK = left, max, def
		}
	}
	m, err := meta(0x9b)
	if err != nil {
		return nil, err
	}
	info.DefaultManagementKey = len(m[0x05]) == 1 && m[0x05][0] == 1
	if a := m[0x01]; len(a) == 1 {
		info.ManagementKeyAlgorithm = a[0]
	}
	return info, nil
}
