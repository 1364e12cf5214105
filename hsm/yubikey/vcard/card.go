// Package vcard is a virtual YubiKey PIV card: a SIMULATOR for tests and
// ceremony rehearsals. It answers the PIV APDUs that piv-go sends (NIST SP
// 800-73-4 plus Yubico's extensions) and plugs into a real pcscd through the
// vsmartcard-vpcd reader driver (see [Card.Insert]).
//
// It is never a real token: every certificate it makes names it a simulator,
// its attestation root is its own [CA], and its keys live in process memory.
//
// # What it models
//
//   - PIN and PUK with retry counters (63Cx, blocking at zero, 6983);
//   - the management key (3DES, AES-128/192/256) and its mutual
//     authentication, with AES-192 as the factory key on firmware 5.7
//     (Yubico, "YubiKey 5.7 firmware specifics");
//   - key generation with PIN policy (never/once/always) and touch policy
//     (never/always/cached, the cache lasting 15 s as on a YubiKey);
//   - signing (ECDSA P-256/P-384, Ed25519 from 5.7, raw RSA 2048, and 3072 and
//     4096 from 5.7), GET/PUT DATA with command and response chaining,
//     ATTEST, GET METADATA (5.3+), SET MANAGEMENT KEY, RESET, GET SERIAL and
//     the management applet's device info (form factor);
//   - removal: [Card.Remove] closes the connection to the reader, and
//     [Card.RemoveOn] pulls the card when a chosen APDU arrives.
package vcard

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Algorithm identifiers (NIST SP 800-78-4 table 6-2, and Yubico's 0xE0 for
// Ed25519 and 0x16 for RSA-4096 from firmware 5.7).
const (
	alg3DES    = 0x03
	algAES128  = 0x08
	algAES192  = 0x0a
	algAES256  = 0x0c
	algRSA1024 = 0x06
	algRSA2048 = 0x07
	algRSA3072 = 0x05
	algRSA4096 = 0x16
	algP256    = 0x11
	algP384    = 0x14
	algEd25519 = 0xe0
)

// PIN and touch policy bytes (Yubico, "PIV PIN and touch policies").
const (
	PINNever  = 0x01
	PINOnce   = 0x02
	PINAlways = 0x03

	TouchNever  = 0x01
	TouchAlways = 0x02
	TouchCached = 0x03
)

// Status words (ISO/IEC 7816-4 §5.1.3).
const (
	swOK                = 0x9000
	swWrongLength       = 0x6700
	swSecurityStatus    = 0x6982
	swAuthBlocked       = 0x6983
	swConditionsNotMet  = 0x6985
	swIncorrectData     = 0x6a80
	swFileNotFound      = 0x6a82
	swIncorrectP1P2     = 0x6a86
	swRefDataNotFound   = 0x6a88
	swInsNotSupported   = 0x6d00
	swClassNotSupported = 0x6e00
)

// The factory credentials every YubiKey ships with (Yubico, "PIV
// introduction: default values"). The simulator starts with them, as a new
// YubiKey does, so that tests can check Conclave refuses them.
var (
	factoryPIN = []byte("123456\xff\xff")
	factoryPUK = []byte("12345678")
	// FactoryManagementKey is 0102030405060708 three times.
	FactoryManagementKey = []byte{
		1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
	}
)

// CachedTouch is how long a cached touch stays valid on a YubiKey (Yubico,
// "PIV touch policy": "cached ... 15 seconds").
const CachedTouch = 15 * time.Second

// TouchTimeout is how long a YubiKey waits for a touch before refusing
// (Yubico, "PIV touch policy": 15 seconds).
const TouchTimeout = 15 * time.Second

// Config describes a virtual card.
type Config struct {
	// Serial is the serial number the card reports.
	Serial uint32
	// Firmware is the version it reports, e.g. {5, 7, 1}.
	Firmware [3]byte
	// FormFactor is the device info form factor byte (1 USB-A keychain).
	FormFactor byte
	// CA signs the card's device (slot f9) certificate. Cards of one
	// rehearsal share a CA; nil makes a fresh one.
	CA *CA
	// AutoTouch, when positive, makes the card "touch itself" this long
	// after it starts waiting. Zero means a test calls [Card.Touch].
	AutoTouch time.Duration
	// TouchTimeout overrides the YubiKey's 15 s wait for a touch (tests
	// shorten it).
	TouchTimeout time.Duration
}

type slotKey struct {
	alg    byte
	pin    byte
	touch  byte
	origin byte // 1 generated, 2 imported
	priv   crypto.Signer
}

type reference struct {
	value   []byte
	retries int
	max     int
}

// Card is one virtual YubiKey. Its methods are safe for concurrent use.
type Card struct {
	cfg       Config
	ca        *CA
	devKey    *ecdsa.PrivateKey
	devCert   *x509.Certificate
	touchReq  chan struct{}
	touchWait chan struct{}

	mu sync.Mutex
	// persistent state
	pin, puk    reference
	mgmAlg      byte
	mgmKey      []byte
	slots       map[byte]*slotKey
	objects     map[uint32][]byte
	touchCached time.Time
	removeOn    func(apdu []byte) bool
	corruptNext bool
	// volatile state, cleared on power off, reset and SELECT
	applet      []byte
	pinVerified bool
	pinFresh    bool // PIN verified and not yet used by an "always" key
	mgmAuthed   bool
	witness     []byte
	chain       []byte
	chainINS    byte
	pending     []byte

	conn connState
}

var (
	aidPIV        = []byte{0xa0, 0x00, 0x00, 0x03, 0x08}
	aidManagement = []byte{0xa0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
	aidOTP        = []byte{0xa0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}
)

// New makes a virtual card in factory state: default PIN, PUK and
// management key, no keys, and a device attestation key and certificate.
func New(cfg Config) (*Card, error) {
	if cfg.Firmware == [3]byte{} {
		cfg.Firmware = [3]byte{5, 7, 1}
	}
	if cfg.FormFactor == 0 {
		cfg.FormFactor = 0x01
	}
	ca := cfg.CA
	if ca == nil {
		var err error
		if ca, err = NewCA(); err != nil {
			return nil, err
		}
	}
	devKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating device attestation key: %w", err)
	}
	devCert, err := ca.issueDevice(cfg.Serial, devKey.Public())
	if err != nil {
		return nil, err
	}
	c := &Card{cfg: cfg, ca: ca, devKey: devKey, devCert: devCert, touchReq: make(chan struct{}, 1), touchWait: make(chan struct{}, 1)}
	c.factoryReset()
	return c, nil
}

// CA returns the attestation root the card's device certificate chains to.
func (c *Card) CA() *CA { return c.ca }

// Serial returns the card's serial number.
func (c *Card) Serial() uint32 { return c.cfg.Serial }

func (c *Card) factoryReset() {
	c.pin = reference{value: bytes.Clone(factoryPIN), retries: 3, max: 3}
	c.puk = reference{value: bytes.Clone(factoryPUK), retries: 3, max: 3}
	// Firmware 5.7 ships with an AES-192 management key with the same bytes
	// as the old 3DES default (Yubico, "YubiKey 5.7 firmware specifics").
	c.mgmAlg = alg3DES
	if c.atLeast(5, 7, 0) {
		c.mgmAlg = algAES192
	}
	c.mgmKey = bytes.Clone(FactoryManagementKey)
	c.slots = map[byte]*slotKey{0xf9: {alg: algP256, pin: PINNever, touch: TouchNever, origin: 2, priv: c.devKey}}
	der := tlv(0x70, c.devCert.Raw)
	der = append(der, tlv(0x71, []byte{0})...)
	der = append(der, tlv(0xfe, nil)...)
	c.objects = map[uint32][]byte{0x5fff01: tlv(0x53, der)}
	c.touchCached = time.Time{}
	c.powerOff()
}

// powerOff clears what a real card forgets without power (NIST SP 800-73-4
// part 2 §3.2: security status is reset on card reset and on SELECT).
func (c *Card) powerOff() {
	c.applet = nil
	c.pinVerified, c.pinFresh, c.mgmAuthed = false, false, false
	c.witness, c.chain, c.pending = nil, nil, nil
}

func (c *Card) atLeast(major, minor, patch byte) bool {
	v := c.cfg.Firmware
	if v[0] != major {
		return v[0] > major
	}
	if v[1] != minor {
		return v[1] > minor
	}
	return v[2] >= patch
}

// Touch presses the virtual touch sensor. A press counts only while the card
// waits for one (see [Card.TouchWaits]); it returns false when a press is
// already pending.
func (c *Card) Touch() bool {
	select {
	case c.touchReq <- struct{}{}:
		return true
	default:
		return false
	}
}

// TouchWaits receives a value each time the card starts waiting for a
// touch (buffered: one pending signal at most), so a test can touch at the
// right moment without sleeping.
func (c *Card) TouchWaits() <-chan struct{} { return c.touchWait }

// RemoveOn makes the card disconnect from the reader, as if pulled out, when
// an APDU for which match returns true arrives (the APDU is not answered).
// It fires once. nil clears it.
func (c *Card) RemoveOn(match func(apdu []byte) bool) {
	c.mu.Lock()
	c.removeOn = match
	c.mu.Unlock()
}

// CorruptNextSignature makes the next signature one over different bytes,
// as a faulty or malicious card might: Conclave must catch it.
func (c *Card) CorruptNextSignature() {
	c.mu.Lock()
	c.corruptNext = true
	c.mu.Unlock()
}

// PINRetries returns the PIN retries left (for tests and rehearsal
// displays; a real card reveals this through VERIFY only).
func (c *Card) PINRetries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pin.retries
}

