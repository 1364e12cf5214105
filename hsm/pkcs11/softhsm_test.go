//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

// The tests run against SoftHSMv2 for real (Debian package softhsm2), with a
// configuration and token directory of their own in a temporary directory:
// never the machine's global tokens. SoftHSM reads SOFTHSM2_CONF at
// C_Initialize, so TestMain sets it before anything loads the module.

const softHSMPath = "/usr/lib/softhsm/libsofthsm2.so"

const (
	testSOPIN   = "so-pin-0000"
	testUserPIN = "user-pin-1234"
)

var softhsm struct {
	missing  string // why SoftHSM tests skip, when they do
	tokenDir string
	policy   ModulePolicy
	mu       sync.Mutex
	n        int
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if _, err := os.Stat(softHSMPath); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "FAIL: SoftHSMv2 module %s is missing (%v); CI must install the Debian package softhsm2\n", softHSMPath, err)
			return 1
		}
		softhsm.missing = fmt.Sprintf("SoftHSMv2 module %s is missing (%v): install the Debian package softhsm2 (with CI=true this is a failure)", softHSMPath, err)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "conclave-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	softhsm.tokenDir = filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.Mkdir(softhsm.tokenDir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+softhsm.tokenDir+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	_, sum, err := HashModule(softHSMPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	softhsm.policy = ModulePolicy{Allowed: []AllowedModule{{Path: softHSMPath, SHA256: sum}}, Rehearsal: true}
	return m.Run()
}

func needSoftHSM(t testing.TB) {
	t.Helper()
	if softhsm.missing != "" {
		t.Skip(softhsm.missing)
	}
}

// newSoftToken initialises a fresh SoftHSM token through PKCS#11 itself
// (C_InitToken, SO login, C_InitPIN) and returns its label. Each test gets
// its own token, so tests do not see each other's keys.
func newSoftToken(t testing.TB) string {
	t.Helper()
	needSoftHSM(t)
	m, err := Load(softHSMPath, softhsm.policy)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	softhsm.mu.Lock()
	softhsm.n++
	label := fmt.Sprintf("t%03d", softhsm.n)
	defer softhsm.mu.Unlock()
	if _, err := m.InitRehearsalToken(label, []byte(testSOPIN), []byte(testUserPIN)); err != nil {
		t.Fatal(err)
	}
	return label
}

// tokenURI selects a test token by label.
func tokenURI(label string) string {
	u := uri.New()
	u.Set(uri.Token, label)
	u.Set(uri.ModulePath, softHSMPath)
	return u.String()
}

// promptLog records what the backend asked.
type promptLog struct {
	mu       sync.Mutex
	pins     []hsm.PINRequest
	confirms []string
	touches  int
}

func (l *promptLog) pinCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pins)
}

// typedPIN returns prompts that "type" pin, and record every request.
func typedPIN(pin string, log *promptLog) hsm.Prompts {
	return hsm.Prompts{
		PIN: func(ctx context.Context, req hsm.PINRequest) ([]byte, error) {
			log.mu.Lock()
			defer log.mu.Unlock()
			log.pins = append(log.pins, req)
			return []byte(pin), nil
		},
		Confirm: func(ctx context.Context, q string) (bool, error) {
			log.mu.Lock()
			defer log.mu.Unlock()
			log.confirms = append(log.confirms, q)
			return true, nil
		},
		Touch: func(token string, done <-chan struct{}) {
			log.mu.Lock()
			log.touches++
			log.mu.Unlock()
		},
	}
}

// openSoft opens a test token and closes it at the end of the test.
func openSoft(t testing.TB, label string, p hsm.Prompts) *Token {
	t.Helper()
	tok, err := Open(context.Background(), tokenURI(label), softhsm.policy, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok
}

// generate makes a key on a token and fails the test if it cannot.
func generate(t testing.TB, tok *Token, alg hsm.Algorithm, label string) hsm.KeyInfo {
	t.Helper()
	k, err := tok.GenerateKey(context.Background(), hsm.GenerateOptions{Algorithm: alg, Label: label})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withAPI gives a token a different api (a fake wrapping the real module).
func withAPI(tok *Token, wrap func(api) api) {
	tok.mu.Lock()
	defer tok.mu.Unlock()
	tok.mod.api = wrap(tok.mod.api)
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v\nwant one that is %v", err, target)
	}
}

func wantMsg(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant      %s", err, want)
	}
}
