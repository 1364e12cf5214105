//go:build cgo

// Package yubikey is Conclave's YubiKey backend: keys in PIV slots, reached
// through github.com/go-piv/piv-go/v2 (cgo, libpcsclite, pcscd), behind the
// [hsm.Token] interface.
//
// # Choosing the card
//
// A YubiKey is chosen by serial number and slot ("yubikey:serial=…;slot=9c",
// see [ParseURI]). A holder's enrolled key records both; [Options.Expect]
// makes [Open] check, before any PIN is asked, that the inserted card has
// that serial and that slot holds that public key, and otherwise fail with a
// [*WrongCardError] saying "insert YubiKey 12345678 (Alice)".
//
// # PIN and touch
//
// The PIN is asked through [hsm.Prompts] only when the card needs it (the
// slot's PIN policy and the card's state decide), with the retries left read
// beforehand without spending a try; the last try needs Prompts.Confirm.
// Conclave never tries a PIN nobody typed, and refuses the factory PIN
// 123456 before sending it. Prompts.Touch is called when a signature has not
// come back after [Options.TouchDelay] on a key with a touch policy. A touch
// proves that someone was at the key, not what was signed.
//
// # Faults
//
// A pulled card, a vanished reader, pcscd not running and a card held by
// another program map to [hsm.ErrTokenRemoved], [ErrNoPCSCD] and
// [ErrCardBusy]. After hsm.ErrTokenRemoved the same [Token] reconnects on
// its next use, once the card is back, and checks it is the same card and
// key.
package yubikey

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey/internal/probe"
)

// DefaultTouchDelay is how long a signature may take before "touch your
// YubiKey" is shown: long enough that a cached touch or a key without a
// touch policy stays quiet (a signature takes well under 100 ms on a
// YubiKey 5), short enough that the holder is not left wondering.
const DefaultTouchDelay = 300 * time.Millisecond

// Options say which YubiKey to open and how to talk to its holder.
type Options struct {
	// Serial selects the YubiKey. Zero accepts the only one present.
	Serial uint32
	// Holder names the key holder in messages ("insert YubiKey 12345678
	// (Alice)").
	Holder string
	// Expect, when set, is the holder's enrolled key: the card must hold
	// exactly this public key in this slot.
	Expect *Expected
	// Prompts are the holder's callbacks (PIN, confirm, touch).
	Prompts hsm.Prompts
	// TouchDelay overrides DefaultTouchDelay.
	TouchDelay time.Duration
	// Roots are the attestation roots Keys checks against; nil means
	// YubicoRoots().
	Roots *Roots
	// Now is the confirmed ceremony time for attestation checks; nil means
	// the chain is judged at a time inside all of its validity periods (see
	// VerifyAttestation).
	Now func() time.Time
}

// Expected is a holder's enrolled key.
type Expected struct {
	Slot   string
	Public crypto.PublicKey
}

// CardInfo is what Conclave reads about a YubiKey without a PIN.
type CardInfo struct {
	Reader     string
	Serial     uint32
	Firmware   string
	FormFactor string
	// PINRetries and PUKRetries are the tries left, read without spending
	// one; -1 when the firmware cannot tell (PUK before 5.3).
	PINRetries int
	PUKRetries int
	// Factory credentials still set (known from firmware 5.3).
	DefaultPIN, DefaultPUK, DefaultManagementKey bool
	// Simulator is true for Conclave's virtual YubiKey.
	Simulator bool
	// Err is set when the reader's card could not be read (busy, removed).
	Err error
	// Held is set for a card a Token of this process has open: only its
	// reader and serial are known, and it is not read again.
	Held bool
}

// Token is an opened YubiKey. It implements hsm.Token, hsm.KeyGenerator and
// hsm.Attester.
type Token struct {
	opts Options

	mu     sync.Mutex
	yk     *piv.YubiKey // nil after a removal, until reconnected
	reader string
	info   CardInfo
	// gen counts connections, so signers notice a reconnect.
	gen int
	// pinMax is the largest PIN retry count seen, used as the count after
	// a successful VERIFY, when the card no longer says.
	pinMax int
}