// Process answers one command APDU with response data and status word. It
// is what the reader connection calls; tests may call it directly.
func (c *Card) Process(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, sw := c.process(apdu)
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, byte(sw>>8), byte(sw))
}

func (c *Card) process(apdu []byte) ([]byte, uint16) {
	if len(apdu) < 4 {
		return nil, swWrongLength
	}
	cla, ins, p1, p2 := apdu[0], apdu[1], apdu[2], apdu[3]
	var data []byte
	if len(apdu) > 5 {
		n := int(apdu[4])
		if n == 0 || len(apdu) < 5+n {
			return nil, swWrongLength // extended length is not used by piv-go
		}
		data = apdu[5 : 5+n]
	}
	if ins == 0xc0 { // GET RESPONSE (ISO/IEC 7816-4 §7.6.1)
		return c.respond(c.pending)
	}
	c.pending = nil
	if cla&^0x10 != 0 {
		return nil, swClassNotSupported
	}
	// Command chaining (ISO/IEC 7816-4 §5.1.1): CLA bit 0x10 means more
	// data follows in the next command with the same INS.
	if cla&0x10 != 0 {
		if c.chain != nil && c.chainINS != ins {
			c.chain = nil
		}
		c.chainINS = ins
		c.chain = append(c.chain, data...)
		return nil, swOK
	}
	if c.chain != nil {
		if c.chainINS == ins {
			data = append(c.chain, data...)
		}
		c.chain = nil
	}
	if ins == 0xa4 {
		return c.selectApplet(p1, data)
	}
	switch {
	case bytes.Equal(c.applet, aidManagement):
		if ins == 0x1d {
			return c.deviceInfo()
		}
		return nil, swInsNotSupported
	case bytes.Equal(c.applet, aidOTP):
		if ins == 0x01 && p1 == 0x10 {
			return binary.BigEndian.AppendUint32(nil, c.cfg.Serial), swOK
		}
		return nil, swInsNotSupported
	case !bytes.Equal(c.applet, aidPIV):
		return nil, swConditionsNotMet
	}
	var resp []byte
	var sw uint16
	switch ins {
	case 0xfd: // GET VERSION (Yubico)
		resp, sw = c.cfg.Firmware[:], swOK
	case 0xf8: // GET SERIAL (Yubico, firmware 5+)
		if !c.atLeast(5, 0, 0) {
			return nil, swInsNotSupported
		}
		resp, sw = binary.BigEndian.AppendUint32(nil, c.cfg.Serial), swOK
	case 0xf7:
		resp, sw = c.metadata(p2)
	case 0x20:
		resp, sw = c.verify(p1, p2, data)
	case 0x24:
		resp, sw = c.changeReference(p2, data)
	case 0x2c:
		resp, sw = c.resetRetry(p2, data)
	case 0x87:
		resp, sw = c.authenticate(p1, p2, data)
	case 0x47:
		resp, sw = c.generate(p2, data)
	case 0xcb:
		resp, sw = c.getData(data)
	case 0xdb:
		resp, sw = c.putData(data)
	case 0xf9:
		resp, sw = c.attest(p1)
	case 0xff:
		resp, sw = c.setManagementKey(p1, p2, data)
	case 0xfa:
		resp, sw = c.setRetries(p1, p2)
	case 0xfb:
		resp, sw = c.reset()
	default:
		return nil, swInsNotSupported
	}
	if sw != swOK {
		return resp, sw
	}
	return c.respond(resp)
}

