//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/miekg/pkcs11"
)

// TestSessionsClosedUnderneath: between two signatures every session of the
// token is closed behind Conclave's back (C_CloseAllSessions straight on
// SoftHSM). This stands for a token pulled out and plugged back in between
// two operations: PKCS#11 v2.40 §5.6 ends all sessions, and the login with
// them. The next signature reports the removal; a retry logs in again
// (asking the PIN) and works, on the same token or after re-opening it.
func TestSessionsClosedUnderneath(t *testing.T) {
	label, k := keyOnNewToken(t)
	ctx := context.Background()
	log := &promptLog{}
	tok := openSoft(t, label, typedPIN(testUserPIN, log))
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("first"))
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if err := tok.mod.sh.ctx.CloseAllSessions(tok.slot); err != nil {
		t.Fatal(err)
	}
	_, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
	wantIs(t, err, hsm.ErrTokenRemoved)
	wantMsg(t, err, fmt.Sprintf(`signing with key "holder-key" (id %x) on %s: the token was removed (CKR_SESSION_HANDLE_INVALID); put it back and open it again, then retry`, k.ID, tok.Describe()))

	// Retry on the same token: nothing of the old login is left, the PIN
	// is asked again.
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if n := log.pinCount(); n != 2 {
		t.Fatalf("PIN asked %d times, want 2", n)
	}

	// Or close and re-open it, as a holder does after putting the token back.
	if err := tok.mod.sh.ctx.CloseAllSessions(tok.slot); err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatalf("Close after the sessions vanished: %v", err)
	}
	tok = openSoft(t, label, typedPIN(testUserPIN, log))
	if s, err = tok.Signer(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

// TestKeyDeletedBetweenOperations: the private key is destroyed on the
// token between Signer and Sign. This stands for the token being reset or
// the key deleted by an officer with another tool while the ceremony held
// it: the signature fails with "no key matches", never with another key.
func TestKeyDeletedBetweenOperations(t *testing.T) {
	label, k := keyOnNewToken(t)
	ctx := context.Background()
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	raw, sh := rawSession(t, tok)
	objs, err := tok.find(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID),
	}, 0)
	if err != nil || len(objs) != 1 {
		t.Fatalf("find: %v, %d objects", err, len(objs))
	}
	if err := raw.DestroyObject(sh, objs[0]); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(nil)
	_, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
	wantIs(t, err, hsm.ErrKeyNotFound)
	wantMsg(t, err, fmt.Sprintf(`signing with key "holder-key" (id %x) on %s: no key matches: there is no private key with this label and id`, k.ID, tok.Describe()))
}

// TestOtherTokenInSlot: the token read at each operation is not the one
// opened (serial changed). This stands for a token swapped for another in
// the same reader; it is reported as a removal.
func TestOtherTokenInSlot(t *testing.T) {
	label, k := keyOnNewToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	tok.status.Serial = "0000000000000000" // as if another token had been opened
	_, err := tok.Signer(context.Background(), k)
	wantIs(t, err, hsm.ErrTokenRemoved)
}

// sessionCounter counts the sessions opened and closed through the real
// module (SoftHSM does not report ulSessionCount).
type sessionCounter struct {
	api
	open int
}

func (c *sessionCounter) OpenSession(slot uint, flags uint) (pkcs11.SessionHandle, error) {
	sh, err := c.api.OpenSession(slot, flags)
	if err == nil {
		c.open++
	}
	return sh, err
}

func (c *sessionCounter) CloseSession(sh pkcs11.SessionHandle) error {
	err := c.api.CloseSession(sh)
	if err == nil {
		c.open--
	}
	return err
}

