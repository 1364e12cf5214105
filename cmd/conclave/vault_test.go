package main

import (
	"fmt"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	"github.com/rogpeppe/go-internal/testscript"
)

// scriptT lets vaulttest fail a script.
type scriptT struct{ ts *testscript.TestScript }

func (scriptT) Helper()             {}
func (s scriptT) Fatal(args ...any) { s.ts.Fatalf("%s", fmt.Sprint(args...)) }

// cmdVaultFixture: vaultfixture DIR writes a vault in DIR (which must not
// exist) holding the first generation of ceremony/vault/vaulttest's
// fixture: three holders, root versions 1 and 2, targets and claimed
// version 1, a rehearsal policy for repository "example".
func cmdVaultFixture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: vaultfixture DIR")
	}
	t := scriptT{ts}
	d, err := vaultdir.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	defer d.Close()
	_, err = d.WriteGeneration(vaulttest.New(t).Adopted(t))
	ts.Check(err)
}