var (
	_ hsm.Token        = (*Token)(nil)
	_ hsm.KeyGenerator = (*Token)(nil)
	_ hsm.Attester     = (*Token)(nil)
)

// readers lists PC/SC readers through piv-go.
func readers() ([]string, error) {
	r, err := piv.Cards()
	if err != nil {
		if c := cause(err); c != nil {
			return nil, fmt.Errorf("listing smart card readers: %w", &causeError{cause: c, detail: err})
		}
		return nil, fmt.Errorf("listing smart card readers: %w", err)
	}
	return r, nil
}

// List reads every YubiKey present, without a PIN and without spending a
// try. Cards that cannot be read are listed with Err set.
func List(ctx context.Context) ([]CardInfo, error) {
	rs, err := readers()
	if err != nil {
		return nil, err
	}
	var out []CardInfo
	for _, r := range rs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s, ok := held.get(r); ok {
			// Open in a Token of this process, which holds it
			// exclusively: reading it would find it "in use by another
			// program".
			out = append(out, CardInfo{Reader: r, Serial: s, PINRetries: -1, PUKRetries: -1, Held: true})
			continue
		}
		ci, err := readCard(r)
		if errors.Is(err, hsm.ErrTokenRemoved) && ci.Serial == 0 {
			continue // an empty reader
		}
		ci.Err = err
		out = append(out, ci)
	}
	return out, nil
}

// readCard probes a reader, then opens it with piv-go for the form factor
// and the simulator mark. The probe first makes sure the card answers:
// piv-go leaks its handle when a card vanishes during its Open.
func readCard(reader string) (CardInfo, error) {
	ci := CardInfo{Reader: reader, PINRetries: -1, PUKRetries: -1}
	p, err := probe.Probe(reader)
	if err != nil {
		if c := cause(err); c != nil {
			return ci, &causeError{cause: c, detail: err}
		}
		return ci, fmt.Errorf("reading the card in %q: %w", reader, err)
	}
	fillProbe(&ci, p)
	yk, err := piv.Open(reader)
	if err != nil {
		return ci, classify("", fmt.Errorf("opening the card in %q: %w", reader, err))
	}
	defer yk.Close()
	describeCard(yk, &ci)
	return ci, nil
}

func fillProbe(ci *CardInfo, p *probe.Info) {
	ci.Serial = p.Serial
	ci.Firmware = fmt.Sprintf("%d.%d.%d", p.Firmware[0], p.Firmware[1], p.Firmware[2])
	if p.HasMetadata {
		ci.PINRetries, ci.PUKRetries = p.PINRetries, p.PUKRetries
		ci.DefaultPIN, ci.DefaultPUK, ci.DefaultManagementKey = p.DefaultPIN, p.DefaultPUK, p.DefaultManagementKey
	}
}

// describeCard adds what needs piv-go: serial before 5.0, PIN retries when
// metadata is missing, the form factor and whether the card is Conclave's
// simulator (its slot f9 certificate says so).
func describeCard(yk *piv.YubiKey, ci *CardInfo) {
	if ci.Serial == 0 {
		if s, err := yk.Serial(); err == nil {
			ci.Serial = s
		}
	}
	if ci.PINRetries < 0 {
		if r, err := yk.Retries(); err == nil {
			ci.PINRetries = r
		}
	}
	if ff, err := yk.FormFactor(); err == nil && ff != 0 {
		ci.FormFactor = ff.String()
	}
	if c, err := yk.AttestationCertificate(); err == nil {
		ci.Simulator = isSimulator(c)
	}
}

// isSimulator recognises Conclave's virtual card by the organisation it
// writes into its certificates (vcard.SimulatorOrganization).
func isSimulator(c *x509.Certificate) bool {
	for _, o := range c.Subject.Organization {
		if strings.Contains(o, "SIMULATOR") {
			return true
		}
	}
	return false
}

