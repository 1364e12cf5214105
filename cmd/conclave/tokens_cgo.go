//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

// policy is the allow-list as the pkcs11 package applies it. It is never a
// rehearsal's: SoftHSM is shown as a real ceremony would judge it.
func (a tokensAllowList) policy() pkcs11.ModulePolicy {
	var p pkcs11.ModulePolicy
	for _, m := range a.Modules {
		p.Allowed = append(p.Allowed, pkcs11.AllowedModule(m))
	}
	return p
}

func (a tokensAllowList) lists(path string) bool {
	for _, m := range a.Modules {
		if m.Path == path {
			return true
		}
	}
	return false
}

// vouchesFor reports whether the allow-list names this very file: the path
// with this hash.
func (a tokensAllowList) vouchesFor(path, sum string) bool {
	for _, m := range a.Modules {
		if m.Path == path && m.SHA256 == sum {
			return true
		}
	}
	return false
}

// listTokens reads every module of the allow-list and every extra one. A
// module that cannot be read is in the report, with the reason; the error
// is for a build that cannot read any (tokens_nocgo.go).
func listTokens(ctx context.Context, allow tokensAllowList, extra []string) (*tokensReport, error) {
	report := &tokensReport{Format: tokensFormat, AllowList: allow, Modules: []tokensModule{}}
	seen := map[string]bool{}
	for _, p := range append(allow.paths(), extra...) {
		if seen[p] {
			continue
		}
		seen[p] = true
		mod := tokensModule{Path: p, Slots: []tokensSlot{}}
		if err := readModule(ctx, allow, &mod); err != nil {
			mod.Error = err.Error()
		}
		report.Modules = append(report.Modules, mod)
	}
	return report, nil
}

func readModule(ctx context.Context, allow tokensAllowList, mod *tokensModule) error {
	resolved, sum, err := pkcs11.HashModule(mod.Path)
	if err != nil {
		return err
	}
	if resolved != mod.Path {
		mod.File = resolved
	}
	mod.SHA256 = sum
	var m *pkcs11.Module
	if allow.lists(mod.Path) {
		m, err = pkcs11.Load(mod.Path, allow.policy())
		var me *pkcs11.ModuleError
		if errors.As(err, &me) {
			mod.NotAllowed = me.Reason
			if !allow.vouchesFor(mod.Path, sum) {
				// Not the file the allow-list names: not loaded at
				// all, its code never runs.
				return nil
			}
			// The very file listed, refused for what it is (SoftHSM
			// outside a rehearsal): loaded to be listed, never to sign.
			m, err = pkcs11.LoadUnchecked(mod.Path)
		}
	} else {
		// Named on the command line only: loaded to be listed, never to
		// sign.
		m, err = pkcs11.LoadUnchecked(mod.Path)
		mod.NotAllowed = notListedReason(allow)
	}
	if err != nil {
		return err
	}
	defer m.Close()
	mod.Loaded = true
	mod.Allowed = mod.NotAllowed == ""
	mod.Library = m.Description()
	mod.SoftHSM = m.IsSoftHSM()
	slots, err := m.Slots(ctx)
	if err != nil {
		return err
	}
	for _, s := range slots {
		slot := tokensSlot{ID: s.ID, Description: s.Description}
		if s.Token != nil {
			st := s.Token
			tok := &tokensToken{Initialized: st.Initialized(), Keys: []tokensKey{}}
			if tok.Initialized {
				tok.Label, tok.Manufacturer, tok.Model, tok.Serial = st.Label, st.Manufacturer, st.Model, st.Serial
				tok.PIN = st.PINState()
				if err := readTokenKeys(ctx, m, st, tok); err != nil {
					tok.Error = err.Error()
				}
			}
			slot.Token = tok
		}
		mod.Slots = append(mod.Slots, slot)
	}
	return nil
}

// notListedReason says why a module named only with --module is not
// allowed, and where the list that would allow it is.
func notListedReason(allow tokensAllowList) string {
	if !allow.Present {
		return "there is no allow-list (" + allow.File + " does not exist)"
	}
	return "the allow-list " + allow.File + " does not list this module"
}

func readTokenKeys(ctx context.Context, m *pkcs11.Module, st *pkcs11.TokenStatus, tok *tokensToken) error {
	t, err := m.OpenToken(ctx, tokenSelector(st), hsm.Prompts{}) // no PIN: listing never logs in
	if err != nil {
		return err
	}
	defer t.Close()
	keys, err := t.Keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		key := tokensKey{Label: k.Label, ID: fmt.Sprintf("%x", k.ID), Type: pkcs11.KeyType(k.Public), Attested: k.Attested, URI: k.URI}
		if tk, err := pkcs11.TUFKey(k); err == nil {
			key.KeyID = tk.ID()
		}
		tok.Keys = append(tok.Keys, key)
	}
	return nil
}

// tokenSelector selects one listed token again, by label and serial.
func tokenSelector(st *pkcs11.TokenStatus) *uri.URI {
	u := uri.New()
	u.Set(uri.Token, st.Label)
	u.Set(uri.Serial, st.Serial)
	return u
}
