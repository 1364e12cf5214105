//go:build cgo

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

const testSoftHSM = "/usr/lib/softhsm/libsofthsm2.so"

// privateSoftHSM points SoftHSM at a token directory of the test's own
// (never the machine's), before anything in this process initialises it.
func privateSoftHSM(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(testSoftHSM); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SoftHSMv2 is missing (%v); CI must install the Debian package softhsm2", err)
		}
		t.Skipf("SoftHSMv2 module %s is missing (%v): install the Debian package softhsm2", testSoftHSM, err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
}

// TestTokensListsSoftHSM: a module named with --module is listed with its
// hash and marked as not allowed; its tokens, PIN state and keys (with TUF
// keyid and "not attested") are shown, and no PIN is asked.
func TestTokensListsSoftHSM(t *testing.T) {
	privateSoftHSM(t)
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := pkcs11.Load(testSoftHSM, pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: testSoftHSM, SHA256: sum}}, Rehearsal: true})
	if err != nil {
		t.Fatal(err)
	}
	serial, err := m.InitRehearsalToken("holders", []byte("so-pin-1"), []byte("user-pin-1"))
	if err != nil {
		t.Fatal(err)
	}
	sel := uri.New()
	sel.Set(uri.Token, "holders")
	tok, err := m.OpenToken(ctx, sel, hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte("user-pin-1"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	k, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.Ed25519, Label: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := pkcs11.TUFKey(k)
	if err != nil {
		t.Fatal(err)
	}
	tok.Close()
	m.Close()

	var out, errOut bytes.Buffer
	code := runMain(ctx, &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, []string{"tokens", "--module", testSoftHSM})
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
	// SoftHSM numbers its slots when it is initialised: read them as the
	// command saw them.
	m, err = pkcs11.LoadUnchecked(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	slots, err := m.Slots(ctx)
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	resolved, _ := filepath.EvalSymlinks(testSoftHSM)
	var want strings.Builder
	fmt.Fprintf(&want, "module %s\n", testSoftHSM)
	if resolved != testSoftHSM {
		fmt.Fprintf(&want, "  file:     %s\n", resolved)
	}
	fmt.Fprintf(&want, "  sha256:   %s\n  library:  %s\n", sum, m.Description())
	want.WriteString("  ceremony: NOT ALLOWED: the policy does not list this module; to allow it, an officer adds its path and sha256 to the policy\n")
	want.WriteString("  note:     SoftHSM keeps its keys in files on disk: for rehearsals only\n")
	for _, s := range slots {
		fmt.Fprintf(&want, "  slot %d: %s\n", s.ID, s.Description)
		if s.Token == nil || !s.Token.Initialized() {
			want.WriteString("    token not initialised\n")
			continue
		}
		fmt.Fprintf(&want, "    token \"holders\": SoftHSM project SoftHSM v2, serial %s\n    PIN:  PIN ok\n    keys:\n", serial)
		fmt.Fprintf(&want, "      \"alice\"  id %x  ed25519  NOT ATTESTED (PKCS#11 offers no attestation)\n", k.ID)
		fmt.Fprintf(&want, "        keyid %s\n        %s\n", tk.ID(), k.URI)
	}
	if out.String() != want.String() {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want.String())
	}
}

func TestTokensNeedsAModule(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, []string{"tokens"})
	want := "error: no PKCS#11 module to list\nhint: name one with --module PATH, e.g. --module /usr/lib/softhsm/libsofthsm2.so\n"
	if code != 3 || errOut.String() != want {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestTokensMissingModule(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, []string{"tokens", "--module", "/nonexistent/libp11.so"})
	if code != 3 {
		t.Fatalf("exit %d", code)
	}
	wantOut := "module /nonexistent/libp11.so\n  error: finding PKCS#11 module: lstat /nonexistent: no such file or directory\n"
	wantErr := "error: could not list 1 of 1 modules: /nonexistent/libp11.so\n"
	if out.String() != wantOut || errOut.String() != wantErr {
		t.Fatalf("stdout %q\nstderr %q", out.String(), errOut.String())
	}
}
