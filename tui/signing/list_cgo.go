//go:build cgo

package signing

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
	"github.com/conclave-keys/conclave/hsm/yubikey"
)

// ListTokens returns the lister of the room's tokens for a policy: every
// YubiKey present (yubikey.List: serial and PIN tries from the card's
// metadata, no PIN asked, no try spent) and every token in the slots of
// the PKCS#11 modules the policy allows (SoftHSM in a rehearsal). A
// YubiKey's slot keys are read once per card and kept while it stays in.
func ListTokens(pol *policy.Policy) Lister {
	return listTokens(pol, yubikey.List)
}

// listTokens is ListTokens with the YubiKey listing given. When YubiKeys
// cannot be listed (no pcscd on a machine with HSMs only), the roster
// says so in one line and still lists the HSM tokens.
func listTokens(pol *policy.Policy, listCards func(context.Context) ([]yubikey.CardInfo, error)) Lister {
	var mu sync.Mutex
	keys := map[string]map[string]string{} // by reader and serial
	return func(ctx context.Context) ([]Present, error) {
		var out []Present
		cards, err := listCards(ctx)
		if err != nil {
			out = append(out, Present{Kind: policy.TokenYubiKey, Where: "YubiKeys (PC/SC)", Tries: -1, Err: err})
			cards = nil
		}
		mu.Lock()
		seen := map[string]bool{}
		for _, c := range cards {
			p := Present{Kind: policy.TokenYubiKey, Serial: fmt.Sprint(c.Serial), Where: c.Reader, Tries: c.PINRetries, Err: c.Err, Open: c.Held}
			id := c.Reader + "\x00" + p.Serial
			seen[id] = true
			if c.Err == nil && !c.Held {
				if keys[id] == nil {
					if k, err := yubikeyKeys(ctx, c.Serial); err == nil {
						keys[id] = k
					}
				}
				p.KeyIDs = keys[id]
			}
			out = append(out, p)
		}
		for id := range keys {
			if !seen[id] {
				delete(keys, id)
			}
		}
		mu.Unlock()
		for _, path := range modulePaths(pol) {
			ps, err := moduleTokens(ctx, pol, path)
			if err != nil {
				out = append(out, Present{Kind: policy.TokenPKCS11, Where: path, Tries: -1, Err: err})
				continue
			}
			out = append(out, ps...)
		}
		return out, nil
	}
}

// yubikeyKeys reads the keyids in a YubiKey's PIV slots, without a PIN.
func yubikeyKeys(ctx context.Context, serial uint32) (map[string]string, error) {
	tok, err := yubikey.Open(ctx, yubikey.Options{Serial: serial})
	if err != nil {
		return nil, err
	}
	defer tok.Close()
	ks, err := tok.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, k := range ks {
		if tk, err := tuf.KeyFromPublic(k.Public); err == nil {
			out[k.Slot] = tk.ID()
		}
	}
	return out, nil
}

// modulePaths are the PKCS#11 modules the holders' keys name (the URI's
// module-path) and those the policy allows, each once, sorted.
func modulePaths(pol *policy.Policy) []string {
	set := map[string]bool{}
	for _, m := range pol.PKCS11Modules {
		set[m.Path] = true
	}
	for _, h := range pol.Holders {
		for _, k := range h.Keys {
			if k.Token != policy.TokenPKCS11 {
				continue
			}
			if u, err := uri.Parse(k.URI); err == nil {
				if p, ok := u.Get(uri.ModulePath); ok {
					set[p] = true
				}
			}
		}
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// moduleTokens lists the tokens in a module's slots, as the policy allows
// the module (pkcs11.Load refuses one the policy does not name).
func moduleTokens(ctx context.Context, pol *policy.Policy, path string) ([]Present, error) {
	mp := pkcs11.ModulePolicy{Rehearsal: pol.Rehearsal}
	for _, m := range pol.PKCS11Modules {
		mp.Allowed = append(mp.Allowed, pkcs11.AllowedModule{Path: m.Path, SHA256: m.SHA256})
	}
	mod, err := pkcs11.Load(path, mp)
	if err != nil {
		return nil, err
	}
	defer mod.Close()
	slots, err := mod.Slots(ctx)
	if err != nil {
		return nil, err
	}
	var out []Present
	for _, s := range slots {
		if s.Token == nil || !s.Token.Initialized() {
			continue
		}
		out = append(out, Present{Kind: policy.TokenPKCS11, Serial: s.Token.Serial, Label: s.Token.Label,
			Where: fmt.Sprintf("%s slot %d", path, s.ID), Tries: -1, State: s.Token.PINState()})
	}
	return out, nil
}