// respond sends at most 256 bytes and keeps the rest for GET RESPONSE,
// announcing it with 61xx (ISO/IEC 7816-4 §5.1.3; xx = 00 means 256 or more).
func (c *Card) respond(resp []byte) ([]byte, uint16) {
	const max = 256
	if len(resp) <= max {
		c.pending = nil
		return resp, swOK
	}
	c.pending = resp[max:]
	left := len(c.pending)
	if left > 0xff {
		left = 0
	}
	return resp[:max], 0x6100 | uint16(left)
}

func (c *Card) selectApplet(p1 byte, aid []byte) ([]byte, uint16) {
	if p1 != 0x04 {
		return nil, swIncorrectP1P2
	}
	c.powerOff()
	switch {
	case bytes.HasPrefix(aidPIV, aid) && len(aid) >= 5 || bytes.HasPrefix(aid, aidPIV):
		c.applet = aidPIV
		// Application property template (NIST SP 800-73-4 part 2 §3.1.1).
		apt := tlv(0x4f, []byte{0x00, 0x00, 0x10, 0x00, 0x01, 0x00})
		apt = append(apt, tlv(0x79, tlv(0x4f, aidPIV))...)
		return tlv(0x61, apt), swOK
	case bytes.Equal(aid, aidManagement):
		c.applet = aidManagement
		return fmt.Appendf(nil, "%d.%d.%d", c.cfg.Firmware[0], c.cfg.Firmware[1], c.cfg.Firmware[2]), swOK
	case bytes.Equal(aid, aidOTP):
		c.applet = aidOTP
		return nil, swOK
	}
	return nil, swFileNotFound
}

