package envelope

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

func edSigner(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

func mustKey(t testing.TB, pub crypto.PublicKey) *tuf.Key {
	t.Helper()
	k, err := tuf.KeyFromPublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantErr(t testing.TB, err, target error, want string) {
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

// TestPAEVector is the example from the DSSE v1.0 specification
// ("Protocol", test vector).
func TestPAEVector(t *testing.T) {
	got := PAE("http://example.com/HelloWorld", []byte("hello world"))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; string(got) != want {
		t.Errorf("PAE = %q, want %q", got, want)
	}
	if got := PAE("", nil); string(got) != "DSSEv1 0  0 " {
		t.Errorf("empty PAE = %q", got)
	}
	if got := PAE(TypeKeyChange, []byte("{}")); string(got) != "DSSEv1 42 application/vnd.conclave.keychange.v1+json 2 {}" {
		t.Errorf("PAE = %q", got)
	}
	// Lengths are of bytes, not characters.
	if got := PAE("t", []byte("é")); string(got) != "DSSEv1 1 t 2 é" {
		t.Errorf("PAE = %q", got)
	}
}

// TestMarshalKnownAnswer: an ed25519 envelope (ed25519 is deterministic)
// against bytes put together here from the spec's parts.
func TestMarshalKnownAnswer(t *testing.T) {
	priv := edSigner(7)
	key := mustKey(t, priv.Public())
	payload := []byte(`{"holder":"alice"}`)
	e := &Envelope{PayloadType: TypeEnrolment, Payload: payload}
	if err := e.Sign(priv, key); err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(priv, []byte("DSSEv1 42 application/vnd.conclave.enrolment.v1+json 18 "+string(payload)))
	want := `{"payload":"` + base64.StdEncoding.EncodeToString(payload) + `","payloadType":"application/vnd.conclave.enrolment.v1+json","signatures":[{"keyid":"` +
		key.ID() + `","sig":"` + base64.StdEncoding.EncodeToString(sig) + `"}]}`
	if got := string(e.Marshal()); got != want {
		t.Errorf("Marshal()\n got %s\nwant %s", got, want)
	}
	v, err := cjson.Parse([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(v, "envelope")
	if err != nil {
		t.Fatal(err)
	}
	if back.PayloadType != e.PayloadType || !bytes.Equal(back.Payload, payload) || len(back.Signatures) != 1 ||
		back.Signatures[0].KeyID != key.ID() || !bytes.Equal(back.Signatures[0].Sig, sig) {
		t.Errorf("Parse: %+v", back)
	}
	res, err := back.Verify(TypeEnrolment, map[string]*tuf.Key{key.ID(): key})
	if err != nil || !slices.Equal(res.Signers, []string{key.ID()}) {
		t.Errorf("Verify: %v %v", res, err)
	}
}

func TestSignVerifyEveryKeyType(t *testing.T) {
	signers := []crypto.Signer{edSigner(1)}
	for _, name := range []string{"p256", "p384", "rsa2048"} {
		signers = append(signers, fileSigner(t, name))
	}
	keys := map[string]*tuf.Key{}
	e := &Envelope{PayloadType: TypeTranscriptHead, Payload: []byte(`{"head":"00"}`)}
	for _, s := range signers {
		k := mustKey(t, s.Public())
		keys[k.ID()] = k
		if err := e.Sign(s, k); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.Verify(TypeTranscriptHead, keys)
	if err != nil || len(res.Signers) != 4 || !slices.IsSorted(res.Signers) {
		t.Errorf("Verify: %v %v", res, err)
	}
}

// fileSigner reads a fixed test key of the tuf package's testdata.
func fileSigner(t *testing.T, name string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "tuf", "testdata", "keys", name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := parsePKCS8PEM(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// TestTUFSignatureIsNotAnEnvelopeSignature: a signature over TUF metadata
// (bare canonical JSON) does not verify as an envelope of that payload.
func TestTUFSignatureIsNotAnEnvelopeSignature(t *testing.T) {
	a := edSigner(1)
	ka := mustKey(t, a.Public())
	keys := map[string]*tuf.Key{ka.ID(): ka}
	tg := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}}
	tg.Version, tg.Expires = 1, tuf.NewExpiry(tg.Expires.Time)
	f, err := tuf.NewTargetsFile(tg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sign(keys, ka.ID(), a); err != nil {
		t.Fatal(err)
	}
	sig, _ := hex.DecodeString(f.Signatures[0].Sig)
	for _, typ := range []string{TypeKeyChange, TypeBundleManifest} {
		e := &Envelope{PayloadType: typ, Payload: f.SignedBytes(), Signatures: []Signature{{KeyID: ka.ID(), Sig: sig}}}
		_, err := e.Verify(typ, keys)
		wantErr(t, err, tuf.ErrBadSignature, "signatures[0]: the signature by key "+ka.ID()+" does not verify")
	}
	// The metadata signature itself is good.
	if err := f.VerifyRole("targets", keys, []string{ka.ID()}, 1).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestEnvelopeSignatureIsNotATUFSignature: a signature on an envelope whose
// payload is TUF metadata's signed bytes does not count for that metadata:
// it is over the PAE, not the signed bytes.
func TestEnvelopeSignatureIsNotATUFSignature(t *testing.T) {
	a := edSigner(1)
	ka := mustKey(t, a.Public())
	keys := map[string]*tuf.Key{ka.ID(): ka}
	signed := []byte(`{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{},"version":2}`)
	for _, typ := range []string{TypeProofOfPossession, TypeKeyChange, TypeEnrolment, TypeTranscriptHead, TypeBundleManifest} {
		e := &Envelope{PayloadType: typ, Payload: signed}
		if err := e.Sign(a, ka); err != nil {
			t.Fatal(err)
		}
		sigs := []tuf.Signature{{KeyID: ka.ID(), Sig: hex.EncodeToString(e.Signatures[0].Sig)}}
		res := tuf.CountSignatures("targets", signed, sigs, keys, []string{ka.ID()}, 1)
		wantErr(t, res.Err(), tuf.ErrThreshold, "not enough valid signatures for role targets: 0 of 1 distinct keys signed")
		if len(res.Checks) != 1 || res.Checks[0].Status != tuf.SigBadSignature {
			t.Errorf("%s: %+v", typ, res.Checks)
		}
		// Over the PAE bytes the same signature counts: the test would
		// notice if the signature were simply broken.
		if err := tuf.CountSignatures("pae", PAE(typ, signed), sigs, keys, []string{ka.ID()}, 1).Err(); err != nil {
			t.Errorf("%s over PAE: %v", typ, err)
		}
	}
}

func TestPayloadTypeMismatch(t *testing.T) {
	a := edSigner(1)
	ka := mustKey(t, a.Public())
	keys := map[string]*tuf.Key{ka.ID(): ka}
	e := &Envelope{PayloadType: TypeProofOfPossession, Payload: []byte(`{}`)}
	if err := e.Sign(a, ka); err != nil {
		t.Fatal(err)
	}
	_, err := e.Verify(TypeKeyChange, keys)
	wantErr(t, err, ErrPayloadType, `wrong envelope payload type: expected application/vnd.conclave.keychange.v1+json, found "application/vnd.conclave.possession.v1+json"`)
	// Relabelled to the expected type, the signature no longer verifies.
	e.PayloadType = TypeKeyChange
	_, err = e.Verify(TypeKeyChange, keys)
	wantErr(t, err, tuf.ErrBadSignature, "signatures[0]: the signature by key "+ka.ID()+" does not verify")
}

func TestSignRefusals(t *testing.T) {
	a, b := edSigner(1), edSigner(2)
	ka := mustKey(t, a.Public())
	for _, typ := range []string{"application/vnd.in-toto+json", "application/vnd.conclave.x.v1", "", "text/plain"} {
		e := &Envelope{PayloadType: typ, Payload: []byte("x")}
		wantErr(t, e.Sign(a, ka), ErrPayloadType, "wrong envelope payload type: \""+typ+"\" is not a Conclave payload type")
	}
	e := &Envelope{PayloadType: TypeKeyChange, Payload: []byte("x")}
	wantErr(t, e.Sign(b, ka), tuf.ErrWrongSigner, "sign application/vnd.conclave.keychange.v1+json envelope: the signer's public key is not the expected key (expected key "+ka.ID()+")")
	if len(e.Signatures) != 0 {
		t.Errorf("refused signing added a signature")
	}
}

// TestVerifyOneSignaturePerListedKey: a signature by a key not listed,
// or a second one by a key (under its keyid or an alias of the same
// public key), refuses the envelope before any signature is verified; the
// first signature that does not verify refuses it.
func TestVerifyOneSignaturePerListedKey(t *testing.T) {
	a, b, c := edSigner(1), edSigner(2), edSigner(3)
	ka, kb, kc := mustKey(t, a.Public()), mustKey(t, b.Public()), mustKey(t, c.Public())
	payload := []byte(`{"change":1}`)
	good := func(s ed25519.PrivateKey, k *tuf.Key) Signature {
		return Signature{KeyID: k.ID(), Sig: ed25519.Sign(s, PAE(TypeKeyChange, payload))}
	}
	garbage := func(k *tuf.Key) Signature { return Signature{KeyID: k.ID(), Sig: make([]byte, 64)} }
	alias := func(s Signature) Signature { s.KeyID = "alias"; return s }
	keys := map[string]*tuf.Key{ka.ID(): ka, "alias": ka, kb.ID(): kb, kc.ID(): kc}
	for _, tc := range []struct {
		name   string
		sigs   []Signature
		target error
		want   string
	}{
		// A garbage signature first: had it been verified, the error
		// would be about signatures[0].
		{"unlisted keyid", []Signature{garbage(ka), {KeyID: "unknown", Sig: []byte{1}}}, ErrUnlistedKey,
			"signatures[1]: signature by a key that is not listed: only the listed keys may sign, each once"},
		{"same keyid twice", []Signature{garbage(ka), garbage(ka)}, ErrRepeatedKey,
			"signatures[1]: second signature by one key (keyid " + ka.ID() + "): each key signs once"},
		{"same key under an alias keyid", []Signature{good(a, ka), alias(good(a, ka))}, ErrRepeatedKey,
			"signatures[1]: second signature by one key (keyid alias): each key signs once"},
		{"stops at the first bad signature", []Signature{good(a, ka), garbage(kb), good(c, kc)}, tuf.ErrBadSignature,
			"signatures[1]: the signature by key " + kb.ID() + " does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Envelope{PayloadType: TypeKeyChange, Payload: payload, Signatures: tc.sigs}
			res, err := e.Verify(TypeKeyChange, keys)
			wantErr(t, err, tc.target, tc.want)
			if res != nil {
				t.Errorf("refused, but with a result %+v", res)
			}
		})
	}
	e := &Envelope{PayloadType: TypeKeyChange, Payload: payload, Signatures: []Signature{good(c, kc), good(a, ka)}}
	res, err := e.Verify(TypeKeyChange, keys)
	want := []string{kc.ID(), ka.ID()}
	slices.Sort(want)
	if err != nil || !slices.Equal(res.Signers, want) {
		t.Errorf("Verify = %v %v, want signers %v, sorted", res, err, want)
	}
}

// TestRegressionGarbageSignaturesUnderOneKeyid: hundreds of signatures
// under one listed keyid were each verified (with a large RSA key, seconds
// of work for one request); the second one now refuses the envelope, and
// none is verified.
func TestRegressionGarbageSignaturesUnderOneKeyid(t *testing.T) {
	k := mustKey(t, edSigner(1).Public())
	e := &Envelope{PayloadType: TypeProofOfPossession, Payload: []byte(`{}`)}
	for range 400 {
		e.Signatures = append(e.Signatures, Signature{KeyID: k.ID(), Sig: make([]byte, 64)})
	}
	_, err := e.Verify(TypeProofOfPossession, map[string]*tuf.Key{k.ID(): k})
	wantErr(t, err, ErrRepeatedKey, "signatures[1]: second signature by one key (keyid "+k.ID()+"): each key signs once")
}

func TestParseErrors(t *testing.T) {
	const T = `"payloadType":"application/vnd.conclave.keychange.v1+json"`
	for _, tc := range []struct {
		name, json, want string
		target           error
	}{
		{"not an object", `[]`, "env: must be an object, not an array", nil},
		{"unknown member", `{"payload":"",` + T + `,"signatures":[],"x-extra":1}`, "env.x-extra: unknown member", nil},
		{"payload not base64", `{"payload":"!!!!",` + T + `,"signatures":[]}`, "env.payload: not standard base64: illegal base64 data at input byte 0", nil},
		{"payload url-safe base64", `{"payload":"-_8=",` + T + `,"signatures":[]}`, "env.payload: not standard base64: illegal base64 data at input byte 0", nil},
		{"payload without padding", `{"payload":"YWI",` + T + `,"signatures":[]}`, "env.payload: not standard base64: illegal base64 data at input byte 0", nil},
		{"payload non-canonical bits", `{"payload":"YR==",` + T + `,"signatures":[]}`, "env.payload: not standard base64: illegal base64 data at input byte 2", nil},
		{"payload with newline", `{"payload":"YWJj\nZGVm",` + T + `,"signatures":[]}`, "env.payload: not standard base64: line breaks are not allowed", nil},
		{"payload not a string", `{"payload":1,` + T + `,"signatures":[]}`, "env.payload: must be a base64 string", nil},
		{"payloadType not a string", `{"payload":"","payloadType":1,"signatures":[]}`, "env.payloadType: must be a string", nil},
		{"signatures not an array", `{"payload":"",` + T + `,"signatures":{}}`, "env.signatures: must be an array", nil},
		{"signature extra member", `{"payload":"",` + T + `,"signatures":[{"keyid":"k","sig":"","x":1}]}`, "env.signatures[0]: must be an object with exactly keyid and sig", nil},
		{"signature without sig", `{"payload":"",` + T + `,"signatures":[{"keyid":"k","x":""}]}`, "env.signatures[0]: must be an object with exactly keyid and sig", nil},
		{"signature without keyid", `{"payload":"",` + T + `,"signatures":[{"sig":"","x":""}]}`, "env.signatures[0]: must be an object with exactly keyid and sig", nil},
		{"keyid not a string", `{"payload":"",` + T + `,"signatures":[{"keyid":1,"sig":""}]}`, "env.signatures[0]: must be an object with exactly keyid and sig", nil},
		{"signature not an object", `{"payload":"",` + T + `,"signatures":["x"]}`, "env.signatures[0]: must be an object with exactly keyid and sig", nil},
		{"sig not base64", `{"payload":"",` + T + `,"signatures":[{"keyid":"k","sig":"AA"},{"keyid":"k","sig":"%%"}]}`, "env.signatures[0].sig: not standard base64: illegal base64 data at input byte 0", nil},
		{"sig not a string", `{"payload":"",` + T + `,"signatures":[{"keyid":"k","sig":null}]}`, "env.signatures[0].sig: must be a base64 string", nil},
		{"payload missing", `{` + T + `,"signatures":[]}`, "env.payload: is missing", nil},
		{"payloadType missing", `{"payload":"","signatures":[]}`, `env.payloadType: wrong envelope payload type: "" is not a Conclave payload type`, ErrPayloadType},
		{"foreign payloadType", `{"payload":"","payloadType":"application/vnd.in-toto+json","signatures":[]}`, `env.payloadType: wrong envelope payload type: "application/vnd.in-toto+json" is not a Conclave payload type`, ErrPayloadType},
		{"signatures missing", `{"payload":"",` + T + `}`, "env.signatures: is missing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := cjson.Parse([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			e, err := Parse(v, "env")
			if err == nil {
				t.Fatalf("accepted: %s", e.Marshal())
			}
			wantErr(t, err, tc.target, tc.want)
		})
	}
	// Duplicate members never reach Parse: the JSON parser refuses them.
	_, err := cjson.Parse([]byte(`{"payload":"",` + T + `,` + T + `,"signatures":[]}`))
	wantErr(t, err, nil, `payloadType (at byte 148): duplicate member name "payloadType"`)
}

// FuzzParse: the envelope parser never panics, and what it accepts is
// written by Marshal as valid JSON that parses back to the same envelope.
func FuzzParse(f *testing.F) {
	a := edSigner(1)
	ka, _ := tuf.KeyFromPublic(a.Public())
	e := &Envelope{PayloadType: TypeKeyChange, Payload: []byte(`{"x":1}`)}
	if err := e.Sign(a, ka); err != nil {
		f.Fatal(err)
	}
	f.Add(e.Marshal())
	f.Add([]byte(`{"payload":"","payloadType":"application/vnd.conclave.keychange.v1+json","signatures":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := cjson.Parse(data)
		if err != nil {
			return
		}
		e, err := Parse(v, "env")
		if err != nil {
			return
		}
		out := e.Marshal()
		w, err := cjson.Parse(out)
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%q", err, out)
		}
		back, err := Parse(w, "env")
		if err != nil {
			t.Fatalf("Marshal output is not an envelope: %v", err)
		}
		if !bytes.Equal(back.Marshal(), out) {
			t.Fatal("Marshal is not a fixed point")
		}
		if back.PayloadType != e.PayloadType || !bytes.Equal(back.Payload, e.Payload) || len(back.Signatures) != len(e.Signatures) {
			t.Fatal("envelope changed on a round trip")
		}
	})
}

// TestMarshalEscapesControlCharacters is the regression test for Marshal
// writing a keyid or payload type with a raw control character, which is
// not valid JSON: Parse accepted such an envelope, and could not read what
// Marshal then wrote.
func TestMarshalEscapesControlCharacters(t *testing.T) {
	e := &Envelope{PayloadType: "application/vnd.conclave.\x01+json", Payload: []byte("x"), Signatures: []Signature{{KeyID: "a\nb", Sig: []byte{1}}}}
	want := `{"payload":"eA==","payloadType":"application/vnd.conclave.\u0001+json","signatures":[{"keyid":"a\nb","sig":"AQ=="}]}`
	if got := string(e.Marshal()); got != want {
		t.Fatalf("Marshal()\n got %s\nwant %s", got, want)
	}
	v, err := cjson.Parse([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(v, "env")
	if err != nil {
		t.Fatal(err)
	}
	if back.PayloadType != e.PayloadType || back.Signatures[0].KeyID != "a\nb" {
		t.Errorf("read back %q %q", back.PayloadType, back.Signatures[0].KeyID)
	}
}