// Open finds the YubiKey with opts.Serial (or the only one present) and
// opens it for the whole ceremony. With opts.Expect it checks the slot's
// public key before anything else.
func Open(ctx context.Context, opts Options) (*Token, error) {
	if opts.TouchDelay <= 0 {
		opts.TouchDelay = DefaultTouchDelay
	}
	if opts.Roots == nil {
		opts.Roots = YubicoRoots()
	}
	t := &Token{opts: opts}
	if err := t.connect(ctx, ""); err != nil {
		return nil, err
	}
	return t, nil
}

// connect finds the card and opens it with piv-go. prefer is the reader to
// try first (the one the card was in before a removal).
func (t *Token) connect(ctx context.Context, prefer string) error {
	rs, err := readers()
	if err != nil {
		return err
	}
	if i := slices.Index(rs, prefer); i > 0 {
		rs[0], rs[i] = rs[i], rs[0]
	}
	type candidate struct {
		reader string
		p      *probe.Info
	}
	var cands []candidate
	var found []uint32
	var busy, other error
	for _, r := range rs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s, ok := held.get(r); ok {
			if s == t.opts.Serial {
				// The card is open in another Token of this process
				// (opened exclusively): it is there, but busy.
				return fmt.Errorf("YubiKey %d is already open in this program; close that use of it first", s)
			}
			found = append(found, s)
			continue
		}
		p, err := probe.Probe(r)
		if err != nil {
			switch c := cause(err); {
			case c == hsm.ErrTokenRemoved:
			case c == ErrCardBusy:
				busy = fmt.Errorf("the card in %q: %w", r, ErrCardBusy)
			case c != nil:
				return fmt.Errorf("reading the card in %q: %w", r, &causeError{cause: c, detail: err})
			default:
				other = fmt.Errorf("reading the card in %q: %w", r, err)
			}
			continue
		}
		found = append(found, p.Serial)
		if t.opts.Serial == 0 || p.Serial == t.opts.Serial {
			cands = append(cands, candidate{r, p})
		}
	}
	switch {
	case len(cands) > 1:
		return fmt.Errorf("more than one YubiKey is present (%s): say which by its serial: %w", serialList(found), hsm.ErrAmbiguousKey)
	case len(cands) == 0 && busy != nil && len(found) == 0:
		return busy
	case len(cands) == 0 && t.opts.Serial != 0:
		return &WrongCardError{Want: t.opts.Serial, Holder: t.opts.Holder, Found: found}
	case len(cands) == 0 && other != nil:
		return other
	case len(cands) == 0:
		return fmt.Errorf("no YubiKey is present: %w", hsm.ErrTokenRemoved)
	}
	c := cands[0]
	yk, err := piv.Open(c.reader)
	if err != nil {
		return fmt.Errorf("opening YubiKey %d: %w", c.p.Serial, classify("", err))
	}
	// The card could have been swapped between probe and open.
	if s, err := yk.Serial(); err != nil || s != c.p.Serial {
		yk.Close()
		return fmt.Errorf("YubiKey %d changed while it was opened: %w", c.p.Serial, hsm.ErrTokenRemoved)
	}
	ci := CardInfo{Reader: c.reader, PINRetries: -1, PUKRetries: -1}
	fillProbe(&ci, c.p)
	describeCard(yk, &ci)
	t.yk, t.reader, t.info = yk, c.reader, ci
	t.gen++
	held.hold(c.reader, ci.Serial)
	t.pinMax = max(t.pinMax, t.info.PINRetries)
	if err := t.checkExpected(); err != nil {
		t.drop()
		return err
	}
	return nil
}