// TestNoSessionLeak: a token held for a long ceremony keeps one session
// (the login) however many signatures it makes, and none after Close.
func TestNoSessionLeak(t *testing.T) {
	label, k := keyOnNewToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	c := &sessionCounter{}
	withAPI(tok, func(a api) api { c.api = a; return c })
	s, err := tok.Signer(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(nil)
	for range 200 {
		if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	if c.open != 1 {
		t.Fatalf("%d sessions open after 200 signatures, want 1", c.open)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	if c.open != 0 {
		t.Fatalf("%d sessions open after Close, want 0", c.open)
	}
}

// TestModuleLifecycle: one C_Initialize per module per process, shared by
// every token; the last Close finalises; loading again initialises again.
func TestModuleLifecycle(t *testing.T) {
	label, _ := keyOnNewToken(t)
	registry.Lock()
	before := len(registry.m)
	registry.Unlock()
	if before != 0 {
		t.Fatalf("%d modules still loaded before the test", before)
	}
	ctx := context.Background()
	a, err := Open(ctx, tokenURI(label), softhsm.policy, hsm.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, tokenURI(label), softhsm.policy, hsm.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	if a.mod.sh != b.mod.sh || a.mod.sh.refs != 2 {
		t.Fatalf("tokens do not share one initialised module (refs %d)", a.mod.sh.refs)
	}
	a.Close()
	a.Close() // twice is harmless
	if b.mod.sh.refs != 1 {
		t.Fatalf("refs = %d after one Close, want 1", b.mod.sh.refs)
	}
	if _, err := b.Keys(ctx); err != nil {
		t.Fatal(err)
	}
	b.Close()
	registry.Lock()
	after := len(registry.m)
	registry.Unlock()
	if after != 0 {
		t.Fatal("module not finalised after the last Close")
	}
	c, err := Open(ctx, tokenURI(label), softhsm.policy, hsm.Prompts{})
	if err != nil {
		t.Fatalf("re-initialising after finalise: %v", err)
	}
	c.Close()
}

// TestAlwaysAuthenticate: a key with CKA_ALWAYS_AUTHENTICATE needs the PIN
// again for every signature (a context-specific login, v2.40 §5.6), which
// SoftHSM enforces.
func TestAlwaysAuthenticate(t *testing.T) {
	label := newSoftToken(t)
	log := &promptLog{}
	tok := openSoft(t, label, typedPIN(testUserPIN, log))
	ctx := context.Background()
	raw, sh := rawSession(t, tok)
	common := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "each-time"),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte{7}),
	}
	_, _, err := raw.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmECEdwardsKeyPairGen, nil)},
		append([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, paramsEd25519)}, common...),
		append([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, true),
		}, common...))
	if err != nil {
		t.Fatal(err)
	}
	k, err := tok.FindKey(ctx, "pkcs11:object=each-time")
	if err != nil {
		t.Fatal(err)
	}
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	before := log.pinCount()
	for range 2 {
		if _, err := s.Sign(rand.Reader, []byte("payload"), crypto.Hash(0)); err != nil {
			t.Fatal(err)
		}
	}
	if got := log.pinCount() - before; got != 2 {
		t.Fatalf("PIN asked %d times for 2 signatures, want 2", got)
	}
}

// TestConcurrentSigners: a terminal program may sign from several
// goroutines; operations on one token are serialised (a PKCS#11 session is
// single-threaded, v2.40 §5.6) and all signatures verify.
func TestConcurrentSigners(t *testing.T) {
	label := newSoftToken(t)
	tok := openSoft(t, label, typedPIN(testUserPIN, &promptLog{}))
	ctx := context.Background()
	var signers []crypto.Signer
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.Ed25519} {
		s, err := tok.Signer(ctx, generate(t, tok, alg, "c-"+string(alg)))
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	errs := make(chan error, 40)
	for i := range 40 {
		go func() {
			s := signers[i%2]
			var err error
			if i%2 == 0 {
				d := sha256.Sum256([]byte{byte(i)})
				_, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
			} else {
				_, err = s.Sign(rand.Reader, []byte{byte(i)}, crypto.Hash(0))
			}
			errs <- err
		}()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
