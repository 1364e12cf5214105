//go:build cgo

package yubikey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/hsm"
)

// Signer returns a crypto.Signer for a key listed by Keys (or any key with
// Slot and Public set). It checks the slot still holds that public key and
// refuses a card with factory credentials.
func (t *Token) Signer(ctx context.Context, key hsm.KeyInfo) (crypto.Signer, error) {
	slotName := key.Slot
	if slotName == "" {
		slotName = DefaultSlot
	}
	slot, err := ParseSlot(slotName)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ensure(ctx); err != nil {
		return nil, err
	}
	if err := t.factoryCheck(); err != nil {
		return nil, err
	}
	pub, ki, err := t.slotKey(slot)
	if err != nil {
		return nil, err
	}
	if key.Public != nil && !samePublic(pub, key.Public) {
		return nil, &WrongCardError{Want: t.info.Serial, Holder: t.opts.Holder, Reason: fmt.Sprintf("slot %s holds a different key than the one expected", slot)}
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey:
	default:
		return nil, fmt.Errorf("%s, slot %s: %T keys cannot sign: %w", t.describe(), slot, pub, hsm.ErrMechanism)
	}
	s := &Signer{t: t, ctx: ctx, slot: slot, pub: pub, pin: ki.PINPolicy, touch: ki.TouchPolicy, gen: t.gen}
	if s.pin == 0 {
		// Unknown (firmware before 4.3, no attestation): ask for the PIN
		// whenever the card says it is needed, as piv-go does.
		s.pin = piv.PINPolicyAlways
	}
	return s, nil
}

// Signer signs with one YubiKey slot. It is safe for concurrent use; the
// card does one thing at a time.
type Signer struct {
	t     *Token
	ctx   context.Context
	slot  piv.Slot
	pub   crypto.PublicKey
	pin   piv.PINPolicy
	touch piv.TouchPolicy
	gen   int // Token.gen when the key was checked
}

var _ crypto.Signer = (*Signer)(nil)

// Public returns the slot's public key.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Slot returns the slot, e.g. "9c".
func (s *Signer) Slot() string { return s.slot.String() }

// checkOpts enforces what Conclave signs with (TUF 1.0 schemes): ECDSA
// over a SHA-256 (P-256) or SHA-384 (P-384) digest, pure Ed25519 over the
// message, RSA only as RSASSA-PSS.
func (s *Signer) checkOpts(digest []byte, opts crypto.SignerOpts) error {
	switch p := s.pub.(type) {
	case *ecdsa.PublicKey:
		h := opts.HashFunc()
		if h == 0 || len(digest) != h.Size() {
			return fmt.Errorf("ecdsa signing needs a digest matching the hash (got %d bytes for %v): %w", len(digest), h, hsm.ErrMechanism)
		}
		_ = p
	case ed25519.PublicKey:
		if opts.HashFunc() != 0 {
			return fmt.Errorf("only pure ed25519 is supported, not ed25519ph: %w", hsm.ErrMechanism)
		}
		if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
			return fmt.Errorf("ed25519 with a context is not supported: %w", hsm.ErrMechanism)
		}
	case *rsa.PublicKey:
		if _, ok := opts.(*rsa.PSSOptions); !ok {
			return fmt.Errorf("rsa keys sign only with rsassa-pss (pass *rsa.PSSOptions): %w", hsm.ErrMechanism)
		}
		if h := opts.HashFunc(); h == 0 || len(digest) != h.Size() {
			return fmt.Errorf("rsa-pss needs a digest matching the hash: %w", hsm.ErrMechanism)
		}
	}
	return nil
}

// Sign signs digest (the message itself for Ed25519). It asks for the PIN
// only if the card needs it, signals a pending touch after the delay, and
// verifies the signature against the public key before returning it.
func (s *Signer) Sign(rnd io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.checkOpts(digest, opts); err != nil {
		return nil, err
	}
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ensure(s.ctx); err != nil {
		return nil, err
	}
	if s.gen != t.gen {
		// Reconnected since: check the slot still holds this key before
		// any PIN is asked.
		pub, _, err := t.slotKey(s.slot)
		if err != nil {
			return nil, err
		}
		if !samePublic(pub, s.pub) {
			return nil, &WrongCardError{Want: t.info.Serial, Holder: t.opts.Holder, Reason: fmt.Sprintf("slot %s now holds a different key", s.slot)}
		}
		s.gen = t.gen
	}
	desc := t.describe()
	tw := newTouchWatch(t.opts.Prompts.Touch, desc, t.opts.TouchDelay, s.touch != piv.TouchPolicyNever)
	defer tw.stop()
	var promptErr error
	auth := piv.KeyAuth{PINPolicy: s.pin, PINPrompt: func() (string, error) {
		tw.pause()
		defer tw.resume()
		pin, err := t.askPIN(s.ctx, desc)
		if err != nil {
			promptErr = err
			return "", err
		}
		return pin, nil
	}}
	priv, err := t.yk.PrivateKey(s.slot, s.pub, auth)
	if err != nil {
		return nil, fmt.Errorf("%s, slot %s: %w", desc, s.slot, t.fail(err))
	}
	tw.start()
	sig, err := priv.(crypto.Signer).Sign(rnd, digest, opts)
	if promptErr != nil {
		return nil, promptErr
	}
	if err != nil {
		err = t.fail(err)
		var pe *hsm.PINError
		if errors.As(err, &pe) && pe.RetriesLeft >= 0 {
			t.info.PINRetries = pe.RetriesLeft
		}
		return nil, fmt.Errorf("signing with %s, slot %s: %w", desc, s.slot, err)
	}
	if t.pinMax > 0 && s.pin != piv.PINPolicyNever {
		t.info.PINRetries = t.pinMax // a correct PIN resets the counter
	}
	if err := verify(s.pub, digest, sig, opts); err != nil {
		return nil, fmt.Errorf("%s, slot %s: %w", desc, s.slot, err)
	}
	return sig, nil
}

