package softkey

import (
	"testing"
)

// FuzzParse feeds hostile key files to Parse: it must never panic, and
// whatever it accepts must be a key Conclave signs with that survives a
// round trip. The seed corpus (testdata/fuzz/FuzzParse) holds a valid file
// for each key type, written with MinIterations and the passphrase "fuzz",
// and some refusal cases of TestParseRefuses. These keys are test data,
// never used for anything else.
func FuzzParse(f *testing.F) {
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), []byte("fuzz"))
	f.Fuzz(func(t *testing.T, pemBytes, passphrase []byte) {
		k, err := Parse(pemBytes, passphrase)
		if err != nil {
			return
		}
		if err := checkKey(k); err != nil {
			t.Fatalf("Parse accepted a key checkKey refuses: %v", err)
		}
		again, err := marshal(k, passphrase, MinIterations)
		if err != nil {
			t.Fatalf("re-marshal an accepted key: %v", err)
		}
		k2, err := Parse(again, passphrase)
		if err != nil {
			t.Fatalf("parse the re-marshalled key: %v", err)
		}
		if !publicEqual(k.Public(), k2.Public()) {
			t.Fatal("round trip changed the key")
		}
	})
}
