package main

import (
	"context"
	"fmt"
	"io"

	"github.com/conclave-keys/conclave/internal/termtext"
)

// The YubiKey backend needs cgo (piv-go links libpcsclite):
// yubikeys_cgo.go reads the cards, and yubikeys_nocgo.go stands in without
// it.
var yubikeysCommand = &command{
	name:    "yubikeys",
	summary: "list YubiKeys: serial, firmware, PIN and PUK tries left, factory credentials, and the keys in their PIV slots",
	usage:   "yubikeys [--json]",
}

func init() {
	yubikeysCommand.run = runYubikeys
	register(yubikeysCommand)
}

// yubikeysFormat names the --json document (docs/formats/schema/yubikeys.schema.json).
const yubikeysFormat = "conclave-yubikeys/1"

// yubikeysReport is what `conclave yubikeys --json` prints. Strings are as
// the card and the reader gave them: JSON is exact.
type yubikeysReport struct {
	Format string         `json:"format"`
	Cards  []yubikeysCard `json:"cards"`
}

type yubikeysCard struct {
	Reader     string `json:"reader"`
	Serial     uint32 `json:"serial,omitempty"`
	Firmware   string `json:"firmware,omitempty"`
	FormFactor string `json:"form_factor,omitempty"`
	Simulator  bool   `json:"simulator,omitempty"`
	// PINTriesLeft and PUKTriesLeft are absent when the card cannot tell.
	PINTriesLeft *int `json:"pin_tries_left,omitempty"`
	PUKTriesLeft *int `json:"puk_tries_left,omitempty"`
	// Factory lists the factory credentials still set: "PIN", "PUK",
	// "management key".
	Factory []string      `json:"factory_credentials"`
	Keys    []yubikeysKey `json:"keys"`
	// Error says why the card, or its keys, could not be read.
	Error string `json:"error,omitempty"`
}

type yubikeysKey struct {
	Slot     string `json:"slot"`
	URI      string `json:"uri"`
	Label    string `json:"label"`
	Attested bool   `json:"attested"`
	// KeyID is the TUF keyid; absent for a key TUF cannot use.
	KeyID   string `json:"keyid,omitempty"`
	KeyType string `json:"keytype,omitempty"`
	Scheme  string `json:"scheme,omitempty"`
}

// runYubikeys lists the YubiKeys present. It never asks for a PIN and
// spends no try: retries and factory flags come from the card's metadata,
// keys from their public halves. A card that cannot be read is listed with
// the reason and makes the command exit with status 3 (it could not
// finish, docs/exit-codes.md), after every other card is listed.
func runYubikeys(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, yubikeysCommand)
	asJSON := fs.Bool("json", false, "print a JSON report instead of text")
	if err := parseFlags(env, yubikeysCommand, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("yubikeys takes no arguments")
	}
	report, err := readYubikeys(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(env.stdout, report); err != nil {
			return err
		}
	} else {
		writeYubikeys(env.stdout, report)
	}
	var failed []string
	for _, c := range report.Cards {
		if c.Error != "" {
			failed = append(failed, c.Reader)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if !*asJSON {
		fmt.Fprintf(env.stderr, "error: %s\n", unreadCards(failed, len(report.Cards)))
	}
	return exitError{exitFailed}
}

// unreadCards says which readers held a card that could not be read.
func unreadCards(readers []string, total int) string {
	if len(readers) == 1 && total == 1 {
		return "could not read the card in reader " + termtext.List(readers, 5)
	}
	return fmt.Sprintf("could not read %d of %d cards, in readers %s", len(readers), total, termtext.List(readers, 5))
}

// writeYubikeys prints the report for people. Every string the card or
// the reader gave goes through termtext.
func writeYubikeys(w io.Writer, r *yubikeysReport) {
	if len(r.Cards) == 0 {
		fmt.Fprintln(w, "no YubiKey found")
		return
	}
	for i, c := range r.Cards {
		if i > 0 {
			fmt.Fprintln(w)
		}
		reader := `reader "` + termtext.Safe(c.Reader) + `"`
		if c.Error != "" && c.Serial == 0 {
			fmt.Fprintf(w, "card in %s: NOT READ: %s\n", reader, termtext.Safe(c.Error))
			continue
		}
		name := "YubiKey"
		if c.Simulator {
			name = "virtual YubiKey SIMULATOR (not a real token)"
		}
		line := fmt.Sprintf("%s %d", name, c.Serial)
		if c.Firmware != "" {
			line += "  firmware " + termtext.Safe(c.Firmware)
		}
		if c.FormFactor != "" {
			line += "  " + termtext.Safe(c.FormFactor)
		}
		fmt.Fprintf(w, "%s\n  in %s\n", line, reader)
		fmt.Fprintf(w, "  PIN tries left: %s  PUK tries left: %s\n", tries(c.PINTriesLeft), tries(c.PUKTriesLeft))
		for _, f := range c.Factory {
			fmt.Fprintf(w, "  FACTORY %s still set: change it before enrolling\n", f)
		}
		if c.Error != "" {
			fmt.Fprintf(w, "  NOT READ: %s\n", termtext.Safe(c.Error))
			continue
		}
		if len(c.Keys) == 0 {
			fmt.Fprintln(w, "  no keys")
		}
		for _, k := range c.Keys {
			id := "(no TUF key)"
			if k.KeyID != "" {
				id = "keyid " + termtext.Safe(k.KeyID)
			}
			fmt.Fprintf(w, "  %s  %s\n    %s\n", termtext.Safe(k.URI), id, termtext.Safe(k.Label))
		}
	}
}

func tries(n *int) string {
	if n == nil {
		return "unknown"
	}
	return fmt.Sprint(*n)
}
