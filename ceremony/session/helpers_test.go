package session

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/softkey"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// memoryAppender is a fake of the log's storage: lines kept in memory.
// With failAt > 0, the failAt-th append fails, as a pulled medium would.
type memoryAppender struct {
	lines  [][]byte
	failAt int
	calls  int
}

func (a *memoryAppender) Append(line []byte) error {
	a.calls++
	if a.failAt > 0 && a.calls == a.failAt {
		return errors.New("the medium was pulled out")
	}
	a.lines = append(a.lines, append([]byte(nil), line...))
	return nil
}

func (a *memoryAppender) bytes() []byte {
	var out []byte
	for _, l := range a.lines {
		out = append(append(out, l...), '\n')
	}
	return out
}

// memoryBlobs is a fake of the blob store beside the log.
type memoryBlobs map[string][]byte

func (b memoryBlobs) Put(data []byte) (string, error) {
	sum := bundle.SumHex(data)
	b[sum] = append([]byte(nil), data...)
	return sum, nil
}

func (b memoryBlobs) Get(sum string) ([]byte, error) {
	data, ok := b[sum]
	if !ok {
		return nil, fmt.Errorf("no blob %s", sum)
	}
	if bundle.SumHex(data) != sum {
		return nil, fmt.Errorf("blob %s is damaged", sum)
	}
	return data, nil
}

// secretPIN is the PIN the token fake holds: it must never reach the log.
const secretPIN = "PIN-7319-secret"

// fakeTokens hands out the holders' software keys. It stands for the
// caller's token layer; the PIN it checks stays inside it.
type fakeTokens struct {
	keys  map[string]crypto.Signer // keyid → key
	asked map[string]int           // holder → times asked
	fail  map[string]error         // holder → error for the next ask
	tries int
}

func (f *fakeTokens) Signer(ctx context.Context, h policy.Holder, k policy.HolderKey) (Signer, error) {
	f.asked[h.Name]++
	if err := f.fail[h.Name]; err != nil {
		delete(f.fail, h.Name)
		return nil, err
	}
	s := f.keys[k.KeyID]
	if s == nil {
		return nil, fmt.Errorf("%w: no token for key %s", hsm.ErrKeyNotFound, k.KeyID)
	}
	return &fakeSigner{Signer: s, pin: secretPIN, tries: &f.tries, name: "softkey of " + h.Name}, nil
}

type fakeSigner struct {
	crypto.Signer
	pin   string
	tries *int
	name  string
}

func (s *fakeSigner) Describe() string  { return s.name }
func (s *fakeSigner) PINTriesLeft() int { return *s.tries }

// fixture is a vault, a bundle and the tokens of three holders.
type fixture struct {
	t      testing.TB
	f      *intaketest.Fixture
	vault  *vault.Vault
	tokens *fakeTokens
	bundle string // bundle directory
	now    time.Time
}

var holderNames = []string{"alice", "bob", "carol"}

func newFixture(t *testing.T) *fixture {
	return newFixtureKeys(t, softkeys)
}

// softkeys makes each holder an ECDSA P-256 software key, as a YubiKey
// holds.
func softkeys(t testing.TB, holder string) crypto.Signer {
	s, err := softkey.Generate(hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newFixtureKeys is newFixture with the holders' keys made by keys.
func newFixtureKeys(t *testing.T, keys func(t testing.TB, holder string) crypto.Signer) *fixture {
	t.Helper()
	f := intaketest.New(t)
	fx := newVault(t, f, keys)
	// r-rotate and r-remove may be approved together; r-add needs
	// judgement (its keys were never published); r-bad is invalid.
	drafts := intaketest.Lines(
		f.Rotate(t, "r-rotate", "existing-b", []string{"b1"}, "b2"),
		f.Remove(t, "r-remove", "existing-a", "a1", "a2"),
		f.Add(t, "r-add", "fresh", "n1"),
		f.Recover(t, "r-bad", "ghost"),
	)
	fx.bundle = filepath.Join(t.TempDir(), "bundle")
	if err := f.Pack("bundle-0001", drafts...).Write(fx.bundle); err != nil {
		t.Fatal(err)
	}
	return fx
}

// newVault makes the vault of the intaketest fixture: its claimed role,
// delegated by a top-level targets to three holders (threshold 2), each
// with a software key.
func newVault(t testing.TB, f *intaketest.Fixture, holderKey func(t testing.TB, holder string) crypto.Signer) *fixture {
	fx := &fixture{t: t, f: f, now: intaketest.Now, tokens: &fakeTokens{keys: map[string]crypto.Signer{}, asked: map[string]int{}, fail: map[string]error{}, tries: 3}}
	pol := &policy.Policy{
		Repository:     f.Rules.Repository,
		IntakeKeys:     []*tuf.Key{f.Intake.Key},
		DelegatingRole: "claimed",
		Roles:          map[string]policy.RolePolicy{"claimed": {Expiry: 90 * 24 * time.Hour, Warning: 14 * 24 * time.Hour}},
		Rules:          f.Rules,
		Preflight:      policy.Preflight{Required: []string{"network.interfaces", "radio.rfkill"}},
	}
	keys := map[string]*tuf.Key{}
	var ids []string
	for _, name := range holderNames {
		s := holderKey(t, name)
		k, err := tuf.KeyFromPublic(s.Public())
		if err != nil {
			t.Fatal(err)
		}
		keys[k.ID()] = k
		ids = append(ids, k.ID())
		fx.tokens.keys[k.ID()] = s
		pol.Holders = append(pol.Holders, policy.Holder{Name: name, Keys: []policy.HolderKey{{KeyID: k.ID(), Token: policy.TokenSoftkey, URI: "softkey:path=/keys/" + name + ".key.pem"}}})
	}
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}, Delegations: &tuf.Delegations{Keys: keys, Roles: []*tuf.DelegatedRole{
		{Name: "claimed", KeyIDs: ids, Threshold: 2, Paths: []string{"*/*"}},
	}}}
	top.Version, top.Expires = 3, tuf.NewExpiry(fx.now.AddDate(1, 0, 0))
	topFile, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	fx.vault = &vault.Vault{
		Generation:   "gen-000004",
		Hash:         bundle.SumHex([]byte("generation 4")),
		Targets:      topFile,
		Delegators:   map[string]*tuf.File{"claimed": f.Delegator},
		Policy:       pol,
		PolicyBytes:  []byte("the policy file"),
		Register:     vault.Register{"claimed": {intaketest.BaseVersion: bundle.SumHex(f.Delegator.SignedBytes())}},
		LastCeremony: fx.now.AddDate(0, -1, 0),
	}
	return fx
}

