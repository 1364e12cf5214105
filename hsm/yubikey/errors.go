//go:build cgo

package yubikey

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey/internal/probe"
)

// Errors of this backend beyond the ones in package hsm.
var (
	// ErrNoPCSCD: the PC/SC daemon is not running (or not reachable).
	ErrNoPCSCD = errors.New("pcscd is not running: start it (Debian: apt install pcscd; pcscd --foreground) and try again")
	// ErrCardBusy: another program has the YubiKey open (PC/SC exclusive
	// access, e.g. gpg's scdaemon, ykman, a browser).
	ErrCardBusy = errors.New("the YubiKey is in use by another program: close it (gpg's scdaemon, ykman, a browser) and try again")
	// ErrFactoryCredentials: the card still has a factory PIN, PUK or
	// management key. Conclave never uses them for a ceremony key.
	ErrFactoryCredentials = errors.New("the YubiKey still has a factory default credential")
	// ErrTouchTimeout: the card waited for a touch and none came.
	ErrTouchTimeout = fmt.Errorf("no touch within the YubiKey's 15 seconds: %w", hsm.ErrNotLoggedIn)
	// ErrNotGenuine: an attestation chains to no configured root.
	ErrNotGenuine = errors.New("the attestation does not chain to a trusted root")
	// ErrPolicy: an attestation does not meet the required policy.
	ErrPolicy = errors.New("the attestation does not meet the policy")
)

// WrongCardError says which YubiKey to insert. It wraps hsm.ErrWrongToken.
type WrongCardError struct {
	Want   uint32
	Holder string
	// Found lists the serials of the YubiKeys that are present.
	Found []uint32
	// Reason is set when the serial matched but the key did not.
	Reason string
}

func (e *WrongCardError) Error() string {
	who := ""
	if e.Holder != "" {
		who = " (" + e.Holder + ")"
	}
	switch {
	case e.Reason != "":
		return fmt.Sprintf("insert YubiKey %d%s: %s", e.Want, who, e.Reason)
	case len(e.Found) == 0:
		return fmt.Sprintf("insert YubiKey %d%s: no YubiKey is present", e.Want, who)
	}
	return fmt.Sprintf("insert YubiKey %d%s: found %s instead", e.Want, who, serialList(e.Found))
}

func (e *WrongCardError) Unwrap() error { return hsm.ErrWrongToken }

func serialList(s []uint32) string {
	out := ""
	for i, n := range s {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprint(n)
	}
	return out
}

// FactoryCredentialError names which factory credential is still set.
type FactoryCredentialError struct {
	Token string
	What  string // "PIN", "PUK", "management key"
}

func (e *FactoryCredentialError) Error() string {
	return fmt.Sprintf("%s still has the factory %s; change it first with ykman piv access change-%s",
		e.Token, e.What, map[string]string{"PIN": "pin", "PUK": "puk", "management key": "management-key"}[e.What])
}

func (e *FactoryCredentialError) Unwrap() error { return ErrFactoryCredentials }

