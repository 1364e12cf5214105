//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

// The PKCS#11 backend needs cgo; tokens_nocgo.go stands in without it.
func init() {
	c := &command{
		name:    "tokens",
		summary: "list PKCS#11 modules, their slots and tokens, PIN state and the keys on each",
		usage:   "tokens [--module PATH]...",
	}
	c.run = func(ctx context.Context, env *environment, args []string) error {
		fs := newFlagSet(env, c)
		var modules stringList
		fs.Var(&modules, "module", "list this PKCS#11 library even if the policy does not allow it (repeatable; absolute path)")
		if err := parseFlags(env, c, fs, args); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return usagef("tokens takes no arguments")
		}
		policy := tokensPolicy()
		if len(modules) == 0 && len(policy.Allowed) == 0 {
			return withHint(errors.New("no PKCS#11 module to list"),
				"name one with --module PATH, e.g. --module /usr/lib/softhsm/libsofthsm2.so")
		}
		return listTokens(ctx, env.stdout, policy, modules)
	}
	register(c)
}

// tokensPolicy is the module allow-list the listing is judged against.
// TODO(lead): fill it from the verified ceremony policy once that exists;
// until then no module is allowed and every module is listed as such.
func tokensPolicy() pkcs11.ModulePolicy { return pkcs11.ModulePolicy{} }

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// listTokens writes every module of the policy and every --module, its
// slots, tokens and keys. It never logs in: keys are found through their
// public halves, which tokens show without a PIN. A module that cannot be
// listed is reported and the others are still listed.
func listTokens(ctx context.Context, w io.Writer, policy pkcs11.ModulePolicy, extra []string) error {
	paths := []string{}
	seen := map[string]bool{}
	for _, a := range policy.Allowed {
		if !seen[a.Path] {
			seen[a.Path] = true
			paths = append(paths, a.Path)
		}
	}
	for _, p := range extra {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	var failed []string
	for i, p := range paths {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := listModule(ctx, w, policy, p, !inPolicy(policy, p)); err != nil {
			fmt.Fprintf(w, "  error: %v\n", err)
			failed = append(failed, p)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not list %d of %d modules: %s", len(failed), len(paths), strings.Join(failed, ", "))
	}
	return nil
}

func inPolicy(policy pkcs11.ModulePolicy, path string) bool {
	for _, a := range policy.Allowed {
		if a.Path == path {
			return true
		}
	}
	return false
}

func listModule(ctx context.Context, w io.Writer, policy pkcs11.ModulePolicy, path string, unchecked bool) error {
	fmt.Fprintf(w, "module %s\n", path)
	resolved, sum, err := pkcs11.HashModule(path)
	if err != nil {
		return err
	}
	if resolved != path {
		fmt.Fprintf(w, "  file:     %s\n", resolved)
	}
	fmt.Fprintf(w, "  sha256:   %s\n", sum)
	var m *pkcs11.Module
	if unchecked {
		// Named on the command line: loaded to be listed, never to sign.
		m, err = pkcs11.LoadUnchecked(path)
	} else {
		m, err = pkcs11.Load(path, policy)
		var me *pkcs11.ModuleError
		if errors.As(err, &me) {
			// Refused by the policy: not loaded at all, its code never runs.
			fmt.Fprintf(w, "  ceremony: NOT ALLOWED: %s\n", me.Reason)
			return nil
		}
	}
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintf(w, "  library:  %s\n", m.Description())
	if unchecked {
		fmt.Fprintf(w, "  ceremony: NOT ALLOWED: the policy does not list this module; to allow it, an officer adds its path and sha256 to the policy\n")
	} else {
		fmt.Fprintf(w, "  ceremony: allowed by the policy\n")
	}
	if m.IsSoftHSM() {
		fmt.Fprintf(w, "  note:     SoftHSM keeps its keys in files on disk: for rehearsals only\n")
	}
	slots, err := m.Slots(ctx)
	if err != nil {
		return err
	}
	if len(slots) == 0 {
		fmt.Fprintf(w, "  no slots\n")
	}
	for _, s := range slots {
		fmt.Fprintf(w, "  slot %d: %s\n", s.ID, s.Description)
		switch {
		case s.Token == nil:
			fmt.Fprintf(w, "    no token\n")
			continue
		case !s.Token.Initialized():
			fmt.Fprintf(w, "    token not initialised\n")
			continue
		}
		st := s.Token
		fmt.Fprintf(w, "    token %q: %s %s, serial %s\n", st.Label, st.Manufacturer, st.Model, st.Serial)
		fmt.Fprintf(w, "    PIN:  %s\n", st.PINState())
		if err := listKeys(ctx, w, m, st); err != nil {
			fmt.Fprintf(w, "    error: %v\n", err)
		}
	}
	return nil
}

func listKeys(ctx context.Context, w io.Writer, m *pkcs11.Module, st *pkcs11.TokenStatus) error {
	tok, err := m.OpenToken(ctx, tokenSelector(st), hsm.Prompts{}) // no PIN: listing never logs in
	if err != nil {
		return err
	}
	defer tok.Close()
	keys, err := tok.Keys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintf(w, "    no keys visible without login\n")
		return nil
	}
	fmt.Fprintf(w, "    keys:\n")
	for _, k := range keys {
		keyid := "(no TUF keyid: " + pkcs11.KeyType(k.Public) + ")"
		if tk, err := pkcs11.TUFKey(k); err == nil {
			keyid = tk.ID()
		}
		id := fmt.Sprintf("%x", k.ID)
		if id == "" {
			id = "(empty)"
		}
		attested := "attested"
		if !k.Attested {
			attested = "NOT ATTESTED (PKCS#11 offers no attestation)"
		}
		fmt.Fprintf(w, "      %q  id %s  %s  %s\n", k.Label, id, pkcs11.KeyType(k.Public), attested)
		fmt.Fprintf(w, "        keyid %s\n", keyid)
		fmt.Fprintf(w, "        %s\n", k.URI)
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
