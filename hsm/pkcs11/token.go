//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
	"github.com/miekg/pkcs11"
)

// Token is an opened PKCS#11 token. It implements hsm.Token and
// hsm.KeyGenerator.
//
// Sessions are opened per operation and closed after it. One extra session,
// opened at the first login, holds the login (in PKCS#11 the login belongs to
// the application and ends with its last session, v2.40 §5.6) until Close,
// so that the PIN is asked once per token, not once per signature. If that
// session disappears underneath (the token was pulled out and plugged back),
// the next operation reports hsm.ErrTokenRemoved and forgets the login; the
// caller may then retry, and the PIN is asked again.
type Token struct {
	mod     *Module
	slot    uint
	status  TokenStatus
	desc    string
	prompts hsm.Prompts

	mu        sync.Mutex // serialises operations: a PKCS#11 session is single-threaded
	anchor    pkcs11.SessionHandle
	hasAnchor bool
	closed    bool
	// epoch counts removals; object handles cached under an older epoch
	// are not used again.
	epoch int
}

var (
	_ hsm.Token        = (*Token)(nil)
	_ hsm.KeyGenerator = (*Token)(nil)
)

// tokenAttrs are the RFC 7512 attributes that select a token (or its library
// or slot) rather than an object.
var tokenAttrs = []string{uri.Token, uri.Manufacturer, uri.Model, uri.Serial,
	uri.SlotID, uri.SlotDescription, uri.SlotManufacturer,
	uri.LibraryManufacturer, uri.LibraryDescription, uri.LibraryVersion}

// Open opens the module and token a PKCS#11 URI names. The module is the
// URI's module-path, or the module whose file name is its module-name among
// the policy's, or the policy's only module. The token must match every
// token attribute of the URI; none or several is an error listing what the
// module has.
func Open(ctx context.Context, selector string, policy ModulePolicy, prompts hsm.Prompts) (*Token, error) {
	sel, err := uri.Parse(selector)
	if err != nil {
		return nil, err
	}
	path, err := modulePathFor(sel, policy)
	if err != nil {
		return nil, err
	}
	m, err := Load(path, policy)
	if err != nil {
		return nil, err
	}
	defer m.Close() // the token holds its own reference
	return m.OpenToken(ctx, sel, prompts)
}

// OpenKey opens the token a URI names and finds the one key it names.
func OpenKey(ctx context.Context, selector string, policy ModulePolicy, prompts hsm.Prompts) (*Token, hsm.KeyInfo, error) {
	t, err := Open(ctx, selector, policy, prompts)
	if err != nil {
		return nil, hsm.KeyInfo{}, err
	}
	k, err := t.FindKey(ctx, selector)
	if err != nil {
		t.Close()
		return nil, hsm.KeyInfo{}, err
	}
	return t, k, nil
}

func modulePathFor(sel *uri.URI, policy ModulePolicy) (string, error) {
	if p, ok := sel.Get(uri.ModulePath); ok {
		return p, nil
	}
	var names []string
	for _, a := range policy.Allowed {
		names = append(names, a.Path)
	}
	if name, ok := sel.Get(uri.ModuleName); ok {
		for _, a := range policy.Allowed {
			base := filepath.Base(a.Path)
			if base == name || base == "lib"+name+".so" {
				return a.Path, nil
			}
		}
		return "", fmt.Errorf("the key selector names module %q, which is not among the allow-list's modules (%s)", name, strings.Join(names, ", "))
	}
	switch len(policy.Allowed) {
	case 1:
		return policy.Allowed[0].Path, nil
	case 0:
		return "", errors.New("the key selector names no module (module-path) and the allow-list allows none")
	}
	return "", fmt.Errorf("the key selector names no module: add ?module-path= with one of %s", strings.Join(names, ", "))
}

