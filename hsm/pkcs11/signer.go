//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/miekg/pkcs11"
)

// touchDelay is how long a signature may take before the Touch prompt is
// called: long enough that a token answering at once never flashes a
// "waiting for the token" notice (yubikey-agent uses a similar delay).
const touchDelay = 300 * time.Millisecond

// Signer returns a crypto.Signer for a key listed by Keys. It logs in
// (asking for the PIN if needed), checks that the token can make this kind
// of signature, and that the private key exists exactly once, was generated
// on the token and can never leave it (CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE
// true; CKA_EXTRACTABLE false, CKA_NEVER_EXTRACTABLE true). Every signature
// is verified against key.Public before it is returned.
//
// ctx is kept for the prompts of later signatures (crypto.Signer.Sign has no
// context): if the login is lost, the PIN is asked again with it.
func (t *Token) Signer(ctx context.Context, key hsm.KeyInfo) (crypto.Signer, error) {
	op := fmt.Sprintf("preparing key %q (id %s) for signing", key.Label, hexID(key.ID))
	if err := t.mod.Allowed(); err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, t.desc, err)
	}
	s := &signer{t: t, key: key, ctx: ctx}
	switch pub := key.Public.(type) {
	case *ecdsa.PublicKey:
		s.mech, s.keyType = pkcs11.CKM_ECDSA, pkcs11.CKK_EC
		if KeyType(pub) == "unknown" {
			return nil, fmt.Errorf("%s on %s: unsupported elliptic curve", op, t.desc)
		}
	case ed25519.PublicKey:
		s.mech, s.keyType = ckmEdDSA, ckkECEdwards
	case *rsa.PublicKey:
		s.mech, s.keyType = pkcs11.CKM_RSA_PKCS_PSS, pkcs11.CKK_RSA
	default:
		return nil, fmt.Errorf("%s on %s: the key has no public key Conclave can verify with (%T)", op, t.desc, key.Public)
	}
	// The mechanism first, so that the key holder learns before typing a PIN.
	err := t.do(ctx, op, false, false, func(pkcs11.SessionHandle) error { return t.checkMechanism(op, s.mech) })
	if err != nil {
		return nil, err
	}
	err = t.do(ctx, op, true, false, func(sh pkcs11.SessionHandle) error {
		o, err := t.findPrivate(sh, op, key)
		if err != nil {
			return err
		}
		a, err := t.mod.api.GetAttributeValue(sh, o, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, nil),
			pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, nil),
		})
		if err != nil {
			return wrapErr(op, t.desc, err)
		}
		if kt, ok := ulong(a[0].Value); !ok || kt != s.keyType {
			return fmt.Errorf("%s on %s: the private key's type does not match its public key", op, t.desc)
		}
		if sign, ok := boolAttr(a[1].Value); !ok || !sign {
			return fmt.Errorf("%s on %s: %w: the private key is not allowed to sign (CKA_SIGN is false)", op, t.desc, hsm.ErrMechanism)
		}
		s.alwaysAuth, _ = boolAttr(a[2].Value)
		if err := t.checkProtected(sh, op, o); err != nil {
			return err
		}
		s.handle, s.epoch = o, t.epoch
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// checkMechanism asks the token whether it can sign with mech
// (C_GetMechanismInfo, CKF_SIGN), so that a key holder learns it before
// typing a PIN rather than after.
func (t *Token) checkMechanism(op string, mech uint) error {
	info, err := t.mod.api.GetMechanismInfo(t.slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)})
	if err != nil {
		var code pkcs11.Error
		if errors.As(err, &code) && uint(code) == pkcs11.CKR_MECHANISM_INVALID {
			return fmt.Errorf("%s on %s: %w (%s)", op, t.desc, hsm.ErrMechanism, mechName(mech))
		}
		return wrapErr(op, t.desc, err)
	}
	if info.Flags&pkcs11.CKF_SIGN == 0 {
		return fmt.Errorf("%s on %s: %w (%s cannot sign)", op, t.desc, hsm.ErrMechanism, mechName(mech))
	}
	return nil
}

func mechName(mech uint) string {
	switch mech {
	case pkcs11.CKM_ECDSA:
		return "CKM_ECDSA"
	case ckmEdDSA:
		return "CKM_EDDSA"
	case pkcs11.CKM_RSA_PKCS_PSS:
		return "CKM_RSA_PKCS_PSS"
	}
	return fmt.Sprintf("mechanism 0x%X", mech)
}

