package session

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/delegation"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// shardHolders are the sharded vault's holders, as its policy names them.
var shardHolders = []string{"Holder 1", "Holder 2", "Holder 3"}

// sharded is a vault adopted with claimed in three shards at different
// versions: claimed-a (prefix "a", version 3: "alpha"), claimed-b
// (prefix "b", version 5: "beta") and claimed-rest (prefix "", version 1:
// "zeta", "omega").
type sharded struct {
	vx     *vaulttest.Fixture
	vault  *vault.Vault
	tokens *fakeTokens
	intake intake.Signer
}

func project(name string, keys ...string) delegation.Project {
	p := delegation.Project{Name: name, Threshold: int64(len(keys))}
	for _, k := range keys {
		p.Keys = append(p.Keys, intaketest.Key(k).Key)
	}
	return p
}

func newSharded(t testing.TB) *sharded {
	t.Helper()
	sx := &sharded{intake: intaketest.Key("intake")}
	sx.vx = vaulttest.NewSharded(t, sx.intake.Key, []vaulttest.Shard{
		{Role: "claimed-a", Prefixes: []string{"a"}, Version: 3, Projects: []delegation.Project{project("alpha", "a1")}},
		{Role: "claimed-b", Prefixes: []string{"b"}, Version: 5, Projects: []delegation.Project{project("beta", "b1")}},
		{Role: "claimed-rest", Prefixes: []string{""}, Projects: []delegation.Project{project("zeta", "z1"), project("omega", "t1")}},
	})
	return sx.open(t)
}

// open opens the sharded fixture's vault, adopted.
func (sx *sharded) open(t testing.TB) *sharded {
	t.Helper()
	v, err := vault.Open(vault.NewMemReader(sx.vx.Adopted(t)))
	if err != nil {
		t.Fatal(err)
	}
	sx.vault = v
	sx.tokens = &fakeTokens{keys: map[string]crypto.Signer{}, asked: map[string]int{}, fail: map[string]error{}, tries: 3}
	for _, h := range sx.vx.Holders {
		sx.tokens.keys[h.Key.ID()] = h.Signer
	}
	return sx
}

// draft is a request of kind against base (the version it is bound to),
// its possession signed by the named keys; a rotation is authorised by
// authBy, the project's current keys in the role that delegates it.
func (sx *sharded) draft(t testing.TB, kind request.Kind, id, name string, base int64, keys []string, authBy ...string) []byte {
	t.Helper()
	var ks []*tuf.Key
	var ss []intake.Signer
	for _, k := range keys {
		ss = append(ss, intaketest.Key(k))
		ks = append(ks, ss[len(ss)-1].Key)
	}
	d, err := intake.NewDraft(intake.Request{ID: id, Kind: kind, Project: name, Keys: ks, Threshold: int64(len(ks)), Made: vaulttest.Now.Add(-time.Hour), RequestedBy: "shard test", BaseVersion: base})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) > 0 {
		if err := intake.SignPossession(d, ss); err != nil {
			t.Fatal(err)
		}
	}
	if len(authBy) > 0 {
		role := sx.vault.Policy.ShardFor(name)
		var cur *tuf.DelegatedRole
		for _, r := range sx.vault.Delegators[role].Targets.Delegations.Roles {
			if r.Name == name {
				cur = r
			}
		}
		env, err := intake.KeyChange(name, base, cur, ks, int64(len(ks)))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range authBy {
			if err := intake.SignEnvelope(env, intaketest.Key(a)); err != nil {
				t.Fatal(err)
			}
		}
		d.Authorisation = env
	}
	return d.Encode()
}