// OpenToken opens the one token of this module that matches the token
// attributes of sel (token, serial, manufacturer, model, slot and library
// attributes; object attributes are ignored here).
func (m *Module) OpenToken(ctx context.Context, sel *uri.URI, prompts hsm.Prompts) (*Token, error) {
	if !libraryMatches(sel, m.sh.info) {
		return nil, fmt.Errorf("%w: the selector's library attributes do not match module %s (%s)", hsm.ErrKeyNotFound, m.Path(), m.Description())
	}
	slots, err := m.Slots(ctx)
	if err != nil {
		return nil, err
	}
	var found []Slot
	var seen []string
	for _, s := range slots {
		if s.Token == nil || !s.Token.Initialized() {
			continue
		}
		seen = append(seen, fmt.Sprintf("%q (serial %s, slot %d)", s.Token.Label, s.Token.Serial, s.ID))
		if sel.Matches(uri.Token, s.Token.Label) && sel.Matches(uri.Manufacturer, s.Token.Manufacturer) &&
			sel.Matches(uri.Model, s.Token.Model) && sel.Matches(uri.Serial, s.Token.Serial) &&
			sel.Matches(uri.SlotID, strconv.FormatUint(uint64(s.ID), 10)) &&
			sel.Matches(uri.SlotDescription, s.Description) && sel.Matches(uri.SlotManufacturer, s.Manufacturer) {
			found = append(found, s)
		}
	}
	list := "none"
	if len(seen) > 0 {
		list = strings.Join(seen, ", ")
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no token of %s matches %s; its tokens: %s", hsm.ErrKeyNotFound, m.Path(), tokenPart(sel), list)
	case 1:
	default:
		return nil, fmt.Errorf("%w: several tokens of %s match %s: %s; add token= or serial=", hsm.ErrAmbiguousKey, m.Path(), tokenPart(sel), list)
	}
	t := &Token{mod: m.ref(), slot: found[0].ID, status: *found[0].Token, prompts: prompts}
	t.desc = t.status.describe()
	return t, nil
}

func libraryMatches(sel *uri.URI, info pkcs11.Info) bool {
	v := fmt.Sprintf("%d.%d", info.LibraryVersion.Major, info.LibraryVersion.Minor)
	if want, ok := sel.Get(uri.LibraryVersion); ok && !strings.Contains(want, ".") {
		v = strconv.Itoa(int(info.LibraryVersion.Major))
	}
	return sel.Matches(uri.LibraryManufacturer, info.ManufacturerID) &&
		sel.Matches(uri.LibraryDescription, info.LibraryDescription) &&
		sel.Matches(uri.LibraryVersion, v)
}

// tokenPart writes only the token attributes of a selector, for messages.
func tokenPart(sel *uri.URI) string {
	u := uri.New()
	for _, a := range tokenAttrs {
		if v, ok := sel.Get(a); ok {
			u.Set(a, v)
		}
	}
	return u.String()
}

// Describe names the token, e.g. `PKCS#11 token "ceremony" (SoftHSM project SoftHSM v2, serial 0c91…)`.
func (t *Token) Describe() string { return t.desc }

// Status is what the token said about itself when it was opened.
func (t *Token) Status() TokenStatus { return t.status }

// Module is the module the token belongs to.
func (t *Token) Module() *Module { return t.mod }

// Close logs out, closes the token's sessions and releases the module (the
// last release finalises it). After a removal it still releases everything.
// In PKCS#11 the login belongs to the whole process (v2.40 §5.6): closing one
// Token also logs out another Token open on the same device, which then asks
// for the PIN again at its next operation.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if t.hasAnchor {
		if err := t.mod.api.Logout(t.anchor); err != nil && !ignorableOnClose(err) {
			errs = append(errs, wrapErr("logging out", t.desc, err))
		}
		if err := t.mod.api.CloseSession(t.anchor); err != nil && !ignorableOnClose(err) {
			errs = append(errs, wrapErr("closing the session", t.desc, err))
		}
		t.hasAnchor = false
	}
	if err := t.mod.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ignorableOnClose: logging out of a token that is gone, or not logged in,
// leaves nothing behind.
func ignorableOnClose(err error) bool {
	var code pkcs11.Error
	if !errors.As(err, &code) {
		return false
	}
	return uint(code) == pkcs11.CKR_USER_NOT_LOGGED_IN || kindOf(code) == hsm.ErrTokenRemoved
}

// forget drops the login session after a removal, so that a retry starts clean.
func (t *Token) forget() {
	if t.hasAnchor {
		t.mod.api.CloseSession(t.anchor) // the handle is most likely gone already
		t.hasAnchor = false
	}
	t.epoch++
}

