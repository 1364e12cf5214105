package softkey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
)

var pass = []byte("correct horse battery staple")

var allAlgorithms = []hsm.Algorithm{hsm.Ed25519, hsm.ECDSAP256, hsm.ECDSAP384, hsm.RSA2048, hsm.RSA3072, hsm.RSA4096}

// keys caches one generated key per algorithm: RSA-4096 generation is slow.
var keys = map[hsm.Algorithm]crypto.Signer{}

func key(t testing.TB, alg hsm.Algorithm) crypto.Signer {
	t.Helper()
	if k, ok := keys[alg]; ok {
		return k
	}
	k, err := Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	keys[alg] = k
	return k
}

func TestGenerateTypes(t *testing.T) {
	for _, alg := range allAlgorithms {
		k := key(t, alg)
		var ok bool
		switch alg {
		case hsm.Ed25519:
			_, ok = k.(ed25519.PrivateKey)
		case hsm.ECDSAP256:
			e, isEC := k.(*ecdsa.PrivateKey)
			ok = isEC && e.Curve == elliptic.P256()
		case hsm.ECDSAP384:
			e, isEC := k.(*ecdsa.PrivateKey)
			ok = isEC && e.Curve == elliptic.P384()
		case hsm.RSA2048, hsm.RSA3072, hsm.RSA4096:
			r, isRSA := k.(*rsa.PrivateKey)
			ok = isRSA && string(alg) == "rsa-"+strconv.Itoa(r.N.BitLen())
		}
		if !ok {
			t.Errorf("Generate(%s) gave %T", alg, k)
		}
	}
	_, err := Generate("dsa-1024")
	const want = `generate key: unknown algorithm "dsa-1024" (known: ed25519, ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096)`
	if err == nil || err.Error() != want {
		t.Errorf("Generate(dsa-1024) error = %v, want %q", err, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := key(t, alg)
			pemBytes, err := Marshal(k, pass)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")) {
				t.Fatalf("unexpected PEM start: %.40q", pemBytes)
			}
			got, err := Parse(pemBytes, pass)
			if err != nil {
				t.Fatal(err)
			}
			if !publicEqual(got.Public(), k.Public()) {
				t.Fatal("parsed key differs from the marshalled one")
			}
			if _, err := Parse(pemBytes, []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("wrong passphrase: error = %v, want ErrWrongPassphrase", err)
			}
		})
	}
}

