//go:build cgo

package signing

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/tui/theme"
)

const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// softHSMToken makes a SoftHSM token of the test's own (SOFTHSM2_CONF
// points at a temporary directory) labelled label, with an ed25519 key
// and user PIN pin; it returns the module's allow-list entry, the key's
// URI and its TUF key.
func softHSMToken(t *testing.T, label, pin string) (policy.Module, string, *tuf.Key) {
	t.Helper()
	if _, err := os.Stat(softHSMModule); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SoftHSMv2 is missing (%v); CI must install the Debian package softhsm2", err)
		}
		t.Skipf("SoftHSMv2 is missing (%v): install the Debian package softhsm2", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.Mkdir(filepath.Join(dir, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	_, sum, err := pkcs11.HashModule(softHSMModule)
	if err != nil {
		t.Fatal(err)
	}
	mod := policy.Module{Path: softHSMModule, SHA256: sum}
	m, err := pkcs11.Load(softHSMModule, pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: mod.Path, SHA256: mod.SHA256}}, Rehearsal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.InitRehearsalToken(label, []byte("so-pin-1"), []byte(pin)); err != nil {
		t.Fatal(err)
	}
	sel := uri.New()
	sel.Set(uri.Token, label)
	ctx := context.Background()
	tok, err := m.OpenToken(ctx, sel, hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte(pin), nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	k, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.Ed25519, Label: label})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := pkcs11.TUFKey(k)
	if err != nil {
		t.Fatal(err)
	}
	sel.Set(uri.Object, label)
	sel.Set(uri.ModulePath, softHSMModule)
	return mod, sel.String(), tk
}

// TestSoftHSM: Carol signs on a SoftHSM token through the screen — the
// roster lists it from the module's slots, a wrong PIN shows its card
// (PKCS#11 says no count), the field takes a PIN of any length, and the
// right PIN signs.
func TestSoftHSM(t *testing.T) {
	mod, loc, key := softHSMToken(t, "carol", "user-pin-1")
	pol := &policy.Policy{Rehearsal: true, PKCS11Modules: []policy.Module{mod}, Holders: []policy.Holder{
		{Name: "Carol", Keys: []policy.HolderKey{{KeyID: key.ID(), Token: policy.TokenPKCS11, URI: loc}}},
	}}
	keys := map[string]*tuf.Key{key.ID(): key}
	br := NewBridge()
	tokens := holders.New(holders.Options{Policy: pol, Keys: keys, Prompts: br.Prompts})
	defer tokens.Close()
	room := newRoom()
	room.progress = []session.Progress{{Role: "targets", Version: 5, Threshold: 1, Holders: []string{"Carol"}, Signed: []string{}}}
	s := &tokenSession{roomSession: room, tokens: tokens, pol: pol, keys: keys}
	c := &clock{t: time.Now()}
	m := New(Options{Session: s, Policy: pol, Bridge: br, List: ListTokens(pol), Now: c.now}, plainTheme(), theme.Laptop)
	m.Update(m.list()())
	acknowledge(t, m, c)
	m.Update(press("s"))
	if v := plain(m.View()); !strings.Contains(v, `HSM "carol" serial `) || !strings.Contains(v, " · Carol · ") || !strings.Contains(v, " · PIN ok") {
		t.Fatalf("roster:\n%s", v)
	}

	_, cmd := m.Update(press("enter"))
	drive(t, m, cmd, func() { typeText(m, c, "wrong-pin-9", 200*time.Millisecond); m.Update(press("enter")) })
	if m.mode != modeError || m.err.kind != cardWrongPIN {
		t.Fatalf("after a wrong PIN: mode %d, card %+v", m.mode, m.err)
	}
	_, cmd = m.Update(press("enter"))
	drive(t, m, cmd, func() { typeText(m, c, "user-pin-1", 200*time.Millisecond); m.Update(press("enter")) })
	if m.mode != modeSign || !m.Complete() {
		t.Fatalf("after the right PIN: mode %d, card %+v", m.mode, m.err)
	}
	m.Update(m.list()())
	if v := plain(m.View()); !strings.Contains(v, "Carol signed targets.") {
		t.Fatalf("after signing:\n%s", v)
	}
}

// TestRosterWithoutPCSC: on a machine where YubiKeys cannot be listed (no
// pcscd), the roster says so and still lists the HSM tokens.
func TestRosterWithoutPCSC(t *testing.T) {
	mod, loc, key := softHSMToken(t, "carol", "user-pin-1")
	pol := &policy.Policy{Rehearsal: true, PKCS11Modules: []policy.Module{mod}, Holders: []policy.Holder{
		{Name: "Carol", Keys: []policy.HolderKey{{KeyID: key.ID(), Token: policy.TokenPKCS11, URI: loc}}},
	}}
	noPCSC := errors.New("the PC/SC service (pcscd) is not running")
	got, err := listTokens(pol, func(context.Context) ([]yubikey.CardInfo, error) { return nil, noPCSC })(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var hsmListed, saidSo bool
	for _, p := range got {
		switch {
		case p.Kind == policy.TokenPKCS11 && p.Label == "carol" && p.Err == nil:
			hsmListed = true
		case p.Kind == policy.TokenYubiKey && errors.Is(p.Err, noPCSC):
			saidSo = true
		}
	}
	if !hsmListed || !saidSo {
		t.Fatalf("roster %+v: want the SoftHSM token and a line saying YubiKeys cannot be listed", got)
	}
}
