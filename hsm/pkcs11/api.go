//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"
	"strings"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/miekg/pkcs11"
)

// api is the narrow part of PKCS#11 that Conclave uses. *pkcs11.Ctx
// implements it; tests wrap it to show behaviours SoftHSM cannot (a PIN pad,
// a missed touch, a device pulled mid-signature), and those wrappers are
// named as fakes.
type api interface {
	GetInfo() (pkcs11.Info, error)
	GetSlotList(tokenPresent bool) ([]uint, error)
	GetSlotInfo(slotID uint) (pkcs11.SlotInfo, error)
	GetTokenInfo(slotID uint) (pkcs11.TokenInfo, error)
	GetMechanismList(slotID uint) ([]*pkcs11.Mechanism, error)
	GetMechanismInfo(slotID uint, m []*pkcs11.Mechanism) (pkcs11.MechanismInfo, error)
	OpenSession(slotID uint, flags uint) (pkcs11.SessionHandle, error)
	CloseSession(sh pkcs11.SessionHandle) error
	GetSessionInfo(sh pkcs11.SessionHandle) (pkcs11.SessionInfo, error)
	Login(sh pkcs11.SessionHandle, userType uint, pin string) error
	Logout(sh pkcs11.SessionHandle) error
	FindObjectsInit(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) error
	FindObjects(sh pkcs11.SessionHandle, max int) ([]pkcs11.ObjectHandle, bool, error)
	FindObjectsFinal(sh pkcs11.SessionHandle) error
	GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error)
	SignInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error
	Sign(sh pkcs11.SessionHandle, message []byte) ([]byte, error)
	GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error)
	GenerateRandom(sh pkcs11.SessionHandle, length int) ([]byte, error)
	DestroyObject(sh pkcs11.SessionHandle, oh pkcs11.ObjectHandle) error
}

var _ api = (*pkcs11.Ctx)(nil)

// PKCS#11 3.0 values that miekg/pkcs11 v1.1.2 does not define
// (PKCS#11 Specification v3.0, §2.3.5 and §6.3).
const (
	ckkECEdwards           = 0x40
	ckmECEdwardsKeyPairGen = 0x1055
	ckmEdDSA               = 0x1057
)

// Session states (PKCS#11 v2.40 §5.7, CK_STATE).
const (
	cksROUserFunctions = 1
	cksRWUserFunctions = 3
)

// ErrKeyExportable means the private key can be exported from the token, or was
// at some point (it was imported, or made extractable). Conclave signs only
// with keys that were generated on the token and never left it.
var ErrKeyExportable = errors.New("the private key can be, or once could be, exported from the token")

// Error is a PKCS#11 failure during one operation on one token. It unwraps to
// the hsm sentinel that says what the key holder can do (hsm.ErrTokenRemoved,
// hsm.ErrPINLocked, …) when there is one, and to the module's return value
// (a pkcs11.Error) for the record.
type Error struct {
	// Op says what Conclave was doing, e.g. "signing with key 'root-1'".
	Op string
	// Token is the token's description.
	Token string
	// Code is the PKCS#11 return value (CKR_…).
	Code pkcs11.Error
	// Kind is the hsm sentinel, or nil.
	Kind error
}

func (e *Error) Error() string {
	name := ckrName(e.Code)
	var advice string
	switch e.Kind {
	case nil:
		return fmt.Sprintf("%s on %s: the module returned %s", e.Op, e.Token, name)
	case hsm.ErrTokenRemoved:
		advice = "; put it back and open it again, then retry"
	case hsm.ErrPINLocked:
		advice = "; the security officer must unblock it"
	}
	return fmt.Sprintf("%s on %s: %v (%s)%s", e.Op, e.Token, e.Kind, name, advice)
}

// Unwrap gives both the sentinel and the module's code to errors.Is / errors.As.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Code}
	}
	return []error{e.Kind, e.Code}
}

// ckrName is "CKR_PIN_INCORRECT" for a pkcs11.Error, whose own text is
// "pkcs11: 0xA0: CKR_PIN_INCORRECT".
func ckrName(code pkcs11.Error) string {
	s := code.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s[i+2:], "CKR_") {
		return s[i+2:]
	}
	return fmt.Sprintf("CKR 0x%X", uint(code))
}

// kindOf maps a PKCS#11 return value to what a key holder can act on
// (PKCS#11 v2.40 §5.1 for the meanings).
func kindOf(code pkcs11.Error) error {
	switch uint(code) {
	case pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_SLOT_ID_INVALID:
		// All sessions end when a token is removed (§5.6); a session
		// handle that became invalid between two calls is how most
		// modules report a token pulled and plugged back in.
		return hsm.ErrTokenRemoved
	case pkcs11.CKR_PIN_LOCKED:
		return hsm.ErrPINLocked
	case pkcs11.CKR_USER_NOT_LOGGED_IN:
		// Some tokens (e.g. with a touch policy) answer this when the
		// touch did not happen in time.
		return hsm.ErrNotLoggedIn
	case pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID,
		pkcs11.CKR_KEY_TYPE_INCONSISTENT, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED,
		pkcs11.CKR_FUNCTION_NOT_SUPPORTED:
		return hsm.ErrMechanism
	}
	return nil
}

// wrapErr turns an error from the module into an *Error; other errors
// (already wrapped, or from Go code) pass through with the operation added.
func wrapErr(op, token string, err error) error {
	var code pkcs11.Error
	if errors.As(err, &code) {
		var already *Error
		if errors.As(err, &already) {
			return err
		}
		return &Error{Op: op, Token: token, Code: code, Kind: kindOf(code)}
	}
	return fmt.Errorf("%s on %s: %w", op, token, err)
}

// isRemoval reports whether err means the token went away.
func isRemoval(err error) bool { return errors.Is(err, hsm.ErrTokenRemoved) }