func TestMarshalRefuses(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		pass []byte
		want string
	}{
		{"rsa-1024", small, pass, "marshal key: RSA key of 1024 bits is too small: at least 2048 bits are required"},
		{"p521", p521, pass, "marshal key: ECDSA curve P-521 is not supported: only P-256 and P-384 are"},
		{"empty passphrase", key(t, hsm.Ed25519), nil, "marshal key: the passphrase is empty"},
	} {
		_, err := Marshal(tc.key, tc.pass)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// build makes an EncryptedPrivateKeyInfo with chosen parameters, to test
// each refusal of parseEncrypted.
type build struct {
	outer, kdf, prf, cipher asn1.ObjectIdentifier
	noPRF                   bool
	salt, iv                []byte
	iter, keyLength         int
	data                    []byte
}

func (b build) der(t *testing.T) []byte {
	t.Helper()
	def := func(o, d asn1.ObjectIdentifier) asn1.ObjectIdentifier {
		if o == nil {
			return d
		}
		return o
	}
	if b.salt == nil {
		b.salt = make([]byte, 16)
	}
	if b.iv == nil {
		b.iv = make([]byte, 16)
	}
	if b.iter == 0 {
		b.iter = MinIterations
	}
	if b.data == nil {
		b.data = make([]byte, 32)
	}
	kp := pbkdf2Params{Salt: b.salt, IterationCount: b.iter, KeyLength: b.keyLength}
	if !b.noPRF {
		kp.PRF = algorithmIdentifier{Algorithm: def(b.prf, oidHMACSHA256), Parameters: asn1NULL}
	}
	kdfParams, err := asn1.Marshal(kp)
	if err != nil {
		t.Fatal(err)
	}
	ivParam, _ := asn1.Marshal(b.iv)
	p, err := asn1.Marshal(pbes2Params{
		KeyDerivationFunc: algorithmIdentifier{Algorithm: def(b.kdf, oidPBKDF2), Parameters: asn1.RawValue{FullBytes: kdfParams}},
		EncryptionScheme:  algorithmIdentifier{Algorithm: def(b.cipher, oidAES256CBC), Parameters: asn1.RawValue{FullBytes: ivParam}},
	})
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     algorithmIdentifier{Algorithm: def(b.outer, oidPBES2), Parameters: asn1.RawValue{FullBytes: p}},
		EncryptedData: b.data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseRefuses(t *testing.T) {
	good, err := marshal(key(t, hsm.Ed25519), pass, MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	plainDER, _ := x509.MarshalPKCS8PrivateKey(key(t, hsm.Ed25519))
	withHeaders := pem.EncodeToMemory(&pem.Block{Type: pemType, Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: block.Bytes})
	oidAES128CBC := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidHMACSHA1 := asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidScrypt := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidPBES1 := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 3}

	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "parse key file: not a PEM file: it does not start with a -----BEGIN line"},
		{"text before", append([]byte("hello\n"), good...), "parse key file: not a PEM file: it does not start with a -----BEGIN line"},
		{"text after", append(append([]byte{}, good...), "trailer\n"...), "parse key file: unexpected data after the PEM block"},
		{"two blocks", append(append([]byte{}, good...), good...), "parse key file: unexpected data after the PEM block"},
		{"unencrypted", pemOf("PRIVATE KEY", plainDER), `parse key file: PEM block "PRIVATE KEY" is an unencrypted private key: only "ENCRYPTED PRIVATE KEY" is accepted`},
		{"certificate", pemOf("CERTIFICATE", []byte{1}), `parse key file: PEM block type is "CERTIFICATE", not "ENCRYPTED PRIVATE KEY"`},
		{"headers", withHeaders, "parse key file: PEM headers are not allowed (legacy OpenSSL encryption is not supported)"},
		{"trailing DER", pemOf(pemType, append(append([]byte{}, block.Bytes...), 0x05, 0x00)), "parse key file: EncryptedPrivateKeyInfo has 2 bytes of trailing data"},
		{"pbes1", pemOf(pemType, build{outer: oidPBES1}.der(t)), "parse key file: encryption scheme 1.2.840.113549.1.5.3 is not supported: only PBES2 (1.2.840.113549.1.5.13) is"},
		{"scrypt", pemOf(pemType, build{kdf: oidScrypt}.der(t)), "parse key file: key derivation function 1.3.6.1.4.1.11591.4.11 is not supported: only PBKDF2 (1.2.840.113549.1.5.12) is"},
		{"sha1 default", pemOf(pemType, build{noPRF: true}.der(t)), "parse key file: PBKDF2 pseudo-random function hmacWithSHA1 (the default when none is named) is not supported: only hmacWithSHA256 is"},
		{"sha1 named", pemOf(pemType, build{prf: oidHMACSHA1}.der(t)), "parse key file: PBKDF2 pseudo-random function 1.2.840.113549.2.7 is not supported: only hmacWithSHA256 (1.2.840.113549.2.9) is"},
		{"aes128", pemOf(pemType, build{cipher: oidAES128CBC}.der(t)), "parse key file: cipher 2.16.840.1.101.3.4.1.2 is not supported: only AES-256-CBC (2.16.840.1.101.3.4.1.42) is"},
		{"openssl default iterations", pemOf(pemType, build{iter: 2048}.der(t)), "parse key file: PBKDF2 iteration count 2048 is below the minimum of 100000"},
		{"huge iterations", pemOf(pemType, build{iter: MaxIterations + 1}.der(t)), "parse key file: PBKDF2 iteration count 10000001 is above the maximum of 10000000"},
		{"short salt", pemOf(pemType, build{salt: make([]byte, 4)}.der(t)), "parse key file: PBKDF2 salt is 4 bytes: at least 8 are required (RFC 8018 §4.1)"},
		{"key length", pemOf(pemType, build{keyLength: 16}.der(t)), "parse key file: PBKDF2 key length 16 does not match AES-256 (32)"},
		{"short iv", pemOf(pemType, build{iv: make([]byte, 8)}.der(t)), "parse key file: AES-256-CBC iv is 8 bytes: it must be 16"},
		{"partial block", pemOf(pemType, build{data: make([]byte, 33)}.der(t)), "parse key file: encrypted data is 33 bytes: not a whole number of AES blocks"},
	} {
		_, err := Parse(tc.in, pass)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got  %v\n want %s", tc.name, err, tc.want)
		}
	}
	if _, err := Parse(good, nil); !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("empty passphrase: error = %v, want ErrEmptyPassphrase", err)
	}
}

