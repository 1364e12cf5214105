//go:build cgo

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm/yubikey"
)

// The YubiKey backend needs cgo (piv-go links libpcsclite); without cgo
// this command is absent.
func init() {
	c := &command{
		name:    "yubikeys",
		summary: "list YubiKeys: serial, firmware, PIN and PUK tries left, factory credentials, and the keys in their PIV slots",
		usage:   "yubikeys",
	}
	c.run = func(ctx context.Context, env *environment, args []string) error {
		fs := newFlagSet(env, c)
		if err := parseFlags(env, c, fs, args); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return usagef("yubikeys takes no arguments")
		}
		return listYubiKeys(ctx, env.stdout)
	}
	register(c)
}

// listYubiKeys never asks for a PIN and spends no try: retries and factory
// flags come from the card's metadata, keys from their public halves.
func listYubiKeys(ctx context.Context, w io.Writer) error {
	cards, err := yubikey.List(ctx)
	if err != nil {
		return err
	}
	if len(cards) == 0 {
		fmt.Fprintln(w, "no YubiKey found")
		return nil
	}
	for _, c := range cards {
		if c.Err != nil {
			fmt.Fprintf(w, "%s: %v\n", c.Reader, c.Err)
			continue
		}
		name := "YubiKey"
		if c.Simulator {
			name = "virtual YubiKey SIMULATOR (not a real token)"
		}
		fmt.Fprintf(w, "%s %d  firmware %s  %s\n", name, c.Serial, c.Firmware, c.FormFactor)
		fmt.Fprintf(w, "  PIN tries left: %s  PUK tries left: %s\n", tries(c.PINRetries), tries(c.PUKRetries))
		for _, f := range []struct {
			set  bool
			what string
		}{{c.DefaultPIN, "PIN"}, {c.DefaultPUK, "PUK"}, {c.DefaultManagementKey, "management key"}} {
			if f.set {
				fmt.Fprintf(w, "  FACTORY %s still set: change it before enrolling\n", f.what)
			}
		}
		tok, err := yubikey.Open(ctx, yubikey.Options{Serial: c.Serial})
		if err != nil {
			fmt.Fprintf(w, "  keys: %v\n", err)
			continue
		}
		keys, err := tok.Keys(ctx)
		tok.Close()
		if err != nil {
			fmt.Fprintf(w, "  keys: %v\n", err)
			continue
		}
		for _, k := range keys {
			id := "(no TUF key)"
			if tk, err := tuf.KeyFromPublic(k.Public); err == nil {
				id = "keyid " + tk.ID()
			}
			fmt.Fprintf(w, "  %s  %s\n    %s\n", k.URI, id, k.Label)
		}
	}
	return nil
}

func tries(n int) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}
