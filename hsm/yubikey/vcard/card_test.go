package vcard

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

// These tests call Process directly (no pcscd): the card's APDU logic.

func apdu(t *testing.T, h string) []byte {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sw(resp []byte) uint16 { return uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1]) }

func newCard(t *testing.T, fw [3]byte) *Card {
	t.Helper()
	c, err := New(Config{Serial: 42, Firmware: fw})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Process(apdu(t, "00a4040005a000000308")); sw(r) != 0x9000 {
		t.Fatalf("select: %x", r)
	}
	return c
}

// mgmAuth runs the mutual authentication as piv-go does, for each
// management key algorithm.
func mgmAuth(t *testing.T, c *Card, alg byte, key []byte) uint16 {
	t.Helper()
	var block cipher.Block
	var n int
	var err error
	if alg == alg3DES {
		block, err = des.NewTripleDESCipher(key)
		n = 8
	} else {
		block, err = aes.NewCipher(key)
		n = 16
	}
	if err != nil {
		t.Fatal(err)
	}
	r := c.Process(append([]byte{0, 0x87, alg, 0x9b, 4}, 0x7c, 2, 0x80, 0))
	if sw(r) != 0x9000 {
		return sw(r)
	}
	witness := make([]byte, n)
	block.Decrypt(witness, r[4:4+n])
	challenge := bytes.Repeat([]byte{7}, n)
	data := append([]byte{0x7c, byte(2*n + 4), 0x80, byte(n)}, witness...)
	data = append(data, 0x81, byte(n))
	data = append(data, challenge...)
	r = c.Process(append([]byte{0, 0x87, alg, 0x9b, byte(len(data))}, data...))
	if sw(r) != 0x9000 {
		return sw(r)
	}
	want := make([]byte, n)
	block.Encrypt(want, challenge)
	if !bytes.Equal(r[4:4+n], want) {
		t.Fatalf("card response to challenge wrong")
	}
	return 0x9000
}

func TestManagementKeyAlgorithms(t *testing.T) {
	// Factory: 3DES before 5.7, AES-192 on 5.7 (same bytes).
	if got := mgmAuth(t, newCard(t, [3]byte{5, 4, 3}), alg3DES, FactoryManagementKey); got != 0x9000 {
		t.Fatalf("3DES on 5.4: %04x", got)
	}
	c := newCard(t, [3]byte{5, 7, 1})
	if got := mgmAuth(t, c, alg3DES, FactoryManagementKey); got != swIncorrectP1P2 {
		t.Fatalf("3DES on 5.7: %04x", got)
	}
	if got := mgmAuth(t, c, algAES192, FactoryManagementKey); got != 0x9000 {
		t.Fatalf("AES-192 on 5.7: %04x", got)
	}
	for _, k := range []struct {
		alg byte
		n   int
	}{{algAES128, 16}, {algAES256, 32}, {algAES192, 24}, {alg3DES, 24}} {
		key := bytes.Repeat([]byte{byte(k.n)}, k.n)
		if k.alg == alg3DES {
			key = apdu(t, "0123456789abcdeffedcba987654321089abcdef01234567")
		}
		set := append([]byte{0, 0xff, 0xff, 0xff, byte(3 + k.n), k.alg, 0x9b, byte(k.n)}, key...)
		if r := c.Process(set); sw(r) != 0x9000 {
			t.Fatalf("set %02x: %x", k.alg, r)
		}
		if got := mgmAuth(t, c, k.alg, key); got != 0x9000 {
			t.Fatalf("auth %02x: %04x", k.alg, got)
		}
	}
	// A wrong key fails the second step with 6982.
	if got := mgmAuth(t, c, alg3DES, FactoryManagementKey); got != swSecurityStatus {
		t.Fatalf("wrong key: %04x", got)
	}
	// AES keys are refused before 5.4.
	old := newCard(t, [3]byte{5, 2, 7})
	mgmAuth(t, old, alg3DES, FactoryManagementKey)
	set := append([]byte{0, 0xff, 0xff, 0xff, 3 + 16, algAES128, 0x9b, 16}, make([]byte, 16)...)
	if r := old.Process(set); sw(r) != swIncorrectData {
		t.Fatalf("AES on 5.2: %x", r)
	}
}

func TestVerifyCountsAndBlocks(t *testing.T) {
	c := newCard(t, [3]byte{5, 7, 1})
	if r := c.Process(apdu(t, "0020008000")); sw(r) != 0x63c3 {
		t.Fatalf("status: %x", r)
	}
	wrong := apdu(t, "00200080083939393939393939")
	for _, want := range []uint16{0x63c2, 0x63c1, 0x63c0, 0x6983} {
		if r := c.Process(wrong); sw(r) != want {
			t.Fatalf("wrong PIN: %x, want %04x", r, want)
		}
	}
	right := append(apdu(t, "0020008008"), factoryPIN...)
	if r := c.Process(right); sw(r) != 0x6983 {
		t.Fatalf("blocked PIN accepted: %x", r)
	}
	// Reset needs the PUK blocked too.
	if r := c.Process(apdu(t, "00fb0000")); sw(r) != swConditionsNotMet {
		t.Fatalf("reset with PUK alive: %x", r)
	}
}

