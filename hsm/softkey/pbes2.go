package softkey

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"fmt"
)

// This file reads and writes the one form of encrypted private key Conclave
// accepts: an RFC 5958 EncryptedPrivateKeyInfo whose encryption is PBES2
// (RFC 8018 §6.2) with PBKDF2-HMAC-SHA256 (RFC 8018 §5.2, RFC 8018 appendix
// B.1.2 for the PRF) and AES-256-CBC (RFC 8018 appendix B.2.5, NIST
// SP 800-38A). It is what `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes, so an
// auditor can open a rehearsal key with openssl. Anything else — PBES1,
// other KDFs or PRFs (including the HMAC-SHA1 default of RFC 8018 when the
// prf field is absent), other ciphers — is refused, never guessed at.

// Object identifiers from RFC 8018 appendix C and NIST's CSOR registry.
var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// Iteration counts for PBKDF2.
const (
	// DefaultIterations is what Marshal uses: OWASP's 2023 recommendation
	// for PBKDF2-HMAC-SHA256 (Password Storage Cheat Sheet).
	DefaultIterations = 600_000
	// MinIterations is the smallest count Parse accepts. It is well above
	// openssl's default of 2048, which is too cheap to slow down a guesser;
	// convert such a file with `openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000`.
	MinIterations = 100_000
	// MaxIterations bounds the work a hostile key file can make Parse do
	// (about a minute on a slow machine).
	MaxIterations = 10_000_000
)

const (
	saltLen = 16 // RFC 8018 §4.1 asks for at least 8 bytes; openssl 3 writes 16
	keyLen  = 32 // AES-256
)

// algorithmIdentifier is RFC 5280 §4.1.1.2. Parameters is kept raw so that
// each user decodes exactly the type it expects.
type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// encryptedPrivateKeyInfo is RFC 5958 §3.
type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

// pbes2Params is RFC 8018 appendix A.4.
type pbes2Params struct {
	KeyDerivationFunc algorithmIdentifier
	EncryptionScheme  algorithmIdentifier
}

// pbkdf2Params is RFC 8018 appendix A.2. Salt is parsed as an OCTET STRING
// (the "specified" choice): the "otherSource" choice is not used by anyone
// and is refused by the type mismatch. KeyLength is optional and, when
// present, must say 32.
type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                 `asn1:"optional"`
	PRF            algorithmIdentifier `asn1:"optional"`
}

// asn1NULL is the DER NULL that RFC 8018 writes as the parameters of
// hmacWithSHA256.
var asn1NULL = asn1.RawValue{Tag: asn1.TagNull, Class: asn1.ClassUniversal, FullBytes: []byte{0x05, 0x00}}

// unmarshalExact decodes DER and refuses anything after the value.
func unmarshalExact(der []byte, v any, what string) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return fmt.Errorf("%s is not valid DER: %w", what, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%s has %d bytes of trailing data", what, len(rest))
	}
	return nil
}

// encryptPKCS8 wraps a PKCS#8 PrivateKeyInfo in an EncryptedPrivateKeyInfo.
func encryptPKCS8(plain, passphrase []byte, iterations int) ([]byte, error) {
	salt := make([]byte, saltLen)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("read random salt: %w", err)
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("read random iv: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, string(passphrase), salt, iterations, keyLen)
	if err != nil {
		return nil, fmt.Errorf("derive the encryption key: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("set up AES: %w", err)
	}
	// PKCS#7 padding, RFC 8018 §6.1.1 step 4: always 1..16 bytes.
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := make([]byte, len(plain)+pad)
	copy(buf, plain)
	for i := len(plain); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)

	kdfParams, err := asn1.Marshal(pbkdf2Params{
		Salt:           salt,
		IterationCount: iterations,
		PRF:            algorithmIdentifier{Algorithm: oidHMACSHA256, Parameters: asn1NULL},
	})
	if err != nil {
		return nil, fmt.Errorf("encode PBKDF2 parameters: %w", err)
	}
	ivParam, err := asn1.Marshal(iv)
	if err != nil {
		return nil, fmt.Errorf("encode AES parameters: %w", err)
	}
	pbes2, err := asn1.Marshal(pbes2Params{
		KeyDerivationFunc: algorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdfParams}},
		EncryptionScheme:  algorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivParam}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode PBES2 parameters: %w", err)
	}
	der, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     algorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: pbes2}},
		EncryptedData: buf,
	})
	if err != nil {
		return nil, fmt.Errorf("encode EncryptedPrivateKeyInfo: %w", err)
	}
	return der, nil
}

// encryptedKey is a parsed EncryptedPrivateKeyInfo, checked but not yet
// decrypted, so that everything about the file's form is reported before a
// passphrase is asked for or tried.
type encryptedKey struct {
	salt       []byte
	iterations int
	iv         []byte
	data       []byte
}

