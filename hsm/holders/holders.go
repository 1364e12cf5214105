// Package holders opens the holders' keys for a ceremony's signing: the
// key a policy enrols for a holder (policy.HolderKey) becomes a
// [crypto.Signer] on the right token, over the backends of package hsm —
// a YubiKey by its serial and slot, a PKCS#11 key by its RFC 7512 URI
// through a module the policy allows, a software key in a rehearsal.
//
// # The right token, before any PIN
//
// Each token is checked to be the one the holder enrolled before it is
// asked for a PIN: a YubiKey by its serial and the public key in the
// enrolled slot (yubikey.Options.Expect), a PKCS#11 key by the public key
// its URI finds, a software key by its public file — each compared with
// the enrolled keyid. A wrong token is refused with [hsm.ErrWrongToken]
// and no PIN try is spent.
//
// # A token pulled out
//
// A token pulled out (or a wrong one put in) is asked for again, as many
// times as [Wait] allows, each time after telling the holder; the token is
// then opened and checked again from the start, so the PIN may be asked
// again.
package holders

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Options say which keys may sign and how to talk to their holders.
type Options struct {
	// Policy gives the holders' token kinds, the PKCS#11 modules allowed
	// and whether this is a rehearsal (software keys and SoftHSM).
	Policy *policy.Policy
	// Keys are the public keys of the trusted metadata by keyid (see
	// [MetadataKeys]): a holder's enrolled keyid must be among them, and
	// the key found on the token must be that key.
	Keys map[string]*tuf.Key
	// Prompts returns the callbacks for one holder's token (PIN, confirm,
	// touch). Prompts naming the holder make sure the right person types.
	Prompts func(holder string) hsm.Prompts
	// Wait is what to do when a token is pulled out or a wrong one is in.
	Wait Wait
	// Notice is where "insert … again" is said; nil says nothing.
	Notice io.Writer
	// SoftkeyDir is the key store (package softkey) that holds the
	// software keys a rehearsal policy names (softkey:name=NAME).
	SoftkeyDir string
	// RootCeremony allows the tokens of root keys: a ceremony that signs
	// root or the vault's binding (init, rotate, refresh, vault adopt).
	// Any other ceremony refuses a token on which the policy places a
	// root key (ErrRootToken), so a root token is never brought out for a
	// delegation ceremony, where it is not needed.
	RootCeremony bool
}

// ErrRootToken: a token holding a root key, outside a root ceremony.
var ErrRootToken = errors.New("this token holds a root key, and only a root ceremony uses root keys")

// Wait is how often a pulled or wrong token is asked for again, and how
// long the holder is given each time.
type Wait struct {
	Retries int
	Delay   time.Duration
}

// Tokens opens the holders' tokens and keeps them open until Close (a
// ceremony may hold a token for an hour).
type Tokens struct {
	opts Options

	mu   sync.Mutex
	open []*Signer
}

// New returns the tokens of a ceremony.
func New(opts Options) *Tokens {
	if opts.Notice == nil {
		opts.Notice = io.Discard
	}
	if opts.Prompts == nil {
		opts.Prompts = func(string) hsm.Prompts { return hsm.Prompts{} }
	}
	return &Tokens{opts: opts}
}

// openedKey is a holder's key on an opened token.
type openedKey struct {
	tok    hsm.Token
	signer crypto.Signer
	// tries reads the PIN tries the token says are left (-1: it does
	// not say).
	tries func() int
}

// MetadataKeys lists the public keys of a root and of the top-level
// targets' delegations, by keyid: where every holder's enrolled keyid
// is listed (policy.CheckRoles).
func MetadataKeys(root *tuf.Root, targets *tuf.Targets) map[string]*tuf.Key {
	keys := map[string]*tuf.Key{}
	if root != nil {
		for id, k := range root.Keys {
			keys[id] = k
		}
	}
	if targets != nil && targets.Delegations != nil {
		for id, k := range targets.Delegations.Keys {
			keys[id] = k
		}
	}
	return keys
}

