package main

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
// as a policy names it and its TUF key.
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
	return softkeyURIPrefix + filepath.Join(dir, name+".key.pem"), k
}

// pinText returns a PIN input reading text as --pin-fd does, from a
// pipe, and the buffer its notices go to.
func pinText(t *testing.T, text string) (*pinInput, *bytes.Buffer) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(text); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var notice bytes.Buffer
	// The pipe's *os.File keeps the descriptor; the input reads it.
	t.Cleanup(func() { r.Close() })
	return &pinInput{fd: r, fdNum: int(r.Fd()), notice: &notice}, &notice
}

// TestCeremonyTokensSoftkey: a rehearsal's software key signs after its
// passphrase is read from the PIN input; the signature verifies.
func TestCeremonyTokensSoftkey(t *testing.T) {
	loc, k := softkeyIn(t, t.TempDir(), "alice")
	pins, notice := pinText(t, testSoftkeyPass+"\n")
	c := &ceremonyTokens{pol: &policy.Policy{Rehearsal: true}, keys: map[string]*tuf.Key{k.ID(): k}, pins: pins, notice: notice}
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
	if !strings.Contains(notice.String(), "PIN of Alice for software key store") || strings.Contains(notice.String(), testSoftkeyPass) {
		t.Errorf("notice:\n%s", notice.String())
	}
}

// TestCeremonyTokensWrongSoftkeyBeforePIN: the store holds another key
// under the enrolled name: refused as the wrong token, no passphrase read.
func TestCeremonyTokensWrongSoftkeyBeforePIN(t *testing.T) {
	loc, k := softkeyIn(t, t.TempDir(), "alice")
	enrolled := softkeyFor(t)
	pins, notice := pinText(t, testSoftkeyPass+"\n")
	c := &ceremonyTokens{pol: &policy.Policy{Rehearsal: true}, keys: map[string]*tuf.Key{k.ID(): k, enrolled.ID(): enrolled}, pins: pins, notice: notice}
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: enrolled.ID(), Token: policy.TokenSoftkey, URI: loc})
	if !errors.Is(err, hsm.ErrWrongToken) {
		t.Fatalf("err = %v, want hsm.ErrWrongToken", err)
	}
	want := fmt.Sprintf("holder Alice: this is not the expected token: software key store %s (%s) holds key %s, not the enrolled key %s (no PIN was asked)",
		filepath.Dir(strings.TrimPrefix(loc, softkeyURIPrefix)), softkey.InsecureNotice, k.ID(), enrolled.ID())
	if err.Error() != want {
		t.Errorf("err =\n%s\nwant\n%s", err, want)
	}
	if notice.Len() != 0 {
		t.Errorf("something was asked:\n%s", notice.String())
	}
	if line, err := readPINLine(pins.fd, "test"); err != nil || string(line) != testSoftkeyPass {
		t.Errorf("the passphrase was read: %v", err)
	}
}

// TestCeremonyTokensSoftkeyOutsideRehearsal: a software key never signs
// for a production policy.
func TestCeremonyTokensSoftkeyOutsideRehearsal(t *testing.T) {
	loc, k := softkeyIn(t, t.TempDir(), "alice")
	pins, notice := pinText(t, testSoftkeyPass+"\n")
	c := &ceremonyTokens{pol: &policy.Policy{}, keys: map[string]*tuf.Key{k.ID(): k}, pins: pins, notice: notice}
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenSoftkey, URI: loc})
	want := "holder Alice: key " + k.ID() + " is a software key, and software keys sign only in a rehearsal: " + softkey.InsecureNotice
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// TestCeremonyTokensUnlistedKey: a keyid the vault's metadata does not
// list has no public key to check a token against.
func TestCeremonyTokensUnlistedKey(t *testing.T) {
	c := &ceremonyTokens{pol: &policy.Policy{Rehearsal: true}, keys: map[string]*tuf.Key{}}
	_, err := c.Signer(context.Background(), policy.Holder{Name: "Alice"}, policy.HolderKey{KeyID: "ab12", Token: policy.TokenSoftkey})
	want := "holder Alice: key ab12 is listed neither in the root nor in the delegations of targets"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// TestCeremonyTokensRetryRemoved: a pulled token is asked for again as
// the script allows, then the operation runs again; when the tries are
// spent, the error says how often it was asked.
func TestCeremonyTokensRetryRemoved(t *testing.T) {
	var notice bytes.Buffer
	c := &ceremonyTokens{wait: tokenWait{Retries: 2, Wait: time.Millisecond}, notice: &notice}
	s := &tokenSigner{holder: policy.Holder{Name: "Alice"}, key: policy.HolderKey{Token: policy.TokenYubiKey, Serial: 1234, Slot: "9c"}}
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
	// Other errors are not retried.
	calls = 0
	pinErr := &hsm.PINError{Token: "t", RetriesLeft: 2}
	if err := c.retry(context.Background(), s, func() error { calls++; return pinErr }); err != pinErr || calls != 1 {
		t.Errorf("err = %v after %d calls, want the PIN error after 1", err, calls)
	}
}

// TestReadPINLine: one line per PIN, nothing read beyond its newline.
func TestReadPINLine(t *testing.T) {
	r := strings.NewReader("123456\r\nsecond\nlast")
	for _, want := range []string{"123456", "second", "last"} {
		got, err := readPINLine(r, "fd 3")
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	_, err := readPINLine(r, "fd 3")
	if err == nil || err.Error() != "reading a PIN from fd 3: no PIN left (each PIN asked for is one line, in the order asked)" {
		t.Errorf("at the end: %v", err)
	}
	_, err = readPINLine(strings.NewReader("\nx\n"), "fd 3")
	if !errors.Is(err, hsm.ErrCancelled) || err.Error() != "reading a PIN from fd 3: the line is empty: cancelled by the key holder" {
		t.Errorf("empty line: %v", err)
	}
	long := strings.Repeat("7", maxPIN+1) + "\n"
	_, err = readPINLine(strings.NewReader(long), "fd 3")
	if !errors.Is(err, errPINLine) || strings.Contains(err.Error(), "77") {
		t.Errorf("long line: %v", err)
	}
	// Byte by byte: the next line stays unread.
	one := &countingReader{r: strings.NewReader("246810\nnext\n")}
	if _, err := readPINLine(one, "fd 3"); err != nil {
		t.Fatal(err)
	}
	if one.n != len("246810\n") {
		t.Errorf("read %d bytes for a 7-byte line", one.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestOpenPINInputRefusesStandardStreams: a PIN never shares a stream with
// the ceremony's text.
func TestOpenPINInputRefusesStandardStreams(t *testing.T) {
	for fd := 0; fd <= 2; fd++ {
		_, err := openPINInput(fd, io.Discard)
		want := fmt.Sprintf("--pin-fd %d: use a descriptor of its own (3 or more), not standard input, output or error", fd)
		if err == nil || err.Error() != want {
			t.Errorf("fd %d: %v", fd, err)
		}
	}
	_, err := openPINInput(987, io.Discard)
	if err == nil || err.Error() != "--pin-fd 987: the descriptor is not open (bad file descriptor)" {
		t.Errorf("closed fd: %v", err)
	}
}