// deps returns fresh storage fakes and a log on them.
func (fx *fixture) deps() (Deps, *memoryAppender, memoryBlobs) {
	a := &memoryAppender{}
	blobs := memoryBlobs{}
	return Deps{Vault: fx.vault, Log: transcript.New(a, "ceremony-test-1"), Blobs: blobs, Tokens: fx.tokens, Now: func() time.Time { return fx.now }}, a, blobs
}

func (fx *fixture) open(d Deps) *Session {
	fx.t.Helper()
	s, err := Open(d, Opening{ConclaveVersion: "v0.test", BinarySHA256: bundle.SumHex([]byte("binary")), Participants: holderNames, Witnesses: []string{"wendy"}})
	if err != nil {
		fx.t.Fatal(err)
	}
	return s
}

func passingChecks() []Check {
	return []Check{
		{ID: "network.interfaces", Status: CheckPass, Message: "no interface is up"},
		{ID: "radio.rfkill", Status: CheckPass, Message: "every radio is blocked"},
		{ID: "clock", Status: CheckConfirm, Message: "compare the clock"},
	}
}

// step drives a ceremony one action on from where it stands, as people
// would; it returns false once the ceremony is closed.
func (fx *fixture) step(s *Session) bool {
	fx.t.Helper()
	var err error
	switch s.State() {
	case StatePreflight:
		if !s.preflightOK {
			err = s.Preflight(passingChecks(), nil)
		} else {
			err = s.ConfirmClock(fx.now, "wendy")
		}
	case StateImport:
		err = s.Import(intaketest.DirSource{Dir: fx.bundle})
	case StateReview:
		nj, ra := s.Undecided()
		switch {
		case nj > 0:
			for _, v := range s.Report().Requests {
				if _, done := s.Decision(v.RequestID); !done && v.Class == verdict.NeedsJudgement {
					err = s.Decide(v.RequestID, Approve, "", "alice")
					break
				}
			}
		case ra > 0:
			err = s.BulkApprove(ra, "bob")
		default:
			err = s.Build()
		}
	case StateBuild:
		_, err = s.SignAs(context.Background(), "alice")
	case StateSign:
		done := true
		for _, p := range s.Progress() {
			done = done && p.Complete()
		}
		if !done {
			_, err = s.SignAs(context.Background(), "bob")
			break
		}
		var files []exportFile
		if files, err = fx.export(s); err == nil {
			hashes := map[string]string{}
			for _, f := range files {
				hashes[f.name] = bundle.SumHex(f.data)
			}
			err = s.Exported(hashes)
		}
	case StateExport:
		_, err = s.Close()
	case StateClosed:
		return false
	default:
		fx.t.Fatalf("unexpected state %s", s.State())
	}
	if err != nil {
		fx.t.Fatalf("in state %s: %v", s.State(), err)
	}
	return true
}

type exportFile struct {
	name string
	data []byte
}

func (fx *fixture) export(s *Session) ([]exportFile, error) {
	files, err := s.ExportFiles()
	if err != nil {
		return nil, err
	}
	out := make([]exportFile, len(files))
	for i, f := range files {
		out[i] = exportFile{f.Name, f.Data}
	}
	return out, nil
}

// run drives a ceremony to its close.
func (fx *fixture) run(s *Session) {
	fx.t.Helper()
	for i := 0; fx.step(s); i++ {
		if i > 100 {
			fx.t.Fatal("the ceremony does not end")
		}
	}
}