// parseEncrypted checks the structure of an EncryptedPrivateKeyInfo.
func parseEncrypted(der []byte) (*encryptedKey, error) {
	var info encryptedPrivateKeyInfo
	if err := unmarshalExact(der, &info, "EncryptedPrivateKeyInfo"); err != nil {
		return nil, err
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("encryption scheme %s is not supported: only PBES2 (%s) is", info.Algorithm.Algorithm, oidPBES2)
	}
	var p pbes2Params
	if err := unmarshalExact(info.Algorithm.Parameters.FullBytes, &p, "PBES2 parameters"); err != nil {
		return nil, err
	}
	if !p.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("key derivation function %s is not supported: only PBKDF2 (%s) is", p.KeyDerivationFunc.Algorithm, oidPBKDF2)
	}
	var kdf pbkdf2Params
	if err := unmarshalExact(p.KeyDerivationFunc.Parameters.FullBytes, &kdf, "PBKDF2 parameters"); err != nil {
		return nil, err
	}
	if kdf.PRF.Algorithm == nil {
		// RFC 8018 appendix A.2: an absent prf means hmacWithSHA1.
		return nil, errors.New("PBKDF2 pseudo-random function hmacWithSHA1 (the default when none is named) is not supported: only hmacWithSHA256 is")
	}
	if !kdf.PRF.Algorithm.Equal(oidHMACSHA256) {
		return nil, fmt.Errorf("PBKDF2 pseudo-random function %s is not supported: only hmacWithSHA256 (%s) is", kdf.PRF.Algorithm, oidHMACSHA256)
	}
	// RFC 8018 appendix B.1.2 gives NULL parameters; some writers omit them.
	if fb := kdf.PRF.Parameters.FullBytes; len(fb) != 0 && !bytes.Equal(fb, asn1NULL.FullBytes) {
		return nil, errors.New("hmacWithSHA256 parameters must be NULL or absent")
	}
	if len(kdf.Salt) < 8 {
		return nil, fmt.Errorf("PBKDF2 salt is %d bytes: at least 8 are required (RFC 8018 §4.1)", len(kdf.Salt))
	}
	if kdf.IterationCount < MinIterations {
		return nil, fmt.Errorf("PBKDF2 iteration count %d is below the minimum of %d", kdf.IterationCount, MinIterations)
	}
	if kdf.IterationCount > MaxIterations {
		return nil, fmt.Errorf("PBKDF2 iteration count %d is above the maximum of %d", kdf.IterationCount, MaxIterations)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, fmt.Errorf("PBKDF2 key length %d does not match AES-256 (32)", kdf.KeyLength)
	}
	if !p.EncryptionScheme.Algorithm.Equal(oidAES256CBC) {
		return nil, fmt.Errorf("cipher %s is not supported: only AES-256-CBC (%s) is", p.EncryptionScheme.Algorithm, oidAES256CBC)
	}
	var iv []byte
	if err := unmarshalExact(p.EncryptionScheme.Parameters.FullBytes, &iv, "AES-256-CBC parameters"); err != nil {
		return nil, err
	}
	if len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("AES-256-CBC iv is %d bytes: it must be %d", len(iv), aes.BlockSize)
	}
	if len(info.EncryptedData) == 0 || len(info.EncryptedData)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("encrypted data is %d bytes: not a whole number of AES blocks", len(info.EncryptedData))
	}
	return &encryptedKey{salt: kdf.Salt, iterations: kdf.IterationCount, iv: iv, data: info.EncryptedData}, nil
}

// decrypt returns the PKCS#8 PrivateKeyInfo, or ErrWrongPassphrase when the
// padding is wrong. A wrong passphrase and a damaged file look the same here:
// CBC has no integrity check, which is why the caller also parses the result
// strictly and compares the public key where it has one.
func (k *encryptedKey) decrypt(passphrase []byte) ([]byte, error) {
	key, err := pbkdf2.Key(sha256.New, string(passphrase), k.salt, k.iterations, keyLen)
	if err != nil {
		return nil, fmt.Errorf("derive the decryption key: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("set up AES: %w", err)
	}
	buf := make([]byte, len(k.data))
	cipher.NewCBCDecrypter(block, k.iv).CryptBlocks(buf, k.data)
	pad := int(buf[len(buf)-1])
	if pad == 0 || pad > aes.BlockSize {
		clear(buf)
		return nil, ErrWrongPassphrase
	}
	want := bytes.Repeat([]byte{byte(pad)}, pad)
	if subtle.ConstantTimeCompare(buf[len(buf)-pad:], want) != 1 {
		clear(buf)
		return nil, ErrWrongPassphrase
	}
	return buf[:len(buf)-pad], nil
}
