package tuf

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

func TestKeyFromPublic(t *testing.T) {
	ed := edSigner(1).Public().(ed25519.PublicKey)
	for _, tc := range []struct {
		name, typ, scheme, public string
		pub                       any
	}{
		{"ed25519", "ed25519", "ed25519", hex.EncodeToString(ed), ed},
		{"p256", "ecdsa", "ecdsa-sha2-nistp256", publicPEM(t, "p256"), fileSigner(t, "p256").Public()},
		{"p384", "ecdsa", "ecdsa-sha2-nistp384", publicPEM(t, "p384"), fileSigner(t, "p384").Public()},
		{"rsa2048", "rsa", "rsassa-pss-sha256", publicPEM(t, "rsa2048"), fileSigner(t, "rsa2048").Public()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := mustKey(t, tc.pub)
			if k.Type != tc.typ || k.Scheme != tc.scheme || k.Public != tc.public {
				t.Errorf("got %s %s %q, want %s %s %q", k.Type, k.Scheme, k.Public, tc.typ, tc.scheme, tc.public)
			}
			if k.Legacy() != "" {
				t.Errorf("Legacy() = %q", k.Legacy())
			}
			// keyid: SHA-256 of the canonical key object, computed here
			// from encoding/json output with sorted keys and no escaping
			// beyond what canonical JSON does.
			obj := `{"keytype":` + jsonString(tc.typ) + `,"keyval":{"public":` + jsonString(tc.public) + `},"scheme":` + jsonString(tc.scheme) + `}`
			sum := sha256.Sum256([]byte(obj))
			if k.ID() != hex.EncodeToString(sum[:]) {
				t.Errorf("ID() = %s, want %x", k.ID(), sum)
			}
			if string(k.Canonical()) != obj {
				t.Errorf("Canonical() = %q, want %q", k.Canonical(), obj)
			}
			der, _ := x509.MarshalPKIXPublicKey(tc.pub)
			fp := sha256.Sum256(der)
			if k.Fingerprint() != hex.EncodeToString(fp[:]) {
				t.Errorf("Fingerprint() = %s, want %x", k.Fingerprint(), fp)
			}
			// The key object Conclave writes reads back as the same key.
			back, err := parseKeyJSON(`{"keytype":` + strconv.Quote(tc.typ) + `,"keyval":{"public":` + strconv.Quote(tc.public) + `},"scheme":` + strconv.Quote(tc.scheme) + `}`)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Equal(k) || back.Fingerprint() != k.Fingerprint() || back.Legacy() != "" {
				t.Errorf("read back: id %s fingerprint %s legacy %q", back.ID(), back.Fingerprint(), back.Legacy())
			}
		})
	}
}

// jsonString writes s in canonical JSON string form: only '\' and '"'
// escaped, everything else (the PEM newlines) raw.
func jsonString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

func TestKeyFromPublicRejects(t *testing.T) {
	p521 := fileSigner(t, "p521").Public()
	_, err := KeyFromPublic(p521)
	wantErr(t, err, ErrInvalidKey, "invalid key: ECDSA curve P-521 is not one TUF clients support (use P-256 or P-384)")

	rsa1024 := fileSigner(t, "rsa1024").Public()
	_, err = KeyFromPublic(rsa1024)
	wantErr(t, err, ErrInvalidKey, "keyval.public: invalid key: RSA key has 1024 bits; at least 2048 are required")

	x, err := ecdh.X25519().NewPrivateKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	_, err = KeyFromPublic(x.PublicKey())
	wantErr(t, err, ErrInvalidKey, "invalid key: unsupported public key type *ecdh.PublicKey")
}

