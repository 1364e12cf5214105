package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
	it "github.com/conclave-keys/conclave/intake/intaketest"
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

// cleanup removes what the benchmarks left, and runs atEnd, once
// everything has run.
type cleanup struct{ m *testing.M }

// atEnd stops what the tests share (the private pcscd).
var atEnd []func()

func (c cleanup) Run() int {
	code := c.m.Run()
	removeMediaBench()
	for _, f := range atEnd {
		f()
	}
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
			"vault":        cmdVault,
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

// cmdVault: vault NAME INTAKE.pub [HISTORY] writes a vault whose claimed
// role is the worked example's 7.claimed.json, accepting bundles from
// example.org signed by the intake key INTAKE.pub, remembering the
// history file HISTORY, and sets $NAME to its directory.
func cmdVault(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: vault NAME INTAKE.pub [HISTORY]")
	}
	var history []byte
	if len(args) == 3 {
		var err error
		history, err = os.ReadFile(ts.MkAbs(args[2]))
		ts.Check(err)
	}
	intakeKey, err := loadPublicKey(ts.MkAbs(args[1]))
	ts.Check(err)
	claimed, err := os.ReadFile(filepath.Join(examples, "7.claimed.json"))
	ts.Check(err)
	dir, err := os.MkdirTemp(ts.Getenv("WORK"), "vault")
	ts.Check(err)
	dir = filepath.Join(dir, "vault")
	writeImportVault(scriptTB{ts: ts}, dir, claimed, it.Key("claimed-owner").Key, intakeKey, "example.org", "", history)
	ts.Setenv(args[0], dir)
}

// scriptTB lets the test fixtures, written for a testing.TB, run in a
// script command: the few methods they call go to the script.
type scriptTB struct {
	testing.TB // nil: any other method panics, so a fixture needing it is noticed
	ts         *testscript.TestScript
}

func (s scriptTB) Helper()                        {}
func (s scriptTB) Fatal(args ...any)              { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) Fatalf(format string, a ...any) { s.ts.Fatalf(format, a...) }

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