// findPrivate finds the one private key with the key's CKA_ID and label.
func (t *Token) findPrivate(sh pkcs11.SessionHandle, op string, key hsm.KeyInfo) (pkcs11.ObjectHandle, error) {
	objs, err := t.find(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_ID, key.ID),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, key.Label),
	}, 2) // two, so that a duplicate is an error and never "the first one wins"
	if err != nil {
		return 0, wrapErr(op, t.desc, err)
	}
	switch len(objs) {
	case 0:
		return 0, fmt.Errorf("%s on %s: %w: there is no private key with this label and id", op, t.desc, hsm.ErrKeyNotFound)
	case 1:
		return objs[0], nil
	}
	return 0, fmt.Errorf("%s on %s: %w: several private keys have this label and id", op, t.desc, hsm.ErrAmbiguousKey)
}

// checkProtected refuses a private key that can leave the token or once
// could (PKCS#11 v2.40 §4.9: CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE
// are set by the token, true only for keys generated on it and never
// exportable since).
func (t *Token) checkProtected(sh pkcs11.SessionHandle, op string, o pkcs11.ObjectHandle) error {
	a, err := t.mod.api.GetAttributeValue(sh, o, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
	})
	if err != nil {
		return wrapErr(op, t.desc, err)
	}
	want := []struct {
		name string
		val  bool
	}{{"CKA_SENSITIVE", true}, {"CKA_EXTRACTABLE", false}, {"CKA_ALWAYS_SENSITIVE", true}, {"CKA_NEVER_EXTRACTABLE", true}}
	var bad []string
	for i, w := range want {
		v, ok := boolAttr(a[i].Value)
		if !ok || v != w.val {
			bad = append(bad, fmt.Sprintf("%s is %v", w.name, !w.val))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s on %s: %w (%s)", op, t.desc, ErrKeyExportable, strings.Join(bad, ", "))
	}
	return nil
}

// signer is one key on one token as a crypto.Signer.
type signer struct {
	t          *Token
	key        hsm.KeyInfo
	ctx        context.Context
	mech       uint
	keyType    uint
	alwaysAuth bool
	// handle is the private key found by Signer. Handles of token objects
	// stay valid across sessions (v2.40 §2.3); after a removal (a new
	// epoch), or when the token says the handle is invalid, the key is
	// looked up again. A handle that came to name another object could
	// only produce a signature that fails verification.
	handle pkcs11.ObjectHandle
	epoch  int
}

var _ crypto.Signer = (*signer)(nil)

func (s *signer) Public() crypto.PublicKey { return s.key.Public }

