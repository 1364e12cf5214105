package softkey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/internal/durable"
)

// Store is a directory of software keys, used as a token in tests and
// rehearsals. Each key NAME is two files:
//
//	NAME.key.pem  the encrypted private key (see the package documentation), mode 0600
//	NAME.pub.pem  its public key, a PEM "PUBLIC KEY" (RFC 5280 SubjectPublicKeyInfo)
//
// The public file lets Keys list the keys without a passphrase, as a
// hardware token lists its public objects before login. Signer checks that
// the decrypted private key matches it.
//
// Files are created new, never overwritten, and synced with their
// directory (internal/durable).
type Store struct {
	dir     string
	prompts hsm.Prompts
	// iterations is the PBKDF2 count for new keys; tests lower it to
	// MinIterations to stay quick.
	iterations int
}

// The compile-time proof that Store is a token that can generate keys.
var (
	_ hsm.Token        = (*Store)(nil)
	_ hsm.KeyGenerator = (*Store)(nil)
)

const (
	keySuffix = ".key.pem"
	pubSuffix = ".pub.pem"
	// maxKeyFile bounds what is read from a key file: an RSA-8192 key
	// encrypted and in PEM is under 7 KiB.
	maxKeyFile = 64 << 10
	// uriPrefix starts the URI of a software key: softkey:name=NAME.
	uriPrefix = "softkey:name="
)

// validName keeps key names to plain file names: no path separators, no
// leading dot (hidden files), nothing a shell or a person could misread.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Open opens the key store in dir, which must exist. prompts.PIN is asked
// for a key's passphrase.
func Open(dir string, prompts hsm.Prompts) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open software key store %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open software key store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open software key store %s: not a directory", abs)
	}
	return &Store{dir: abs, prompts: prompts, iterations: DefaultIterations}, nil
}

// Describe names the store and says plainly that its keys are insecure.
func (s *Store) Describe() string {
	return fmt.Sprintf("software key store %s (%s)", s.dir, InsecureNotice)
}

// Insecure reports that this token's keys are software keys. A ceremony
// checks for this method (interface{ Insecure() bool }) to refuse such keys
// outside a rehearsal.
func (s *Store) Insecure() bool { return true }

// Close does nothing: decrypted keys live only in the signers handed out.
func (s *Store) Close() error { return nil }

// Keys lists the keys, sorted by name. Files whose names do not follow the
// NAME.pub.pem pattern are ignored; a public key file without its private
// key file is an error, so that a half-copied store is noticed.
func (s *Store) Keys(ctx context.Context) ([]hsm.KeyInfo, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list software keys: %w", err)
	}
	var keys []hsm.KeyInfo
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), pubSuffix)
		if !ok || !validName.MatchString(name) {
			continue
		}
		pub, err := s.readPublic(name)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(filepath.Join(s.dir, name+keySuffix)); err != nil {
			return nil, fmt.Errorf("list software keys: %s has no private key file %s", filepath.Join(s.dir, e.Name()), name+keySuffix)
		}
		keys = append(keys, s.keyInfo(name, pub))
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Label < keys[j].Label })
	return keys, nil
}

func (s *Store) keyInfo(name string, pub crypto.PublicKey) hsm.KeyInfo {
	return hsm.KeyInfo{Label: name, URI: uriPrefix + name, Public: pub}
}

// keyName finds the key a KeyInfo selects: by URI if given, else by label.
func keyName(key hsm.KeyInfo) (string, error) {
	name := key.Label
	if key.URI != "" {
		n, ok := strings.CutPrefix(key.URI, uriPrefix)
		if !ok {
			return "", fmt.Errorf("key URI %q is not a software key URI (%sNAME): %w", key.URI, uriPrefix, hsm.ErrKeyNotFound)
		}
		if name != "" && name != n {
			return "", fmt.Errorf("key label %q and URI %q disagree: %w", key.Label, key.URI, hsm.ErrKeyNotFound)
		}
		name = n
	}
	if !validName.MatchString(name) {
		return "", fmt.Errorf("software key name %q is not valid (letters, digits, - and _, at most 64): %w", name, hsm.ErrKeyNotFound)
	}
	return name, nil
}

// readFile reads one of the store's files, refusing symlinks and anything
// larger than a key file can be.
func (s *Store) readFile(name string) ([]byte, error) {
	path := filepath.Join(s.dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a key file", path, maxKeyFile)
	}
	return b, nil
}

func (s *Store) readPublic(name string) (crypto.PublicKey, error) {
	b, err := s.readFile(name + pubSuffix)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("software key %q: %w", name, hsm.ErrKeyNotFound)
		}
		return nil, fmt.Errorf("read software key %q public key: %w", name, err)
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" || len(strings.TrimSpace(string(rest))) != 0 || len(block.Headers) != 0 {
		return nil, fmt.Errorf("read software key %q: %s is not a single PEM \"PUBLIC KEY\" block", name, filepath.Join(s.dir, name+pubSuffix))
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("read software key %q public key: %w", name, err)
	}
	return pub, nil
}