func TestChainingAndGetResponse(t *testing.T) {
	c := newCard(t, [3]byte{5, 7, 1})
	if mgmAuth(t, c, algAES192, FactoryManagementKey) != 0x9000 {
		t.Fatal("auth")
	}
	// PUT DATA of 600 bytes in three chained commands.
	obj := bytes.Repeat([]byte{0xab}, 600)
	body := append([]byte{0x5c, 3, 0x5f, 0xc1, 0x0a}, tlv(0x53, obj)...)
	for len(body) > 255 {
		if r := c.Process(append([]byte{0x10, 0xdb, 0x3f, 0xff, 0xff}, body[:255]...)); sw(r) != 0x9000 {
			t.Fatalf("chained: %x", r)
		}
		body = body[255:]
	}
	if r := c.Process(append([]byte{0, 0xdb, 0x3f, 0xff, byte(len(body))}, body...)); sw(r) != 0x9000 {
		t.Fatalf("last: %x", r)
	}
	// GET DATA answers 256 bytes at a time with 61xx.
	var got []byte
	r := c.Process(apdu(t, "00cb3fff055c035fc10a"))
	for {
		got = append(got, r[:len(r)-2]...)
		if r[len(r)-2] != 0x61 {
			break
		}
		r = c.Process(apdu(t, "00c0000000"))
	}
	if sw(r) != 0x9000 || !bytes.Equal(got, tlv(0x53, obj)) {
		t.Fatalf("read back %d bytes, sw %04x", len(got), sw(r))
	}
}

func TestPowerOffForgetsPIN(t *testing.T) {
	c := newCard(t, [3]byte{5, 7, 1})
	c.Process(append(apdu(t, "0020008008"), factoryPIN...))
	if r := c.Process(apdu(t, "0020008000")); sw(r) != 0x9000 {
		t.Fatalf("verified: %x", r)
	}
	c.mu.Lock()
	c.powerOff()
	c.mu.Unlock()
	c.Process(apdu(t, "00a4040005a000000308"))
	if r := c.Process(apdu(t, "0020008000")); sw(r) != 0x63c3 {
		t.Fatalf("after power off: %x", r)
	}
}

func TestMetadataAbsentBefore53(t *testing.T) {
	c := newCard(t, [3]byte{5, 2, 7})
	if r := c.Process(apdu(t, "00f7009b00")); sw(r) != swInsNotSupported {
		t.Fatalf("metadata on 5.2: %x", r)
	}
}

// BenchmarkCardSign is the card's own work for one ECDSA P-256 signature
// (GENERAL AUTHENTICATE through Process, no pcscd).
func BenchmarkCardSign(b *testing.B) {
	c, err := New(Config{Serial: 1})
	if err != nil {
		b.Fatal(err)
	}
	c.Process([]byte{0, 0xa4, 4, 0, 5, 0xa0, 0, 0, 3, 8})
	key, _ := ecdsaKey()
	c.slots[0x9c] = &slotKey{alg: algP256, pin: PINNever, touch: TouchNever, origin: 1, priv: key}
	d := sha256.Sum256([]byte("x"))
	cmd := append([]byte{0, 0x87, algP256, 0x9c, 0x26, 0x7c, 0x24, 0x82, 0, 0x81, 0x20}, d[:]...)
	for b.Loop() {
		if r := c.Process(cmd); sw(r) != 0x9000 {
			b.Fatalf("%x", r)
		}
	}
}

func ecdsaKey() (*ecdsa.PrivateKey, error) {
	c, err := New(Config{Serial: 2})
	if err != nil {
		return nil, err
	}
	return c.devKey, nil
}

// FuzzProcess: no command sequence makes the card panic or answer without
// a status word.
func FuzzProcess(f *testing.F) {
	for _, s := range []string{"00a4040005a000000308", "0020008000", "00cb3fff055c035fc10a", "1087039b047c028000", "00f79b", "00f9"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	c, err := New(Config{Serial: 7, TouchTimeout: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	c.Process([]byte{0, 0xa4, 4, 0, 5, 0xa0, 0, 0, 3, 8})
	f.Fuzz(func(t *testing.T, apdu []byte) {
		if r := c.Process(apdu); len(r) < 2 {
			t.Fatalf("no status word for %x", apdu)
		}
	})
}
