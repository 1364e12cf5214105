package interop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Fixed instants: no test reads the wall clock for a decision.
var (
	expires = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	refTime = time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
)

// testKey is one signing key, seen by both implementations.
type testKey struct {
	name   string
	signer crypto.Signer
	key    *tuf.Key // Conclave's key object (tuf.KeyFromPublic)
}

func (k testKey) id() string { return k.key.ID() }

// gotufKey is the same key object as go-tuf's type: keytype, scheme and
// keyval.public copied from Conclave's key object.
func (k testKey) gotufKey() *metadata.Key {
	return &metadata.Key{Type: k.key.Type, Scheme: k.key.Scheme, Value: metadata.KeyVal{PublicKey: k.key.Public}}
}

// gotufSigner is the sigstore signer go-tuf's own tests use for the key's
// scheme (metadata/metadata_test.go in go-tuf v2.4.2).
func (k testKey) gotufSigner(t testing.TB) signature.Signer {
	t.Helper()
	var (
		s   signature.SignerVerifier
		err error
	)
	switch p := k.signer.(type) {
	case ed25519.PrivateKey:
		s, err = signature.LoadSignerVerifier(p, crypto.Hash(0))
	case *ecdsa.PrivateKey:
		h := crypto.SHA256
		if p.Curve == elliptic.P384() {
			h = crypto.SHA384
		}
		s, err = signature.LoadSignerVerifier(p, h)
	case *rsa.PrivateKey:
		s, err = signature.LoadRSAPSSSignerVerifier(p, crypto.SHA256, nil)
	default:
		t.Fatalf("no go-tuf signer for %T", k.signer)
	}
	if err != nil {
		t.Fatalf("load go-tuf signer for %s: %v", k.name, err)
	}
	return s
}

// keySet is generated once per test binary: RSA-3072 generation is slow.
type keySet struct {
	ed1, ed2, ed3  testKey
	p256a, p256b   testKey
	p384a, p384b   testKey
	rsa1           testKey
	online         testKey // snapshot and timestamp
	projA1, projA2 testKey
	projB1         testKey
}

var (
	keysOnce sync.Once
	keysVal  *keySet
	keysErr  error
)

func keys(t testing.TB) *keySet {
	t.Helper()
	keysOnce.Do(func() { keysVal, keysErr = generateKeys() })
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keysVal
}

func newTestKey(name string) (testKey, error) {
	var s crypto.Signer
	var err error
	switch name {
	case "ed25519":
		_, s, err = ed25519.GenerateKey(rand.Reader)
	case "ecdsa-p256":
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		s, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa-3072":
		s, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return testKey{}, fmt.Errorf("unknown key kind %s", name)
	}
	if err != nil {
		return testKey{}, fmt.Errorf("generate %s: %w", name, err)
	}
	k, err := tuf.KeyFromPublic(s.Public())
	if err != nil {
		return testKey{}, fmt.Errorf("tuf.KeyFromPublic(%s): %w", name, err)
	}
	return testKey{name: name, signer: s, key: k}, nil
}

func generateKeys() (*keySet, error) {
	ks := &keySet{}
	for _, x := range []struct {
		dst  *testKey
		kind string
	}{
		{&ks.ed1, "ed25519"}, {&ks.ed2, "ed25519"}, {&ks.ed3, "ed25519"},
		{&ks.p256a, "ecdsa-p256"}, {&ks.p256b, "ecdsa-p256"},
		{&ks.p384a, "ecdsa-p384"}, {&ks.p384b, "ecdsa-p384"},
		{&ks.rsa1, "rsa-3072"},
		{&ks.online, "ed25519"},
		{&ks.projA1, "ecdsa-p256"}, {&ks.projA2, "ed25519"}, {&ks.projB1, "ed25519"},
	} {
		k, err := newTestKey(x.kind)
		if err != nil {
			return nil, err
		}
		*x.dst = k
	}
	return ks, nil
}

// ---- Conclave side ----

func keyMap(ks ...testKey) map[string]*tuf.Key {
	m := make(map[string]*tuf.Key, len(ks))
	for _, k := range ks {
		m[k.id()] = k.key
	}
	return m
}

func ids(ks ...testKey) []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.id())
	}
	return out
}

func sortedIDs(ks ...testKey) []string {
	out := ids(ks...)
	sort.Strings(out)
	return out
}

// conclaveRoot builds root metadata the way Conclave's callers do: every
// key named, root and targets held by rootKeys, snapshot and timestamp by
// the online key. consistent_snapshot is always set (see
// TestRootNeedsConsistentSnapshot).
func conclaveRoot(version int64, rootKeys []testKey, threshold int64, online testKey) *tuf.Root {
	r := &tuf.Root{Keys: keyMap(append([]testKey{online}, rootKeys...)...), Roles: map[string]*tuf.RoleKeys{}}
	consistent := true
	r.ConsistentSnapshot = &consistent
	r.Version, r.Expires = version, tuf.NewExpiry(expires)
	r.Roles[tuf.TypeRoot] = &tuf.RoleKeys{KeyIDs: ids(rootKeys...), Threshold: threshold}
	r.Roles[tuf.TypeTargets] = &tuf.RoleKeys{KeyIDs: ids(rootKeys...), Threshold: threshold}
	r.Roles[tuf.TypeSnapshot] = &tuf.RoleKeys{KeyIDs: ids(online), Threshold: 1}
	r.Roles[tuf.TypeTimestamp] = &tuf.RoleKeys{KeyIDs: ids(online), Threshold: 1}
	return r
}