// do runs one operation in a fresh session: it checks that the same token is
// still in the slot, logs in first when asked, and closes the session after.
func (t *Token) do(ctx context.Context, op string, login, rw bool, f func(pkcs11.SessionHandle) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("%s on %s: the token was closed", op, t.desc)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s on %s: %w", op, t.desc, err)
	}
	err := t.doLocked(ctx, op, login, rw, f)
	if isRemoval(err) {
		t.forget()
	}
	return err
}

func (t *Token) doLocked(ctx context.Context, op string, login, rw bool, f func(pkcs11.SessionHandle) error) error {
	// With a login session open, login checks that session instead: a
	// token that was removed has closed it (v2.40 §5.6), so re-reading the
	// token information for every signature would only cost time.
	if !login || !t.hasAnchor {
		if _, err := t.present(op); err != nil {
			return err
		}
	}
	if login {
		if err := t.login(ctx, op); err != nil {
			return err
		}
	}
	flags := uint(pkcs11.CKF_SERIAL_SESSION)
	if rw {
		flags |= pkcs11.CKF_RW_SESSION
	}
	sh, err := t.mod.api.OpenSession(t.slot, flags)
	if err != nil {
		return wrapErr(op, t.desc, err)
	}
	defer t.mod.api.CloseSession(sh)
	return f(sh)
}

// present re-reads the token information and checks that the token in the
// slot is still the one opened: a different serial in the same slot means
// ours was removed (and another inserted).
func (t *Token) present(op string) (TokenStatus, error) {
	ti, err := t.mod.api.GetTokenInfo(t.slot)
	if err != nil {
		return TokenStatus{}, wrapErr(op, t.desc, err)
	}
	st := statusOf(ti)
	if st.Serial != t.status.Serial || st.Label != t.status.Label {
		return TokenStatus{}, &Error{Op: op, Token: t.desc, Code: pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT), Kind: hsm.ErrTokenRemoved}
	}
	return st, nil
}

// Keys lists the token's signing keys, found through their public key
// objects (which a token shows without a login); the private key with the
// same CKA_ID and label is looked up when signing. PKCS#11 has no
// attestation, so Attested is false for every key.
func (t *Token) Keys(ctx context.Context) ([]hsm.KeyInfo, error) {
	var keys []hsm.KeyInfo
	err := t.do(ctx, "listing keys", false, false, func(sh pkcs11.SessionHandle) error {
		objs, err := t.find(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY)}, 0)
		if err != nil {
			return wrapErr("listing keys", t.desc, err)
		}
		for _, o := range objs {
			k, err := t.readPublic(sh, o)
			if err != nil {
				return err
			}
			if k.Public == nil {
				continue // a key type Conclave does not sign with
			}
			keys = append(keys, k)
		}
		return nil
	})
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Label != keys[j].Label {
			return keys[i].Label < keys[j].Label
		}
		return bytes.Compare(keys[i].ID, keys[j].ID) < 0
	})
	return keys, err
}

