package intaketest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/internal/parallel"
)

// Bench is a large bundle for benchmarks: n add requests for projects
// "project-000000"…, 2 ed25519 developer keys each (threshold 2), each
// with its possession statement signed by both keys.
type Bench struct {
	Fixture *Fixture
	// Dir holds 7.claimed.json, intake.json (the intake key) and bundle/.
	Dir string
	// Msgs, Sigs and Keys are the 2n signature checks the bundle needs, for
	// a baseline of the checks alone.
	Msgs, Sigs [][]byte
	Keys       []*tuf.Key
}

// BundleDir is the bundle's directory.
func (b *Bench) BundleDir() string { return filepath.Join(b.Dir, "bundle") }

// CheckSignaturesAlone is the import benchmarks' yardstick: the bundle's
// 2n signature checks spread over every core, and nothing else.
func (b *Bench) CheckSignaturesAlone() {
	parallel.For(len(b.Msgs), 32, func(j int) {
		if err := b.Keys[j].Verify(b.Msgs[j], b.Sigs[j]); err != nil {
			panic(err)
		}
	})
}

// WriteBench writes a benchmark bundle of n requests into a new directory
// under parent ("" for the system's temporary directory). Signing uses
// ed25519.Sign directly, in parallel, to keep the set-up short.
func WriteBench(tb testing.TB, parent string, n int) (*Bench, error) {
	f := New(tb)
	tmp, err := os.MkdirTemp(parent, "conclave-bench-")
	if err != nil {
		return nil, err
	}
	b := &Bench{Fixture: f, Dir: tmp, Msgs: make([][]byte, 2*n), Sigs: make([][]byte, 2*n), Keys: make([]*tuf.Key, 2*n)}
	lines := make([][]byte, n)
	made := Now.Add(-time.Hour)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				var privs [2]ed25519.PrivateKey
				var keys [2]*tuf.Key
				for j := range privs {
					seed := sha256.Sum256([]byte(fmt.Sprintf("bench %d %d", i, j)))
					privs[j] = ed25519.NewKeyFromSeed(seed[:])
					keys[j], _ = tuf.KeyFromPublic(privs[j].Public())
				}
				d := &request.Draft{ID: fmt.Sprintf("r%06d", i), Kind: request.Add, Project: fmt.Sprintf("project-%06d", i),
					Keys: keys[:], Threshold: 2, Made: made, RequestedBy: "benchmark", BaseVersion: BaseVersion}
				st, _ := d.PossessionStatement()
				env := &envelope.Envelope{PayloadType: request.TypePossession, Payload: st.Payload()}
				pae := envelope.PAE(env.PayloadType, env.Payload)
				for j := range privs {
					sig := ed25519.Sign(privs[j], pae)
					env.Signatures = append(env.Signatures, envelope.Signature{KeyID: keys[j].ID(), Sig: sig})
					b.Msgs[2*i+j], b.Sigs[2*i+j], b.Keys[2*i+j] = pae, sig, keys[j]
				}
				d.Possession = env
				lines[i] = d.Encode()
			}
		}(w)
	}
	wg.Wait()
	if err := f.Pack("bench", lines...).Write(b.BundleDir()); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "7.claimed.json"), f.DelegatorBytes, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "intake.json"), f.Intake.Key.Canonical(), 0o644); err != nil {
		return nil, err
	}
	return b, nil
}
