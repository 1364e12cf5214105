//go:build cgo

package pkcs11

import (
	"context"
	"os"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
)

// TestRealHSM signs with a key on a real HSM, when the environment names
// one. It loads the module under a non-rehearsal policy (SoftHSM is refused
// here), finds the key by its URI, signs TUF bytes and verifies them. It
// creates nothing on the HSM.
//
//	CONCLAVE_TEST_PKCS11_MODULE=/usr/lib/vendor/libpkcs11.so
//	CONCLAVE_TEST_PKCS11_KEY='pkcs11:token=…;object=…;type=private'
//	CONCLAVE_TEST_PKCS11_PIN=…   (a test token's PIN; not needed with a PIN pad)
func TestRealHSM(t *testing.T) {
	module, key := os.Getenv("CONCLAVE_TEST_PKCS11_MODULE"), os.Getenv("CONCLAVE_TEST_PKCS11_KEY")
	if module == "" || key == "" {
		t.Skip("no real HSM named: set CONCLAVE_TEST_PKCS11_MODULE to its PKCS#11 library, CONCLAVE_TEST_PKCS11_KEY to a key's pkcs11: URI and, unless it has a PIN pad, CONCLAVE_TEST_PKCS11_PIN")
	}
	_, sum, err := HashModule(module)
	if err != nil {
		t.Fatal(err)
	}
	policy := ModulePolicy{Allowed: []AllowedModule{{Path: module, SHA256: sum}}}
	pin := os.Getenv("CONCLAVE_TEST_PKCS11_PIN")
	prompts := hsm.Prompts{
		PIN: func(_ context.Context, r hsm.PINRequest) ([]byte, error) {
			t.Logf("PIN requested for %s (count low %v, final try %v, PIN pad %v)", r.Token, r.CountLow, r.FinalTry, r.PINPad)
			if r.PINPad {
				return nil, nil
			}
			return []byte(pin), nil
		},
		// A real HSM on its final try is not worth risking in a test.
		Confirm: func(context.Context, string) (bool, error) { return false, nil },
		Touch:   func(token string, done <-chan struct{}) { t.Logf("waiting for %s", token) },
	}
	ctx := context.Background()
	tok, k, err := OpenKey(ctx, key, policy, prompts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := tok.Close(); err != nil {
			t.Error(err)
		}
	}()
	t.Logf("%s: key %q (%s), %s", tok.Describe(), k.Label, KeyType(k.Public), tok.Status().PINState())
	s, err := tok.Signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := TUFKey(k)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(`{"_type":"targets","version":1}`)
	sig, err := tuf.SignMessage(s, tk, msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Verify(msg, sig); err != nil {
		t.Fatal(err)
	}
}
