package main

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/tui/signing"
)

// rootTokensPolicy places Alice's root key on YubiKey 100 and her claimed
// key on YubiKey 200, and Bob's root key on a PKCS#11 token.
func rootTokensPolicy() *policy.Policy {
	return &policy.Policy{
		Holders: []policy.Holder{
			{Name: "Alice", Keys: []policy.HolderKey{
				{KeyID: "a-root", Token: policy.TokenYubiKey, Serial: 100, Slot: "9c"},
				{KeyID: "a-claimed", Token: policy.TokenYubiKey, Serial: 200, Slot: "9c"},
			}},
			{Name: "Bob", Keys: []policy.HolderKey{
				{KeyID: "b-root", Token: policy.TokenPKCS11, URI: "pkcs11:token=bob-root;serial=77;id=%01"},
			}},
		},
		KeyRoles: map[string][]string{"a-root": {"root"}, "a-claimed": {"claimed"}, "b-root": {"root"}},
	}
}

func TestRootTokensResult(t *testing.T) {
	pol := rootTokensPolicy()
	yk := func(serial, reader string) signing.Present {
		return signing.Present{Kind: policy.TokenYubiKey, Serial: serial, Where: reader, Tries: -1}
	}
	hsmTok := func(serial, label string) signing.Present {
		return signing.Present{Kind: policy.TokenPKCS11, Serial: serial, Label: label, Where: "/lib/p11.so slot 1", Tries: -1}
	}
	noPCSCD := signing.Present{Kind: policy.TokenYubiKey, Where: "YubiKeys (PC/SC)", Tries: -1, Err: errors.New("no pcscd")}
	for name, tc := range map[string]struct {
		present []signing.Present
		err     error
		status  preflight.Status
		message string
	}{
		"delegating tokens only": {[]signing.Present{yk("200", "reader 0"), hsmTok("78", "other")}, nil,
			preflight.Pass, "No token present holds a root key."},
		"nothing present": {nil, nil, preflight.Pass, "No token present holds a root key."},
		"root yubikey": {[]signing.Present{yk("200", "reader 0"), yk("100", "reader 1")}, nil, preflight.Fail,
			"A token holding a root key is in the room: Alice's yubikey 100 (reader 1). Take it out of the room: a delegation ceremony never needs root keys."},
		"root pkcs11 token and yubikey": {[]signing.Present{yk("100", "reader 1"), hsmTok("77", "bob-root")}, nil, preflight.Fail,
			"A token holding a root key is in the room: Alice's yubikey 100 (reader 1), Bob's pkcs11:serial=77;token=bob-root (/lib/p11.so slot 1). Take it out of the room: a delegation ceremony never needs root keys."},
		"same label other serial": {[]signing.Present{hsmTok("78", "bob-root")}, nil, preflight.Pass, "No token present holds a root key."},
		"no pcscd": {[]signing.Present{noPCSCD, hsmTok("78", "other")}, nil, preflight.Info,
			"No token holding a root key was seen, but YubiKeys (PC/SC) could not be listed: make sure by sight that no token holding a root key is in the room."},
		"no pcscd, root token in an HSM": {[]signing.Present{noPCSCD, hsmTok("77", "bob-root")}, nil, preflight.Fail,
			"A token holding a root key is in the room: Bob's pkcs11:serial=77;token=bob-root (/lib/p11.so slot 1). Take it out of the room: a delegation ceremony never needs root keys."},
		"cannot list": {nil, errors.New("built without cgo"), preflight.Info,
			"Could not list the tokens present (built without cgo). Make sure by sight that no token holding a root key is in the room: a delegation ceremony never needs root keys."},
	} {
		t.Run(name, func(t *testing.T) {
			res := rootTokensCheck(context.Background(), pol, func(context.Context) ([]signing.Present, error) { return tc.present, tc.err })
			if res.ID != "tokens.root" || res.Status != tc.status || res.Message != tc.message {
				t.Errorf("got %s %s %q\nwant %s %q", res.ID, res.Status, res.Message, tc.status, tc.message)
			}
		})
	}
}

// A card this program holds open for signing is listed by serial (Held)
// and still judged.
func TestRootTokensResultHeldCard(t *testing.T) {
	res := rootTokensResult(rootTokensPolicy(), []signing.Present{{Kind: policy.TokenYubiKey, Serial: "100", Where: "r", Open: true, Tries: -1}}, nil)
	if res.Status != preflight.Fail || !slices.Contains(res.Details, "r: holds root key a-root of Alice") {
		t.Errorf("got %s %v", res.Status, res.Details)
	}
}
