//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

const testSoftHSM = "/usr/lib/softhsm/libsofthsm2.so"

// privateSoftHSM points SoftHSM at a token directory of the test's own
// (never the machine's), before anything in this process initialises it.
func privateSoftHSM(t testing.TB) {
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

// hostileLabel is a token or key label as a malicious token could report
// it: an escape sequence that hides what follows, and a right-to-left
// override. PKCS#11 labels are at most 32 bytes.
const hostileLabel = "hold\x1b[8mers\u202eevil"

// safeHostileLabel is hostileLabel as the text output must show it.
const safeHostileLabel = `hold\x1b[8mers\u202eevil`

// softHSMWithKey makes a SoftHSM token labelled label holding an ed25519
// key labelled label, and returns the token's serial, the key and its TUF
// keyid.
func softHSMWithKey(t testing.TB, label string) (serial string, k hsm.KeyInfo, keyid string) {
	t.Helper()
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := pkcs11.Load(testSoftHSM, pkcs11.ModulePolicy{Allowed: []pkcs11.AllowedModule{{Path: testSoftHSM, SHA256: sum}}, Rehearsal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	serial, err = m.InitRehearsalToken(label, []byte("so-pin-1"), []byte("user-pin-1"))
	if err != nil {
		t.Fatal(err)
	}
	sel := uri.New()
	sel.Set(uri.Token, label)
	tok, err := m.OpenToken(ctx, sel, hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte("user-pin-1"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	k, err = tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.Ed25519, Label: label})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := pkcs11.TUFKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return serial, k, tk.ID()
}

// softHSMSlots reads SoftHSM's slots as the command saw them (SoftHSM
// numbers its slots when it is initialised) and its description.
func softHSMSlots(t *testing.T) ([]pkcs11.Slot, string) {
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
	return slots, m.Description()
}

// writeAllowList writes an allow-list file and returns its path.
func writeAllowList(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pkcs11-modules.sha256")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// needNoDefaultAllowList skips a test of the machine without an
// allow-list when this machine has one.
func needNoDefaultAllowList(t *testing.T) {
	t.Helper()
	if _, err := os.Lstat(pkcs11.DefaultAllowListFile); err == nil {
		t.Skipf("%s exists on this machine; the test is about a machine without one", pkcs11.DefaultAllowListFile)
	}
}

// TestTokensListsSoftHSM: a module on the allow-list is listed with its
// hash; SoftHSM is shown as not allowed for a ceremony even so, and its
// tokens, PIN state and keys (with TUF keyid and "not attested") are
// listed without a PIN. The token's and key's hostile labels are shown as
// visible escapes.
func TestTokensListsSoftHSM(t *testing.T) {
	privateSoftHSM(t)
	resolved, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	serial, k, keyid := softHSMWithKey(t, hostileLabel)
	allow := writeAllowList(t, "# rehearsal machine\n"+sum+"  "+testSoftHSM+"\n")

	code, out, errOut := run(t, "tokens", "--allow-list", allow)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	slots, description := softHSMSlots(t)
	var want strings.Builder
	fmt.Fprintf(&want, "allow-list: %s, 1 module\n\nmodule %s\n", allow, testSoftHSM)
	if resolved != testSoftHSM {
		fmt.Fprintf(&want, "  file:     %s\n", resolved)
	}
	fmt.Fprintf(&want, "  sha256:   %s\n  library:  %s\n", sum, description)
	want.WriteString("  ceremony: NOT ALLOWED: SoftHSM keeps its keys in files on disk and is allowed only in a rehearsal\n")
	want.WriteString("  note:     SoftHSM keeps its keys in files on disk: for rehearsals only\n")
	for _, s := range slots {
		fmt.Fprintf(&want, "  slot %d: %s\n", s.ID, s.Description)
		if s.Token == nil || !s.Token.Initialized() {
			want.WriteString("    token not initialised\n")
			continue
		}
		fmt.Fprintf(&want, "    token \"%s\": SoftHSM project SoftHSM v2, serial %s\n    PIN:  PIN ok\n    keys:\n", safeHostileLabel, serial)
		fmt.Fprintf(&want, "      \"%s\"  id %x  ed25519  NOT ATTESTED (PKCS#11 offers no attestation)\n", safeHostileLabel, k.ID)
		fmt.Fprintf(&want, "        keyid %s\n        %s\n", keyid, k.URI)
	}
	if out != want.String() {
		t.Fatalf("output:\n%s\nwant:\n%s", out, want.String())
	}
	if strings.ContainsAny(out, "\x1b\u202e") {
		t.Errorf("raw escape or bidi override in the output:\n%q", out)
	}
}

// TestTokensJSON: --json reports the same listing, exact: the labels as the
// token gave them.
func TestTokensJSON(t *testing.T) {
	privateSoftHSM(t)
	resolved, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	serial, k, keyid := softHSMWithKey(t, hostileLabel)
	allow := writeAllowList(t, sum+"  "+testSoftHSM+"\n")
	code, out, errOut := run(t, "tokens", "--allow-list", allow, "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	slots, description := softHSMSlots(t)
	var jsonSlots []string
	for _, s := range slots {
		if s.Token == nil || !s.Token.Initialized() {
			jsonSlots = append(jsonSlots, fmt.Sprintf(`{"id": %d, "description": %s, "token": {"initialized": false, "keys": []}}`, s.ID, jsonString(s.Description)))
			continue
		}
		jsonSlots = append(jsonSlots, fmt.Sprintf(`{"id": %d, "description": %s, "token": {"initialized": true,
			"label": %s, "manufacturer": "SoftHSM project", "model": "SoftHSM v2", "serial": %s, "pin": "PIN ok",
			"keys": [{"label": %s, "id": "%x", "type": "ed25519", "attested": false, "keyid": %s, "uri": %s}]}}`,
			s.ID, jsonString(s.Description), jsonString(hostileLabel), jsonString(serial), jsonString(hostileLabel), k.ID, jsonString(keyid), jsonString(k.URI)))
	}
	file := ""
	if resolved != testSoftHSM {
		file = `"file": ` + jsonString(resolved) + ","
	}
	wantJSON := fmt.Sprintf(`{"format": "conclave-tokens/1",
		"allow_list": {"file": %s, "present": true, "modules": [{"path": %s, "sha256": %s}]},
		"modules": [{"path": %s, %s "sha256": %s, "library": %s, "allowed": false,
			"not_allowed": "SoftHSM keeps its keys in files on disk and is allowed only in a rehearsal",
			"softhsm": true, "loaded": true, "slots": [%s]}]}`,
		jsonString(allow), jsonString(testSoftHSM), jsonString(sum), jsonString(testSoftHSM), file, jsonString(sum), jsonString(description), strings.Join(jsonSlots, ","))
	var got, want any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", out, wantJSON)
	}
	checkSchema(t, "tokens.schema.json", []byte(out))
}

// TestTokensWithoutAllowList: on a machine without an allow-list, a module
// named with --module is listed as not allowed, and the output says where
// the allow-list is read from and how to add a module to it.
func TestTokensWithoutAllowList(t *testing.T) {
	needNoDefaultAllowList(t)
	privateSoftHSM(t)
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "tokens", "--module", testSoftHSM)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	want := "allow-list: none (/etc/conclave/pkcs11-modules.sha256 does not exist), so no module is allowed for a ceremony\n" +
		"  to allow a module, compare its sha256 below with its vendor's, then add it with\n" +
		"  sha256sum MODULE >> /etc/conclave/pkcs11-modules.sha256\n" +
		"\nmodule " + testSoftHSM + "\n"
	if !strings.HasPrefix(out, want) {
		t.Fatalf("output:\n%s\nwant it to start:\n%s", out, want)
	}
	for _, line := range []string{
		"  sha256:   " + sum + "\n",
		"  ceremony: NOT ALLOWED: there is no allow-list (/etc/conclave/pkcs11-modules.sha256 does not exist)\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

// TestTokensChangedLibrary: a module whose file no longer has the hash the
// allow-list names is not loaded at all, and the output says why.
func TestTokensChangedLibrary(t *testing.T) {
	privateSoftHSM(t)
	resolved, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)
	allow := writeAllowList(t, wrong+"  "+testSoftHSM+"\n")
	code, out, errOut := run(t, "tokens", "--allow-list", allow)
	file := ""
	if resolved != testSoftHSM {
		file = "  file:     " + resolved + "\n"
	}
	want := "allow-list: " + allow + ", 1 module\n\nmodule " + testSoftHSM + "\n" + file +
		"  sha256:   " + sum + "\n" +
		"  ceremony: NOT ALLOWED: the allow-list allows this path only with sha256 " + wrong + ": the library has changed\n"
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("exit %d, stderr %q\noutput:\n%s\nwant:\n%s", code, errOut, out, want)
	}
}

// TestTokensNeedsAModule: with no allow-list and no --module there is
// nothing to list; the error says where the allow-list is read from.
func TestTokensNeedsAModule(t *testing.T) {
	needNoDefaultAllowList(t)
	code, out, errOut := run(t, "tokens")
	want := "error: no PKCS#11 module to list: the allow-list /etc/conclave/pkcs11-modules.sha256 does not exist and no --module was given; name one with --module PATH (docs/hsm-pkcs11.md says how to write the allow-list)\n" +
		"usage: conclave tokens [--allow-list FILE] [--module PATH]... [--json]\n"
	if code != 2 || out != "" || errOut != want {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	empty := writeAllowList(t, "# the ceremony machine's modules\n")
	code, _, errOut = run(t, "tokens", "--allow-list", empty)
	want = "error: no PKCS#11 module to list: the allow-list " + empty + " lists no module and no --module was given; name one with --module PATH (docs/hsm-pkcs11.md says how to write the allow-list)\n" +
		"usage: conclave tokens [--allow-list FILE] [--module PATH]... [--json]\n"
	if code != 2 || errOut != want {
		t.Fatalf("empty allow-list: exit %d, stderr %q", code, errOut)
	}
}

// TestTokensErrorEscapedOnce: a name from outside in an error is escaped
// once, by main, for the terminal, and given exact in a --json error.
func TestTokensErrorEscapedOnce(t *testing.T) {
	hostile := filepath.Join(t.TempDir(), "list\x1b[2K")
	if err := os.WriteFile(hostile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "tokens", "--allow-list", hostile)
	want := "error: no PKCS#11 module to list: the allow-list " + filepath.Dir(hostile) + `/list\x1b[2K lists no module`
	if code != 2 || !strings.HasPrefix(errOut, want) {
		t.Errorf("exit %d, stderr %q; want 2 and it to begin %q", code, errOut, want)
	}
	code, out, _ := run(t, "tokens", "--json", "--allow-list", hostile)
	want = `"error": "no PKCS#11 module to list: the allow-list ` + filepath.Dir(hostile) + `/list\u001b[2K lists no module`
	if code != 2 || !strings.Contains(out, want) {
		t.Errorf("exit %d, stdout %s; want 2 and %q", code, out, want)
	}
}

func TestTokensAllowListErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	code, _, errOut := run(t, "tokens", "--allow-list", missing)
	if want := "error: reading the PKCS#11 module allow-list: open " + missing + ": no such file or directory\n"; code != 3 || errOut != want {
		t.Errorf("missing: exit %d, stderr %q\nwant %q", code, errOut, want)
	}
	bad := writeAllowList(t, "# ok\n"+strings.Repeat("a", 64)+" /usr/lib/x.so\n")
	code, _, errOut = run(t, "tokens", "--allow-list", bad)
	want := "error: PKCS#11 module allow-list " + bad + `, line 2: not "SHA256  /absolute/path" (64 hex digits, two spaces, the module's path)` + "\n"
	if code != 3 || errOut != want {
		t.Errorf("malformed: exit %d, stderr %q\nwant %q", code, errOut, want)
	}
}

func TestTokensMissingModule(t *testing.T) {
	allow := writeAllowList(t, "")
	code, out, errOut := run(t, "tokens", "--allow-list", allow, "--module", "/nonexistent/libp11.so")
	wantOut := "allow-list: " + allow + ", 0 modules\n" +
		"  to allow a module, compare its sha256 below with its vendor's, then add it with\n" +
		"  sha256sum MODULE >> " + allow + "\n" +
		"\nmodule /nonexistent/libp11.so\n  error: finding PKCS#11 module: lstat /nonexistent: no such file or directory\n"
	wantErr := "error: could not list module \"/nonexistent/libp11.so\"\n"
	if code != 3 || out != wantOut || errOut != wantErr {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

// TestWriteTokensEscapesEveryDeviceString: whatever field of a module, a
// slot, a token or a key holds a hostile string, the text output shows it
// as visible escapes (a module can report any manufacturer, model or
// description; SoftHSM lets a test set only the labels).
func TestWriteTokensEscapesEveryDeviceString(t *testing.T) {
	h := hostileLabel
	r := &tokensReport{
		Format:    tokensFormat,
		AllowList: tokensAllowList{File: "/etc/" + h, Present: true, Modules: []pkcs11AllowedModule{{Path: "/lib/" + h, SHA256: strings.Repeat("a", 64)}}},
		Modules: []tokensModule{
			{Path: "/lib/" + h, File: "/usr/lib/" + h, SHA256: strings.Repeat("a", 64), Library: h, NotAllowed: h, Loaded: true,
				Slots: []tokensSlot{
					{ID: 1, Description: h, Token: &tokensToken{Initialized: true, Label: h, Manufacturer: h, Model: h, Serial: h, PIN: "PIN ok",
						Keys: []tokensKey{{Label: h, ID: "01", Type: "ed25519", URI: "pkcs11:object=" + h}}}},
					{ID: 2, Description: h, Token: &tokensToken{Initialized: true, Label: h, Error: h}},
				}},
			{Path: "/lib/" + h, Error: h},
			{Path: "/lib/" + h, Loaded: true, Error: h},
		},
	}
	var b strings.Builder
	writeTokens(&b, r)
	if strings.ContainsAny(b.String(), "\x1b\u202e") {
		t.Errorf("raw escape or bidi override in the output:\n%s", b.String())
	}
	if n := strings.Count(b.String(), safeHostileLabel); n != 19 {
		t.Errorf("the hostile string is shown escaped %d times, want 19:\n%s", n, b.String())
	}
}
