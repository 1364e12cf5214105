package validate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// The work a request costs is bounded here: its keys are judged against
// the policy before any signature is verified (a key the policy refuses
// costs nothing more), an envelope with a signature by a key it does not
// list or two by one key is refused before any is verified, and
// verification stops at the first bad signature (envelope.Verify). So a
// request costs at most one verification per listed key, each of a size
// the policy allows.

// keyCheck is what checkKeys found about a request's keys and threshold:
// the errors, in key order, and whether there were none; and what
// prepare found after it.
type keyCheck struct {
	findings []verdict.Finding
	ok       bool
	// statement: the possession envelope holds exactly the statement this
	// request needs, byte for byte (judged only when the keys and the
	// name are acceptable).
	statement bool
	// verified: the possession signatures were verified.
	verified bool
}

// checkKeys checks each key and the threshold against the rules alone, so
// that it can run before the signatures are verified, while the index of
// the bundle is still being built.
func checkKeys(r *request.Request, rl rules.Rules) keyCheck {
	var v verdict.Verdict
	ok := true
	seen := map[string]string{} // fingerprint → keyid of first occurrence
	distinct := 0
	for i, e := range r.Keys {
		n := i + 1
		if e.RSABits > 0 && e.RSABits < rl.MinRSABits {
			v.Add(verdict.Error, verdict.KeyRSASize, e.Path, "Key %d is an RSA key of %d bits; the policy requires at least %d.", n, e.RSABits, rl.MinRSABits)
			ok = false
			continue
		}
		if e.RSABits > rl.MaxRSABits {
			v.Add(verdict.Error, verdict.KeyRSALarge, e.Path, "Key %d is an RSA key of %d bits; the policy allows at most %d, which bounds the work of checking its signatures.", n, e.RSABits, rl.MaxRSABits)
			ok = false
			continue
		}
		if e.Err != nil {
			v.Add(verdict.Error, verdict.KeyInvalid, e.Path, "Key %d is not a usable public key: %s.", n, keyReason(e.Err))
			ok = false
			continue
		}
		k := e.Key
		if !e.Plain {
			v.Add(verdict.Error, verdict.FormatInvalid, e.Path, "Key %d has members other than keytype, keyval.public and scheme; extra members would be signed into the metadata.", n)
			ok = false
			continue
		}
		if k.Legacy() != "" {
			v.Add(verdict.Error, verdict.KeyLegacy, e.Path, "Key %d is in a form Conclave reads but never writes: %s.", n, k.Legacy())
			ok = false
			continue
		}
		if !rl.SchemeAllowed(k.Scheme) {
			v.Add(verdict.Error, verdict.KeyScheme, e.Path, "Key %d uses the scheme %s, which the policy does not allow (allowed: %s).", n, k.Scheme, strings.Join(rl.KeySchemes, ", "))
			ok = false
			continue
		}
		if first, dup := seen[k.Fingerprint()]; dup {
			if first == k.ID() {
				v.Add(verdict.Error, verdict.KeyDuplicate, e.Path, "Key %d is listed twice; each key may appear once.", n)
			} else {
				v.Add(verdict.Error, verdict.KeyDuplicate, e.Path, "Key %d is the same public key as another key of this request, written differently (keyid %s and %s); it would count twice towards the threshold in some clients.", n, termtext.ShortHex(k.ID()), termtext.ShortHex(first))
			}
			ok = false
			continue
		}
		seen[k.Fingerprint()] = k.ID()
		distinct++
	}
	if ok && (r.Threshold < 1 || r.Threshold > int64(distinct)) {
		v.Add(verdict.Error, verdict.ThresholdRange, "threshold", "The threshold is %d, but it must be between 1 and the number of distinct keys (%d).", r.Threshold, distinct)
		ok = false
	}
	return keyCheck{findings: v.Findings, ok: ok}
}

// applyKeys adds what checkKeys found and, when the keys are usable, the
// warnings about them that need the index; it reports whether the
// signatures are worth checking.
func (st *state) applyKeys(v *verdict.Verdict, r *request.Request, kc keyCheck) bool {
	v.Findings = append(v.Findings, kc.findings...)
	if !kc.ok {
		return false
	}
	for i, e := range r.Keys {
		n, k := i+1, e.Key
		if k.Scheme == tuf.SchemeECDSAP384 {
			v.Add(verdict.Warning, verdict.KeyMisverified, e.Path, "Key %d uses ecdsa-sha2-nistp384, which some clients verify wrongly (tuf-js 4.1.1 checks it with SHA-256), so its signatures may be refused by them.", n)
		}
	}
	return true
}

// keyReason is the key error without the JSON path (the sentence says
// which key).
func keyReason(err error) string {
	if fe, ok := err.(*tuf.FieldError); ok {
		return fe.Msg
	}
	return err.Error()
}

