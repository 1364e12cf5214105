//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
	"github.com/conclave-keys/conclave/internal/termtext"
	"github.com/conclave-keys/conclave/tui/signing"
)

// The ceremonies' preflight lists YubiKeys only once the tests' own pcscd
// runs: reaching PC/SC first would bind this process to the system's.
func init() {
	roomTokens = func(pol *policy.Policy) signing.Lister {
		if pcscdShared == nil {
			return func(context.Context) ([]signing.Present, error) {
				return nil, errors.New("the tests' pcscd is not started")
			}
		}
		return signing.ListTokens(pol)
	}
}

// TestRootTokensCheckRoom lists a real room: a virtual YubiKey (serial
// 31415926) and six SoftHSM tokens, alice-root, bob-root, carol-root and
// alice, bob, carol, judged against two rehearsal policies.
func TestRootTokensCheckRoom(t *testing.T) {
	ca, err := vcard.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	virtualYubiKey(t, ca, 31415926)
	privateSoftHSM(t)
	hs, _ := genesisSetup(t, t.TempDir(), "alice", "bob", "carol")
	base := string(genesisPolicy(t, hs))
	line := func(h softHSMHolder, roles string) string {
		return fmt.Sprintf("{keyid: %s, token: pkcs11, uri: %q, roles: [%s]}", h.key.ID(), h.uri, roles)
	}
	yubikeyLine := func(h softHSMHolder, serial uint32, roles string) string {
		return fmt.Sprintf("{keyid: %s, token: yubikey, serial: %d, slot: 9c, roles: [%s]}", h.key.ID(), serial, roles)
	}
	parse := func(text string) *policy.Policy {
		t.Helper()
		p, err := policy.Parse("policy.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	replace := func(text, old, new string) string {
		t.Helper()
		if !strings.Contains(text, old) {
			t.Fatalf("the policy lacks %s", old)
		}
		return strings.Replace(text, old, new, 1)
	}
	check := func(pol *policy.Policy) preflight.Result {
		t.Helper()
		res := rootTokensCheck(context.Background(), pol, signing.ListTokens(pol))
		// The listing holds no card open: the signing roster opens
		// it next.
		tok, err := yubikey.Open(context.Background(), yubikey.Options{Serial: 31415926})
		if err != nil {
			t.Fatalf("the card is not free after the check: %v", err)
		}
		tok.Close()
		return res
	}
	softHSMWhere := func(label string) string {
		t.Helper()
		m, err := pkcs11.LoadUnchecked(testSoftHSM)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		slots, err := m.Slots(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range slots {
			if s.Token != nil && s.Token.Label == label {
				return fmt.Sprintf("%s slot %d", testSoftHSM, s.ID)
			}
		}
		t.Fatalf("no SoftHSM token %s", label)
		return ""
	}

	t.Run("root keys on the YubiKey and SoftHSM", func(t *testing.T) {
		// Alice's root key is on the YubiKey; bob's and carol's on
		// their SoftHSM root tokens.
		text := replace(base, line(hs[0].root, "root"), yubikeyLine(hs[0].root, 31415926, "root"))
		pol := parse(text)
		res := check(pol)
		bobTok := policy.TokenOf(pol.Holders[1].Keys[0])
		carolTok := policy.TokenOf(pol.Holders[2].Keys[0])
		want := "A token holding a root key is in the room: alice's yubikey 31415926 (" + termtext.Safe(privatePCSCD(t).Reader(enrolReader)) + "), " +
			"bob's " + bobTok + " (" + softHSMWhere("bob-root") + "), carol's " + carolTok + " (" + softHSMWhere("carol-root") + "). " +
			"Take it out of the room: a delegation ceremony never needs root keys."
		if res.Status != preflight.Fail || res.Message != want {
			t.Errorf("got %s %q\nwant fail %q", res.Status, res.Message, want)
		}
	})
	t.Run("delegating-role tokens only", func(t *testing.T) {
		// The root keys are on tokens kept out of the room; the
		// YubiKey present holds alice's targets and claimed key.
		text := replace(base, line(hs[0].root, "root"), yubikeyLine(hs[0].root, 27182818, "root"))
		text = replace(text, line(hs[0].other, "targets, claimed"), yubikeyLine(hs[0].other, 31415926, "targets, claimed"))
		for _, h := range hs[1:] {
			moved := h.root
			moved.uri = replace(moved.uri, "token="+h.name+"-root", "token="+h.name+"-root-kept-away")
			text = replace(text, line(h.root, "root"), line(moved, "root"))
		}
		res := check(parse(text))
		if res.Status != preflight.Pass || res.Message != "No token present holds a root key." {
			t.Errorf("got %s %q %v", res.Status, res.Message, res.Details)
		}
	})
}

// A policy can require tokens.root, so that a root token in the room
// stops a production ceremony; conclave policy check knows the id.
func TestPolicyCheckRequiresRootTokens(t *testing.T) {
	pf := enrolPolicy(t, t.TempDir(), func(s string) string {
		return strings.Replace(s, "required: [network.interfaces, radio.rfkill]", "required: [network.interfaces, radio.rfkill, tokens.root]", 1)
	})
	code, stdout, stderr := run(t, "policy", "check", pf)
	if code != 0 {
		t.Fatalf("policy check: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestPreflightChecksRootTokens: a delegation ceremony's preflight, on a
// vault made by conclave init whose root keys are on SoftHSM tokens still
// present, fails tokens.root and counts it.
func TestPreflightChecksRootTokens(t *testing.T) {
	privatePCSCD(t)
	privateSoftHSM(t)
	dir := t.TempDir()
	hs, recs := genesisSetup(t, dir, "alice", "bob", "carol")
	v := openTestVault(t, runGenesis(t, dir, hs, recs))
	report, checks := preflightChecks(v)
	var got *preflight.Result
	for i := range report.Results {
		if report.Results[i].ID == "tokens.root" {
			got = &report.Results[i]
		}
	}
	if got == nil || got.Status != preflight.Fail || report.Failed < 1 {
		t.Fatalf("tokens.root %+v, %d failed", got, report.Failed)
	}
	for _, h := range hs {
		if !strings.Contains(got.Message, h.name+"'s pkcs11:token="+h.name+"-root (") {
			t.Errorf("the message does not name %s's root token: %s", h.name, got.Message)
		}
	}
	if c := checks[len(checks)-1]; c.ID != "tokens.root" || c.Status != "fail" || c.Message != got.Message {
		t.Errorf("recorded as %+v", c)
	}
}