// checkExpected compares the card's key with the enrolled one (before any
// PIN is asked).
func (t *Token) checkExpected() error {
	e := t.opts.Expect
	if e == nil {
		return nil
	}
	slot, err := ParseSlot(e.Slot)
	if err != nil {
		return err
	}
	pub, _, err := t.slotKey(slot)
	if err != nil {
		if errors.Is(err, hsm.ErrKeyNotFound) {
			return &WrongCardError{Want: t.info.Serial, Holder: t.opts.Holder, Reason: fmt.Sprintf("slot %s of this card is empty", slot)}
		}
		return err
	}
	if !samePublic(pub, e.Public) {
		return &WrongCardError{Want: t.info.Serial, Holder: t.opts.Holder, Reason: fmt.Sprintf("slot %s of this card holds a different key than the one enrolled", slot)}
	}
	return nil
}

func samePublic(a, b crypto.PublicKey) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && ae.Equal(b)
}

// drop forgets the piv-go handle after a removal.
func (t *Token) drop() {
	if t.yk != nil {
		_ = t.yk.Close()
		t.yk = nil
		held.release(t.reader)
	}
}

// held records the readers this process's Tokens have open (piv-go holds
// them exclusively), so that looking for one card does not report another
// holder's card, open in the same rehearsal, as "in use by another program".
var held = heldReaders{m: map[string]uint32{}}

type heldReaders struct {
	mu sync.Mutex
	m  map[string]uint32
}

func (h *heldReaders) hold(reader string, serial uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m[reader] = serial
}

func (h *heldReaders) release(reader string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, reader)
}

func (h *heldReaders) get(reader string) (uint32, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.m[reader]
	return s, ok
}

// ensure reconnects after a removal. Callers hold t.mu.
func (t *Token) ensure(ctx context.Context) error {
	if t.yk != nil {
		return nil
	}
	want := t.info.Serial
	saved := t.opts.Serial
	t.opts.Serial = want
	err := t.connect(ctx, t.reader)
	t.opts.Serial = saved
	return err
}

// fail classifies err and drops the handle when the card went away.
func (t *Token) fail(err error) error {
	err = classify(t.describe(), err)
	if errors.Is(err, hsm.ErrTokenRemoved) {
		t.drop()
	}
	return err
}

// Info returns what was read when the card was (re)connected.
func (t *Token) Info() CardInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.info
}

// Describe names the card for the room. The simulator says so.
func (t *Token) Describe() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.describe()
}

func (t *Token) describe() string {
	ci := t.info
	extra := "firmware " + ci.Firmware
	if ci.FormFactor != "" {
		extra = ci.FormFactor + ", " + extra
	}
	if ci.Simulator {
		return fmt.Sprintf("virtual YubiKey SIMULATOR (not a real token), serial %d (%s)", ci.Serial, extra)
	}
	return fmt.Sprintf("YubiKey, serial %d (%s)", ci.Serial, extra)
}

// slotKey reads a slot's public key and policies: from GET METADATA on
// firmware 5.3+, else from the slot's attestation (which also carries the
// policies), else from its certificate (policies unknown).
func (t *Token) slotKey(slot piv.Slot) (crypto.PublicKey, *piv.KeyInfo, error) {
	ki, err := t.yk.KeyInfo(slot)
	if err == nil {
		return ki.PublicKey, &ki, nil
	}
	if sw, ok := statusWord(err); ok && sw != 0x6d00 {
		if sw == 0x6a88 || sw == 0x6a82 {
			return nil, nil, fmt.Errorf("%s, slot %s: %w", t.describe(), slot, hsm.ErrKeyNotFound)
		}
		return nil, nil, t.fail(err)
	} else if !ok {
		return nil, nil, t.fail(err)
	}
	// Before 5.3: attestation (4.3+) or the stored certificate.
	if c, err := t.yk.Attest(slot); err == nil {
		k := &piv.KeyInfo{PublicKey: c.PublicKey}
		if a, err := parseExtensions(c); err == nil {
			k.PINPolicy, k.TouchPolicy = a.pin, a.touch
		}
		return c.PublicKey, k, nil
	}
	c, err := t.yk.Certificate(slot)
	if err != nil {
		if errors.Is(err, piv.ErrNotFound) {
			return nil, nil, fmt.Errorf("%s, slot %s: %w", t.describe(), slot, hsm.ErrKeyNotFound)
		}
		return nil, nil, t.fail(err)
	}
	return c.PublicKey, &piv.KeyInfo{PublicKey: c.PublicKey}, nil
}

