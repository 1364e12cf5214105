package session

import (
	"crypto"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/conclave-keys/conclave/intake/intaketest"
)

var update = flag.Bool("update", false, "rewrite the example log in docs/formats/examples")

// exampleLog is a whole ceremony's log, for auditors to read beside
// docs/formats/transcript.md ("Events").
var exampleLog = filepath.Join("..", "..", "docs", "formats", "examples", "ceremony", "log.jsonl")

// The example log in the documentation is the log this code writes: the
// same ceremony with fixed keys and clock gives the same bytes.
func TestExampleLog(t *testing.T) {
	fx := newFixtureKeys(t, func(t testing.TB, holder string) crypto.Signer {
		return intaketest.Key("example holder " + holder).Signer
	})
	d, a, _ := fx.deps()
	fx.run(fx.open(d))
	if *update {
		if err := os.WriteFile(exampleLog, a.bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(exampleLog)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(a.bytes()) {
		t.Errorf("the ceremony's log is not %s (go test -run TestExampleLog -update rewrites it):\n%s", exampleLog, a.bytes())
	}
}