// find returns the objects matching a template; limit 0 means all.
func (t *Token) find(sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, limit int) ([]pkcs11.ObjectHandle, error) {
	if err := t.mod.api.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	var out []pkcs11.ObjectHandle
	for {
		n := 64
		if limit > 0 {
			n = limit - len(out)
		}
		objs, _, err := t.mod.api.FindObjects(sh, n)
		if err != nil {
			t.mod.api.FindObjectsFinal(sh)
			return nil, err
		}
		out = append(out, objs...)
		if len(objs) == 0 || limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, t.mod.api.FindObjectsFinal(sh)
}

// readPublic reads a public key object into a KeyInfo.
func (t *Token) readPublic(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle) (hsm.KeyInfo, error) {
	attrs, err := t.mod.api.GetAttributeValue(sh, o, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
	})
	if err != nil {
		return hsm.KeyInfo{}, wrapErr("reading a public key", t.desc, err)
	}
	k := hsm.KeyInfo{Label: string(attrs[0].Value), ID: attrs[1].Value}
	kt, ok := ulong(attrs[2].Value)
	if !ok {
		return hsm.KeyInfo{}, fmt.Errorf("reading public key %q on %s: malformed CKA_KEY_TYPE", k.Label, t.desc)
	}
	var pub crypto.PublicKey
	switch kt {
	case pkcs11.CKK_EC, ckkECEdwards:
		a, err := t.mod.api.GetAttributeValue(sh, o, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
		})
		if err != nil {
			return hsm.KeyInfo{}, wrapErr(fmt.Sprintf("reading public key %q", k.Label), t.desc, err)
		}
		pub, err = decodeECPublic(kt, a[0].Value, a[1].Value)
		if err != nil {
			return hsm.KeyInfo{}, fmt.Errorf("reading public key %q on %s: %w", k.Label, t.desc, err)
		}
	case pkcs11.CKK_RSA:
		a, err := t.mod.api.GetAttributeValue(sh, o, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
		})
		if err != nil {
			return hsm.KeyInfo{}, wrapErr(fmt.Sprintf("reading public key %q", k.Label), t.desc, err)
		}
		pub, err = decodeRSAPublic(a[0].Value, a[1].Value)
		if err != nil {
			return hsm.KeyInfo{}, fmt.Errorf("reading public key %q on %s: %w", k.Label, t.desc, err)
		}
	default:
		return k, nil
	}
	k.Public = pub
	k.URI = t.keyURI(k).String()
	return k, nil
}

// keyURI is the RFC 7512 URI that selects a key again.
func (t *Token) keyURI(k hsm.KeyInfo) *uri.URI {
	u := uri.New()
	u.Set(uri.Token, t.status.Label)
	u.Set(uri.Serial, t.status.Serial)
	u.Set(uri.Object, k.Label)
	u.Set(uri.ID, string(k.ID))
	u.Set(uri.Type, "private")
	u.Set(uri.ModulePath, t.mod.Path())
	return u
}

// FindKey returns the one key of this token that a PKCS#11 URI selects. The
// URI's token attributes must match this token. No match, or more than one,
// is an error that lists the keys the token has.
func (t *Token) FindKey(ctx context.Context, selector string) (hsm.KeyInfo, error) {
	sel, err := uri.Parse(selector)
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	if typ, ok := sel.Get(uri.Type); ok && typ != "private" {
		return hsm.KeyInfo{}, fmt.Errorf("the key selector has type=%s: Conclave signs with private keys, use type=private", typ)
	}
	if !(sel.Matches(uri.Token, t.status.Label) && sel.Matches(uri.Serial, t.status.Serial) &&
		sel.Matches(uri.Manufacturer, t.status.Manufacturer) && sel.Matches(uri.Model, t.status.Model)) {
		return hsm.KeyInfo{}, fmt.Errorf("%w: %s names another token than %s", hsm.ErrKeyNotFound, tokenPart(sel), t.desc)
	}
	keys, err := t.Keys(ctx)
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	var found []hsm.KeyInfo
	for _, k := range keys {
		if sel.Matches(uri.Object, k.Label) && sel.Matches(uri.ID, string(k.ID)) {
			found = append(found, k)
		}
	}
	objSel := uri.New()
	for _, a := range []string{uri.Object, uri.ID} {
		if v, ok := sel.Get(a); ok {
			objSel.Set(a, v)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return hsm.KeyInfo{}, fmt.Errorf("%w %s on %s; the token holds: %s", hsm.ErrKeyNotFound, objSel, t.desc, listKeys(keys))
	default:
		return hsm.KeyInfo{}, fmt.Errorf("%w %s on %s: %s; select one by id", hsm.ErrAmbiguousKey, objSel, t.desc, listKeys(found))
	}
}

// listKeys names keys for an error message: label, id and type.
func listKeys(keys []hsm.KeyInfo) string {
	if len(keys) == 0 {
		return "no keys"
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%q (id %s, %s)", k.Label, hexID(k.ID), KeyType(k.Public)))
	}
	return strings.Join(parts, ", ")
}

// hexID writes a CKA_ID as lowercase hex, or "(empty)".
func hexID(id []byte) string {
	if len(id) == 0 {
		return "(empty)"
	}
	return fmt.Sprintf("%x", id)
}
