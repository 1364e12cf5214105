//go:build cgo

package pkcs11

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
)

func TestModulePolicy(t *testing.T) {
	needSoftHSM(t)
	resolved, sum, err := HashModule(softHSMPath)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name   string
		policy ModulePolicy
		reason string
	}{
		{"wrong hash", ModulePolicy{Allowed: []AllowedModule{{softHSMPath, wrong}}, Rehearsal: true},
			"the allow-list allows this path only with sha256 " + wrong + ": the library has changed"},
		{"other module", ModulePolicy{Allowed: []AllowedModule{{"/usr/lib/vendor/libhsm.so", sum}}, Rehearsal: true},
			"the allow-list allows only /usr/lib/vendor/libhsm.so"},
		{"empty policy", ModulePolicy{Rehearsal: true}, "the allow-list allows no PKCS#11 module"},
		{"SoftHSM outside rehearsal", ModulePolicy{Allowed: []AllowedModule{{softHSMPath, sum}}},
			"SoftHSM keeps its keys in files on disk and is allowed only in a rehearsal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(softHSMPath, c.policy)
			wantIs(t, err, ErrModuleNotAllowed)
			wantMsg(t, err, "PKCS#11 module "+resolved+" (sha256 "+sum+") is not allowed for a ceremony: "+c.reason)
			var me *ModuleError
			if !errors.As(err, &me) || me.SHA256 != sum {
				t.Fatalf("ModuleError = %+v", me)
			}
		})
	}
	_, err = Load("libsofthsm2.so", softhsm.policy)
	wantMsg(t, err, `PKCS#11 module path "libsofthsm2.so" must be absolute, so that the library loaded is the one named`)
	registry.Lock()
	n := len(registry.m)
	registry.Unlock()
	if n != 0 {
		t.Fatal("a refused module stayed loaded")
	}
}

// TestLoadUnchecked: a module outside the policy can be listed, with its
// hash, but its keys cannot sign or be generated.
func TestLoadUnchecked(t *testing.T) {
	label, k := keyOnNewToken(t)
	m, err := LoadUnchecked(softHSMPath)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	wantIs(t, m.Allowed(), ErrModuleNotAllowed)
	if !m.IsSoftHSM() || !strings.HasPrefix(m.Description(), "SoftHSM: ") {
		t.Fatalf("description %q", m.Description())
	}
	slots, err := m.Slots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range slots {
		if s.Token != nil && s.Token.Label == label {
			found = true
			if got := s.Token.PINState(); got != "PIN ok" {
				t.Errorf("PINState = %q", got)
			}
		}
	}
	if !found {
		t.Fatalf("token %s not listed", label)
	}
	sel, _ := parseURI(tokenURI(label))
	tok, err := m.OpenToken(context.Background(), sel, typedPIN(testUserPIN, &promptLog{}))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	keys, err := tok.Keys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	_, err = tok.Signer(context.Background(), k)
	wantIs(t, err, ErrModuleNotAllowed)
	_, err = tok.GenerateKey(context.Background(), hsm.GenerateOptions{Algorithm: hsm.Ed25519, Label: "x"})
	wantIs(t, err, ErrModuleNotAllowed)
}

// TestRefusedBeforeLoading: a module refused by the policy is never loaded
// (its code never runs): a file that is not a library at all is refused for
// its hash, not for failing to load.
func TestRefusedBeforeLoading(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "libvendor.so")
	if err := os.WriteFile(path, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	resolved, sum, err := HashModule(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x", sha256.Sum256([]byte("not a library"))); sum != want {
		t.Fatalf("hash %s, want %s", sum, want)
	}
	wrong := strings.Repeat("0", 64)
	_, err = Load(path, ModulePolicy{Allowed: []AllowedModule{{Path: path, SHA256: wrong}}})
	wantMsg(t, err, "PKCS#11 module "+resolved+" (sha256 "+sum+") is not allowed for a ceremony: the allow-list allows this path only with sha256 "+wrong+": the library has changed")
	_, err = Load(path, ModulePolicy{Allowed: []AllowedModule{{Path: path, SHA256: sum}}})
	wantMsg(t, err, "loading PKCS#11 module "+resolved+": not a PKCS#11 library (no C_GetFunctionList) or not loadable")
}
