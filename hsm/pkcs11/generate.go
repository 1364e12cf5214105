//go:build cgo

package pkcs11

import (
	"context"
	"fmt"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/miekg/pkcs11"
)

// idLength is the size of a generated CKA_ID, drawn from the token's RNG.
const idLength = 16

// GenerateKey makes a key pair on the token for enrolment, so that the
// private key never exists anywhere else. The private key is CKA_TOKEN,
// CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN and not CKA_EXTRACTABLE; its label
// must not exist on the token yet; its CKA_ID is random, from the token's
// own RNG (C_GenerateRandom). Afterwards CKA_NEVER_EXTRACTABLE and
// CKA_ALWAYS_SENSITIVE are read back: a token that does not set both has not
// kept its promise, and the key is destroyed and refused.
func (t *Token) GenerateKey(ctx context.Context, opts hsm.GenerateOptions) (hsm.KeyInfo, error) {
	op := fmt.Sprintf("generating %s key %q", opts.Algorithm, opts.Label)
	if err := t.mod.Allowed(); err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("%s on %s: %w", op, t.desc, err)
	}
	if opts.Label == "" {
		return hsm.KeyInfo{}, fmt.Errorf("%s on %s: a label is needed", op, t.desc)
	}
	if opts.Slot != "" || opts.PINPolicy != "" || opts.TouchPolicy != "" {
		return hsm.KeyInfo{}, fmt.Errorf("%s on %s: slot, PIN policy and touch policy are PIV options; a PKCS#11 token has none", op, t.desc)
	}
	mech, pubT, privT, err := keyTemplates(opts.Algorithm)
	if err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("%s on %s: %w", op, t.desc, err)
	}
	var info hsm.KeyInfo
	err = t.do(ctx, op, true, true, func(sh pkcs11.SessionHandle) error {
		if err := t.checkMechanism(op, signMechFor(opts.Algorithm)); err != nil {
			return err
		}
		existing, err := t.find(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, opts.Label)}, 1)
		if err != nil {
			return wrapErr(op, t.desc, err)
		}
		if len(existing) > 0 {
			return fmt.Errorf("%s on %s: an object labelled %q already exists; choose another label", op, t.desc, opts.Label)
		}
		id, err := t.mod.api.GenerateRandom(sh, idLength)
		if err != nil {
			return wrapErr(op+": drawing a key id from the token's RNG", t.desc, err)
		}
		if len(id) != idLength {
			return fmt.Errorf("%s on %s: the token's RNG returned %d bytes, not %d", op, t.desc, len(id), idLength)
		}
		common := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, opts.Label),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		}
		pub, priv, err := t.mod.api.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)},
			append(pubT, common...), append(privT, common...))
		if err != nil {
			return wrapErr(op, t.desc, err)
		}
		if err := t.checkProtected(sh, op, priv); err != nil {
			// Useless and possibly exposed: remove both halves.
			t.mod.api.DestroyObject(sh, priv)
			t.mod.api.DestroyObject(sh, pub)
			return fmt.Errorf("%w; the new key was destroyed", err)
		}
		info, err = t.readPublic(sh, pub)
		return err
	})
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	return info, nil
}

func signMechFor(a hsm.Algorithm) uint {
	switch a {
	case hsm.Ed25519:
		return ckmEdDSA
	case hsm.ECDSAP256, hsm.ECDSAP384:
		return pkcs11.CKM_ECDSA
	}
	return pkcs11.CKM_RSA_PKCS_PSS
}

// keyTemplates gives the generation mechanism and the attribute templates
// (PKCS#11 v2.40 §4.8, §4.9; for Ed25519 PKCS#11 3.0 §2.3.10).
func keyTemplates(a hsm.Algorithm) (uint, []*pkcs11.Attribute, []*pkcs11.Attribute, error) {
	priv := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
	}
	pub := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
	}
	ec := func(kt uint, params []byte) []*pkcs11.Attribute {
		return append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
	}
	rsaPub := func(bits int) []*pkcs11.Attribute {
		return append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, bits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
	}
	switch a {
	case hsm.ECDSAP256:
		return pkcs11.CKM_EC_KEY_PAIR_GEN, ec(pkcs11.CKK_EC, paramsP256), append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC)), nil
	case hsm.ECDSAP384:
		return pkcs11.CKM_EC_KEY_PAIR_GEN, ec(pkcs11.CKK_EC, paramsP384), append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC)), nil
	case hsm.Ed25519:
		return ckmECEdwardsKeyPairGen, ec(ckkECEdwards, paramsEd25519), append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards)), nil
	case hsm.RSA2048:
		return pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, rsaPub(2048), append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA)), nil
	case hsm.RSA3072:
		return pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, rsaPub(3072), append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA)), nil
	case hsm.RSA4096:
		return pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, rsaPub(4096), append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA)), nil
	}
	return 0, nil, nil, fmt.Errorf("unsupported key algorithm %q", a)
}