// Sign signs digest (a message for Ed25519) and verifies the signature
// against the expected public key before returning it.
//
//   - ECDSA: opts.HashFunc() names the hash of digest; CKM_ECDSA signs the
//     digest as given (v2.40 §2.3.6) and returns r||s, converted here to
//     the ASN.1 DER that crypto.Signer and TUF expect.
//   - Ed25519: opts.HashFunc() must be 0 and digest is the whole message
//     (pure Ed25519, CKM_EDDSA without parameters, PKCS#11 3.0 §2.3.14).
//   - RSA: opts must be *rsa.PSSOptions; CKM_RSA_PKCS_PSS with MGF1 over the
//     same hash and a salt as long as the hash (v2.40 §2.1.14), the
//     RSASSA-PSS that TUF's rsassa-pss-sha256 means.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	op := fmt.Sprintf("signing with key %q (id %s)", s.key.Label, hexID(s.key.ID))
	mech, err := s.mechanism(digest, opts)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.t.desc, err)
	}
	var raw []byte
	err = s.t.do(s.ctx, op, true, false, func(sh pkcs11.SessionHandle) error {
		if err := s.signInit(sh, op, mech); err != nil {
			return err
		}
		if s.alwaysAuth {
			// CKA_ALWAYS_AUTHENTICATE: the PIN again, for this one
			// signature (v2.40 §4.9, §5.6).
			st, err := s.t.present(op)
			if err != nil {
				return err
			}
			if err := s.t.enterPIN(s.ctx, op, st, sh, pkcs11.CKU_CONTEXT_SPECIFIC); err != nil {
				return err
			}
		}
		raw, err = s.t.signWithNotice(sh, digest)
		if err != nil {
			return wrapErr(op, s.t.desc, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sig, err := s.encodeAndVerify(raw, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.t.desc, err)
	}
	return sig, nil
}

// signInit starts the signature with the cached key handle, looking the key
// up again when the handle is stale.
func (s *signer) signInit(sh pkcs11.SessionHandle, op string, mech *pkcs11.Mechanism) error {
	api := s.t.mod.api
	if s.epoch == s.t.epoch {
		err := api.SignInit(sh, []*pkcs11.Mechanism{mech}, s.handle)
		var code pkcs11.Error
		if !errors.As(err, &code) || uint(code) != pkcs11.CKR_KEY_HANDLE_INVALID && uint(code) != pkcs11.CKR_OBJECT_HANDLE_INVALID {
			if err != nil {
				return wrapErr(op, s.t.desc, err)
			}
			return nil
		}
	}
	o, err := s.t.findPrivate(sh, op, s.key)
	if err != nil {
		return err
	}
	if err := s.t.checkProtected(sh, op, o); err != nil {
		return err
	}
	s.handle, s.epoch = o, s.t.epoch
	if err := api.SignInit(sh, []*pkcs11.Mechanism{mech}, o); err != nil {
		return wrapErr(op, s.t.desc, err)
	}
	return nil
}

// signWithNotice calls C_Sign and, if it takes longer than touchDelay, tells
// the caller the token is waiting (for a touch, or a button on an HSM).
func (t *Token) signWithNotice(sh pkcs11.SessionHandle, data []byte) ([]byte, error) {
	if t.prompts.Touch == nil {
		return t.mod.api.Sign(sh, data)
	}
	done := make(chan struct{})
	timer := time.AfterFunc(touchDelay, func() { t.prompts.Touch(t.desc, done) })
	sig, err := t.mod.api.Sign(sh, data)
	timer.Stop()
	close(done)
	return sig, err
}

func (s *signer) mechanism(digest []byte, opts crypto.SignerOpts) (*pkcs11.Mechanism, error) {
	h := opts.HashFunc()
	switch s.mech {
	case pkcs11.CKM_ECDSA:
		if h == 0 || !h.Available() || len(digest) != h.Size() {
			return nil, fmt.Errorf("an ECDSA key needs a digest and the hash that made it (got %d bytes, hash %v)", len(digest), h)
		}
		return pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil), nil
	case ckmEdDSA:
		if h != 0 {
			return nil, fmt.Errorf("an Ed25519 key signs the message itself, not a %v digest (Ed25519ph is not supported)", h)
		}
		if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
			return nil, errors.New("an Ed25519 signature with a context string is not supported")
		}
		return pkcs11.NewMechanism(ckmEdDSA, nil), nil
	case pkcs11.CKM_RSA_PKCS_PSS:
		pss, ok := opts.(*rsa.PSSOptions)
		if !ok {
			return nil, fmt.Errorf("%w: an RSA key signs only with RSASSA-PSS (pass *rsa.PSSOptions)", hsm.ErrMechanism)
		}
		if pss.SaltLength != rsa.PSSSaltLengthEqualsHash && pss.SaltLength != h.Size() {
			return nil, errors.New("the RSASSA-PSS salt must be as long as the hash")
		}
		var hashMech, mgf uint
		switch h {
		case crypto.SHA256:
			hashMech, mgf = pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256
		case crypto.SHA384:
			hashMech, mgf = pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384
		case crypto.SHA512:
			hashMech, mgf = pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512
		default:
			return nil, fmt.Errorf("an RSASSA-PSS signature with hash %v is not supported (SHA-256, SHA-384, SHA-512)", h)
		}
		if len(digest) != h.Size() {
			return nil, fmt.Errorf("digest has %d bytes, %v needs %d", len(digest), h, h.Size())
		}
		return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hashMech, mgf, uint(h.Size()))), nil
	}
	return nil, fmt.Errorf("unknown mechanism 0x%X", s.mech)
}

// encodeAndVerify turns the token's output into the standard encoding and
// checks it against the expected public key: a mismatch means the wrong key
// or a faulty device, and the signature must not be used.
func (s *signer) encodeAndVerify(raw, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	bad := func() error {
		return fmt.Errorf("%w (key %q, id %s, %s)", hsm.ErrBadSignature, s.key.Label, hexID(s.key.ID), KeyType(s.key.Public))
	}
	switch pub := s.key.Public.(type) {
	case *ecdsa.PublicKey:
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(raw) != 2*n {
			return nil, fmt.Errorf("%w: the token returned %d bytes, CKM_ECDSA gives %d", bad(), len(raw), 2*n)
		}
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
		if err != nil {
			return nil, err
		}
		if !ecdsa.VerifyASN1(pub, digest, der) {
			return nil, bad()
		}
		return der, nil
	case ed25519.PublicKey:
		if len(raw) != ed25519.SignatureSize || !ed25519.Verify(pub, digest, raw) {
			return nil, bad()
		}
		return raw, nil
	case *rsa.PublicKey:
		if err := rsa.VerifyPSS(pub, opts.HashFunc(), digest, raw, &rsa.PSSOptions{SaltLength: opts.HashFunc().Size(), Hash: opts.HashFunc()}); err != nil {
			return nil, bad()
		}
		return raw, nil
	}
	return nil, bad()
}