// deviceInfo answers the management applet's READ CONFIG (INS 1D): a length
// byte then TLVs, 02 serial, 04 form factor, 05 firmware (Yubico
// "Management application" documentation, as read by piv-go FormFactor).
func (c *Card) deviceInfo() ([]byte, uint16) {
	var b []byte
	b = append(b, tlv(0x02, binary.BigEndian.AppendUint32(nil, c.cfg.Serial))...)
	b = append(b, tlv(0x04, []byte{c.cfg.FormFactor})...)
	b = append(b, tlv(0x05, c.cfg.Firmware[:])...)
	return append([]byte{byte(len(b))}, b...), swOK
}

func (c *Card) metadata(p2 byte) ([]byte, uint16) {
	if !c.atLeast(5, 3, 0) {
		return nil, swInsNotSupported
	}
	var b []byte
	switch p2 {
	case 0x80, 0x81:
		ref, def := &c.pin, factoryPIN
		if p2 == 0x81 {
			ref, def = &c.puk, factoryPUK
		}
		b = append(b, tlv(0x01, []byte{0xff})...)
		b = append(b, tlv(0x05, []byte{boolByte(bytes.Equal(ref.value, def))})...)
		b = append(b, tlv(0x06, []byte{byte(ref.max), byte(ref.retries)})...)
	case 0x9b:
		b = append(b, tlv(0x01, []byte{c.mgmAlg})...)
		b = append(b, tlv(0x02, []byte{0x00, TouchNever})...)
		b = append(b, tlv(0x05, []byte{boolByte(bytes.Equal(c.mgmKey, FactoryManagementKey))})...)
	default:
		k, ok := c.slots[p2]
		if !ok {
			return nil, swRefDataNotFound
		}
		pub, err := encodePublic(k.alg, k.priv.Public())
		if err != nil {
			return nil, swIncorrectData
		}
		b = append(b, tlv(0x01, []byte{k.alg})...)
		b = append(b, tlv(0x02, []byte{k.pin, k.touch})...)
		b = append(b, tlv(0x03, []byte{k.origin})...)
		b = append(b, tlv(0x04, pub)...)
	}
	return b, swOK
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// checkReference compares a PIN or PUK try and counts it.
func checkReference(ref *reference, try []byte) uint16 {
	if ref.retries == 0 {
		return swAuthBlocked
	}
	if subtle.ConstantTimeCompare(ref.value, try) != 1 {
		ref.retries--
		return 0x63c0 | uint16(ref.retries)
	}
	ref.retries = ref.max
	return swOK
}

func (c *Card) verify(p1, p2 byte, data []byte) ([]byte, uint16) {
	if p2 != 0x80 {
		return nil, swRefDataNotFound
	}
	if p1 == 0xff { // reset the security status (SP 800-73-4 part 2 §3.2.1)
		c.pinVerified, c.pinFresh = false, false
		return nil, swOK
	}
	if len(data) == 0 {
		switch {
		case c.pinVerified:
			return nil, swOK
		case c.pin.retries == 0:
			return nil, swAuthBlocked
		default:
			return nil, 0x63c0 | uint16(c.pin.retries)
		}
	}
	if len(data) != 8 {
		return nil, swIncorrectData
	}
	sw := checkReference(&c.pin, data)
	c.pinVerified = sw == swOK
	c.pinFresh = c.pinVerified
	return nil, sw
}

// validPIN checks a new PIN or PUK: 6 to 8 bytes, padded with 0xff
// (Yubico: "PIN ... 6-8 characters").
func validPIN(b []byte) bool {
	n := bytes.IndexByte(b, 0xff)
	if n < 0 {
		n = len(b)
	}
	for _, x := range b[n:] {
		if x != 0xff {
			return false
		}
	}
	return len(b) == 8 && n >= 6
}

func (c *Card) changeReference(p2 byte, data []byte) ([]byte, uint16) {
	ref := &c.pin
	switch p2 {
	case 0x80:
	case 0x81:
		ref = &c.puk
	default:
		return nil, swRefDataNotFound
	}
	if len(data) != 16 {
		return nil, swIncorrectData
	}
	if sw := checkReference(ref, data[:8]); sw != swOK {
		return nil, sw
	}
	if !validPIN(data[8:]) {
		return nil, swIncorrectData
	}
	ref.value = bytes.Clone(data[8:])
	return nil, swOK
}

func (c *Card) resetRetry(p2 byte, data []byte) ([]byte, uint16) {
	if p2 != 0x80 {
		return nil, swRefDataNotFound
	}
	if len(data) != 16 {
		return nil, swIncorrectData
	}
	if sw := checkReference(&c.puk, data[:8]); sw != swOK {
		return nil, sw
	}
	if !validPIN(data[8:]) {
		return nil, swIncorrectData
	}
	c.pin.value = bytes.Clone(data[8:])
	c.pin.retries = c.pin.max
	return nil, swOK
}

func (c *Card) mgmCipher() (cipher.Block, int) {
	if c.mgmAlg == alg3DES {
		b, err := des.NewTripleDESCipher(c.mgmKey)
		if err != nil {
			return nil, 0
		}
		return b, 8
	}
	b, err := aes.NewCipher(c.mgmKey)
	if err != nil {
		return nil, 0
	}
	return b, 16
}

// authenticate is GENERAL AUTHENTICATE (SP 800-73-4 part 2 §3.2.4): the
// management key's mutual authentication when P2 is 9B, a signature
// otherwise.
func (c *Card) authenticate(p1, p2 byte, data []byte) ([]byte, uint16) {
	tag, body, _, err := readTLV(data)
	if err != nil || tag != 0x7c {
		return nil, swIncorrectData
	}
	fields, err := parseTLVs(body)
	if err != nil {
		return nil, swIncorrectData
	}
	if p2 == 0x9b {
		return c.mutualAuth(p1, fields)
	}
	return c.sign(p1, p2, fields)
}

func (c *Card) mutualAuth(p1 byte, f map[uint16][]byte) ([]byte, uint16) {
	if p1 != c.mgmAlg {
		return nil, swIncorrectP1P2
	}
	block, n := c.mgmCipher()
	if block == nil {
		return nil, swConditionsNotMet
	}
	w, hasW := f[0x80]
	ch, hasCh := f[0x81]
	switch {
	case hasW && len(w) == 0 && !hasCh:
		// Step 1: send the witness, encrypted under the management key.
		c.mgmAuthed = false
		c.witness = make([]byte, n)
		if _, err := rand.Read(c.witness); err != nil {
			return nil, swConditionsNotMet
		}
		enc := make([]byte, n)
		block.Encrypt(enc, c.witness)
		return tlv(0x7c, tlv(0x80, enc)), swOK
	case hasW && hasCh:
		// Step 2: the host decrypted the witness and sends its own challenge.
		witness := c.witness
		c.witness = nil
		if witness == nil || len(w) != n || len(ch) != n || subtle.ConstantTimeCompare(w, witness) != 1 {
			return nil, swSecurityStatus
		}
		c.mgmAuthed = true
		resp := make([]byte, n)
		block.Encrypt(resp, ch)
		return tlv(0x7c, tlv(0x82, resp)), swOK
	}
	return nil, swIncorrectData
}

// waitTouch blocks (with the card lock released) until the virtual sensor
// is touched, or AutoTouch passes, or TouchTimeout.
func (c *Card) waitTouch() bool {
	c.mu.Unlock()
	defer c.mu.Lock()
	// Drain a stale touch so that only one made while waiting counts.
	select {
	case <-c.touchReq:
	default:
	}
	var auto <-chan time.Time
	if c.cfg.AutoTouch > 0 {
		t := time.NewTimer(c.cfg.AutoTouch)
		defer t.Stop()
		auto = t.C
	}
	select {
	case c.touchWait <- struct{}{}:
	default:
	}
	wait := c.cfg.TouchTimeout
	if wait <= 0 {
		wait = TouchTimeout
	}
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	select {
	case <-c.touchReq:
		return true
	case <-auto:
		return true
	case <-timeout.C:
		return false
	}
}

func (c *Card) sign(alg, slot byte, f map[uint16][]byte) ([]byte, uint16) {
	k, ok := c.slots[slot]
	if !ok || slot == 0xf9 {
		return nil, swRefDataNotFound
	}
	if k.alg != alg {
		return nil, swIncorrectP1P2
	}
	msg, ok := f[0x81]
	if _, resp := f[0x82]; !ok || !resp {
		return nil, swIncorrectData
	}
	switch k.pin {
	case PINOnce:
		if !c.pinVerified {
			return nil, swSecurityStatus
		}
	case PINAlways:
		if !c.pinFresh {
			return nil, swSecurityStatus
		}
	}
	// A VERIFY counts for at most one "always" operation, whichever key
	// the next one uses.
	c.pinFresh = false
	switch k.touch {
	case TouchAlways:
		if !c.waitTouch() {
			return nil, swSecurityStatus
		}
	case TouchCached:
		if time.Now().After(c.touchCached) {
			if !c.waitTouch() {
				return nil, swSecurityStatus
			}
			c.touchCached = time.Now().Add(CachedTouch)
		}
	}
	if c.corruptNext {
		c.corruptNext = false
		msg = bytes.Clone(msg)
		msg[len(msg)-1] ^= 1
	}
	var sig []byte
	var err error
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		// The card signs the bytes it is given as the hash (piv-go
		// truncates the digest to the order's length first).
		sig, err = ecdsa.SignASN1(rand.Reader, p, msg)
	case ed25519.PrivateKey:
		sig = ed25519.Sign(p, msg)
	case *rsa.PrivateKey:
		sig, err = rawRSA(p, msg)
	default:
		return nil, swConditionsNotMet
	}
	if err != nil {
		return nil, swIncorrectData
	}
	return tlv(0x7c, tlv(0x82, sig)), swOK
}