// TestParseRefusesSmallRSA checks that Parse applies the same size rule as
// Marshal, for a file written by another tool.
func TestParseRefusesSmallRSA(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := x509.MarshalPKCS8PrivateKey(small)
	der, err := encryptPKCS8(plain, pass, MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(pemOf(pemType, der), pass)
	const want = "parse key file: RSA key of 1024 bits is too small: at least 2048 bits are required"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// TestOpenSSLInterop checks both directions with the openssl command: it
// decrypts what Marshal writes, and Parse decrypts what it writes.
func TestOpenSSLInterop(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("the openssl command is not installed (Debian package openssl): interoperability not checked")
	}
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, pass, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, alg := range []hsm.Algorithm{hsm.Ed25519, hsm.ECDSAP256, hsm.ECDSAP384, hsm.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			k := key(t, alg)
			// Conclave → openssl.
			ours, err := Marshal(k, pass)
			if err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(dir, string(alg)+".ours.pem")
			if err := os.WriteFile(in, ours, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(openssl, "pkcs8", "-in", in, "-passin", "file:"+passFile).Output()
			if err != nil {
				t.Fatalf("openssl could not decrypt our key: %v", err)
			}
			block, _ := pem.Decode(out)
			if block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("openssl output is not a PRIVATE KEY: %q", out)
			}
			back, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !publicEqual(back.(crypto.Signer).Public(), k.Public()) {
				t.Fatal("openssl decrypted a different key")
			}

			// openssl → Conclave.
			plain, _ := x509.MarshalPKCS8PrivateKey(k)
			plainFile := filepath.Join(dir, string(alg)+".plain.pem")
			if err := os.WriteFile(plainFile, pemOf("PRIVATE KEY", plain), 0o600); err != nil {
				t.Fatal(err)
			}
			theirs, err := exec.Command(openssl, "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256",
				"-iter", "100000", "-in", plainFile, "-passout", "file:"+passFile).Output()
			if err != nil {
				t.Fatalf("openssl could not encrypt: %v", err)
			}
			got, err := Parse(theirs, pass)
			if err != nil {
				t.Fatalf("parse openssl's key: %v", err)
			}
			if !publicEqual(got.Public(), k.Public()) {
				t.Fatal("parsed a different key from openssl's file")
			}

			// openssl's default iteration count is refused by name.
			weak, err := exec.Command(openssl, "pkcs8", "-topk8", "-v2", "aes-256-cbc",
				"-in", plainFile, "-passout", "file:"+passFile).Output()
			if err != nil {
				t.Fatalf("openssl could not encrypt: %v", err)
			}
			_, err = Parse(weak, pass)
			const want = "parse key file: PBKDF2 iteration count 2048 is below the minimum of 100000"
			if err == nil || err.Error() != want {
				t.Fatalf("openssl default file: error = %v, want %q", err, want)
			}
		})
	}
}

func TestErrorsHoldNoPassphrase(t *testing.T) {
	secret := []byte("s3cret-passphrase-never-shown")
	good, err := marshal(key(t, hsm.ECDSAP256), pass, MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(good, secret)
	if err == nil || strings.Contains(err.Error(), string(secret)) {
		t.Fatalf("error = %v: want an error without the passphrase", err)
	}
}

func BenchmarkParse(b *testing.B) {
	k, _ := Generate(hsm.ECDSAP256)
	p, err := Marshal(k, pass)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse(p, pass); err != nil {
			b.Fatal(err)
		}
	}
}