// Keys lists the keys in the signature-capable slots.
func (t *Token) Keys(ctx context.Context) ([]hsm.KeyInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ensure(ctx); err != nil {
		return nil, err
	}
	var out []hsm.KeyInfo
	for _, slot := range allSlots() {
		pub, ki, err := t.slotKey(slot)
		if errors.Is(err, hsm.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		label := slotLabel(slot)
		if ki.PINPolicy != 0 {
			label += fmt.Sprintf(", PIN %s, touch %s", pinPolicyName(ki.PINPolicy), touchPolicyName(ki.TouchPolicy))
		}
		info := hsm.KeyInfo{Label: label, Slot: slot.String(), URI: URI(t.info.Serial, slot), Public: pub}
		if a, err := t.attest(slot); err == nil && samePublic(pub, a.public) {
			info.Attested = true
			info.Label += ", attested by " + a.Root
		} else {
			info.Label += ", NOT attested"
		}
		out = append(out, info)
	}
	return out, nil
}

// Close releases the card.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.yk == nil {
		return nil
	}
	err := t.yk.Close()
	t.yk = nil
	held.release(t.reader)
	if err != nil && cause(err) == nil {
		return fmt.Errorf("closing %s: %w", t.describe(), err)
	}
	return nil
}

// factoryCheck refuses a card that still has a factory credential.
func (t *Token) factoryCheck() error {
	switch {
	case t.info.DefaultPIN:
		return &FactoryCredentialError{Token: t.describe(), What: "PIN"}
	case t.info.DefaultPUK:
		return &FactoryCredentialError{Token: t.describe(), What: "PUK"}
	case t.info.DefaultManagementKey:
		return &FactoryCredentialError{Token: t.describe(), What: "management key"}
	}
	return nil
}

// isFactoryPIN reports whether a typed PIN is the factory default; such a
// PIN is refused before it reaches the card.
func isFactoryPIN(pin []byte) bool {
	return bytes.Equal(pin, []byte(piv.DefaultPIN))
}

// SlotKey describes the key in one slot.
type SlotKey struct {
	Slot      string
	Public    crypto.PublicKey
	Algorithm hsm.Algorithm
	// PINPolicy and TouchPolicy come from the key's metadata (firmware
	// 5.3+) or its attestation; empty when the card cannot say.
	PINPolicy   string
	TouchPolicy string
	// Origin is "generated", "imported", or empty when unknown (before 5.3).
	Origin string
}

// SlotKey reads the key in slot without a PIN.
func (t *Token) SlotKey(ctx context.Context, slot string) (*SlotKey, error) {
	s, err := ParseSlot(slot)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ensure(ctx); err != nil {
		return nil, err
	}
	pub, ki, err := t.slotKey(s)
	if err != nil {
		return nil, err
	}
	out := &SlotKey{Slot: s.String(), Public: pub, Algorithm: algorithmOf(pub)}
	if ki.PINPolicy != 0 {
		out.PINPolicy, out.TouchPolicy = pinPolicyName(ki.PINPolicy), touchPolicyName(ki.TouchPolicy)
	}
	switch ki.Origin {
	case piv.OriginGenerated:
		out.Origin = "generated"
	case piv.OriginImported:
		out.Origin = "imported"
	}
	return out, nil
}

func algorithmOf(pub crypto.PublicKey) hsm.Algorithm {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return hsm.Ed25519
	case *ecdsa.PublicKey:
		switch p.Curve.Params().BitSize {
		case 256:
			return hsm.ECDSAP256
		case 384:
			return hsm.ECDSAP384
		}
	case *rsa.PublicKey:
		switch p.N.BitLen() {
		case 2048:
			return hsm.RSA2048
		case 3072:
			return hsm.RSA3072
		case 4096:
			return hsm.RSA4096
		}
	}
	return ""
}
