//go:build cgo

package rehearsal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/hsm/yubikey/pcscd"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

// SoftHSMModule is the SoftHSMv2 PKCS#11 module of the Debian package
// softhsm2.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// The rehearsal's virtual YubiKeys: the first serial (the cards name
// themselves SIMULATOR on every certificate they make, whatever their
// serial), the slot their holders' keys are generated in, and the
// firmware they report (5.7: AES-192 management keys, Ed25519).
const (
	firstSerial = 91000001
	holderSlot  = "9c"
)

var simulatorFirmware = [3]byte{5, 7, 1}

// autoTouch is how soon a virtual card "touches itself": quicker than
// yubikey.DefaultTouchDelay, so no "touch your YubiKey" notice appears.
const autoTouch = 50 * time.Millisecond

// started guards the process-wide state a rehearsal's tokens need:
// libpcsclite reads PCSCLITE_CSOCK_NAME once per process, and SoftHSM reads
// SOFTHSM2_CONF when it is first initialised.
var started atomic.Bool

// ErrTokensStarted is returned by StartTokens when this process already
// started rehearsal tokens: the PC/SC library would still talk to the
// first private pcscd.
var ErrTokensStarted = errors.New("this process already started rehearsal tokens (the PC/SC library reaches only the first private pcscd of a process)")

// Tokens are the rehearsal's three holders' tokens, running in a private
// directory: two virtual YubiKeys (package vcard) in the readers of a
// private pcscd through vsmartcard-vpcd, and a SoftHSM token. Every key
// was generated on its token; every PIN, PUK and management key was
// changed from the factory value to a fresh random one. Stop ends them all.
type Tokens struct {
	// Dir is the private directory: pcscd's socket and reader
	// configuration, SoftHSM's configuration and token files.
	Dir string
	// Holders are Alice and Bob (YubiKeys) and Carol (SoftHSM).
	Holders []*Holder
	// Roots is the virtual cards' attestation root: a SIMULATOR root,
	// never Yubico's. Keys attested under it are marked NON-YUBICO.
	Roots *yubikey.Roots
	// SoftHSM is the module's allow-list entry (path and hash), allowed
	// only because this is a rehearsal (pkcs11.ModulePolicy.Rehearsal).
	SoftHSM pkcs11.AllowedModule

	daemon *pcscd.Daemon
	cards  []*vcard.Card

	stopOnce sync.Once
	stopErr  error
}

// Holder is one rehearsal key holder and the key enrolled on their token.
type Holder struct {
	Name string
	// Key is the public key as TUF names it.
	Key *tuf.Key
	// Enrolled selects the key: YubiKey serial and slot, or a PKCS#11 URI.
	Enrolled policy.HolderKey
	// Token describes the token, as its backend does.
	Token string
	pin   []byte
}

// PIN returns a copy of the holder's rehearsal PIN, for the ceremony's PIN
// prompt. It is never printed, logged or written anywhere.
func (h *Holder) PIN() []byte { return append([]byte(nil), h.pin...) }

// ModulePolicy is the PKCS#11 module policy that lets the ceremony open
// the SoftHSM token: SoftHSM by its hash, as a rehearsal only.
func (t *Tokens) ModulePolicy() pkcs11.ModulePolicy {
	return pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{t.SoftHSM}, Rehearsal: true}
}

// MissingError says which program or module a rehearsal's tokens need and
// which Debian package provides it.
type MissingError struct {
	Path    string
	Package string
	Err     error
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s is missing: the rehearsal's tokens need the Debian package %s (make setup installs it): %v", e.Path, e.Package, e.Err)
}

func (e *MissingError) Unwrap() error { return e.Err }

// CheckTokenSoftware reports the first program or module the rehearsal's
// tokens need that is missing: pcscd, the vpcd reader driver, SoftHSM.
func CheckTokenSoftware() error {
	return checkSoftware([]needed{
		{pcscd.PcscdPath, "pcscd"},
		{pcscd.VpcdPath, "vsmartcard-vpcd"},
		{SoftHSMModule, "softhsm2"},
	})
}

// needed is a file and the Debian package that installs it.
type needed struct{ path, pkg string }

func checkSoftware(needs []needed) error {
	for _, n := range needs {
		if _, err := os.Stat(n.path); err != nil {
			return &MissingError{Path: n.path, Package: n.pkg, Err: err}
		}
	}
	return nil
}

