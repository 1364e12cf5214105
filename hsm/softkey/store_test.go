package softkey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
)

// prompts answers every PIN request with the given passphrase and counts
// the calls.
func prompts(passphrase string, calls *int) hsm.Prompts {
	return hsm.Prompts{PIN: func(ctx context.Context, req hsm.PINRequest) ([]byte, error) {
		*calls++
		if req.RetriesLeft != -1 {
			return nil, errors.New("software keys have no retry counter: RetriesLeft must be -1")
		}
		return []byte(passphrase), nil
	}}
}

func openStore(t *testing.T, p hsm.Prompts) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), p)
	if err != nil {
		t.Fatal(err)
	}
	s.iterations = MinIterations
	return s
}

func TestStoreGenerateListSign(t *testing.T) {
	ctx := context.Background()
	var calls int
	s := openStore(t, prompts("rehearsal pass", &calls))
	if d := s.Describe(); !strings.Contains(d, "INSECURE software key: for tests and rehearsal only") {
		t.Errorf("Describe() = %q: it must say the keys are insecure", d)
	}
	if !s.Insecure() {
		t.Error("Insecure() = false")
	}
	for _, alg := range []hsm.Algorithm{hsm.Ed25519, hsm.ECDSAP256, hsm.RSA2048} {
		if _, err := s.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: alg, Label: "holder-" + string(alg)}); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Errorf("PIN asked %d times for 3 generations", calls)
	}
	// An unrelated file is ignored.
	if err := os.WriteFile(filepath.Join(s.dir, "README"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	infos, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range infos {
		names = append(names, k.Label+" "+k.URI)
	}
	want := "holder-ecdsa-p256 softkey:name=holder-ecdsa-p256,holder-ed25519 softkey:name=holder-ed25519,holder-rsa-2048 softkey:name=holder-rsa-2048"
	if got := strings.Join(names, ","); got != want {
		t.Fatalf("Keys() = %s, want %s", got, want)
	}
	for _, info := range infos {
		fi, err := os.Stat(filepath.Join(s.dir, info.Label+keySuffix))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s key file mode %v, want 0600", info.Label, fi.Mode().Perm())
		}
		signer, err := s.Signer(ctx, info)
		if err != nil {
			t.Fatal(err)
		}
		if ins, ok := signer.(interface{ Insecure() bool }); !ok || !ins.Insecure() {
			t.Errorf("%s: signer does not report Insecure()", info.Label)
		}
		msg := []byte("targets.json payload")
		d256 := sha256.Sum256(msg)
		switch info.Public.(type) {
		case ed25519.PublicKey:
			sig, err := signer.Sign(rand.Reader, msg, crypto.Hash(0))
			if err != nil || !ed25519.Verify(info.Public.(ed25519.PublicKey), msg, sig) {
				t.Errorf("ed25519 sign: %v", err)
			}
			d512 := sha512.Sum512(msg)
			sig, err = signer.Sign(rand.Reader, d512[:], &ed25519.Options{Hash: crypto.SHA512})
			if err != nil || ed25519.VerifyWithOptions(info.Public.(ed25519.PublicKey), d512[:], sig, &ed25519.Options{Hash: crypto.SHA512}) != nil {
				t.Errorf("ed25519ph sign: %v", err)
			}
		case *ecdsa.PublicKey:
			sig, err := signer.Sign(rand.Reader, d256[:], crypto.SHA256)
			if err != nil || !ecdsa.VerifyASN1(info.Public.(*ecdsa.PublicKey), d256[:], sig) {
				t.Errorf("ecdsa sign: %v", err)
			}
		case *rsa.PublicKey:
			pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
			sig, err := signer.Sign(rand.Reader, d256[:], pss)
			if err != nil || rsa.VerifyPSS(info.Public.(*rsa.PublicKey), crypto.SHA256, d256[:], sig, pss) != nil {
				t.Errorf("rsa-pss sign: %v", err)
			}
			sig, err = signer.Sign(rand.Reader, d256[:], crypto.SHA256)
			if err != nil || rsa.VerifyPKCS1v15(info.Public.(*rsa.PublicKey), crypto.SHA256, d256[:], sig) != nil {
				t.Errorf("rsa-pkcs1 sign: %v", err)
			}
		}
	}
}

func TestStoreWrongPassphrase(t *testing.T) {
	ctx := context.Background()
	var calls int
	s := openStore(t, prompts("right", &calls))
	info, err := s.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.Ed25519, Label: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s.prompts = prompts("wrong", &calls)
	_, err = s.Signer(ctx, info)
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("error = %v, want ErrWrongPassphrase", err)
	}
	var pe *hsm.PINError
	if !errors.As(err, &pe) || pe.RetriesLeft != -1 || pe.Token != s.Describe() {
		t.Fatalf("error = %v, want an *hsm.PINError with RetriesLeft -1", err)
	}
	if errors.Is(err, hsm.ErrPINLocked) {
		t.Fatal("a wrong passphrase must not look like a locked PIN")
	}
	const want = `unlock software key "alice": wrong passphrase (or the key file is damaged)`
	if err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}

