//go:build cgo

package rehearsal

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/yubikey"
)

// childEnv marks a test binary started by inChild: the one process of the
// test that starts rehearsal tokens.
const childEnv = "CONCLAVE_REHEARSAL_CHILD"

// inChild runs the calling test alone in a new process of this test binary
// and reports true in that process. Rehearsal tokens can be started once
// per process (libpcsclite reads PCSCLITE_CSOCK_NAME once), so every test
// that starts them runs in a process of its own. The parent returns false
// after the child finished, failing when it failed.
func inChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	text := string(out)
	switch {
	case err != nil:
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, text)
	case strings.Contains(text, "--- SKIP"):
		t.Skipf("%s", skipReason(text))
	case !strings.Contains(text, "--- PASS"):
		t.Fatalf("%s in its own process did not run:\n%s", t.Name(), text)
	}
	return false
}

// skipReason is the line a child's t.Skip printed.
func skipReason(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "--- SKIP") && i+1 < len(lines) {
			return strings.TrimSpace(lines[i+1])
		}
	}
	return out
}

// needTokenSoftware skips (or, with CI=true, fails) when pcscd, vpcd or
// SoftHSM is missing, with the sentence the rehearsal itself would print.
func needTokenSoftware(t *testing.T) {
	t.Helper()
	if err := CheckTokenSoftware(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err.Error())
	}
}

// TestTokens starts the rehearsal's tokens, signs with each holder's key
// through its backend (YubiKey through pcscd and vpcd, SoftHSM through
// PKCS#11) with the holder's rehearsal PIN, checks that the virtual cards
// are simulators that no longer hold the factory PIN, PUK or management
// key, and that each YubiKey key is attested under the SIMULATOR root,
// and stops them: the directory is gone and pcscd has exited.
func TestTokens(t *testing.T) {
	needTokenSoftware(t)
	if !inChild(t) {
		return
	}
	ctx := context.Background()
	tok, err := StartTokens(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Stop()
	if _, err := StartTokens(ctx, t.TempDir()); !errors.Is(err, ErrTokensStarted) {
		t.Errorf("second StartTokens: %v, want ErrTokensStarted", err)
	}
	want := []struct {
		name, kind string
	}{{"Alice", policy.TokenYubiKey}, {"Bob", policy.TokenYubiKey}, {"Carol", policy.TokenPKCS11}}
	if len(tok.Holders) != len(want) {
		t.Fatalf("%d holders, want 3", len(tok.Holders))
	}
	msg := []byte("rehearsal")
	digest := sha256.Sum256(msg)
	for i, h := range tok.Holders {
		if h.Name != want[i].name || h.Enrolled.Token != want[i].kind || h.Enrolled.KeyID != h.Key.ID() {
			t.Errorf("holder %d: %s %+v", i, h.Name, h.Enrolled)
		}
		var backend hsm.Token
		var key hsm.KeyInfo
		prompts := pinPrompts(h.PIN())
		switch h.Enrolled.Token {
		case policy.TokenYubiKey:
			yk, err := yubikey.Open(ctx, yubikey.Options{Serial: h.Enrolled.Serial, Holder: h.Name, Roots: tok.Roots, Prompts: prompts})
			if err != nil {
				t.Fatal(err)
			}
			backend = yk
			info := yk.Info()
			if !info.Simulator || info.DefaultPIN || info.DefaultPUK || info.DefaultManagementKey {
				t.Errorf("%s: card info %+v: want a simulator with no factory credentials", h.Name, info)
			}
		case policy.TokenPKCS11:
			p, k, err := pkcs11.OpenKey(ctx, h.Enrolled.URI, tok.ModulePolicy(), prompts)
			if err != nil {
				t.Fatal(err)
			}
			backend, key = p, k
		}
		keys, err := backend.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h.Enrolled.Token == policy.TokenYubiKey {
			if len(keys) != 1 || keys[0].Slot != h.Enrolled.Slot || !keys[0].Attested || !strings.Contains(keys[0].Label, "SIMULATOR") {
				t.Errorf("%s: keys %+v: want one attested key in slot %s, labelled SIMULATOR", h.Name, keys, h.Enrolled.Slot)
			}
			key = keys[0]
		}
		s, err := backend.Signer(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.Sign(nil, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("%s signs: %v", h.Name, err)
		}
		if err := h.Key.Verify(msg, sig); err != nil {
			t.Errorf("%s's signature: %v", h.Name, err)
		}
		if err := backend.Close(); err != nil {
			t.Error(err)
		}
	}
	dir := tok.Dir
	if err := tok.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Stop, %s: %v, want it gone", dir, err)
	}
	if p := processesUnder(t, dir); len(p) > 0 {
		t.Errorf("after Stop, processes still run in %s: %v", dir, p)
	}
}

// processesUnder lists the command lines that mention dir: a private pcscd
// names its reader configuration there.
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, dir) {
			found = append(found, cmd)
		}
	}
	return found
}

// TestMissingTokenSoftware: a missing program is named with the Debian
// package that installs it.
func TestMissingTokenSoftware(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libifdvpcd.so")
	err := checkSoftware([]needed{{os.Args[0], "golang"}, {missing, "vsmartcard-vpcd"}})
	want := missing + " is missing: the rehearsal's tokens need the Debian package vsmartcard-vpcd (make setup installs it): stat " + missing + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%v does not wrap os.ErrNotExist", err)
	}
}
