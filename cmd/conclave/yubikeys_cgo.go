//go:build cgo

package main

import (
	"context"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm/yubikey"
)

// readYubikeys reads every card present, and the keys of each.
func readYubikeys(ctx context.Context) (*yubikeysReport, error) {
	cards, err := yubikey.List(ctx)
	if err != nil {
		return nil, err
	}
	report := &yubikeysReport{Format: yubikeysFormat, Cards: []yubikeysCard{}}
	for _, c := range cards {
		card := yubikeysCard{Reader: c.Reader, Serial: c.Serial, Firmware: c.Firmware, FormFactor: c.FormFactor,
			Simulator: c.Simulator, Factory: []string{}, Keys: []yubikeysKey{}}
		if c.PINRetries >= 0 {
			card.PINTriesLeft = &c.PINRetries
		}
		if c.PUKRetries >= 0 {
			card.PUKTriesLeft = &c.PUKRetries
		}
		for _, f := range []struct {
			set  bool
			what string
		}{{c.DefaultPIN, "PIN"}, {c.DefaultPUK, "PUK"}, {c.DefaultManagementKey, "management key"}} {
			if f.set {
				card.Factory = append(card.Factory, f.what)
			}
		}
		if c.Err != nil {
			card.Error = c.Err.Error()
		} else if err := readYubikeyKeys(ctx, c.Serial, &card); err != nil {
			card.Error = "reading its keys: " + err.Error()
		}
		report.Cards = append(report.Cards, card)
	}
	return report, nil
}

func readYubikeyKeys(ctx context.Context, serial uint32, card *yubikeysCard) error {
	tok, err := yubikey.Open(ctx, yubikey.Options{Serial: serial})
	if err != nil {
		return err
	}
	defer tok.Close()
	keys, err := tok.Keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		key := yubikeysKey{Slot: k.Slot, URI: k.URI, Label: k.Label, Attested: k.Attested}
		if tk, err := tuf.KeyFromPublic(k.Public); err == nil {
			key.KeyID, key.KeyType, key.Scheme = tk.ID(), tk.Type, tk.Scheme
		}
		card.Keys = append(card.Keys, key)
	}
	return nil
}