// TestKeyIDKnownAnswer checks keyids against testdata/keyid/NAME.keyid,
// computed outside Go: sha256sum over the canonical key object written by
// hand with printf (the PEM newlines raw, extra fields included).
func TestKeyIDKnownAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, legacy string
	}{
		{"ed25519_plain", ""},
		{"ed25519_extra", ""},
		{"ecdsa_p256", ""},
		{"ecdsa_legacy", `legacy keytype "ecdsa-sha2-nistp256" (written by early securesystemslib)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "keyid", tc.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "keyid", tc.name+".keyid"))
			if err != nil {
				t.Fatal(err)
			}
			k, err := parseKeyJSON(string(in))
			if err != nil {
				t.Fatal(err)
			}
			if k.ID() != strings.TrimSpace(string(want)) {
				t.Errorf("ID() = %s, want %s", k.ID(), want)
			}
			if k.Legacy() != tc.legacy {
				t.Errorf("Legacy() = %q, want %q", k.Legacy(), tc.legacy)
			}
		})
	}
	// The extra field changes the keyid but not the key.
	plain, _ := os.ReadFile(filepath.Join("testdata", "keyid", "ed25519_plain.json"))
	extra, _ := os.ReadFile(filepath.Join("testdata", "keyid", "ed25519_extra.json"))
	a, errA := parseKeyJSON(string(plain))
	b, errB := parseKeyJSON(string(extra))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.ID() == b.ID() || a.Equal(b) || a.Fingerprint() != b.Fingerprint() {
		t.Errorf("plain %s/%s, extra %s/%s", a.ID(), a.Fingerprint(), b.ID(), b.Fingerprint())
	}
	// The fixed ed25519 key in testdata/keys is the one in the vectors.
	pemKey := fileSigner(t, "ed25519").Public().(ed25519.PublicKey)
	if k := mustKey(t, pemKey); k.ID() != a.ID() {
		t.Errorf("KeyFromPublic(testdata/keys/ed25519.pem) = %s, want %s", k.ID(), a.ID())
	}
}

func ecHex(t *testing.T, name string) string {
	pub := fileSigner(t, name).Public().(*ecdsa.PublicKey)
	b, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestLegacyKeys(t *testing.T) {
	p256 := publicPEM(t, "p256")
	modern := mustKey(t, fileSigner(t, "p256").Public())
	for _, tc := range []struct{ name, json, legacy string }{
		{"legacy keytype", `{"keytype":"ecdsa-sha2-nistp256","scheme":"ecdsa-sha2-nistp256","keyval":{"public":` + strconv.Quote(p256) + `}}`,
			`legacy keytype "ecdsa-sha2-nistp256" (written by early securesystemslib)`},
		{"keyid_hash_algorithms", `{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyid_hash_algorithms":["sha256","sha512"],"keyval":{"public":` + strconv.Quote(p256) + `}}`,
			"legacy field keyid_hash_algorithms (written by early securesystemslib)"},
		{"hex point", `{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"` + ecHex(t, "p256") + `"}}`,
			"ECDSA public key as a hex point instead of PEM (written by early securesystemslib)"},
		{"hex point uppercase", `{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"` + strings.ToUpper(ecHex(t, "p256")) + `"}}`,
			"ECDSA public key as a hex point instead of PEM (written by early securesystemslib)"},
		{"legacy keytype and hex point", `{"keytype":"ecdsa-sha2-nistp256","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"` + ecHex(t, "p256") + `"}}`,
			`legacy keytype "ecdsa-sha2-nistp256" (written by early securesystemslib)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := parseKeyJSON(tc.json)
			if err != nil {
				t.Fatal(err)
			}
			if k.Legacy() != tc.legacy {
				t.Errorf("Legacy() = %q, want %q", k.Legacy(), tc.legacy)
			}
			if k.Fingerprint() != modern.Fingerprint() {
				t.Error("legacy form is a different public key")
			}
			if k.ID() == modern.ID() {
				t.Error("legacy form has the modern keyid")
			}
			// Verifying with the legacy form works.
			msg := []byte("message")
			sig, err := SignMessage(fileSigner(t, "p256"), k, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := modern.Verify(msg, sig); err != nil {
				t.Error(err)
			}
		})
	}
	ed := hex.EncodeToString(edSigner(1).Public().(ed25519.PublicKey))
	k, err := parseKeyJSON(`{"keytype":"ed25519","scheme":"ed25519","keyid_hash_algorithms":["sha256"],"keyval":{"public":"` + ed + `"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if k.Legacy() != "legacy field keyid_hash_algorithms (written by early securesystemslib)" {
		t.Errorf("ed25519 Legacy() = %q", k.Legacy())
	}
	// KeyFromPublic never produces the legacy forms.
	for _, name := range []string{"p256", "p384", "rsa2048", "ed25519"} {
		k := mustKey(t, fileSigner(t, name).Public())
		if k.Legacy() != "" || len(k.unknown) != 0 || len(k.keyvalUnknown) != 0 || k.Type == legacyKeyTypeECDSAP256 || isHex(k.Public) != (k.Type == KeyTypeEd25519) {
			t.Errorf("%s: %+v", name, k)
		}
	}
}

func TestInvalidKeys(t *testing.T) {
	p256, p384, rsa2048 := publicPEM(t, "p256"), publicPEM(t, "p384"), publicPEM(t, "rsa2048")
	ed := hex.EncodeToString(edSigner(1).Public().(ed25519.PublicKey))

	// A P-256 point that is not on the curve: the last byte of Y changed.
	der, err := x509.MarshalPKIXPublicKey(fileSigner(t, "p256").Public())
	if err != nil {
		t.Fatal(err)
	}
	der[len(der)-1] ^= 1
	offCurve := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	offCurveHex := ecHex(t, "p256")
	offCurveHex = offCurveHex[:len(offCurveHex)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", offCurveHex[len(offCurveHex)-1])+1)%16])

	privDER, err := x509.MarshalPKCS8PrivateKey(fileSigner(t, "p256"))
	if err != nil {
		t.Fatal(err)
	}
	privatePEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	withHeaders := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: mustDER(t, "p256")}))

	key := func(typ, scheme, public string) string {
		return `{"keytype":` + strconv.Quote(typ) + `,"scheme":` + strconv.Quote(scheme) + `,"keyval":{"public":` + strconv.Quote(public) + `}}`
	}
	const pre = "keys.k: keyval.public: invalid key: "
	for _, tc := range []struct {
		name, json, want string
		invalidKey       bool
	}{
		{"off-curve point", key("ecdsa", SchemeECDSAP256, offCurve), pre + "P256 point not on curve", true},
		{"off-curve hex point", key("ecdsa", SchemeECDSAP256, offCurveHex), pre + "hex ECDSA point: P256 point not on curve", true},
		{"hex point wrong length", key("ecdsa", SchemeECDSAP384, ecHex(t, "p256")), pre + "hex ECDSA point: invalid P384 point encoding", true},
		{"rsa 1024", key("rsa", SchemeRSAPSSSHA2, publicPEM(t, "rsa1024")), pre + "RSA key has 1024 bits; at least 2048 are required", true},
		{"malformed pem", key("ecdsa", SchemeECDSAP256, strings.Replace(p256, "-----END PUBLIC KEY-----", "-----END PUBLIC KEY", 1)), pre + "not a PEM block", true},
		{"corrupt base64 in pem", key("ecdsa", SchemeECDSAP256, strings.Replace(p256, "MFkw", "M!kw", 1)), pre + "not a PEM block", true},
		{"trailing pem block", key("ecdsa", SchemeECDSAP256, p256+p384), pre + "data after the PEM block (only one PUBLIC KEY block is allowed)", true},
		{"trailing text", key("ecdsa", SchemeECDSAP256, p256+"x"), pre + "data after the PEM block (only one PUBLIC KEY block is allowed)", true},
		{"leading text", key("ecdsa", SchemeECDSAP256, "x\n"+p256), pre + "data before the PEM block", true},
		{"leading broken pem header", key("ecdsa", SchemeECDSAP256, "-----BEGIN junk\n"+p256), pre + "data before the PEM block", true},
		{"private key pem", key("ecdsa", SchemeECDSAP256, privatePEM), pre + `PEM block is "PRIVATE KEY", not "PUBLIC KEY"`, true},
		{"ec public key pem type", key("ecdsa", SchemeECDSAP256, strings.ReplaceAll(p256, "PUBLIC KEY", "EC PUBLIC KEY")), pre + `PEM block is "EC PUBLIC KEY", not "PUBLIC KEY"`, true},
		{"pem headers", key("ecdsa", SchemeECDSAP256, withHeaders), pre + "PEM block has headers", true},
		{"p384 key with p256 scheme", key("ecdsa", SchemeECDSAP256, p384), pre + "key is on curve P-384 but the scheme needs P-256", true},
		{"p256 key with p384 scheme", key("ecdsa", SchemeECDSAP384, p256), pre + "key is on curve P-256 but the scheme needs P-384", true},
		{"p521 key", key("ecdsa", SchemeECDSAP256, publicPEM(t, "p521")), pre + "key is on curve P-521 but the scheme needs P-256", true},
		{"rsa pem as ecdsa", key("ecdsa", SchemeECDSAP256, rsa2048), pre + "PEM holds an RSA key, not ECDSA", true},
		{"ecdsa pem as rsa", key("rsa", SchemeRSAPSSSHA2, p256), pre + "PEM holds an ECDSA key, not RSA", true},
		{"ed25519 pem as rsa", key("rsa", SchemeRSAPSSSHA2, publicPEM(t, "ed25519")), pre + "PEM holds an ed25519 key, not RSA", true},
		{"ed25519 pem as ed25519", key("ed25519", SchemeEd25519, publicPEM(t, "ed25519")), pre + "an ed25519 public key must be 32 bytes as lowercase hex", true},
		{"ed25519 uppercase", key("ed25519", SchemeEd25519, strings.ToUpper(ed)), pre + "an ed25519 public key must be lowercase hex", true},
		{"ed25519 short", key("ed25519", SchemeEd25519, ed[:62]), pre + "an ed25519 public key must be 32 bytes as lowercase hex", true},
		{"ed25519 empty", key("ed25519", SchemeEd25519, ""), pre + "an ed25519 public key must be 32 bytes as lowercase hex", true},
		{"ecdsa empty", key("ecdsa", SchemeECDSAP256, ""), pre + "not a PEM block", true},
		{"ed25519 wrong scheme", key("ed25519", SchemeECDSAP256, ed), `keys.k: invalid key: keytype ed25519 needs scheme "ed25519", not "ecdsa-sha2-nistp256"`, true},
		{"ecdsa wrong scheme", key("ecdsa", SchemeEd25519, p256), `keys.k: invalid key: keytype ecdsa needs scheme "ecdsa-sha2-nistp256" or "ecdsa-sha2-nistp384", not "ed25519"`, true},
		{"legacy keytype p384", key(legacyKeyTypeECDSAP256, SchemeECDSAP384, p384), `keys.k: invalid key: legacy keytype ecdsa-sha2-nistp256 needs scheme "ecdsa-sha2-nistp256"`, true},
		{"rsa pkcs1v15", key("rsa", "rsa-pkcs1v15-sha256", rsa2048), `keys.k: invalid key: keytype rsa needs scheme "rsassa-pss-sha256", not "rsa-pkcs1v15-sha256" (Conclave signs and verifies RSA only as RSASSA-PSS)`, true},
		{"unsupported keytype", key("dsa", "dsa", p256), `keys.k: invalid key: unsupported keytype "dsa" (supported: ed25519, ecdsa, rsa)`, true},
		{"missing keyval", `{"keytype":"ed25519","scheme":"ed25519"}`, "keys.k.keyval: is missing", false},
		{"missing public", `{"keytype":"ed25519","scheme":"ed25519","keyval":{}}`, "keys.k.keyval.public: is missing", false},
		{"public not a string", `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":1}}`, "keys.k.keyval.public: must be a string, not an integer", false},
		{"keyval not an object", `{"keytype":"ed25519","scheme":"ed25519","keyval":"x"}`, "keys.k.keyval: must be an object, not a string", false},
		{"missing keytype", `{"scheme":"ed25519","keyval":{"public":"` + ed + `"}}`, "keys.k.keytype: is missing", false},
		{"scheme not a string", `{"keytype":"ed25519","scheme":null,"keyval":{"public":"` + ed + `"}}`, "keys.k.scheme: must be a string, not null", false},
		{"key not an object", `[]`, "keys.k: must be an object, not an array", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := parseKeyJSON(tc.json)
			if err == nil {
				t.Fatalf("accepted: %s", k.Canonical())
			}
			wantErr(t, err, nil, tc.want)
			if errors.Is(err, ErrInvalidKey) != tc.invalidKey {
				t.Errorf("errors.Is(err, ErrInvalidKey) = %v, want %v", !tc.invalidKey, tc.invalidKey)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is %T, not *FieldError", err)
			}
		})
	}
}

func mustDER(t *testing.T, name string) []byte {
	der, err := x509.MarshalPKIXPublicKey(fileSigner(t, name).Public())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestKeyExtraFieldsRoundTrip(t *testing.T) {
	ed := hex.EncodeToString(edSigner(1).Public().(ed25519.PublicKey))
	in := `{"x-b":[1,{"z":"y"}],"keyval":{"x-kv":true,"public":"` + ed + `","a":null},"scheme":"ed25519","keytype":"ed25519","a-first":"\u0000"}`
	k, err := parseKeyJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"a-first\":\"\x00\",\"keytype\":\"ed25519\",\"keyval\":{\"a\":null,\"public\":\"" + ed + "\",\"x-kv\":true},\"scheme\":\"ed25519\",\"x-b\":[1,{\"z\":\"y\"}]}"
	if string(k.Canonical()) != want {
		t.Errorf("Canonical()\n got %q\nwant %q", k.Canonical(), want)
	}
	sum := sha256.Sum256([]byte(want))
	if k.ID() != hex.EncodeToString(sum[:]) {
		t.Errorf("ID() = %s, want %x", k.ID(), sum)
	}
}

// FuzzKey feeds key objects to the key parser: it must not panic, and an
// accepted key must re-encode to exactly the canonical form of its input,
// with the keyid its hash.
func FuzzKey(f *testing.F) {
	ed := hex.EncodeToString(edSigner(1).Public().(ed25519.PublicKey))
	for _, name := range []string{"p256", "p384", "rsa2048", "rsa1024", "p521"} {
		b, err := os.ReadFile(filepath.Join("testdata", "keys", name+".pub.pem"))
		if err != nil {
			f.Fatal(err)
		}
		scheme := map[string]string{"p256": SchemeECDSAP256, "p384": SchemeECDSAP384, "p521": SchemeECDSAP256}[name]
		typ := "ecdsa"
		if strings.HasPrefix(name, "rsa") {
			typ, scheme = "rsa", SchemeRSAPSSSHA2
		}
		j, _ := json.Marshal(map[string]any{"keytype": typ, "scheme": scheme, "keyval": map[string]string{"public": string(b)}})
		f.Add(j)
	}
	f.Add([]byte(`{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"` + ed + `"},"x":1}`))
	for _, s := range ed25519SmallOrder {
		f.Add([]byte(ed25519Key(hex.EncodeToString(s[:]))))
	}
	f.Add([]byte(`{"keytype":"ecdsa-sha2-nistp256","scheme":"ecdsa-sha2-nistp256","keyid_hash_algorithms":["sha256"],"keyval":{"public":"04aa"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := cjson.Parse(data)
		if err != nil {
			return
		}
		k, err := decodeKey(v, "k")
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T, not *FieldError", err, err)
			}
			return
		}
		canon := v.Canonical()
		if got := k.Canonical(); string(got) != string(canon) {
			t.Fatalf("re-encoded\n got %q\nwant %q", got, canon)
		}
		sum := sha256.Sum256(canon)
		if k.ID() != hex.EncodeToString(sum[:]) {
			t.Fatalf("ID() = %s, want %x", k.ID(), sum)
		}
		der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		fp := sha256.Sum256(der)
		if k.Fingerprint() != hex.EncodeToString(fp[:]) {
			t.Fatal("fingerprint is not the SPKI hash")
		}
		switch pub := k.PublicKey().(type) {
		case *rsa.PublicKey:
			if n := pub.N.BitLen(); n < MinRSABits || n > MaxRSABits || pub.N.Bit(0) == 0 || pub.E != RSAExponent {
				t.Fatalf("accepted an RSA key of %d bits, modulus odd %v, exponent %d", n, pub.N.Bit(0) == 1, pub.E)
			}
		case ed25519.PublicKey:
			// Off the curve is read, and refused by CheckPoint.
			pt, ok := edDecode(pub)
			if (!ok && k.CheckPoint() == nil) || (ok && (pt.smallOrder() || k.CheckPoint() != nil)) {
				t.Fatalf("accepted the ed25519 key %x: canonical point %v, small order %v, CheckPoint %v", []byte(pub), ok, ok && pt.smallOrder(), k.CheckPoint())
			}
		}
	})
}

// ed25519Key is the key object of a raw 32-byte Ed25519 public key in hex.
func ed25519Key(public string) string {
	return `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"` + public + `"}}`
}

// TestEd25519KeyChecks: known answers for the encodings checkEd25519
// refuses, each with the sentence it says.
func TestEd25519KeyChecks(t *testing.T) {
	const (
		pre        = "keys.k: keyval.public: invalid key: ed25519 public key "
		smallOrder = pre + "is of small order: anyone can sign for it"
		yNotReduce = pre + "is not canonically encoded: its y coordinate is not reduced modulo 2^255-19, so the same key has another encoding and another keyid"
		xZeroSign  = pre + "is not canonically encoded: x is 0 but its sign bit is set, so the same key has another encoding and another keyid"
	)
	zeros := strings.Repeat("00", 30)
	ff := strings.Repeat("ff", 30)
	for _, tc := range []struct{ name, public, want string }{
		{"identity", "01" + zeros + "00", smallOrder},
		{"identity, y+p twin", "ee" + ff + "7f", yNotReduce},
		{"identity, sign bit set", "01" + zeros + "80", xZeroSign},
		{"order 2", "ec" + ff + "7f", smallOrder},
		{"order 2, sign bit set", "ec" + ff + "ff", xZeroSign},
		{"order 4, y=0", "00" + zeros + "00", smallOrder},
		{"order 4, y=0, other sign", "00" + zeros + "80", smallOrder},
		{"order 4, y=p twin", "ed" + ff + "7f", yNotReduce},
		{"order 4, y=p twin, other sign", "ed" + ff + "ff", yNotReduce},
		{"order 8 (a)", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", smallOrder},
		{"order 8 (b)", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", smallOrder},
		{"order 8 (c)", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", smallOrder},
		{"order 8 (d)", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", smallOrder},
		{"y = 2^255-1", "ff" + ff + "7f", yNotReduce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := parseKeyJSON(ed25519Key(tc.public))
			if err == nil {
				t.Fatalf("accepted, fingerprint %s", k.Fingerprint())
			}
			wantErr(t, err, ErrInvalidKey, tc.want)
		})
	}
	// Points of large order, and of mixed order (a large point plus a
	// small one: signing for it still needs the private key), are keys.
	for _, public := range []string{
		hex.EncodeToString(edSigner(1).Public().(ed25519.PublicKey)),
		"03" + zeros + "00", // y = 3: on the curve, of large order
	} {
		k, err := parseKeyJSON(ed25519Key(public))
		if err != nil {
			t.Fatalf("%s: %v", public, err)
		}
		if err := k.CheckPoint(); err != nil {
			t.Errorf("%s: CheckPoint: %v", public, err)
		}
	}
	// y = 2 is not on the curve: read, since no signature can verify for
	// it, and refused by CheckPoint, which says why.
	k, err := parseKeyJSON(ed25519Key("02" + zeros + "00"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Verify([]byte("m"), make([]byte, ed25519.SignatureSize)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("off-curve key: Verify = %v, want ErrBadSignature", err)
	}
	if err := k.CheckPoint(); !errors.Is(err, ErrInvalidKey) || err.Error() != "invalid key: ed25519 public key is not a point on the curve" {
		t.Errorf("off-curve key: CheckPoint = %v", err)
	}
}

// TestRegressionEd25519IdentityKey: the identity point was accepted as a
// developer key, and crypto/ed25519 verifies a signature anyone can make
// for it (R = identity, S = 0) over any message, so a "proof of
// possession" by it proved nothing; and its second encoding (y + p) was a
// second key with another fingerprint.
func TestRegressionEd25519IdentityKey(t *testing.T) {
	identity, _ := hex.DecodeString("01" + strings.Repeat("00", 31))
	forged := append(append([]byte{}, identity...), make([]byte, 32)...)
	if !ed25519.Verify(identity, []byte("any message at all"), forged) {
		t.Fatal("crypto/ed25519 no longer verifies the forgery; the refusal below still matters for the fingerprints")
	}
	for _, public := range []string{"01" + strings.Repeat("00", 31), "ee" + strings.Repeat("ff", 30) + "7f"} {
		if k, err := parseKeyJSON(ed25519Key(public)); err == nil {
			t.Errorf("%s accepted as a key (fingerprint %s)", public, k.Fingerprint())
		}
		if _, err := KeyFromPublic(ed25519.PublicKey(mustHex(t, public))); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("KeyFromPublic(%s): %v, want ErrInvalidKey", public, err)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edPoint is an Ed25519 point in affine coordinates, for checks that do
// not share checkEd25519's method: decode with a square root, multiply by
// the cofactor with the addition law (RFC 8032, §5.1.4).
type edPoint struct{ x, y *big.Int }

var (
	ed25519P = func() *big.Int { // 2^255 - 19
		p := new(big.Int).Lsh(big.NewInt(1), 255)
		return p.Sub(p, big.NewInt(19))
	}()
	ed25519D = func() *big.Int { // -121665 / 121666 mod p
		d := new(big.Int).ModInverse(big.NewInt(121666), ed25519P)
		d.Mul(d, big.NewInt(-121665))
		return d.Mod(d, ed25519P)
	}()
)

func edDecode(b []byte) (edPoint, bool) {
	p, d := ed25519P, ed25519D
	le := append([]byte{}, b...)
	sign := le[31] >> 7
	le[31] &= 0x7f
	slices.Reverse(le)
	y := new(big.Int).SetBytes(le)
	if y.Cmp(p) >= 0 {
		return edPoint{}, false
	}
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := new(big.Int).Add(new(big.Int).Mul(d, y2), big.NewInt(1))
	x2 := new(big.Int).Mul(u, new(big.Int).ModInverse(v.Mod(v, p), p))
	x2.Mod(x2, p)
	x := new(big.Int).ModSqrt(x2, p)
	if x == nil || (x.Sign() == 0 && sign == 1) {
		return edPoint{}, false
	}
	if x.Bit(0) != uint(sign) {
		x.Sub(p, x)
	}
	return edPoint{x, y}, true
}

func edAdd(a, b edPoint) edPoint {
	p, d := ed25519P, ed25519D
	m := func(xs ...*big.Int) *big.Int {
		r := big.NewInt(1)
		for _, x := range xs {
			r.Mul(r, x).Mod(r, p)
		}
		return r
	}
	t := m(d, a.x, b.x, a.y, b.y)
	x := new(big.Int).Add(m(a.x, b.y), m(a.y, b.x))
	x = m(x, new(big.Int).ModInverse(new(big.Int).Add(big.NewInt(1), t), p))
	y := new(big.Int).Add(m(a.y, b.y), m(a.x, b.x))
	y = m(y, new(big.Int).ModInverse(new(big.Int).Mod(new(big.Int).Sub(big.NewInt(1), t), p), p))
	return edPoint{x, y}
}

func (a edPoint) smallOrder() bool {
	for range 3 {
		a = edAdd(a, a)
	}
	return a.x.Sign() == 0 && a.y.Cmp(big.NewInt(1)) == 0
}

// TestEd25519SmallOrderList derives ed25519SmallOrder: each entry decodes
// canonically and [8]P is the identity, and the eight are distinct; the
// torsion subgroup has exactly eight points, so the list is complete.
func TestEd25519SmallOrderList(t *testing.T) {
	seen := map[[32]byte]bool{}
	for _, s := range ed25519SmallOrder {
		pt, ok := edDecode(s[:])
		if !ok || !pt.smallOrder() {
			t.Errorf("%x: decodes %v, small order %v", s, ok, ok && pt.smallOrder())
		}
		seen[s] = true
	}
	if len(seen) != 8 {
		t.Errorf("%d distinct points, want 8", len(seen))
	}
	if pt, _ := edDecode(edSigner(1).Public().(ed25519.PublicKey)); pt.smallOrder() {
		t.Error("a real key is of small order: the check is broken")
	}
}

// TestECDSAPointChecks: known answers for the points x509 refuses, so
// that every ECDSA key read has one encoding: the point at infinity, a
// compressed point, a coordinate not reduced modulo p, a point off the
// curve; each through PEM and through the legacy hex form.
func TestECDSAPointChecks(t *testing.T) {
	curve := elliptic.P256()
	p := curve.Params().P
	// The smallest x on P-256: x + p still fits in 32 bytes.
	var x, y *big.Int
	for i := int64(0); y == nil; i++ {
		x = big.NewInt(i)
		rhs := new(big.Int).Exp(x, big.NewInt(3), p)
		rhs.Sub(rhs, new(big.Int).Mul(big.NewInt(3), x))
		rhs.Add(rhs, curve.Params().B)
		y = new(big.Int).ModSqrt(rhs.Mod(rhs, p), p)
	}
	point := func(x, y *big.Int) []byte {
		return append(append([]byte{4}, x.FillBytes(make([]byte, 32))...), y.FillBytes(make([]byte, 32))...)
	}
	good := point(x, y)
	if _, err := parseKeyJSON(ecdsaSPKI(t, good)); err != nil {
		t.Fatalf("the point (%v, …) itself: %v", x, err)
	}
	compressed := append([]byte{byte(2 + y.Bit(0))}, x.FillBytes(make([]byte, 32))...)
	const (
		pre           = "keys.k: keyval.public: invalid key: "
		infinity      = "ECDSA public key is the point at infinity, which is no key"
		compressedMsg = "ECDSA public key is a compressed point; only the uncompressed form is read, so that a key has one encoding"
	)
	for _, tc := range []struct {
		name      string
		point     []byte
		pem, hexd string
	}{
		{"infinity", []byte{0}, infinity, "hex ECDSA point: " + infinity},
		{"compressed", compressed, compressedMsg, "hex ECDSA point: " + compressedMsg},
		{"x not reduced", point(new(big.Int).Add(x, p), y), "invalid P256 element encoding", "hex ECDSA point: invalid P256 element encoding"},
		{"off the curve", point(x, new(big.Int).Add(y, big.NewInt(1))), "P256 point not on curve", "hex ECDSA point: P256 point not on curve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseKeyJSON(ecdsaSPKI(t, tc.point))
			wantErr(t, err, ErrInvalidKey, pre+tc.pem)
			_, err = parseKeyJSON(`{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"` + hex.EncodeToString(tc.point) + `"}}`)
			wantErr(t, err, ErrInvalidKey, pre+tc.hexd)
		})
	}
}

// ecdsaSPKI is a P-256 key object whose SubjectPublicKeyInfo holds point
// as it is, whatever it is.
func ecdsaSPKI(t *testing.T, point []byte) string {
	t.Helper()
	type algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.ObjectIdentifier
	}
	der, err := asn1.Marshal(struct {
		Algorithm algorithm
		Point     asn1.BitString
	}{algorithm{asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}}, asn1.BitString{Bytes: point, BitLength: 8 * len(point)}})
	if err != nil {
		t.Fatal(err)
	}
	return `{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":` + strconv.Quote(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))) + `}}`
}

// TestRSAKeyChecks: known answers for the RSA keys checkRSA refuses, and
// the bounds it accepts. The moduli are not products of primes: parsing
// never factors, and a verification is what a large modulus makes slow.
func TestRSAKeyChecks(t *testing.T) {
	real := fileSigner(t, "rsa2048").Public().(*rsa.PublicKey)
	odd := func(bits int) *big.Int {
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		return n.Add(n, big.NewInt(1))
	}
	key := func(n *big.Int, e int) string {
		der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: e})
		if err != nil {
			t.Fatal(err)
		}
		return `{"keytype":"rsa","scheme":"rsassa-pss-sha256","keyval":{"public":` + strconv.Quote(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))) + `}}`
	}
	const pre = "keys.k: keyval.public: invalid key: "
	for _, tc := range []struct {
		name string
		n    *big.Int
		e    int
		want string
		bits int // of the *RSASizeError, when there is one
	}{
		{"even modulus", new(big.Int).Add(real.N, big.NewInt(1)), 65537, pre + "RSA modulus is even, so it is not a product of two large primes", 0},
		{"exponent 3", real.N, 3, pre + "RSA public exponent is 3; only 65537 is accepted", 0},
		{"exponent 1", real.N, 1, pre + "RSA public exponent is 1; only 65537 is accepted", 0},
		{"exponent 2^31-1", real.N, 1<<31 - 1, pre + "RSA public exponent is 2147483647; only 65537 is accepted", 0},
		{"2047 bits", odd(2047), 65537, pre + "RSA key has 2047 bits; at least 2048 are required", 2047},
		{"8193 bits", odd(8193), 65537, pre + "RSA key has 8193 bits; at most 8192 are accepted", 8193},
		{"one million bits", odd(1 << 20), 1<<31 - 1, pre + "RSA key has 1048576 bits; at most 8192 are accepted", 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseKeyJSON(key(tc.n, tc.e))
			wantErr(t, err, ErrInvalidKey, tc.want)
			var se *RSASizeError
			if got := errors.As(err, &se); got != (tc.bits != 0) || got && se.Bits != tc.bits {
				t.Errorf("RSASizeError: %v %+v, want bits %d", got, se, tc.bits)
			}
		})
	}
	for _, bits := range []int{2048, 8192} {
		if _, err := parseKeyJSON(key(odd(bits), 65537)); err != nil {
			t.Errorf("%d bits: %v", bits, err)
		}
	}
}