// Signer opens the token of one holder's key, checks it, and returns its
// signer. A pulled token, or a wrong one, is asked for again as
// Options.Wait says before the error is returned.
func (c *Tokens) Signer(ctx context.Context, holder policy.Holder, key policy.HolderKey) (*Signer, error) {
	pub, ok := c.opts.Keys[key.KeyID]
	if !ok {
		return nil, fmt.Errorf("holder %s: key %s is listed neither in the root nor in the delegations of targets", holder.Name, key.KeyID)
	}
	if !c.opts.RootCeremony && c.opts.Policy != nil {
		if root, ok := rootKeyOn(c.opts.Policy, key); ok {
			return nil, fmt.Errorf("holder %s: key %s: %w (key %s is on the same token)", holder.Name, key.KeyID, ErrRootToken, root)
		}
	}
	// A token already open for this key is handed out again: a YubiKey is
	// opened exclusively, so opening it a second time (to sign the log's
	// head after the metadata) would find it busy, and the holder would
	// be asked for a PIN twice.
	c.mu.Lock()
	for _, s := range c.open {
		if s.holder.Name == holder.Name && s.key == key {
			c.mu.Unlock()
			return s, nil
		}
	}
	c.mu.Unlock()
	s := &Signer{c: c, ctx: ctx, holder: holder, key: key, pub: pub}
	if err := c.retry(ctx, s, func() error { return s.reopen(ctx) }); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.open = append(c.open, s)
	c.mu.Unlock()
	return s, nil
}

// rootKeyOn finds a key the policy places in root on the token of key.
func rootKeyOn(p *policy.Policy, key policy.HolderKey) (string, bool) {
	tok := policy.TokenOf(key)
	for _, h := range p.Holders {
		for _, k := range h.Keys {
			if policy.TokenOf(k) == tok && slices.Contains(p.KeyRoles[k.KeyID], tuf.TypeRoot) {
				return k.KeyID, true
			}
		}
	}
	return "", false
}

// Close closes every token opened (logs out, releases the device).
func (c *Tokens) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, s := range c.open {
		errs = append(errs, s.close())
	}
	c.open = nil
	return errors.Join(errs...)
}

// retry runs op, and after a pulled or wrong token asks the holder to put
// the right one in and runs it again, as many times as Options.Wait allows.
func (c *Tokens) retry(ctx context.Context, s *Signer, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || !(errors.Is(err, hsm.ErrTokenRemoved) || errors.Is(err, hsm.ErrWrongToken)) {
			return err
		}
		if attempt > c.opts.Wait.Retries {
			if c.opts.Wait.Retries > 0 {
				return fmt.Errorf("%w (asked %s)", err, termtext.Plural(c.opts.Wait.Retries, "time"))
			}
			return err
		}
		fmt.Fprintf(c.opts.Notice, "%s: %s\n", termtext.Safe(s.holder.Name), termtext.Safe(err.Error()))
		fmt.Fprintf(c.opts.Notice, "insert the token of %s (%s) again; trying again in %s (%d of %d)\n",
			termtext.Safe(s.holder.Name), termtext.Safe(keyLocation(s.key)), termtext.Duration(c.opts.Wait.Delay), attempt, c.opts.Wait.Retries)
		t := time.NewTimer(c.opts.Wait.Delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// keyLocation names where a holder's key is, for "insert … again".
func keyLocation(k policy.HolderKey) string {
	switch k.Token {
	case policy.TokenYubiKey:
		return fmt.Sprintf("YubiKey %d, slot %s", k.Serial, k.Slot)
	}
	return k.URI
}

// Signer is a holder's key on its token. A signature that fails because
// the token was pulled is made again once it is back: the token is opened
// again and checked again before any PIN.
type Signer struct {
	c      *Tokens
	ctx    context.Context
	holder policy.Holder
	key    policy.HolderKey
	pub    *tuf.Key

	mu sync.Mutex
	k  *openedKey
}

// reopen closes the token if it is open and opens it again.
func (s *Signer) reopen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k != nil {
		s.k.tok.Close()
		s.k = nil
	}
	k, err := s.c.openKey(ctx, s.holder, s.key, s.pub)
	if err != nil {
		return err
	}
	s.k = k
	return nil
}

func (s *Signer) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k == nil {
		return nil
	}
	err := s.k.tok.Close()
	s.k = nil
	return err
}

// Public is the enrolled public key.
func (s *Signer) Public() crypto.PublicKey { return s.pub.PublicKey() }

