//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// InitRehearsalToken initialises a new token in SoftHSM's free slot, through
// PKCS#11 itself (C_InitToken, security-officer login, C_InitPIN), and
// returns its serial. It is for rehearsals and tests, and refuses any module
// other than SoftHSM: on a real HSM, initialising a token destroys what it
// holds. The PINs are zeroed after use.
func (m *Module) InitRehearsalToken(label string, soPIN, userPIN []byte) (serial string, err error) {
	defer clear(soPIN)
	defer clear(userPIN)
	if !m.IsSoftHSM() {
		return "", fmt.Errorf("initialising token %q: refused on %s, which is not SoftHSM (only rehearsal tokens are initialised by Conclave)", label, m.Path())
	}
	if label == "" || len(label) > 32 {
		return "", fmt.Errorf("initialising token %q: a token label has 1 to 32 bytes", label)
	}
	if len(soPIN) == 0 || len(userPIN) == 0 {
		return "", fmt.Errorf("initialising token %q: %w", label, errors.New("both PINs are needed"))
	}
	slots, err := m.api.GetSlotList(true)
	if err != nil {
		return "", fmt.Errorf("initialising token %q: %w", label, err)
	}
	free, found := uint(0), false
	for _, s := range slots {
		ti, err := m.api.GetTokenInfo(s)
		if err != nil {
			return "", fmt.Errorf("initialising token %q: %w", label, err)
		}
		if ti.Label == label && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
			return "", fmt.Errorf("initialising token %q: a token with this label exists already", label)
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			free, found = s, true
		}
	}
	if !found {
		return "", fmt.Errorf("initialising token %q: SoftHSM has no free slot", label)
	}
	ctx := m.sh.ctx
	if err := ctx.InitToken(free, string(soPIN), label); err != nil {
		return "", fmt.Errorf("initialising token %q: %w", label, err)
	}
	// SoftHSM gives the new token a new slot id: find it by label.
	slots, err = m.api.GetSlotList(true)
	if err != nil {
		return "", fmt.Errorf("initialising token %q: %w", label, err)
	}
	for _, s := range slots {
		ti, err := m.api.GetTokenInfo(s)
		if err != nil || ti.Label != label {
			continue
		}
		sh, err := ctx.OpenSession(s, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return "", fmt.Errorf("initialising token %q: %w", label, err)
		}
		defer ctx.CloseSession(sh)
		if err := ctx.Login(sh, pkcs11.CKU_SO, string(soPIN)); err != nil {
			return "", fmt.Errorf("initialising token %q: security officer login: %w", label, err)
		}
		defer ctx.Logout(sh)
		if err := ctx.InitPIN(sh, string(userPIN)); err != nil {
			return "", fmt.Errorf("initialising token %q: setting the user PIN: %w", label, err)
		}
		return ti.SerialNumber, nil
	}
	return "", fmt.Errorf("initialising token %q: the new token did not appear", label)
}