// rawRSA is the RSA private-key operation on a block the host has already
// padded (piv-go sends PKCS#1 v1.5 or PSS encoded messages), with CRT.
func rawRSA(k *rsa.PrivateKey, block []byte) ([]byte, error) {
	m := new(big.Int).SetBytes(block)
	if m.Cmp(k.N) >= 0 || len(block) != k.Size() {
		return nil, errors.New("block out of range")
	}
	p, q := k.Primes[0], k.Primes[1]
	m1 := new(big.Int).Exp(m, k.Precomputed.Dp, p)
	m2 := new(big.Int).Exp(m, k.Precomputed.Dq, q)
	h := new(big.Int).Sub(m1, m2)
	h.Mul(h, k.Precomputed.Qinv).Mod(h, p)
	s := h.Mul(h, q).Add(h, m2)
	// Check the result, as a careful card does against fault attacks.
	if new(big.Int).Exp(s, big.NewInt(int64(k.E)), k.N).Cmp(m) != 0 {
		return nil, errors.New("rsa self-check failed")
	}
	return s.FillBytes(make([]byte, k.Size())), nil
}

func encodePublic(alg byte, pub crypto.PublicKey) ([]byte, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		pt, err := p.Bytes()
		if err != nil {
			return nil, err
		}
		return tlv(0x86, pt), nil
	case ed25519.PublicKey:
		return tlv(0x86, p), nil
	case *rsa.PublicKey:
		b := tlv(0x81, p.N.Bytes())
		return append(b, tlv(0x82, big.NewInt(int64(p.E)).Bytes())...), nil
	}
	return nil, fmt.Errorf("unsupported public key %T", pub)
}