// signConclave signs f with each key, as listed in keys (the delegator's
// key map), using Conclave's (*File).Sign.
func signConclave(t testing.TB, f *tuf.File, keys map[string]*tuf.Key, signers ...testKey) {
	t.Helper()
	for _, s := range signers {
		if err := f.Sign(keys, s.id(), s.signer); err != nil {
			t.Fatalf("conclave sign with %s: %v", s.name, err)
		}
	}
}

func newRootFile(t testing.TB, r *tuf.Root) *tuf.File {
	t.Helper()
	f, err := tuf.NewRootFile(r)
	if err != nil {
		t.Fatalf("tuf.NewRootFile: %v", err)
	}
	return f
}

func newTargetsFile(t testing.TB, tg *tuf.Targets) *tuf.File {
	t.Helper()
	f, err := tuf.NewTargetsFile(tg)
	if err != nil {
		t.Fatalf("tuf.NewTargetsFile: %v", err)
	}
	return f
}

func conclaveTargets(version int64) *tuf.Targets {
	tg := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	tg.Version, tg.Expires = version, tuf.NewExpiry(expires)
	return tg
}

func parseConclave(t testing.TB, name string, data []byte) *tuf.File {
	t.Helper()
	f, err := tuf.Parse(name, data)
	if err != nil {
		t.Fatalf("tuf.Parse(%s): %v", name, err)
	}
	return f
}

// ---- go-tuf side ----

func gotufRoot(t testing.TB, data []byte) *metadata.Metadata[metadata.RootType] {
	t.Helper()
	m, err := metadata.Root().FromBytes(data)
	if err != nil {
		t.Fatalf("go-tuf Root().FromBytes: %v\n%s", err, data)
	}
	return m
}

func gotufTargets(t testing.TB, data []byte) *metadata.Metadata[metadata.TargetsType] {
	t.Helper()
	m, err := metadata.Targets().FromBytes(data)
	if err != nil {
		t.Fatalf("go-tuf Targets().FromBytes: %v", err)
	}
	return m
}

// gotufCanonical is the canonical JSON go-tuf computes for a signed part:
// the bytes it checks signatures over.
func gotufCanonical(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cjson.EncodeCanonical(v)
	if err != nil {
		t.Fatalf("go-tuf canonical encoding: %v", err)
	}
	return b
}

// signGoTUF signs with go-tuf's own (*Metadata).Sign, which names the
// signature by the keyid of metadata.KeyFromPublicKey(signer's key).
func signGoTUF[T metadata.Roles](t testing.TB, m *metadata.Metadata[T], ks ...testKey) {
	t.Helper()
	for _, k := range ks {
		if _, err := m.Sign(k.gotufSigner(t)); err != nil {
			t.Fatalf("go-tuf Sign with %s: %v", k.name, err)
		}
	}
}

// signGoTUFAs signs go-tuf metadata with the sigstore signer but names the
// signature by keyid explicitly: needed for ECDSA P-384, whose keyid
// go-tuf's Sign computes from a key object with the P-256 scheme (see
// TestGoTUFSignNamesP384KeysAsP256).
func signGoTUFAs[T metadata.Roles](t testing.TB, m *metadata.Metadata[T], keyid string, k testKey) {
	t.Helper()
	payload := gotufCanonical(t, m.Signed)
	sig, err := signMessage(k.gotufSigner(t), payload)
	if err != nil {
		t.Fatalf("sign with %s: %v", k.name, err)
	}
	m.Signatures = append(m.Signatures, metadata.Signature{KeyID: keyid, Signature: sig})
}

func gotufID(t testing.TB, k *metadata.Key) string {
	t.Helper()
	id, err := k.ID()
	if err != nil {
		t.Fatalf("go-tuf key ID: %v", err)
	}
	return id
}

func toBytes[T metadata.Roles](t testing.TB, m *metadata.Metadata[T], pretty bool) []byte {
	t.Helper()
	b, err := m.ToBytes(pretty)
	if err != nil {
		t.Fatalf("go-tuf ToBytes(%v): %v", pretty, err)
	}
	return b
}

// wantUnsigned checks that err is go-tuf's ErrUnsignedMetadata with exactly
// the message VerifyDelegate writes for a threshold not met.
func wantUnsigned(t testing.TB, err error, role string, got, want int) {
	t.Helper()
	var unsigned *metadata.ErrUnsignedMetadata
	if !errors.As(err, &unsigned) {
		t.Fatalf("go-tuf error = %v (%T), want *metadata.ErrUnsignedMetadata", err, err)
	}
	msg := fmt.Sprintf("unsigned metadata error: Verifying %s failed, not enough signatures, got %d, want %d", role, got, want)
	if err.Error() != msg {
		t.Fatalf("go-tuf error = %q\nwant %q", err.Error(), msg)
	}
}

// wantConclaveThreshold checks Conclave's verdict: exactly these signers,
// and ErrThreshold iff fewer than the threshold.
func wantConclaveThreshold(t testing.TB, res *tuf.ThresholdResult, err error, signers []string) {
	t.Helper()
	if res == nil {
		t.Fatalf("conclave: no threshold result, error %v", err)
	}
	got := append([]string(nil), res.Signers...)
	want := append([]string(nil), signers...)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("conclave counted signers %v, want %v (checks %+v)", got, want, res.Checks)
	}
	met := int64(len(want)) >= res.Threshold
	switch {
	case met && err != nil:
		t.Fatalf("conclave: threshold %d met by %d keys but error %v", res.Threshold, len(want), err)
	case !met && !errors.Is(err, tuf.ErrThreshold):
		t.Fatalf("conclave error = %v, want tuf.ErrThreshold", err)
	}
}

// mustJSON marshals v with encoding/json.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signMessage(s signature.Signer, payload []byte) ([]byte, error) {
	return s.SignMessage(bytes.NewReader(payload))
}