// Sign signs with the token (the backend verifies the signature against
// the key before returning it); a pulled token is asked for again.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var sig []byte
	first := true
	err := s.c.retry(s.ctx, s, func() error {
		if !first {
			if err := s.reopen(s.ctx); err != nil {
				return err
			}
		}
		first = false
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.k == nil {
			return fmt.Errorf("holder %s: the token was closed", s.holder.Name)
		}
		var err error
		sig, err = s.k.signer.Sign(rand, digest, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// Describe names the token for the room.
func (s *Signer) Describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k == nil {
		return keyLocation(s.key)
	}
	return s.k.tok.Describe()
}

// PINTriesLeft is what the token says now, or -1 when it does not say.
func (s *Signer) PINTriesLeft() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k == nil || s.k.tries == nil {
		return -1
	}
	return s.k.tries()
}

// openKey opens the token of one enrolled key and checks it before any
// PIN is asked.
func (c *Tokens) openKey(ctx context.Context, holder policy.Holder, key policy.HolderKey, pub *tuf.Key) (*openedKey, error) {
	prompts := c.opts.Prompts(holder.Name)
	switch key.Token {
	case policy.TokenYubiKey:
		return openYubiKey(ctx, holder, key, pub, prompts)
	case policy.TokenPKCS11:
		return openPKCS11(ctx, holder, key, pub, c.opts.Policy, prompts)
	case policy.TokenSoftkey:
		if !c.opts.Policy.Rehearsal {
			return nil, fmt.Errorf("holder %s: key %s is a software key, and software keys sign only in a rehearsal: %s", holder.Name, key.KeyID, softkey.InsecureNotice)
		}
		return openSoftkey(ctx, holder, key, c.opts.SoftkeyDir, prompts)
	}
	return nil, fmt.Errorf("holder %s: key %s has token kind %q, which Conclave does not know", holder.Name, key.KeyID, key.Token)
}

// SoftkeyURIPrefix starts a software key's location in a policy:
// softkey:name=NAME, a key of the store in Options.SoftkeyDir.
const SoftkeyURIPrefix = "softkey:name="

// openSoftkey opens a software key. Its public file is compared with the
// enrolled key before the passphrase is asked.
func openSoftkey(ctx context.Context, holder policy.Holder, key policy.HolderKey, dir string, prompts hsm.Prompts) (*openedKey, error) {
	name, ok := strings.CutPrefix(key.URI, SoftkeyURIPrefix)
	if !ok || name == "" {
		return nil, fmt.Errorf("holder %s: key %s: software key location %q is not softkey:name=NAME", holder.Name, key.KeyID, key.URI)
	}
	if dir == "" {
		return nil, fmt.Errorf("holder %s: key %s is a software key, and no software key store was named", holder.Name, key.KeyID)
	}
	store, err := softkey.Open(dir, prompts)
	if err != nil {
		return nil, fmt.Errorf("holder %s: %w", holder.Name, err)
	}
	keys, err := store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("holder %s: %w", holder.Name, err)
	}
	var found *hsm.KeyInfo
	for i := range keys {
		if keys[i].Label == name {
			found = &keys[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("holder %s: %s holds no key %q: %w", holder.Name, store.Describe(), name, hsm.ErrKeyNotFound)
	}
	if err := checkKeyID(holder, key, store.Describe(), found.Public); err != nil {
		return nil, err
	}
	signer, err := store.Signer(ctx, *found)
	if err != nil {
		return nil, fmt.Errorf("holder %s: %w", holder.Name, err)
	}
	return &openedKey{tok: store, signer: signer}, nil
}

// checkKeyID compares the public key found on a token with the holder's
// enrolled keyid: the check that refuses a wrong token before its PIN.
func checkKeyID(holder policy.Holder, key policy.HolderKey, token string, found crypto.PublicKey) error {
	k, err := tuf.KeyFromPublic(found)
	if err != nil {
		return fmt.Errorf("holder %s: the key found on %s: %w", holder.Name, token, err)
	}
	if k.ID() != key.KeyID {
		return &WrongKeyError{Holder: holder.Name, Token: token, Found: k.ID(), Want: key.KeyID}
	}
	return nil
}

// WrongKeyError is a token that holds another key than the holder's
// enrolled one, found before any PIN was asked: a caller shows both
// keyids. It wraps hsm.ErrWrongToken.
type WrongKeyError struct {
	Holder, Token string
	// Found and Want are the keyids of the key on the token and of the
	// enrolled key.
	Found, Want string
}

func (e *WrongKeyError) Error() string {
	return fmt.Sprintf("holder %s: %v: %s holds key %s, not the enrolled key %s (no PIN was asked)", e.Holder, hsm.ErrWrongToken, e.Token, e.Found, e.Want)
}

func (e *WrongKeyError) Unwrap() error { return hsm.ErrWrongToken }
