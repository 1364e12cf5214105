//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/miekg/pkcs11"
)

// login makes sure the user is logged in to the token, asking for the PIN
// through the caller's prompt if needed. The rules (docs/design.md,
// "Tokens"): read the PIN flags first and pass them to the prompt; refuse a
// locked PIN without asking; on a final try ask for an explicit
// confirmation; never try a PIN nobody typed.
func (t *Token) login(ctx context.Context, op string) error {
	api := t.mod.api
	if t.hasAnchor {
		si, err := api.GetSessionInfo(t.anchor)
		if err != nil {
			return wrapErr(op, t.desc, err)
		}
		if si.SlotID != t.slot {
			return &Error{Op: op, Token: t.desc, Code: pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID), Kind: hsm.ErrTokenRemoved}
		}
		if si.State == cksROUserFunctions || si.State == cksRWUserFunctions {
			return nil
		}
	} else {
		sh, err := api.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION)
		if err != nil {
			return wrapErr(op, t.desc, err)
		}
		t.anchor, t.hasAnchor = sh, true
	}
	st, err := t.present(op)
	if err != nil {
		return err
	}
	if !st.LoginRequired() {
		return nil
	}
	return t.enterPIN(ctx, op, st, t.anchor, pkcs11.CKU_USER)
}

// enterPIN asks for the PIN and logs in as userType (CKU_USER, or
// CKU_CONTEXT_SPECIFIC for a key with CKA_ALWAYS_AUTHENTICATE, v2.40 §5.6).
func (t *Token) enterPIN(ctx context.Context, op string, st TokenStatus, sh pkcs11.SessionHandle, userType uint) error {
	api := t.mod.api
	if st.Locked() {
		return &Error{Op: op, Token: t.desc, Code: pkcs11.Error(pkcs11.CKR_PIN_LOCKED), Kind: hsm.ErrPINLocked}
	}
	if t.prompts.PIN == nil {
		return fmt.Errorf("%s on %s: %w", op, t.desc, hsm.ErrPINRequired)
	}
	if st.FinalTry() {
		if t.prompts.Confirm == nil {
			return fmt.Errorf("%s on %s: %w: the token is on its final PIN try and no confirmation can be asked", op, t.desc, hsm.ErrCancelled)
		}
		ok, err := t.prompts.Confirm(ctx, fmt.Sprintf("%s is on its FINAL PIN try: one more wrong PIN locks it. Enter the PIN anyway?", t.desc))
		if err != nil {
			return fmt.Errorf("%s on %s: confirming the final PIN try: %w", op, t.desc, err)
		}
		if !ok {
			return fmt.Errorf("%s on %s: %w (final PIN try declined)", op, t.desc, hsm.ErrCancelled)
		}
	}
	req := hsm.PINRequest{Token: t.desc, RetriesLeft: -1, CountLow: st.CountLow(), FinalTry: st.FinalTry(), PINPad: st.PINPad()}
	pin, err := t.prompts.PIN(ctx, req)
	defer clear(pin)
	if err != nil {
		return fmt.Errorf("%s on %s: asking for the PIN: %w", op, t.desc, err)
	}
	if st.PINPad() {
		// CKF_PROTECTED_AUTHENTICATION_PATH: C_Login with a NULL PIN makes
		// the token read it from its own pad (v2.40 §5.6, C_Login).
		if len(pin) != 0 {
			return fmt.Errorf("%s on %s: the token has a PIN pad: the PIN is typed on the device, not given to Conclave", op, t.desc)
		}
		done := make(chan struct{})
		if t.prompts.Touch != nil {
			go t.prompts.Touch(t.desc, done)
		}
		err = api.Login(sh, userType, "")
		close(done)
	} else {
		if len(pin) == 0 {
			return fmt.Errorf("%s on %s: the PIN is empty; Conclave never tries a PIN nobody typed", op, t.desc)
		}
		// The Go string copy made for the call cannot be zeroed; the
		// caller's bytes are (deferred clear above).
		err = api.Login(sh, userType, string(pin))
	}
	if err == nil {
		return nil
	}
	var code pkcs11.Error
	if !errors.As(err, &code) {
		return wrapErr(op, t.desc, err)
	}
	switch uint(code) {
	case pkcs11.CKR_USER_ALREADY_LOGGED_IN:
		return nil
	case pkcs11.CKR_PIN_INCORRECT:
		// Read the flags again: the token has just counted the failure.
		after, ierr := t.present(op)
		pe := &hsm.PINError{Token: t.desc, RetriesLeft: -1}
		if ierr == nil {
			pe.CountLow, pe.FinalTry = after.CountLow(), after.FinalTry()
			if after.Locked() {
				pe.RetriesLeft = 0
			}
		}
		return pe
	case pkcs11.CKR_USER_PIN_NOT_INITIALIZED:
		return fmt.Errorf("%s on %s: the token has no user PIN yet; the security officer must set one", op, t.desc)
	case pkcs11.CKR_PIN_EXPIRED:
		return fmt.Errorf("%s on %s: the PIN has expired; change it with the HSM's own tools, then retry", op, t.desc)
	case pkcs11.CKR_PIN_LEN_RANGE:
		return fmt.Errorf("%s on %s: the PIN has the wrong length for this token (the token did not count it as a try)", op, t.desc)
	}
	return wrapErr(op, t.desc, err)
}
