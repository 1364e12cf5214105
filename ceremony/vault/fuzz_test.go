package vault_test

import (
	"sort"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
)

// FuzzOpen replaces one file of an adopted vault (the manifest, the
// register, the binding, a root…) with the input, with the manifest
// written anew or not, and opens it: Open never panics, and a vault it
// accepts holds exactly the files its manifest lists.
func FuzzOpen(f *testing.F) {
	fx := vaulttest.New(f)
	files := fx.Adopted(f)
	var names []string
	for _, fl := range files {
		names = append(names, fl.Name)
		f.Add(uint8(len(names)-1), false, fl.Data)
	}
	sort.Strings(names)
	f.Add(uint8(0), true, []byte(`{"format":"conclave-vault-register/1","roles":{}}`))
	f.Fuzz(func(t *testing.T, which uint8, reseal bool, data []byte) {
		m := vault.NewMemReader(files)
		m[names[int(which)%len(names)]] = data
		if reseal && names[int(which)%len(names)] != vault.ManifestFile {
			m = vault.Reseal(m)
		}
		v, err := vault.Open(m)
		if err != nil {
			if _, ok := err.(*vault.OpenError); !ok {
				t.Fatalf("Open = %T %v, not an *OpenError", err, err)
			}
			return
		}
		if v.Hash != vault.SHA256Hex(m[vault.ManifestFile]) || len(v.Files()) != len(m) {
			t.Fatalf("opened vault: hash %s, %d files of %d", v.Hash, len(v.Files()), len(m))
		}
	})
}