// StartTokens starts the rehearsal's tokens in a new private directory
// inside parent (the system's temporary directory when empty) and enrols
// the three holders. It sets this process's PCSCLITE_CSOCK_NAME and
// SOFTHSM2_CONF, so it can be called once per process. On failure it
// stops whatever it had started.
func StartTokens(ctx context.Context, parent string) (_ *Tokens, err error) {
	if err := CheckTokenSoftware(); err != nil {
		return nil, err
	}
	if !started.CompareAndSwap(false, true) {
		return nil, ErrTokensStarted
	}
	dir, err := os.MkdirTemp(parent, "conclave-rehearsal-tokens-")
	if err != nil {
		return nil, fmt.Errorf("create the rehearsal's token directory: %w", err)
	}
	t := &Tokens{Dir: dir}
	defer func() {
		if err != nil {
			if serr := t.Stop(); serr != nil {
				err = fmt.Errorf("%w (and stopping the tokens: %v)", err, serr)
			}
		}
	}()
	if err := t.startYubiKeys(ctx); err != nil {
		return nil, err
	}
	carol, err := t.startSoftHSM(ctx, "Carol")
	if err != nil {
		return nil, err
	}
	t.Holders = append(t.Holders, carol)
	return t, nil
}

// startYubiKeys starts a private pcscd with two vpcd readers, inserts a
// factory-fresh virtual card in each and enrols Alice and Bob on them.
func (t *Tokens) startYubiKeys(ctx context.Context) error {
	d, err := pcscd.StartIn(t.Dir, 2, func(int) string { return "Conclave rehearsal vpcd" })
	if err != nil {
		return fmt.Errorf("start the rehearsal's private pcscd: %w", err)
	}
	t.daemon = d
	if err := os.Setenv("PCSCLITE_CSOCK_NAME", d.Socket); err != nil {
		return err
	}
	ca, err := vcard.NewCA()
	if err != nil {
		return err
	}
	t.Roots = yubikey.NewRoots("Conclave rehearsal SIMULATOR attestation root", ca.Cert)
	for i, name := range []string{"Alice", "Bob"} {
		card, err := vcard.New(vcard.Config{Serial: firstSerial + uint32(i), Firmware: simulatorFirmware, CA: ca, AutoTouch: autoTouch})
		if err != nil {
			return err
		}
		if err := insert(ctx, d, card, i); err != nil {
			return err
		}
		t.cards = append(t.cards, card)
		h, err := t.enrolYubiKey(ctx, name, card.Serial())
		if err != nil {
			return err
		}
		t.Holders = append(t.Holders, h)
	}
	return nil
}

// insert puts card into reader i, waiting for vpcd to listen (pcscd loads
// the driver a moment after it starts) and then for pcscd to see the card.
func insert(ctx context.Context, d *pcscd.Daemon, card *vcard.Card, i int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := card.Insert(d.Addr(i))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("insert virtual YubiKey %d: %w; pcscd's log:\n%s", card.Serial(), err, d.Log())
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return d.WaitCard(i, true, 10*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// enrolYubiKey takes a factory-fresh card through the enrolment steps a
// new holder's YubiKey goes through (hsm/yubikey): new PIN and PUK, a
// fresh management key stored PIN-protected on the card, and a key
// generated in slot 9c, PIN once and touch always, attested.
func (t *Tokens) enrolYubiKey(ctx context.Context, name string, serial uint32) (*Holder, error) {
	pin, err := randomPIN(8)
	if err != nil {
		return nil, err
	}
	puk, err := randomPIN(8)
	if err != nil {
		return nil, err
	}
	defer clear(puk)
	tok, err := yubikey.Open(ctx, yubikey.Options{Serial: serial, Holder: name, Roots: t.Roots, Prompts: pinPrompts(pin)})
	if err != nil {
		return nil, fmt.Errorf("open %s's virtual YubiKey: %w", name, err)
	}
	defer tok.Close()
	// The factory values come from piv-go, which ships the YubiKey's
	// defaults; the simulator starts with them, as a new YubiKey does.
	if err := tok.ChangePIN(ctx, []byte(piv.DefaultPIN), pin); err != nil {
		return nil, err
	}
	if err := tok.ChangePUK(ctx, []byte(piv.DefaultPUK), puk); err != nil {
		return nil, err
	}
	if err := tok.RotateManagementKey(ctx, piv.DefaultManagementKey, yubikey.StoreOnCard); err != nil {
		return nil, err
	}
	k, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.ECDSAP256, Slot: holderSlot, PINPolicy: "once", TouchPolicy: "always"})
	if err != nil {
		return nil, err
	}
	if !k.Attested {
		return nil, fmt.Errorf("%s's key on %s is not attested by the simulator root", name, tok.Describe())
	}
	key, err := tuf.KeyFromPublic(k.Public)
	if err != nil {
		return nil, err
	}
	return &Holder{
		Name:     name,
		Key:      key,
		Enrolled: policy.HolderKey{KeyID: key.ID(), Token: policy.TokenYubiKey, Serial: serial, Slot: holderSlot},
		Token:    tok.Describe(),
		pin:      pin,
	}, nil
}