func (c *Card) algSupported(alg byte) bool {
	switch alg {
	case algP256, algP384, algRSA2048:
		return true
	case algEd25519, algRSA3072, algRSA4096:
		return c.atLeast(5, 7, 0)
	}
	return false
}

func validSlot(s byte) bool {
	return s == 0x9a || s == 0x9c || s == 0x9d || s == 0x9e || (s >= 0x82 && s <= 0x95)
}

func (c *Card) generate(slot byte, data []byte) ([]byte, uint16) {
	if !c.mgmAuthed {
		return nil, swSecurityStatus
	}
	if !validSlot(slot) {
		return nil, swIncorrectP1P2
	}
	tag, body, _, err := readTLV(data)
	if err != nil || tag != 0xac {
		return nil, swIncorrectData
	}
	f, err := parseTLVs(body)
	if err != nil || len(f[0x80]) != 1 {
		return nil, swIncorrectData
	}
	alg := f[0x80][0]
	if !c.algSupported(alg) {
		return nil, swIncorrectData
	}
	// Defaults (Yubico, "PIV PIN and touch policies"): PIN always for the
	// signature slot 9c, once elsewhere; touch never.
	k := &slotKey{alg: alg, pin: PINOnce, touch: TouchNever, origin: 1}
	if slot == 0x9c {
		k.pin = PINAlways
	}
	if v := f[0xaa]; len(v) == 1 && v[0] != 0 {
		if v[0] < PINNever || v[0] > PINAlways {
			return nil, swIncorrectData
		}
		k.pin = v[0]
	}
	if v := f[0xab]; len(v) == 1 && v[0] != 0 {
		if v[0] < TouchNever || v[0] > TouchCached {
			return nil, swIncorrectData
		}
		k.touch = v[0]
	}
	switch alg {
	case algP256:
		k.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case algP384:
		k.priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case algEd25519:
		_, k.priv, err = ed25519.GenerateKey(rand.Reader)
	case algRSA2048, algRSA3072, algRSA4096:
		bits := map[byte]int{algRSA2048: 2048, algRSA3072: 3072, algRSA4096: 4096}[alg]
		k.priv, err = rsa.GenerateKey(rand.Reader, bits)
	}
	if err != nil {
		return nil, swConditionsNotMet
	}
	pub, err := encodePublic(alg, k.priv.Public())
	if err != nil {
		return nil, swConditionsNotMet
	}
	c.slots[slot] = k
	return tlv(0x7f49, pub), swOK
}

