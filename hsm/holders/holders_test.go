package holders

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
)

// testSoftkeyPass is the passphrase of the software keys tests write.
const testSoftkeyPass = "soft passphrase 1"

// softkeyFor writes a new software key in a store of its own and returns
// its TUF key.
func softkeyFor(t *testing.T) *tuf.Key {
	_, k := softkeyIn(t, t.TempDir(), "k")
	return k
}

// softkeyIn writes key NAME into the store dir, and returns its location
// as a policy names it (softkey:name=NAME) and its TUF key.
func softkeyIn(t *testing.T, dir, name string) (string, *tuf.Key) {
	t.Helper()
	store, err := softkey.Open(dir, hsm.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := softkey.Generate(hsm.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteKey(name, s, []byte(testSoftkeyPass)); err != nil {
		t.Fatal(err)
	}
	k, err := tuf.KeyFromPublic(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return SoftkeyURIPrefix + name, k
}

// pinLog answers PIN requests with one PIN and records who was asked.
type pinLog struct {
	mu    sync.Mutex
	pin   string
	asked []string // "holder: token"
}

func (p *pinLog) prompts(holder string) hsm.Prompts {
	return hsm.Prompts{PIN: func(_ context.Context, req hsm.PINRequest) ([]byte, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.asked = append(p.asked, holder+": "+req.Token)
		return []byte(p.pin), nil
	}}
}

// TestSoftkey: a rehearsal's software key signs after its passphrase is
// asked of its holder; the signature verifies.
func TestSoftkey(t *testing.T) {
	dir := t.TempDir()
	loc, k := softkeyIn(t, dir, "alice")
	pins := &pinLog{pin: testSoftkeyPass}
	c := New(Options{Policy: &policy.Policy{Rehearsal: true}, Keys: map[string]*tuf.Key{k.ID(): k}, Prompts: pins.prompts, SoftkeyDir: dir})
	defer c.Close()
	s, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenSoftkey, URI: loc})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(nil, []byte("payload"), crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Verify([]byte("payload"), sig); err != nil {
		t.Fatal(err)
	}
	if len(pins.asked) != 1 || !strings.HasPrefix(pins.asked[0], "Alice: software key store ") {
		t.Errorf("asked: %q", pins.asked)
	}
	if got := s.PINTriesLeft(); got != -1 {
		t.Errorf("PINTriesLeft = %d, want -1 (a file has no counter)", got)
	}
}

// TestWrongSoftkeyBeforePIN: the store holds another key under the
// enrolled name: refused as the wrong token, no passphrase asked.
func TestWrongSoftkeyBeforePIN(t *testing.T) {
	dir := t.TempDir()
	loc, k := softkeyIn(t, dir, "alice")
	enrolled := softkeyFor(t)
	pins := &pinLog{pin: testSoftkeyPass}
	c := New(Options{Policy: &policy.Policy{Rehearsal: true}, Keys: map[string]*tuf.Key{k.ID(): k, enrolled.ID(): enrolled}, Prompts: pins.prompts, SoftkeyDir: dir})
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: enrolled.ID(), Token: policy.TokenSoftkey, URI: loc})
	var wk *WrongKeyError
	if !errors.Is(err, hsm.ErrWrongToken) || !errors.As(err, &wk) || wk.Found != k.ID() || wk.Want != enrolled.ID() {
		t.Fatalf("err = %v, want a *WrongKeyError wrapping hsm.ErrWrongToken", err)
	}
	want := fmt.Sprintf("holder Alice: this is not the expected token: software key store %s (%s) holds key %s, not the enrolled key %s (no PIN was asked)",
		dir, softkey.InsecureNotice, k.ID(), enrolled.ID())
	if err.Error() != want {
		t.Errorf("err =\n%s\nwant\n%s", err, want)
	}
	if len(pins.asked) != 0 {
		t.Errorf("asked: %q", pins.asked)
	}
}

// TestSoftkeyOutsideRehearsal: a software key never signs for a
// production policy.
func TestSoftkeyOutsideRehearsal(t *testing.T) {
	loc, k := softkeyIn(t, t.TempDir(), "alice")
	pins := &pinLog{pin: testSoftkeyPass}
	c := New(Options{Policy: &policy.Policy{}, Keys: map[string]*tuf.Key{k.ID(): k}, Prompts: pins.prompts})
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenSoftkey, URI: loc})
	want := "holder Alice: key " + k.ID() + " is a software key, and software keys sign only in a rehearsal: " + softkey.InsecureNotice
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if len(pins.asked) != 0 {
		t.Errorf("asked: %q", pins.asked)
	}
}

// TestSoftkeyLocation: a software key is named softkey:name=NAME, in the
// store Options.SoftkeyDir names.
func TestSoftkeyLocation(t *testing.T) {
	c := New(Options{Policy: &policy.Policy{Rehearsal: true}, Keys: map[string]*tuf.Key{"ab12": nil}, SoftkeyDir: t.TempDir()})
	for _, loc := range []string{"softkey:path=/abs/k.key.pem", "softkey:name=", "/abs/k.key.pem"} {
		_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: "ab12", Token: policy.TokenSoftkey, URI: loc})
		want := fmt.Sprintf("holder Alice: key ab12: software key location %q is not softkey:name=NAME", loc)
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v", loc, err)
		}
	}
	c = New(Options{Policy: &policy.Policy{Rehearsal: true}, Keys: map[string]*tuf.Key{"ab12": nil}})
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: "ab12", Token: policy.TokenSoftkey, URI: "softkey:name=k"})
	if want := "holder Alice: key ab12 is a software key, and no software key store was named"; err == nil || err.Error() != want {
		t.Errorf("no store: err = %v", err)
	}
}

