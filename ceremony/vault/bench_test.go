package vault_test

import (
	"fmt"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
)

// BenchmarkOpen opens a generation whose claimed role holds 100,000
// entries (some 20 MB, the size of a large repository's delegations):
// every file is hashed, and every signature checked, once.
func BenchmarkOpen(b *testing.B) {
	fx := vaulttest.New(b)
	big := vaulttest.Claimed(b, 1)
	big.Targets.Targets = make(map[string]*tuf.TargetFile, 100_000)
	for i := range 100_000 {
		big.Targets.Targets[fmt.Sprintf("project-%06d/project-%06d-1.0.tar.gz", i, i)] = &tuf.TargetFile{
			Length: int64(i), Hashes: map[string]string{"sha256": vault.SHA256Hex([]byte(fmt.Sprint(i)))},
		}
	}
	c, err := tuf.NewTargetsFile(big.Targets)
	if err != nil {
		b.Fatal(err)
	}
	vaulttest.Sign(b, c, fx.Targets.Targets.Delegations.Keys, fx.Holders[0], fx.Holders[1])
	in := fx.Input(b)
	in.Roles["claimed"] = c.Bytes()
	files, err := vault.Adopt(in)
	if err != nil {
		b.Fatal(err)
	}
	m := vault.NewMemReader(files)
	b.SetBytes(int64(len(in.Roles["claimed"])))
	b.ResetTimer()
	for range b.N {
		if _, err := vault.Open(m); err != nil {
			b.Fatal(err)
		}
	}
}