// objectTag reads the 5C tag list of GET DATA and PUT DATA.
func objectTag(v []byte) (uint32, bool) {
	if len(v) == 0 || len(v) > 3 {
		return 0, false
	}
	var t uint32
	for _, b := range v {
		t = t<<8 | uint32(b)
	}
	return t, true
}

func (c *Card) getData(data []byte) ([]byte, uint16) {
	tag, v, _, err := readTLV(data)
	if err != nil || tag != 0x5c {
		return nil, swIncorrectData
	}
	obj, ok := objectTag(v)
	if !ok {
		return nil, swIncorrectData
	}
	// The printed information and Yubico's PIN-protected data need the PIN
	// (SP 800-73-4 part 1 table 3; 5FC109).
	if obj == 0x5fc109 && !c.pinVerified {
		return nil, swSecurityStatus
	}
	b, ok := c.objects[obj]
	if !ok {
		return nil, swFileNotFound
	}
	return bytes.Clone(b), swOK
}

func (c *Card) putData(data []byte) ([]byte, uint16) {
	if !c.mgmAuthed {
		return nil, swSecurityStatus
	}
	tag, v, rest, err := readTLV(data)
	if err != nil || tag != 0x5c {
		return nil, swIncorrectData
	}
	obj, ok := objectTag(v)
	if !ok {
		return nil, swIncorrectData
	}
	if _, _, tail, err := readTLV(rest); err != nil || len(tail) != 0 {
		return nil, swIncorrectData
	}
	if t, body, _, _ := readTLV(rest); t == 0x53 && len(body) == 0 {
		delete(c.objects, obj)
		return nil, swOK
	}
	c.objects[obj] = bytes.Clone(rest)
	return nil, swOK
}