func TestStoreNoPINCallback(t *testing.T) {
	var calls int
	s := openStore(t, prompts("p", &calls))
	info, err := s.GenerateKey(context.Background(), hsm.GenerateOptions{Algorithm: hsm.Ed25519, Label: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	s.prompts = hsm.Prompts{}
	if _, err := s.Signer(context.Background(), info); !errors.Is(err, hsm.ErrPINRequired) {
		t.Fatalf("error = %v, want hsm.ErrPINRequired", err)
	}
	s.prompts = hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return nil, hsm.ErrCancelled }}
	if _, err := s.Signer(context.Background(), info); !errors.Is(err, hsm.ErrCancelled) {
		t.Fatalf("error = %v, want hsm.ErrCancelled", err)
	}
}

func TestStoreNeverOverwrites(t *testing.T) {
	s := openStore(t, hsm.Prompts{})
	k := key(t, hsm.Ed25519)
	if _, err := s.WriteKey("carol", k, pass); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(s.dir, "carol"+keySuffix))
	_, err := s.WriteKey("carol", key(t, hsm.ECDSAP256), pass)
	if !errors.Is(err, os.ErrExist) && (err == nil || !strings.Contains(err.Error(), "already exists")) {
		t.Fatalf("second WriteKey error = %v, want an already-exists error", err)
	}
	after, _ := os.ReadFile(filepath.Join(s.dir, "carol"+keySuffix))
	if string(before) != string(after) {
		t.Fatal("the key file was overwritten")
	}
	// Only the private file present: O_EXCL on it refuses too.
	if err := os.Remove(filepath.Join(s.dir, "carol"+pubSuffix)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteKey("carol", k, pass); !errors.Is(err, os.ErrExist) {
		t.Fatalf("error = %v, want os.ErrExist", err)
	}
}

func TestStoreSelection(t *testing.T) {
	ctx := context.Background()
	var calls int
	s := openStore(t, prompts("p", &calls))
	if _, err := s.WriteKey("dave", key(t, hsm.Ed25519), []byte("p")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		info hsm.KeyInfo
		want string
	}{
		{"missing", hsm.KeyInfo{Label: "erin"}, `software key "erin": no key matches`},
		{"path in name", hsm.KeyInfo{Label: "../dave"}, `software key name "../dave" is not valid (letters, digits, - and _, at most 64): no key matches`},
		{"other URI", hsm.KeyInfo{URI: "pkcs11:token=x"}, `key URI "pkcs11:token=x" is not a software key URI (softkey:name=NAME): no key matches`},
		{"disagree", hsm.KeyInfo{Label: "erin", URI: "softkey:name=dave"}, `key label "erin" and URI "softkey:name=dave" disagree: no key matches`},
		{"other public key", hsm.KeyInfo{Label: "dave", Public: key(t, hsm.ECDSAP256).Public()}, `software key "dave" has a different public key than the one asked for: no key matches`},
	} {
		_, err := s.Signer(ctx, tc.info)
		if !errors.Is(err, hsm.ErrKeyNotFound) || err.Error() != tc.want {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
	if calls != 0 {
		t.Errorf("the passphrase was asked %d times for keys that do not match", calls)
	}
}

// TestStoreMismatchedFiles is a key file swapped under a public file: the
// signer must refuse rather than sign with an unexpected key.
func TestStoreMismatchedFiles(t *testing.T) {
	var calls int
	s := openStore(t, prompts("p", &calls))
	if _, err := s.WriteKey("frank", key(t, hsm.Ed25519), []byte("p")); err != nil {
		t.Fatal(err)
	}
	other, err := marshal(key(t, hsm.ECDSAP256), []byte("p"), MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(s.dir, "frank"+keySuffix)
	if err := os.WriteFile(keyPath, other, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Signer(context.Background(), hsm.KeyInfo{Label: "frank"})
	want := `unlock software key "frank": the private key does not match ` + filepath.Join(s.dir, "frank"+pubSuffix)
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

func TestStoreRefusesSymlink(t *testing.T) {
	var calls int
	s := openStore(t, prompts("p", &calls))
	if _, err := s.WriteKey("gina", key(t, hsm.Ed25519), []byte("p")); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(s.dir, "gina"+keySuffix)
	real := filepath.Join(t.TempDir(), "real.pem")
	if err := os.Rename(keyPath, real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, keyPath); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Signer(context.Background(), hsm.KeyInfo{Label: "gina"}); err == nil {
		t.Fatal("a symlinked key file was followed")
	}
}

func TestOpenNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(f, hsm.Prompts{})
	if want := "open software key store " + f + ": not a directory"; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

// TestVerifyCatchesBadSignature checks the verification step itself, since
// a software key never produces a bad signature on its own.
func TestVerifyCatchesBadSignature(t *testing.T) {
	v := &verifyingSigner{name: "x", key: badSigner{key(t, hsm.ECDSAP256)}}
	d := sha256.Sum256([]byte("m"))
	_, err := v.Sign(rand.Reader, d[:], crypto.SHA256)
	if !errors.Is(err, hsm.ErrBadSignature) {
		t.Fatalf("error = %v, want hsm.ErrBadSignature", err)
	}
}

type badSigner struct{ crypto.Signer }

func (b badSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := b.Signer.Sign(r, digest, opts)
	if err == nil {
		sig[len(sig)-1] ^= 1
	}
	return sig, err
}

func TestStoreOrphanPublicKey(t *testing.T) {
	s := openStore(t, hsm.Prompts{})
	if _, err := s.WriteKey("hank", key(t, hsm.Ed25519), pass); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.dir, "hank"+keySuffix)); err != nil {
		t.Fatal(err)
	}
	_, err := s.Keys(context.Background())
	want := "list software keys: " + filepath.Join(s.dir, "hank.pub.pem") + " has no private key file hank.key.pem"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}