// verify checks a signature with the standard library before it leaves the
// backend (docs/design.md, "Tokens").
func verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	ok := false
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(p, digest, sig)
	case ed25519.PublicKey:
		ok = ed25519.Verify(p, digest, sig)
	case *rsa.PublicKey:
		o := opts.(*rsa.PSSOptions)
		ok = rsa.VerifyPSS(p, o.Hash, digest, sig, o) == nil
	}
	if !ok {
		return hsm.ErrBadSignature
	}
	return nil
}

// askPIN reads the retry counter (VERIFY without data spends no try),
// confirms a final try, and asks the holder. Callers hold t.mu.
func (t *Token) askPIN(ctx context.Context, desc string) (string, error) {
	retries, err := t.yk.Retries()
	if err != nil {
		// VERIFY without data answers 9000 when the PIN is already
		// verified, and piv-go then reports an error: the counter is at
		// its maximum.
		if _, ok := statusWord(err); ok || cause(err) != nil {
			return "", t.fail(err)
		}
		retries = t.pinMax
		if retries == 0 {
			retries = -1
		}
	}
	t.pinMax = max(t.pinMax, retries)
	t.info.PINRetries = retries
	if retries == 0 {
		return "", fmt.Errorf("%s: %w; unblock it with the PUK (ykman piv access unblock-pin)", desc, hsm.ErrPINLocked)
	}
	if t.opts.Prompts.PIN == nil {
		return "", fmt.Errorf("%s: %w", desc, hsm.ErrPINRequired)
	}
	if retries == 1 {
		if t.opts.Prompts.Confirm == nil {
			return "", fmt.Errorf("%s has one PIN try left and no confirmation was possible: %w", desc, hsm.ErrCancelled)
		}
		ok, err := t.opts.Prompts.Confirm(ctx, fmt.Sprintf("%s has ONE PIN try left: a wrong PIN locks it. Enter the PIN anyway?", desc))
		if err != nil {
			return "", fmt.Errorf("confirming the final PIN try: %w", err)
		}
		if !ok {
			return "", fmt.Errorf("%s: final PIN try declined: %w", desc, hsm.ErrCancelled)
		}
	}
	pin, err := t.opts.Prompts.PIN(ctx, hsm.PINRequest{Token: desc, RetriesLeft: retries, CountLow: retries >= 0 && retries <= 2, FinalTry: retries == 1})
	if err != nil {
		if errors.Is(err, hsm.ErrCancelled) || errors.Is(err, context.Canceled) {
			return "", fmt.Errorf("%s: %w", desc, hsm.ErrCancelled)
		}
		return "", fmt.Errorf("asking the PIN for %s: %w", desc, err)
	}
	defer clear(pin)
	if err := checkPINFormat(pin); err != nil {
		return "", fmt.Errorf("%s: %w", desc, err)
	}
	if isFactoryPIN(pin) {
		return "", &FactoryCredentialError{Token: desc, What: "PIN"}
	}
	// piv-go takes the PIN as a string, which cannot be zeroed; the bytes
	// we were given are.
	return string(pin), nil
}

// ErrPINFormat is a PIN or PUK the card would refuse anyway (YubiKey: 6 to
// 8 bytes). It is checked before sending, so no try is spent.
var ErrPINFormat = errors.New("a YubiKey PIN or PUK has 6 to 8 characters")

func checkPINFormat(pin []byte) error {
	if len(pin) < 6 || len(pin) > 8 {
		return ErrPINFormat
	}
	return nil
}

// touchWatch calls the Touch prompt when a signature takes longer than the
// delay, paused while the PIN is asked (as yubikey-agent does).
type touchWatch struct {
	fn      func(string, <-chan struct{})
	desc    string
	delay   time.Duration
	enabled bool

	mu      sync.Mutex
	timer   *time.Timer
	done    chan struct{}
	cbDone  chan struct{} // closed when the Touch callback returned
	fired   bool
	stopped bool
}

func newTouchWatch(fn func(string, <-chan struct{}), desc string, delay time.Duration, enabled bool) *touchWatch {
	return &touchWatch{fn: fn, desc: desc, delay: delay, enabled: enabled && fn != nil, done: make(chan struct{})}
}

func (w *touchWatch) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.enabled || w.stopped || w.timer != nil || w.fired {
		return
	}
	w.timer = time.AfterFunc(w.delay, func() {
		w.mu.Lock()
		if w.stopped || w.fired {
			w.mu.Unlock()
			return
		}
		w.fired = true
		w.cbDone = make(chan struct{})
		w.mu.Unlock()
		defer close(w.cbDone)
		w.fn(w.desc, w.done)
	})
}

func (w *touchWatch) pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

func (w *touchWatch) resume() { w.start() }

// stop ends the wait and, if the Touch callback ran, waits for it to
// return, so that no prompt outlives the signature.
func (w *touchWatch) stop() {
	w.mu.Lock()
	if w.timer != nil {
		w.timer.Stop()
	}
	if !w.stopped {
		w.stopped = true
		close(w.done)
	}
	cb := w.cbDone
	w.mu.Unlock()
	if cb != nil {
		<-cb
	}
}