// pack writes a bundle of the files against bases.
func (sx *sharded) pack(t testing.TB, id string, bases []bundle.Base, files ...[]byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	p := &intake.Pack{BundleID: id, Source: sx.vault.Policy.Repository, Created: vaulttest.Now.Add(-time.Hour), Bases: bases, Requests: files, Intake: sx.intake}
	if err := p.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (sx *sharded) bases(t testing.TB) []bundle.Base {
	t.Helper()
	trust, _, err := ImportTrust(sx.vault)
	if err != nil {
		t.Fatal(err)
	}
	return trust.Bases
}

// start opens a ceremony on the vault and takes it to the import.
func (sx *sharded) start(t testing.TB) (*Session, *memoryAppender) {
	t.Helper()
	a := &memoryAppender{}
	d := Deps{Vault: sx.vault, Log: transcript.New(a, "ceremony-shards-1"), Blobs: memoryBlobs{}, Tokens: sx.tokens, Now: func() time.Time { return vaulttest.Now }}
	s, err := Open(d, Opening{ConclaveVersion: "v0.test", BinarySHA256: bundle.SumHex([]byte("binary")), Participants: shardHolders, Witnesses: []string{"wendy"}, Rehearsal: true, RehearsalReason: "test vault"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Preflight(passingChecks(), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmClock(vaulttest.Now, "wendy"); err != nil {
		t.Fatal(err)
	}
	return s, a
}

// TestShardedCeremony: a bundle against a vault whose claimed is split
// into shards is judged against every shard — a statement bound to its
// own shard's version holds, one bound to another shard's version is
// refused, an add for a project delegated now is a takeover —
// and only the shards with approved changes are built, signed, exported
// and written to the next generation.
func TestShardedCeremony(t *testing.T) {
	sx := newSharded(t)
	dir := sx.pack(t, "bundle-shards-1", sx.bases(t),
		sx.draft(t, request.Add, "r-avocado", "avocado", 3, []string{"n1"}),
		sx.draft(t, request.Rotate, "r-beta", "beta", 5, []string{"b2"}, "b1"),
		// claimed-b's version, but aardvark falls to claimed-a (version 3).
		sx.draft(t, request.Add, "r-aardvark", "aardvark", 5, []string{"n2"}),
		// omega is delegated now, by claimed-rest.
		sx.draft(t, request.Add, "r-omega", "omega", 1, []string{"n3"}),
	)
	s, _ := sx.start(t)
	if err := s.Import(intaketest.DirSource{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	byID := map[string]verdict.Verdict{}
	for _, v := range s.Report().Requests {
		byID[v.RequestID] = v
	}
	for id, want := range map[string]string{
		"r-avocado":  "needs-judgement [no-dwell]",
		"r-beta":     "rule-approvable []",
		"r-aardvark": "invalid [possession-wrong-base]",
		"r-omega":    "invalid [takeover-add]",
	} {
		v := byID[id]
		if got := string(v.Class) + " [" + strings.Join(codes(v), " ") + "]"; got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	if got := byID["r-aardvark"].Findings[0].Sentence; got != "The possession statement was signed for version 5 of the delegating metadata, but the trusted version of claimed-a, the role that delegates this project, is 3; an old statement cannot be reused, so the developer must sign it again for version 3." {
		t.Errorf("aardvark: %s", got)
	}
	for _, id := range []string{"r-avocado", "r-beta"} {
		if err := s.Decide(id, Approve, "", "Holder 1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"r-aardvark", "r-omega"} {
		if _, done := s.Decision(id); done {
			t.Fatalf("%s decided", id)
		}
	}
	if err := s.Build(); err != nil {
		t.Fatal(err)
	}
	cards, _ := s.Cards()
	var built []string
	for _, c := range cards {
		built = append(built, fmt.Sprintf("%s %d", c.Role, c.Version))
	}
	if got := strings.Join(built, ", "); got != "claimed-a 4, claimed-b 6" {
		t.Fatalf("built %s, want claimed-a 4, claimed-b 6 (claimed-rest unchanged)", got)
	}
	for _, h := range shardHolders[:2] {
		if _, err := s.SignAs(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	files, err := s.ExportFiles()
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[string]string{}
	var names []string
	for _, f := range files {
		hashes[f.Name] = bundle.SumHex(f.Data)
		names = append(names, f.Name)
	}
	slices.Sort(names)
	if !slices.Contains(names, "4.claimed-a.json") || !slices.Contains(names, "6.claimed-b.json") || slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, "claimed-rest") }) {
		t.Fatalf("exported %v", names)
	}
	if err := s.Exported(hashes); err != nil {
		t.Fatal(err)
	}
	u, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	next, err := sx.vault.Next(*u)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := vault.Open(vault.NewMemReader(next))
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[string]int64{"claimed-a": 4, "claimed-b": 6, "claimed-rest": 1} {
		if got := v2.Delegators[role].Version(); got != want {
			t.Errorf("next generation: %s version %d, want %d", role, got, want)
		}
	}
}

// TestShardedBundleWrongShardVersion: a bundle that names an older
// version of one shard is refused, naming that shard, and nothing is
// recorded.
func TestShardedBundleWrongShardVersion(t *testing.T) {
	sx := newSharded(t)
	bases := sx.bases(t)
	bases[1].Version = 4 // claimed-b
	dir := sx.pack(t, "bundle-shards-2", bases, sx.draft(t, request.Add, "r-avocado", "avocado", 3, []string{"n1"}))
	s, a := sx.start(t)
	lines := len(a.bytes())
	err := s.Import(intaketest.DirSource{Dir: dir})
	var be *verdict.BundleError
	if !errors.As(err, &be) || be.Code != verdict.BundleBaseMismatch ||
		!strings.HasPrefix(be.Sentence, "the requests were made against claimed-b version 4 (SHA-256 ") || !strings.Contains(be.Sentence, "but the trusted claimed-b is version 5 (SHA-256 ") {
		t.Fatalf("got %v, want %s naming claimed-b", err, verdict.BundleBaseMismatch)
	}
	if len(a.bytes()) != lines || s.State() != StateImport {
		t.Errorf("a refused bundle changed the ceremony: state %s", s.State())
	}
}

func codes(v verdict.Verdict) []string {
	var out []string
	for _, c := range v.Codes() {
		out = append(out, string(c))
	}
	return out
}

// BenchmarkShardedCeremony: claimed in 32 shards (prefixes "a"–"z",
// "0"–"4" and ""), each delegating 1,000 projects; a bundle of 500
// changes (450 adds whose keys were published a month before, 50
// authorised rotations), all in 4 of the shards. One op is a ceremony
// from the opening to the export files: import and judge against every
// shard, one bulk approval, build, two holders signing, export. Only the
// 4 changed shards are built and signed.
func BenchmarkShardedCeremony(b *testing.B) {
	const perShard, adds, rotations = 1000, 450, 50
	var prefixes []string
	for c := 'a'; c <= 'z'; c++ {
		prefixes = append(prefixes, string(c))
	}
	prefixes = append(prefixes, "0", "1", "2", "3", "4", "")
	// nameIn is project i of the shard with prefix p ("9…" falls to "").
	nameIn := func(p string, i int) string {
		if p == "" {
			p = "9"
		}
		return fmt.Sprintf("%sproj%05d", p, i)
	}
	var shards []vaulttest.Shard
	for _, p := range prefixes {
		role := "claimed-" + p
		if p == "" {
			role = "claimed-rest"
		}
		s := vaulttest.Shard{Role: role, Prefixes: []string{p}, Version: 2}
		for i := range perShard {
			s.Projects = append(s.Projects, project(nameIn(p, i), "k-"+nameIn(p, i)))
		}
		shards = append(shards, s)
	}
	sx := &sharded{intake: intaketest.Key("intake")}
	sx.vx = vaulttest.NewSharded(b, sx.intake.Key, shards)
	sx.open(b)
	changed := []string{"a", "b", "c", "d"}
	var files [][]byte
	published := map[string]map[string]time.Time{}
	for i := range adds {
		p := changed[i%len(changed)]
		name := nameIn(p, perShard+i)
		f := sx.draft(b, request.Add, fmt.Sprintf("r-add-%03d", i), name, 2, []string{"new-" + name})
		files = append(files, f)
		published[name] = map[string]time.Time{request.NewKeyset([]string{intaketest.Key("new-" + name).Key.ID()}, 1).Hash(): vaulttest.Now.AddDate(0, -1, 0)}
	}
	for i := range rotations {
		p := changed[i%len(changed)]
		name := nameIn(p, i)
		files = append(files, sx.draft(b, request.Rotate, fmt.Sprintf("r-rot-%03d", i), name, 2, []string{"new-" + name}, "k-"+name))
	}
	sx.vault.History.Published = published
	dir := sx.pack(b, "bundle-shards-bench", sx.bases(b), files...)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, _ := sx.start(b)
		if err := s.Import(intaketest.DirSource{Dir: dir}); err != nil {
			b.Fatal(err)
		}
		if nj, ra := s.Undecided(); nj != 0 || ra != adds+rotations {
			b.Fatalf("%d need judgement, %d rule-approvable", nj, ra)
		}
		if err := s.BulkApprove(adds+rotations, "Holder 1"); err != nil {
			b.Fatal(err)
		}
		if err := s.Build(); err != nil {
			b.Fatal(err)
		}
		for _, h := range shardHolders[:2] {
			if _, err := s.SignAs(context.Background(), h); err != nil {
				b.Fatal(err)
			}
		}
		out, err := s.ExportFiles()
		if err != nil {
			b.Fatal(err)
		}
		if cards, _ := s.Cards(); len(cards) != len(changed) || len(out) == 0 {
			b.Fatalf("%d roles built, want %d", len(cards), len(changed))
		}
	}
	b.ReportMetric(float64(len(shards)), "shards")
}
