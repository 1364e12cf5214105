package policy

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// The layout is where the holders' keys go when conclave init or rotate
// builds root and targets: each holder key names its roles (KeyRoles), and the roles
// section gives each role's threshold. A policy that names no key's roles
// has no layout; it can be bound to existing metadata (vault adopt) but
// not used to build a root.

// Placed reports whether any holder key names its roles.
func (p *Policy) Placed() bool {
	for _, h := range p.Holders {
		for _, k := range h.Keys {
			if len(p.KeyRoles[k.KeyID]) > 0 {
				return true
			}
		}
	}
	return false
}

// LayoutRoles are the roles a layout places keys in: root, targets and
// each signed role, in that order.
func (p *Policy) LayoutRoles() []string {
	return append([]string{tuf.TypeRoot, tuf.TypeTargets}, p.SignedRoles()...)
}

// RoleKeyIDs are the keyids the layout places in role, in the policy's
// order of holders and keys.
func (p *Policy) RoleKeyIDs(role string) []string {
	var out []string
	for _, h := range p.Holders {
		for _, k := range h.Keys {
			if slices.Contains(p.KeyRoles[k.KeyID], role) {
				out = append(out, k.KeyID)
			}
		}
	}
	return out
}

// TokenOf names the token a key is on, the same for every key of one
// token: a YubiKey by serial, a PKCS#11 key by the token its URI names
// (RFC 7512's token, serial and model attributes; the whole URI when it
// names none), a software key by its own file.
func TokenOf(k HolderKey) string {
	switch k.Token {
	case TokenYubiKey:
		return fmt.Sprintf("yubikey %d", k.Serial)
	case TokenPKCS11:
		path, _, _ := strings.Cut(strings.TrimPrefix(k.URI, "pkcs11:"), "?")
		var parts []string
		for _, a := range strings.Split(path, ";") {
			name, value, _ := strings.Cut(a, "=")
			switch name {
			case "token", "serial", "model", "manufacturer":
				// Compared decoded (RFC 7512 §2.3 percent-encoding), so
				// that token=abc and token=%61bc are one token.
				if v, err := url.PathUnescape(value); err == nil {
					value = v
				}
				parts = append(parts, name+"="+url.PathEscape(value))
			}
		}
		if len(parts) == 0 {
			return k.URI
		}
		slices.Sort(parts)
		return "pkcs11:" + strings.Join(parts, ";")
	}
	return k.URI
}

// checkLayout: every role a key names is root, targets or a signed role,
// once; a root key is in no other role, and no token holds both a root
// key and a key of another role, so that the token carried to every
// delegation ceremony can never sign a root (and preflight can tell a
// root token from the others); a threshold is at most the number of keys
// the layout places in the role.
func (p *Policy) checkLayout() error {
	if p.LostTokenDeadline <= 0 {
		return p.errAt("lost_token_deadline", "must be longer than zero")
	}
	allowed := p.LayoutRoles()
	rootTokens := map[string]string{}  // token → path of a root key on it
	otherTokens := map[string]string{} // token → path of another role's key on it
	for i, h := range p.Holders {
		for j, k := range h.Keys {
			kp := fmt.Sprintf("holders[%d].keys[%d]", i, j)
			roles := p.KeyRoles[k.KeyID]
			for n, r := range roles {
				rp := fmt.Sprintf("%s.roles[%d]", kp, n)
				if !slices.Contains(allowed, r) {
					return p.errAt(rp, "%s is not root, targets or a role this policy signs (%s)", termtext.Quote(r), strings.Join(p.SignedRoles(), ", "))
				}
				if slices.Index(roles, r) != n {
					return p.errAt(rp, "role %s is named twice", r)
				}
			}
			if len(roles) == 0 {
				continue
			}
			tok := TokenOf(k)
			if slices.Contains(roles, tuf.TypeRoot) {
				if len(roles) > 1 {
					return p.errAt(kp+".roles", "a root key is in no other role: root keys and the keys of other roles are kept on different tokens")
				}
				if other, ok := otherTokens[tok]; ok {
					return p.errAt(kp, "a root key on the token that holds %s, a key of another role: root keys and the keys of other roles are kept on different tokens", other)
				}
				rootTokens[tok] = kp
				continue
			}
			if other, ok := rootTokens[tok]; ok {
				return p.errAt(kp, "a key of %s on the token that holds %s, a root key: root keys and the keys of other roles are kept on different tokens", strings.Join(roles, ", "), other)
			}
			otherTokens[tok] = kp
		}
	}
	if !p.Placed() {
		return nil
	}
	for _, role := range allowed {
		rp := p.Expiry(role)
		n := int64(len(p.RoleKeyIDs(role)))
		switch {
		case n == 0:
			return p.errAt("holders", "no holder key names role %s: the layout places every role's keys", role)
		case rp.Threshold == 0:
			return p.errAt("roles", "role %s has no threshold: a policy that places keys gives every role's (roles.%s.threshold)", role, role)
		case rp.Threshold > n:
			return p.errAt(field(field("roles", role), "threshold"), "%d is more than the %d keys the holders place in role %s: it could never be met", rp.Threshold, n, role)
		}
		// TUF clients count a threshold in keys, not people (TUF
		// specification §5.3.4): a holder's spare in the role is a second
		// signature they could give alone (CheckRoles checks the same of
		// metadata).
		for i, h := range p.Holders {
			var mine int64
			for _, k := range h.Keys {
				if slices.Contains(p.KeyRoles[k.KeyID], role) {
					mine++
				}
			}
			if mine > 1 && mine >= rp.Threshold {
				return p.errAt(index("holders", i), "holder %s alone holds %d of role %s's keys, enough for its threshold of %d: no one person may sign a role alone (a spare that names no roles is kept out of the metadata)",
					h.Name, mine, role, rp.Threshold)
			}
		}
	}
	return nil
}