func (c *Card) attest(slot byte) ([]byte, uint16) {
	if !c.atLeast(4, 3, 0) {
		return nil, swInsNotSupported
	}
	k, ok := c.slots[slot]
	if !ok || slot == 0xf9 {
		return nil, swRefDataNotFound
	}
	if k.origin != 1 {
		// Only keys generated on the card can be attested (Yubico, "PIV
		// attestation": imported keys cannot).
		return nil, swIncorrectData
	}
	der, err := issueSlot(c.devCert, c.devKey, attestation{
		slot: slot, pub: k.priv.Public(), firmware: c.cfg.Firmware, serial: c.cfg.Serial,
		pinPolicy: k.pin, touch: k.touch, formFactor: c.cfg.FormFactor,
	})
	if err != nil {
		return nil, swConditionsNotMet
	}
	return der, swOK
}

func (c *Card) setManagementKey(p1, p2 byte, data []byte) ([]byte, uint16) {
	if !c.mgmAuthed {
		return nil, swSecurityStatus
	}
	if p1 != 0xff || (p2 != 0xff && p2 != 0xfe) {
		return nil, swIncorrectP1P2
	}
	if len(data) < 3 || data[1] != 0x9b || int(data[2]) != len(data)-3 {
		return nil, swIncorrectData
	}
	alg, key := data[0], data[3:]
	want := map[byte]int{alg3DES: 24, algAES128: 16, algAES192: 24, algAES256: 32}[alg]
	if want == 0 || len(key) != want {
		return nil, swIncorrectData
	}
	// AES management keys arrived with firmware 5.4 (Yubico, "YubiKey 5.4
	// firmware specifics").
	if alg != alg3DES && !c.atLeast(5, 4, 0) {
		return nil, swIncorrectData
	}
	c.mgmAlg, c.mgmKey = alg, bytes.Clone(key)
	return nil, swOK
}

func (c *Card) setRetries(p1, p2 byte) ([]byte, uint16) {
	if !c.mgmAuthed || !c.pinVerified {
		return nil, swSecurityStatus
	}
	if p1 == 0 || p2 == 0 {
		return nil, swIncorrectP1P2
	}
	c.pin.max, c.pin.retries = int(p1), int(p1)
	c.puk.max, c.puk.retries = int(p2), int(p2)
	return nil, swOK
}

// reset wipes the applet; a YubiKey allows it only when both PIN and PUK are
// blocked (Yubico, "PIV reset").
func (c *Card) reset() ([]byte, uint16) {
	if c.pin.retries != 0 || c.puk.retries != 0 {
		return nil, swConditionsNotMet
	}
	c.factoryReset()
	c.applet = aidPIV
	return nil, swOK
}