// TestUnlistedKey: a keyid the trusted metadata does not list has no
// public key to check a token against.
func TestUnlistedKey(t *testing.T) {
	c := New(Options{Policy: &policy.Policy{Rehearsal: true}, Keys: map[string]*tuf.Key{}})
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: "ab12", Token: policy.TokenSoftkey})
	want := "holder Alice: key ab12 is listed neither in the root nor in the delegations of targets"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// TestUnknownTokenKind: a kind no backend serves.
func TestUnknownTokenKind(t *testing.T) {
	k := softkeyFor(t)
	c := New(Options{Policy: &policy.Policy{Rehearsal: true}, Keys: map[string]*tuf.Key{k.ID(): k}})
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: k.ID(), Token: "tpm"})
	want := "holder Alice: key " + k.ID() + " has token kind \"tpm\", which Conclave does not know"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// TestRetryRemoved: a pulled token is asked for again as Options.Wait
// allows, then the operation runs again; when the tries are spent, the
// error says how often it was asked. Other errors are not retried.
func TestRetryRemoved(t *testing.T) {
	var notice bytes.Buffer
	c := New(Options{Wait: Wait{Retries: 2, Delay: time.Millisecond}, Notice: &notice})
	s := &Signer{holder: policy.Holder{Name: "Alice"}, key: policy.HolderKey{Token: policy.TokenYubiKey, Serial: 1234, Slot: "9c"}}
	removed := fmt.Errorf("signing: %w", hsm.ErrTokenRemoved)
	calls := 0
	err := c.retry(context.Background(), s, func() error {
		calls++
		if calls < 3 {
			return removed
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err = %v after %d calls, want nil after 3", err, calls)
	}
	want := "Alice: signing: the token was removed\n" +
		"insert the token of Alice (YubiKey 1234, slot 9c) again; trying again in 1.00 ms (1 of 2)\n" +
		"Alice: signing: the token was removed\n" +
		"insert the token of Alice (YubiKey 1234, slot 9c) again; trying again in 1.00 ms (2 of 2)\n"
	if notice.String() != want {
		t.Errorf("notice:\n%s\nwant\n%s", notice.String(), want)
	}

	calls = 0
	err = c.retry(context.Background(), s, func() error { calls++; return removed })
	if !errors.Is(err, hsm.ErrTokenRemoved) || err.Error() != "signing: the token was removed (asked 2 times)" || calls != 3 {
		t.Errorf("err = %v after %d calls", err, calls)
	}
	calls = 0
	pinErr := &hsm.PINError{Token: "t", RetriesLeft: 2}
	if err := c.retry(context.Background(), s, func() error { calls++; return pinErr }); err != pinErr || calls != 1 {
		t.Errorf("err = %v after %d calls, want the PIN error after 1", err, calls)
	}
	// Without retries, the first error is returned as it is.
	c = New(Options{})
	calls = 0
	if err := c.retry(context.Background(), s, func() error { calls++; return removed }); err != removed || calls != 1 {
		t.Errorf("no retries: err = %v after %d calls", err, calls)
	}
}

// TestRootTokenOutsideRootCeremony: a key the policy places in root is
// opened only for a root ceremony; otherwise it is refused before any
// PIN is asked.
func TestRootTokenOutsideRootCeremony(t *testing.T) {
	dir := t.TempDir()
	loc, k := softkeyIn(t, dir, "alice-root")
	hk := policy.HolderKey{KeyID: k.ID(), Token: policy.TokenSoftkey, URI: loc}
	pol := &policy.Policy{Rehearsal: true, Holders: []policy.Holder{{Name: "Alice", Keys: []policy.HolderKey{hk}}},
		KeyRoles: map[string][]string{k.ID(): {"root"}}}
	pins := &pinLog{pin: testSoftkeyPass}
	c := New(Options{Policy: pol, Keys: map[string]*tuf.Key{k.ID(): k}, Prompts: pins.prompts, SoftkeyDir: dir})
	_, err := c.Signer(context.Background(), pol.Holders[0], hk)
	want := "holder Alice: key " + k.ID() + ": this token holds a root key, and only a root ceremony uses root keys (key " + k.ID() + " is on the same token)"
	if !errors.Is(err, ErrRootToken) || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if len(pins.asked) != 0 {
		t.Errorf("asked: %q", pins.asked)
	}
	c = New(Options{Policy: pol, Keys: map[string]*tuf.Key{k.ID(): k}, Prompts: pins.prompts, SoftkeyDir: dir, RootCeremony: true})
	defer c.Close()
	if _, err := c.Signer(context.Background(), pol.Holders[0], hk); err != nil {
		t.Fatalf("in a root ceremony: %v", err)
	}
}