// CheckLayout checks that metadata places keys as the policy's layout
// does: root's root and targets roles, and targets' delegation of each
// signed role, list exactly the keys the layout names for them, with its
// thresholds. A policy without a layout passes.
func (p *Policy) CheckLayout(root *tuf.Root, targets *tuf.Targets) error {
	if !p.Placed() {
		return nil
	}
	for _, role := range p.LayoutRoles() {
		var have []string
		var threshold int64
		switch {
		case role == tuf.TypeRoot || role == tuf.TypeTargets:
			rk := root.Roles[role]
			if rk == nil {
				return fmt.Errorf("policy %s: root names no %s role", p.name, role)
			}
			have, threshold = rk.KeyIDs, rk.Threshold
		case targets == nil:
			return fmt.Errorf("policy %s: no targets metadata to check role %s against", p.name, role)
		default:
			var ok bool
			if have, threshold, ok = targets.Delegation(role); !ok {
				return fmt.Errorf("policy %s: targets does not delegate role %s, which the policy signs", p.name, role)
			}
		}
		want := p.RoleKeyIDs(role)
		if !sameSet(have, want) {
			return fmt.Errorf("policy %s: %w: role %s lists keys %s, the policy places %s", p.name, ErrLayout, role, strings.Join(sorted(have), ", "), strings.Join(sorted(want), ", "))
		}
		if t := p.Expiry(role).Threshold; t != threshold {
			return fmt.Errorf("policy %s: %w: role %s has threshold %d, the policy gives %d", p.name, ErrLayout, role, threshold, t)
		}
	}
	return nil
}

// ErrLayout: the metadata places keys otherwise than the policy.
var ErrLayout = errors.New("the metadata does not place keys as the policy does")

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Compact(sorted(a)), slices.Compact(sorted(b)))
}

// CeremonyKey is the key a holder signs with outside a root ceremony
// (the log's head): their first key that is not a spare and that the
// layout does not place in root, since a root key's token is not brought
// to other ceremonies and a spare stays in reserve; else their first
// such spare; their first key when all are root keys or the policy has
// no layout.
func (p *Policy) CeremonyKey(h Holder) HolderKey {
	for _, spare := range []bool{false, true} {
		for _, k := range h.Keys {
			if k.Spare == spare && !slices.Contains(p.KeyRoles[k.KeyID], tuf.TypeRoot) {
				return k
			}
		}
	}
	return h.Keys[0]
}
