package tuf

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// Test keys. The ed25519 keys come from fixed seeds; the ECDSA and RSA keys
// are fixed PKCS#8 files in testdata/keys (made with openssl genpkey), so
// every run uses the same keys and keyids.

func edSigner(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

var (
	pemSignersMu sync.Mutex
	pemSigners   = map[string]crypto.Signer{}
)

// fileSigner loads testdata/keys/NAME.pem.
func fileSigner(t testing.TB, name string) crypto.Signer {
	t.Helper()
	pemSignersMu.Lock()
	defer pemSignersMu.Unlock()
	if s, ok := pemSigners[name]; ok {
		return s
	}
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s := k.(crypto.Signer)
	pemSigners[name] = s
	return s
}

// publicPEM is testdata/keys/NAME.pub.pem as written by openssl.
func publicPEM(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name+".pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustKey(t testing.TB, pub crypto.PublicKey) *Key {
	t.Helper()
	k, err := KeyFromPublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// parseKeyJSON reads a key object from JSON text, as metadata would hold it.
func parseKeyJSON(s string) (*Key, error) {
	v, err := cjson.Parse([]byte(s))
	if err != nil {
		return nil, err
	}
	return decodeKey(v, "keys.k")
}

func keyMap(keys ...*Key) map[string]*Key {
	m := make(map[string]*Key, len(keys))
	for _, k := range keys {
		m[k.ID()] = k
	}
	return m
}

var testExpiry = NewExpiry(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))

// testRoot makes a root naming rootKeys (threshold rootThreshold) for the
// root role and the first root key for the other top-level roles.
func testRoot(version int64, rootThreshold int64, rootKeys ...*Key) *Root {
	consistent := true
	r := &Root{Keys: keyMap(rootKeys...), Roles: map[string]*RoleKeys{}, ConsistentSnapshot: &consistent}
	r.Version, r.Expires = version, testExpiry
	var ids []string
	for _, k := range rootKeys {
		ids = append(ids, k.ID())
	}
	r.Roles[TypeRoot] = &RoleKeys{KeyIDs: ids, Threshold: rootThreshold}
	for _, role := range []string{TypeTargets, TypeSnapshot, TypeTimestamp} {
		r.Roles[role] = &RoleKeys{KeyIDs: ids[:1], Threshold: 1}
	}
	return r
}

func mustRootFile(t testing.TB, r *Root) *File {
	t.Helper()
	f, err := NewRootFile(r)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustTargetsFile(t testing.TB, tg *Targets) *File {
	t.Helper()
	f, err := NewTargetsFile(tg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustSign(t testing.TB, f *File, keys map[string]*Key, signers ...crypto.Signer) {
	t.Helper()
	for _, s := range signers {
		k := mustKey(t, s.Public())
		id := k.ID()
		// Sign under whichever keyid the delegator lists this key as.
		for kid, dk := range keys {
			if dk.Fingerprint() == k.Fingerprint() {
				id = kid
			}
		}
		if err := f.Sign(keys, id, s); err != nil {
			t.Fatal(err)
		}
	}
}

func mustParse(t testing.TB, name string, b []byte) *File {
	t.Helper()
	f, err := Parse(name, b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// wantErr checks err's exact text and, when target is not nil, that it
// wraps target.
func wantErr(t testing.TB, err error, target error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error %q does not wrap %q", err, target)
	}
}

// replaceOnce replaces exactly one occurrence of old in s.
func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times in the document, want once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// fakeCorruptSigner signs with the real key and then flips one bit of the
// signature, like a faulty token.
type fakeCorruptSigner struct{ crypto.Signer }

func (s fakeCorruptSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Signer.Sign(r, digest, opts)
	if err != nil {
		return nil, err
	}
	sig[len(sig)/2] ^= 0x10
	return sig, nil
}

// fakeSwappedSigner claims one public key but signs with another, like a
// token whose slot was swapped after it was matched.
type fakeSwappedSigner struct {
	claims crypto.PublicKey
	signs  crypto.Signer
}

func (s fakeSwappedSigner) Public() crypto.PublicKey { return s.claims }
func (s fakeSwappedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.signs.Sign(r, digest, opts)
}

// fakeFailingSigner always fails, like a token that was pulled out.
type fakeFailingSigner struct{ crypto.Signer }

func (s fakeFailingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("token removed")
}