// startSoftHSM gives SoftHSM a configuration and token directory inside
// t.Dir, initialises a token for the holder and generates an ECDSA P-256
// key on it.
func (t *Tokens) startSoftHSM(ctx context.Context, name string) (*Holder, error) {
	tokens := filepath.Join(t.Dir, "softhsm-tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(t.Dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		return nil, err
	}
	path, sum, err := pkcs11.HashModule(SoftHSMModule)
	if err != nil {
		return nil, err
	}
	t.SoftHSM = pkcs11.AllowedModule{Path: path, SHA256: sum}
	m, err := pkcs11.Load(path, t.ModulePolicy())
	if err != nil {
		return nil, err
	}
	defer m.Close()
	pin, err := randomPIN(8)
	if err != nil {
		return nil, err
	}
	so, err := randomPIN(8)
	if err != nil {
		return nil, err
	}
	label := "rehearsal-" + name
	// InitRehearsalToken zeroes the PINs it is given: it gets copies.
	if _, err := m.InitRehearsalToken(label, so, append([]byte(nil), pin...)); err != nil {
		return nil, err
	}
	sel := uri.New()
	sel.Set(uri.Token, label)
	tok, err := m.OpenToken(ctx, sel, pinPrompts(pin))
	if err != nil {
		return nil, err
	}
	defer tok.Close()
	k, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.ECDSAP256, Label: name})
	if err != nil {
		return nil, err
	}
	key, err := pkcs11.TUFKey(k)
	if err != nil {
		return nil, err
	}
	return &Holder{
		Name:     name,
		Key:      key,
		Enrolled: policy.HolderKey{KeyID: key.ID(), Token: policy.TokenPKCS11, URI: k.URI},
		Token:    tok.Describe(),
		pin:      pin,
	}, nil
}

// pinPrompts answers every PIN request with pin.
func pinPrompts(pin []byte) hsm.Prompts {
	return hsm.Prompts{
		PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return append([]byte(nil), pin...), nil },
	}
}

// pinAlphabet is what a rehearsal PIN is drawn from. Letters as well as
// digits make a PIN that no number, hash or signature the rehearsal
// writes contains by chance, so that a search for it in the rehearsal's
// output finds only a leak.
const pinAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomPIN is a fresh random PIN of n characters (YubiKey PINs and PUKs
// have 6 to 8; SoftHSM accepts 4 to 255).
func randomPIN(n int) ([]byte, error) {
	out := make([]byte, n)
	for i := range out {
		d, err := rand.Int(rand.Reader, big.NewInt(int64(len(pinAlphabet))))
		if err != nil {
			return nil, err
		}
		out[i] = pinAlphabet[d.Int64()]
	}
	return out, nil
}

// Stop pulls the virtual cards, stops the private pcscd and removes the
// private directory with SoftHSM's token files. It is safe to call more
// than once and on partly started tokens.
func (t *Tokens) Stop() error {
	t.stopOnce.Do(func() {
		var errs []error
		for _, c := range t.cards {
			if c.Inserted() {
				if err := c.Remove(); err != nil {
					errs = append(errs, fmt.Errorf("pull virtual YubiKey %d: %w", c.Serial(), err))
				}
			}
		}
		if t.daemon != nil {
			if err := t.daemon.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop the private pcscd: %w", err))
			}
		}
		for _, h := range t.Holders {
			clear(h.pin)
		}
		if err := os.RemoveAll(t.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", t.Dir, err))
		}
		t.stopErr = errors.Join(errs...)
	})
	return t.stopErr
}
