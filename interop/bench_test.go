package interop

// Verification cost of a large delegating role, go-tuf against Conclave,
// on the same bytes. Run with:
//
//	go test -run '^$' -bench Claimed -benchtime 1x -benchmem
//
// Both benchmarks time what a verifier does with the file as it arrives:
// parse the bytes, then count the delegator's signatures over the signed
// part.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// claimedFixture is a claimed-like role (terminating project delegations,
// two ed25519 keys each, threshold 2) signed by 2 of the 3 keys top-level
// targets delegates "claimed" to, as the rehearsal does.
type claimedFixture struct {
	roles        int
	claimed      []byte
	top          []byte // top-level targets delegating "claimed"
	topConclave  *tuf.Targets
	topGoTUF     *metadata.Metadata[metadata.TargetsType]
	holderKeyIDs []string
}

// projectKey derives a deterministic ed25519 public key, so that the
// fixture costs key derivation, not entropy.
func projectKey(i int) (*tuf.Key, error) {
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	seed = sha256.Sum256(seed[:])
	pub := ed25519.NewKeyFromSeed(seed[:]).Public()
	return tuf.KeyFromPublic(pub)
}

func makeClaimed(tb testing.TB, roles int) *claimedFixture {
	tb.Helper()
	ks := keys(tb)
	holders := []testKey{ks.ed1, ks.ed2, ks.ed3}

	projects := make([]delegation.Project, roles)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < roles; i += workers {
				a, err := projectKey(2 * i)
				if err != nil {
					errs[w] = err
					return
				}
				b, err := projectKey(2*i + 1)
				if err != nil {
					errs[w] = err
					return
				}
				projects[i] = delegation.Project{Name: fmt.Sprintf("project-%06d", i), Keys: []*tuf.Key{a, b}, Threshold: 2}
			}
		}(w)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	claimed, err := delegation.Build(projects, "{name}/*", []string{"claimed"}, 1, expires)
	if err != nil {
		tb.Fatal(err)
	}

	top := conclaveTargets(1)
	top.Delegations = &tuf.Delegations{Keys: keyMap(holders...), Roles: []*tuf.DelegatedRole{{
		Name: "claimed", KeyIDs: ids(holders...), Threshold: 2, Terminating: false, Paths: []string{"*/*"},
	}}}
	topFile := newTargetsFile(tb, top)
	claimedFile := newTargetsFile(tb, claimed)
	signConclave(tb, claimedFile, top.Delegations.Keys, ks.ed1, ks.ed2)

	fx := &claimedFixture{roles: roles, claimed: claimedFile.Bytes(), top: topFile.Bytes(), topConclave: top, holderKeyIDs: ids(ks.ed1, ks.ed2)}
	fx.topGoTUF = gotufTargets(tb, fx.top)
	return fx
}

var (
	bench100kOnce sync.Once
	bench100k     *claimedFixture
)

const benchRoles = 100_000

func claimed100k(b *testing.B) *claimedFixture {
	bench100kOnce.Do(func() { bench100k = makeClaimed(b, benchRoles) })
	if bench100k == nil {
		b.Fatal("fixture failed in an earlier benchmark")
	}
	return bench100k
}

func goTUFVerifyClaimed(fx *claimedFixture) error {
	m, err := metadata.Targets().FromBytes(fx.claimed)
	if err != nil {
		return err
	}
	if n := len(m.Signed.Delegations.Roles); n != fx.roles {
		return fmt.Errorf("go-tuf read %d roles, want %d", n, fx.roles)
	}
	return fx.topGoTUF.VerifyDelegate("claimed", m)
}

func conclaveVerifyClaimed(fx *claimedFixture) (*tuf.ThresholdResult, error) {
	f, err := tuf.Parse("claimed.json", fx.claimed)
	if err != nil {
		return nil, err
	}
	if n := len(f.Targets.Delegations.Roles); n != fx.roles {
		return nil, fmt.Errorf("conclave read %d roles, want %d", n, fx.roles)
	}
	return f.VerifyDelegated(fx.topConclave, "claimed")
}

// TestClaimedFixture runs the benchmarks' code on a small file, so that it
// is known to be right whenever the tests pass.
func TestClaimedFixture(t *testing.T) {
	fx := makeClaimed(t, 1000)
	if err := goTUFVerifyClaimed(fx); err != nil {
		t.Fatalf("go-tuf: %v", err)
	}
	res, err := conclaveVerifyClaimed(fx)
	wantConclaveThreshold(t, res, err, fx.holderKeyIDs)
}

// BenchmarkGoTUFVerifyClaimed100k: go-tuf parses the 100,000-role file and
// verifies it against the delegating targets (VerifyDelegate).
func BenchmarkGoTUFVerifyClaimed100k(b *testing.B) {
	fx := claimed100k(b)
	b.SetBytes(int64(len(fx.claimed)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := goTUFVerifyClaimed(fx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConclaveVerifyClaimed100k: Conclave parses the same bytes and
// verifies them against the same delegation (VerifyDelegated).
func BenchmarkConclaveVerifyClaimed100k(b *testing.B) {
	fx := claimed100k(b)
	b.SetBytes(int64(len(fx.claimed)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := conclaveVerifyClaimed(fx); err != nil {
			b.Fatal(err)
		}
	}
}
