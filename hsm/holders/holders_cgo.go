//go:build cgo

package holders

import (
	"context"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/yubikey"
)

// openYubiKey opens the holder's YubiKey by its enrolled serial, and has
// the backend check that the enrolled slot holds the enrolled public key
// before anything else (yubikey.Options.Expect): a wrong card is a
// *yubikey.WrongCardError, and no PIN was asked.
func openYubiKey(ctx context.Context, holder policy.Holder, key policy.HolderKey, pub *tuf.Key, prompts hsm.Prompts) (*openedKey, error) {
	if key.Serial == 0 {
		return nil, fmt.Errorf("holder %s: key %s: a YubiKey key needs its serial", holder.Name, key.KeyID)
	}
	tok, err := yubikey.Open(ctx, yubikey.Options{
		Serial:  key.Serial,
		Holder:  holder.Name,
		Expect:  &yubikey.Expected{Slot: key.Slot, Public: pub.PublicKey()},
		Prompts: prompts,
	})
	if err != nil {
		return nil, fmt.Errorf("holder %s: %w", holder.Name, err)
	}
	signer, err := tok.Signer(ctx, hsm.KeyInfo{Slot: key.Slot, Public: pub.PublicKey()})
	if err != nil {
		tok.Close()
		return nil, fmt.Errorf("holder %s: %w", holder.Name, err)
	}
	return &openedKey{tok: tok, signer: signer, tries: func() int { return tok.Info().PINRetries }}, nil
}

// openPKCS11 opens the holder's PKCS#11 key by its URI, through a module
// the policy allows (SoftHSM only in a rehearsal), and compares the public
// key the URI finds with the enrolled keyid before logging in.
func openPKCS11(ctx context.Context, holder policy.Holder, key policy.HolderKey, pub *tuf.Key, pol *policy.Policy, prompts hsm.Prompts) (*openedKey, error) {
	modules := pkcs11.ModulePolicy{Rehearsal: pol.Rehearsal}
	for _, m := range pol.PKCS11Modules {
		modules.Allowed = append(modules.Allowed, pkcs11.AllowedModule{Path: m.Path, SHA256: m.SHA256})
	}
	tok, found, err := pkcs11.OpenKey(ctx, key.URI, modules, prompts)
	if err != nil {
		return nil, fmt.Errorf("holder %s: %w", holder.Name, err)
	}
	if err := checkKeyID(holder, key, tok.Describe(), found.Public); err != nil {
		tok.Close()
		return nil, err
	}
	signer, err := tok.Signer(ctx, found)
	if err != nil {
		tok.Close()
		return nil, fmt.Errorf("holder %s: %w", holder.Name, err)
	}
	return &openedKey{tok: tok, signer: signer}, nil
}