// checkPossessionSignatures: every key the request lists made a valid
// signature over its possession envelope, and nothing else signed it.
func (st *state) checkPossessionSignatures(v *verdict.Verdict, r *request.Request) {
	// Verified already, in Validate's first pass.
	_, err := r.PossessionSigners()
	unsigned := r.UnsignedKeys()
	if err == nil && len(unsigned) == 0 {
		return
	}
	if notPoints(v, r) {
		return
	}
	if err != nil {
		var se *envelope.SignatureError
		switch {
		case errors.As(err, &se) && se.Err == tuf.ErrBadSignature:
			v.Add(verdict.Error, verdict.PossessionInvalid, "possession.signatures", "The signature of key %s over the typed possession statement does not verify, so nothing shows the developer holds it.", keyNumber(r, se.KeyID))
		case errors.As(err, &se):
			v.Add(verdict.Error, verdict.SignatureExtra, "possession.signatures", "The proof of possession carries %s (signature %d); each of the request's keys signs it once, and nothing else may.", extraSignature(se, "the request does not list"), se.Index+1)
		default:
			v.Add(verdict.Error, verdict.PossessionInvalid, "possession", "The proof of possession cannot be checked: %v.", err)
		}
		return
	}
	n := make([]string, len(unsigned))
	for i, k := range unsigned {
		n[i] = fmt.Sprint(k + 1)
	}
	v.Add(verdict.Error, verdict.PossessionInvalid, "possession.signatures", "No signature over the typed possession statement was found for key %s, so nothing shows the developer holds it.", strings.Join(n, ", "))
}

// notPoints refuses the keys of r that are not points on their curve
// (tuf.Key.CheckPoint), and reports whether there were any. Reading a key
// does not decode it, the costliest part of reading; such a key can never
// prove possession, so this is asked only of a request whose proof
// failed, to give that reason rather than a signature that does not
// verify.
func notPoints(v *verdict.Verdict, r *request.Request) bool {
	found := false
	for i, e := range r.Keys {
		if err := e.Key.CheckPoint(); err != nil {
			v.Add(verdict.Error, verdict.KeyInvalid, e.Path, "Key %d is not a usable public key: %s.", i+1, keyReason(err))
			found = true
		}
	}
	return found
}

// checkAuthorisationSignatures: a threshold of the project's current keys
// made a valid signature over the key-change authorisation, each once, and
// nothing else signed it. Too few signers is found before any signature is
// verified.
func (st *state) checkAuthorisationSignatures(v *verdict.Verdict, r *request.Request, cur *current) {
	env := r.Authorisation
	// Too few signatures is found before any is verified; a signature
	// that may not be there is said first. Verify checks the signers
	// itself, so each path checks them once.
	if n := len(env.Signatures); int64(n) < cur.role.Threshold {
		if err := env.CheckSigners(cur.keys); err != nil {
			authorisationRefused(v, r, err)
			return
		}
		who := fmt.Sprintf("Only %d", n)
		if n == 0 {
			who = "None"
		}
		v.Add(verdict.Error, verdict.KeyChangeBelow, "authorisation.signatures", "%s of project %q's current keys signed the key-change authorisation; its threshold is %d.", who, r.Name, cur.role.Threshold)
		return
	}
	if _, err := env.Verify(request.TypeKeyChange, cur.keys); err != nil {
		authorisationRefused(v, r, err)
	}
}

// authorisationRefused says why the key-change authorisation's
// signatures were refused: a signer that may not sign (CheckSigners) or a
// signature that does not verify.
func authorisationRefused(v *verdict.Verdict, r *request.Request, err error) {
	var se *envelope.SignatureError
	switch {
	case errors.As(err, &se) && se.Err == tuf.ErrBadSignature:
		v.Add(verdict.Error, verdict.KeyChangeBadSig, "authorisation.signatures", "The signature by project %q's current key %s on the key-change authorisation does not verify.", r.Name, termtext.ShortHex(se.KeyID))
	case errors.As(err, &se):
		v.Add(verdict.Error, verdict.SignatureExtra, "authorisation.signatures", "The key-change authorisation carries %s (signature %d); only project %q's current keys may sign it, each once.", extraSignature(se, "that is not a current key"), se.Index+1, r.Name)
	default:
		v.Add(verdict.Error, verdict.KeyChangeNotEnv, "authorisation", "The key-change authorisation cannot be checked: %v.", err)
	}
}

// extraSignature says what CheckSigners refused, for a sentence.
func extraSignature(se *envelope.SignatureError, unlisted string) string {
	if se.Err == envelope.ErrRepeatedKey {
		return "a second signature by one key"
	}
	return "a signature by a key " + unlisted
}

// keyNumber is the number (from 1) of the request key with keyid, as the
// sentences count keys.
func keyNumber(r *request.Request, keyid string) string {
	for i, e := range r.Keys {
		if e.Key != nil && e.Key.ID() == keyid {
			return fmt.Sprint(i + 1)
		}
	}
	return "?"
}