// pcscCause maps a PC/SC failure inside a piv-go error to one of ours.
//
// piv-go v2.6.0 reports PC/SC return codes as an unexported *piv.scErr
// whose only method is Error; its messages come from pcsc-lite's
// pcsc_stringify_error table (piv/pcsc_errors.go). We recognise the type by
// name and the code by its exact message, which piv-go generates from the
// codes — a change there breaks the tests of this file, not silently the
// mapping.
var pcscMessages = map[string]error{
	"the operation requires a Smart Card, but no Smart Card is currently in the device":               hsm.ErrTokenRemoved, // SCARD_E_NO_SMARTCARD
	"the smart card has been removed, so further communication is not possible":                       hsm.ErrTokenRemoved, // SCARD_W_REMOVED_CARD
	"the smart card has been reset, so any shared state information is invalid":                       hsm.ErrTokenRemoved, // SCARD_W_RESET_CARD
	"power has been removed from the smart card, so that further communication is not possible":       hsm.ErrTokenRemoved, // SCARD_W_UNPOWERED_CARD
	"the specified reader is not currently available for use":                                         hsm.ErrTokenRemoved, // SCARD_E_READER_UNAVAILABLE
	"the specified reader name is not recognized":                                                     hsm.ErrTokenRemoved, // SCARD_E_UNKNOWN_READER
	"cannot find a smart card reader":                                                                 hsm.ErrTokenRemoved, // SCARD_E_NO_READERS_AVAILABLE
	"the smart card is not responding to a reset":                                                     hsm.ErrTokenRemoved, // SCARD_W_UNRESPONSIVE_CARD
	"an internal communications error has been detected":                                              hsm.ErrTokenRemoved, // SCARD_F_COMM_ERROR
	"the Smart card resource manager is not running":                                                  ErrNoPCSCD,          // SCARD_E_NO_SERVICE
	"the Smart card resource manager has shut down":                                                   ErrNoPCSCD,          // SCARD_E_SERVICE_STOPPED
	"the smart card cannot be accessed because of other connections outstanding":                      ErrCardBusy,         // SCARD_E_SHARING_VIOLATION
	"the reader or smart card is not ready to accept commands":                                        hsm.ErrTokenRemoved, // SCARD_E_NOT_READY
	"the requested protocols are incompatible with the protocol currently in use with the smart card": ErrCardBusy,         // SCARD_E_PROTO_MISMATCH
}

var probeCauses = map[probe.Error]error{
	probe.ErrNoSmartcard:    hsm.ErrTokenRemoved,
	probe.ErrRemovedCard:    hsm.ErrTokenRemoved,
	probe.ErrResetCard:      hsm.ErrTokenRemoved,
	probe.ErrUnknownReader:  hsm.ErrTokenRemoved,
	probe.ErrReaderUnavail:  hsm.ErrTokenRemoved,
	probe.ErrNoReaders:      hsm.ErrTokenRemoved,
	probe.ErrNoService:      ErrNoPCSCD,
	probe.ErrSharingViolate: ErrCardBusy,
}

// cause finds the PC/SC failure in err, if any.
func cause(err error) error {
	var pe probe.Error
	if errors.As(err, &pe) {
		return probeCauses[pe]
	}
	// vpcd answers a command whose card vanished with an empty response
	// and success; piv-go reports that as "scard response too short: 0"
	// (piv/pcsc_unix.go). A response without a status word means the card
	// did not answer: it is gone.
	if strings.Contains(err.Error(), "scard response too short: ") {
		return hsm.ErrTokenRemoved
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if t := reflect.TypeOf(e); t.Kind() == reflect.Pointer && t.Elem().Name() == "scErr" && t.Elem().PkgPath() == "github.com/go-piv/piv-go/v2/piv" {
			return pcscMessages[e.Error()]
		}
	}
	return nil
}

// classify turns a piv-go error into one a key holder can act on, keeping
// the original text as context. It never sees a PIN: piv-go's errors do not
// carry one.
func classify(token string, err error) error {
	if err == nil {
		return nil
	}
	if c := cause(err); c != nil {
		return &causeError{cause: c, detail: err}
	}
	var ae piv.AuthErr
	if errors.As(err, &ae) {
		return &hsm.PINError{Token: token, RetriesLeft: ae.Retries, FinalTry: ae.Retries == 1}
	}
	if sw, ok := statusWord(err); ok && sw == 0x6982 {
		// SECURITY STATUS NOT SATISFIED after the PIN was accepted: on a
		// YubiKey this is the missed touch (Yubico, "PIV touch policy").
		return &causeError{cause: ErrTouchTimeout, detail: err}
	}
	return err
}

// statusWord finds a card status word in a piv-go error (*piv.apduErr has
// an exported Status method).
func statusWord(err error) (uint16, bool) {
	var s interface{ Status() uint16 }
	if errors.As(err, &s) {
		return s.Status(), true
	}
	return 0, false
}

// causeError is a sentinel with the lower-level detail after it.
type causeError struct {
	cause  error
	detail error
}

func (e *causeError) Error() string { return e.cause.Error() + " (" + e.detail.Error() + ")" }
func (e *causeError) Unwrap() []error {
	return []error{e.cause, e.detail}
}