// Signer asks for the key's passphrase (through Prompts.PIN), decrypts the
// key and returns a signer that verifies each signature before returning
// it. A wrong passphrase gives an error that wraps both
// [ErrWrongPassphrase] and an [*hsm.PINError] with RetriesLeft -1 (a file
// has no retry counter), so callers can ask again.
func (s *Store) Signer(ctx context.Context, key hsm.KeyInfo) (crypto.Signer, error) {
	name, err := keyName(key)
	if err != nil {
		return nil, err
	}
	pub, err := s.readPublic(name)
	if err != nil {
		return nil, err
	}
	if key.Public != nil && !publicEqual(key.Public, pub) {
		return nil, fmt.Errorf("software key %q has a different public key than the one asked for: %w", name, hsm.ErrKeyNotFound)
	}
	pemBytes, err := s.readFile(name + keySuffix)
	if err != nil {
		return nil, fmt.Errorf("read software key %q: %w", name, err)
	}
	if s.prompts.PIN == nil {
		return nil, fmt.Errorf("unlock software key %q: %w", name, hsm.ErrPINRequired)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("unlock software key %q: %w", name, err)
	}
	pass, err := s.prompts.PIN(ctx, hsm.PINRequest{Token: s.Describe(), RetriesLeft: -1})
	if err != nil {
		return nil, fmt.Errorf("unlock software key %q: %w", name, err)
	}
	priv, err := Parse(pemBytes, pass)
	clear(pass)
	if errors.Is(err, ErrWrongPassphrase) {
		return nil, fmt.Errorf("unlock software key %q: %w", name, &passphraseError{token: s.Describe()})
	}
	if err != nil {
		return nil, fmt.Errorf("unlock software key %q: %w", name, err)
	}
	if !publicEqual(priv.Public(), pub) {
		return nil, fmt.Errorf("unlock software key %q: the private key does not match %s", name, filepath.Join(s.dir, name+pubSuffix))
	}
	return &verifyingSigner{name: name, key: priv}, nil
}

// passphraseError is a wrong passphrase seen as a wrong PIN.
type passphraseError struct{ token string }

func (e *passphraseError) Error() string { return ErrWrongPassphrase.Error() }
func (e *passphraseError) Unwrap() []error {
	return []error{ErrWrongPassphrase, &hsm.PINError{Token: e.token, RetriesLeft: -1}}
}

// GenerateKey makes a key named opts.Label, asking for its passphrase
// through Prompts.PIN. Only Algorithm and Label are used.
func (s *Store) GenerateKey(ctx context.Context, opts hsm.GenerateOptions) (hsm.KeyInfo, error) {
	if _, err := keyName(hsm.KeyInfo{Label: opts.Label}); err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("generate software key: %w", err)
	}
	if s.prompts.PIN == nil {
		return hsm.KeyInfo{}, fmt.Errorf("generate software key %q: %w", opts.Label, hsm.ErrPINRequired)
	}
	key, err := Generate(opts.Algorithm)
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	pass, err := s.prompts.PIN(ctx, hsm.PINRequest{Token: s.Describe(), RetriesLeft: -1})
	if err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("generate software key %q: %w", opts.Label, err)
	}
	defer clear(pass)
	return s.WriteKey(opts.Label, key, pass)
}

// WriteKey stores key under name, encrypted with passphrase. It refuses to
// replace an existing key: both files are created new and synced, with
// their directory ([durable.CreateNew]), and the private key file is
// removed again if the public one cannot be written.
func (s *Store) WriteKey(name string, key crypto.Signer, passphrase []byte) (hsm.KeyInfo, error) {
	if _, err := keyName(hsm.KeyInfo{Label: name}); err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("write software key: %w", err)
	}
	privPEM, err := marshal(key, passphrase, s.iterations)
	if err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("write software key %q: %w", name, err)
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("write software key %q public key: %w", name, err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	keyPath := filepath.Join(s.dir, name+keySuffix)
	pubPath := filepath.Join(s.dir, name+pubSuffix)
	if _, err := os.Lstat(pubPath); err == nil {
		return hsm.KeyInfo{}, fmt.Errorf("write software key %q: %s already exists", name, pubPath)
	}
	if err := durable.CreateNew(keyPath, privPEM, 0o600); err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("write software key %q: %w", name, err)
	}
	if err := durable.CreateNew(pubPath, pubPEM, 0o600); err != nil {
		os.Remove(keyPath)
		return hsm.KeyInfo{}, fmt.Errorf("write software key %q: %w", name, err)
	}
	return s.keyInfo(name, key.Public()), nil
}

func publicEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// verifyingSigner checks every signature against the public key before
// returning it, as hsm.Token.Signer promises. For a software key a failure
// means a bug or corrupted memory, which is exactly when it must not pass.
type verifyingSigner struct {
	name string
	key  crypto.Signer
}

func (v *verifyingSigner) Public() crypto.PublicKey { return v.key.Public() }

// Insecure reports that this is a software key; see Store.Insecure.
func (v *verifyingSigner) Insecure() bool { return true }

func (v *verifyingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	sig, err := v.key.Sign(r, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("sign with software key %q: %w", v.name, err)
	}
	if err := verify(v.key.Public(), digest, sig, opts); err != nil {
		return nil, fmt.Errorf("sign with software key %q: %w", v.name, hsm.ErrBadSignature)
	}
	return sig, nil
}

// verify checks a signature the way crypto.Signer.Sign made it: opts picks
// Ed25519 vs Ed25519ph/ctx, RSA PKCS #1 v1.5 vs PSS.
func verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		o := &ed25519.Options{}
		if eo, ok := opts.(*ed25519.Options); ok {
			o = eo
		} else if opts != nil {
			o.Hash = opts.HashFunc()
		}
		return ed25519.VerifyWithOptions(p, digest, sig, o)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(p, digest, sig) {
			return errors.New("ecdsa: verification error")
		}
		return nil
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			vo := *pss
			if vo.SaltLength == rsa.PSSSaltLengthEqualsHash || vo.SaltLength > 0 {
				return rsa.VerifyPSS(p, pss.Hash, digest, sig, &vo)
			}
			vo.SaltLength = rsa.PSSSaltLengthAuto
			return rsa.VerifyPSS(p, pss.Hash, digest, sig, &vo)
		}
		return rsa.VerifyPKCS1v15(p, opts.HashFunc(), digest, sig)
	default:
		return fmt.Errorf("unsupported public key type %T", pub)
	}
}
