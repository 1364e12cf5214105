package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/rogpeppe/go-internal/testscript"
)

// The command line is tested end to end by the scripts in
// testdata/script (testscript, as age does): each runs the real program —
// this test binary, started again under the name "conclave" — and checks
// its output and exit status. `status N conclave ARGS...` runs it and
// fails unless the exit status is exactly N.

func TestMain(m *testing.M) {
	testscript.Main(cleanup{m}, map[string]func(){"conclave": main})
}

// cleanup removes what the benchmarks left once everything has run.
type cleanup struct{ m *testing.M }

func (c cleanup) Run() int {
	code := c.m.Run()
	removeMediaBench()
	return code
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "cgo":
				return cgoEnabled, nil
			case "root":
				return os.Geteuid() == 0, nil
			case "tty":
				// The tests themselves run with a controlling terminal,
				// which the program would ask for a passphrase.
				f, err := os.Open("/dev/tty")
				if err == nil {
					f.Close()
				}
				return err == nil, nil
			}
			return false, errors.New("unknown condition " + strconv.Quote(cond))
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":       cmdStatus,
			"keygen":       cmdKeygen,
			"vaultfixture": cmdVaultFixture,
		},
		Setup: func(e *testscript.Env) error {
			examples, err := filepath.Abs(examples)
			if err != nil {
				return err
			}
			e.Setenv("EXAMPLES", examples)
			e.Setenv("GOOS", runtime.GOOS)
			return nil
		},
	})
}

// cmdKeygen: keygen NAME... writes NAME.key (an encrypted software key,
// passphrase "test passphrase", in the file "pass") and NAME.pub (its
// public key, PEM) for each NAME.
func cmdKeygen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: keygen NAME...")
	}
	pass := []byte("test passphrase")
	ts.Check(os.WriteFile(ts.MkAbs("pass"), append(pass, '\n'), 0o600))
	for _, name := range args {
		s, err := softkey.Generate(hsm.ECDSAP256)
		ts.Check(err)
		priv, err := softkey.Marshal(s, pass)
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(name+".key"), priv, 0o600))
		der, err := x509.MarshalPKIXPublicKey(s.Public())
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(name+".pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	}
}

// cmdStatus: status N PROGRAM ARGS... runs PROGRAM and checks that it
// exits with status exactly N (testscript's own exec tells only zero from
// non-zero).
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %q is not a number", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("status: %v", err)
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}
