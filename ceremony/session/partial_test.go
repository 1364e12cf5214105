package session

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/partial"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

// sites is a ceremony signed at two sites: the fixture's vault at site
// A, where alice signs and a partial is exported, and a copy of that
// vault at site B (its own generation, its own log) where bob and carol
// are.
type sites struct {
	fx    *fixture
	files map[string][]byte // the partial site A exported, by name
	a     *Session
	aLog  *memoryAppender
}

const ceremonyID = "ceremony-test-1"

func newSites(t *testing.T) *sites { return newSitesWith(t, nil) }

// newSitesWith is newSites with the fixture changed first.
func newSitesWith(t *testing.T, change func(fx *fixture)) *sites {
	t.Helper()
	fx := newFixture(t)
	if change != nil {
		change(fx)
	}
	fx.vault.Root = vaulttest.Root(t, 1, []vaulttest.Holder{vaulttest.Key(t, 1)})
	d, a, _ := fx.deps()
	s := fx.open(d)
	for s.State() != StateBuild {
		fx.step(s)
	}
	if _, err := s.SignAs(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	planned, err := s.PartialFiles()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	sums := map[string]string{}
	for _, f := range planned {
		files[f.Name] = f.Data
		sums[f.Name] = bundle.SumHex(f.Data)
	}
	if err := s.ExportedPartial(sums); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return &sites{fx: fx, files: files, a: s, aLog: a}
}

// siteB is the vault of site B: site A's in another generation.
func (st *sites) siteB() *vault.Vault {
	v := *st.fx.vault
	v.Generation, v.Hash = "gen-000009", bundle.SumHex([]byte("site B generation 9"))
	v.LastCeremony = st.fx.now.AddDate(0, -2, 0)
	return &v
}

// openB opens site B's ceremony on v under the id, to its clock.
func (st *sites) openB(t *testing.T, v *vault.Vault, id string) (*Session, *memoryAppender) {
	return st.openBAt(t, v, id, st.fx.now.Add(time.Hour))
}

// openBAt is openB with site B's clock confirmed at the time.
func (st *sites) openBAt(t *testing.T, v *vault.Vault, id string, clock time.Time) (*Session, *memoryAppender) {
	t.Helper()
	a := &memoryAppender{}
	d := Deps{Vault: v, Log: transcript.New(a, id), Blobs: memoryBlobs{}, Tokens: st.fx.tokens, Now: func() time.Time { return st.fx.now.Add(time.Hour) }}
	s, err := Open(d, Opening{ConclaveVersion: "v0.test", BinarySHA256: bundle.SumHex([]byte("binary")), Participants: []string{"bob", "carol"}, Witnesses: []string{"walter"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Preflight(passingChecks(), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmClock(clock, "walter"); err != nil {
		t.Fatal(err)
	}
	return s, a
}

// importB runs site B from its clock to the import of the bundle the
// partial carries.
func importB(s *Session, files map[string][]byte) error {
	if err := s.Join(files, "bob"); err != nil {
		return err
	}
	src, err := s.JoinedBundle()
	if err != nil {
		return err
	}
	return s.Import(src)
}

// joinB runs site B from its clock to the merge.
func joinB(s *Session, files map[string][]byte) error {
	if err := importB(s, files); err != nil {
		return err
	}
	if err := s.Adopt("bob"); err != nil {
		return err
	}
	if err := s.Build(); err != nil {
		return err
	}
	_, err := s.Merge()
	return err
}

func TestTwoSites(t *testing.T) {
	st := newSites(t)
	u, err := st.a.Update()
	if err != nil {
		t.Fatal(err)
	}
	want := int64(intaketest.BaseVersion + 1)
	if len(u.Roles) != 0 || u.History == nil || !u.History.SeenBundle("bundle-0001") || u.Register["claimed"][want] == "" {
		t.Fatalf("site A's update after a partial: roles %v, history %v, register %v; want the payload registered and the bundle recorded", u.Roles, u.History, u.Register)
	}
	s, log := st.openB(t, st.siteB(), ceremonyID)
	if err := joinB(s, st.files); err != nil {
		t.Fatal(err)
	}
	if got := s.Progress()[0].String(); got != "claimed: 1 of 3 holders signed, threshold 2 not met" {
		t.Errorf("progress after the merge: %q", got)
	}
	asked := st.fx.tokens.asked["alice"]
	if roles, err := s.SignAs(context.Background(), "alice"); err != nil || len(roles) != 0 || st.fx.tokens.asked["alice"] != asked {
		t.Errorf("alice, who signed at site A, was asked again: signed %v, %v", roles, err)
	}
	if _, err := s.SignAs(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PartialFiles(); !errors.Is(err, ErrComplete) {
		t.Errorf("a partial of a complete ceremony: %v, want ErrComplete", err)
	}
	files, err := st.fx.export(s)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	var final *tuf.File
	for _, f := range files {
		sums[f.name] = bundle.SumHex(f.data)
		if f.name == "8.claimed.json" {
			if final, err = tuf.Parse(f.name, f.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if final == nil {
		t.Fatalf("the export holds no 8.claimed.json: %v", sums)
	}
	if err := s.Exported(sums); err != nil {
		t.Fatal(err)
	}
	// Nothing dropped, nothing twice: alice's signature from site A and
	// bob's from site B, once each.
	var keys []string
	for _, sig := range final.Signatures {
		keys = append(keys, st.a.holderOfKey(sig.KeyID))
	}
	if strings.Join(keys, " ") != "alice bob" {
		t.Errorf("the final metadata is signed by %v, want alice then bob", keys)
	}
	if _, err := final.VerifyDelegated(st.fx.vault.Targets.Targets, "claimed"); err != nil {
		t.Errorf("the final metadata does not verify: %v", err)
	}
	reg, _ := u.Register.Lookup("claimed", want)
	if got := bundle.SumHex(final.SignedBytes()); got != reg {
		t.Errorf("site B signed payload %s, site A registered %s", got, reg)
	}
	if _, err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ub, err := s.Update()
	if err != nil {
		t.Fatal(err)
	}
	if ub.Roles["claimed"] == nil || ub.CeremonyID != ceremonyID {
		t.Errorf("site B's update: %+v", ub)
	}
	// Both vaults remember the bundle at the same instant, the ceremony
	// time, not each site's clock.
	if ha, hb := string(u.History.Marshal()), string(ub.History.Marshal()); ha != hb {
		t.Errorf("the sites' histories differ:\nA %s\nB %s", ha, hb)
	}

	// Site B's log is its own, under the same ceremony id, and replays.
	entries, _, err := transcript.Parse(log.bytes())
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range entries {
		types = append(types, e.Type)
	}
	if got := strings.Join(types, " "); got != "opened preflight clock joined imported adopted built merged signed exported closed" {
		t.Errorf("site B's events: %s", got)
	}
	if !strings.Contains(string(entries[0].Body), `"ceremony":"`+ceremonyID+`"`) {
		t.Errorf("site B's first line does not name the ceremony: %s", entries[0].Body)
	}
	blobs := s.d.Blobs
	a2 := &memoryAppender{lines: log.lines}
	l2, err := transcript.Resume(a2, entries)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Replay(entries, Deps{Vault: s.d.Vault, Log: l2, Blobs: blobs, Tokens: st.fx.tokens})
	if err != nil {
		t.Fatalf("site B's log does not replay: %v", err)
	}
	if r.State() != StateClosed || !r.Joined() {
		t.Errorf("replayed: state %s, joined %v", r.State(), r.Joined())
	}
}

// TestTwoSitesNextPartial: a site that does not complete the threshold
// exports the next partial, carrying every signature so far.
func TestTwoSitesNextPartial(t *testing.T) {
	st := newSites(t)
	s, _ := st.openB(t, st.siteB(), ceremonyID)
	if err := joinB(s, st.files); err != nil {
		t.Fatal(err)
	}
	planned, err := s.PartialFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range planned {
		if want := st.files[f.Name]; string(want) != string(f.Data) {
			t.Errorf("%s differs from site A's, with no signature added", f.Name)
		}
	}
}

// reseal lets a test change a partial as a courier or an attacker
// could, keeping it self-consistent: the hashes partial.json lists are
// those of the files changed.
func reseal(t *testing.T, files map[string][]byte, change func(p *partial.Partial, files map[string][]byte)) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for n, b := range files {
		out[n] = b
	}
	p, err := partial.Parse(out[partial.Name])
	if err != nil {
		t.Fatal(err)
	}
	change(p, out)
	for i, r := range p.Roles {
		if b, ok := out[r.Metadata]; ok {
			p.Roles[i].MetadataSHA256 = bundle.SumHex(b)
			if f, err := tuf.Parse(r.Metadata, b); err == nil {
				p.Roles[i].PayloadSHA256 = bundle.SumHex(f.SignedBytes())
			}
		}
	}
	p.Bundle.CopySHA256 = bundle.SumHex(out[partial.CopyName])
	out[partial.Name] = p.Encode()
	return out
}

// claimedOf parses the partial's claimed metadata.
func claimedOf(t *testing.T, files map[string][]byte) *tuf.File {
	t.Helper()
	f, err := tuf.Parse("8.claimed.partial.json", files["8.claimed.partial.json"])
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestTwoSitesRefusals(t *testing.T) {
	st := newSites(t)
	alice := st.fx.vault.Policy.Holders[0].Keys[0].KeyID
	aliceSigner := st.fx.tokens.keys[alice]
	signOther := func(msg string) string {
		sum := sha256.Sum256([]byte(msg))
		sig, err := aliceSigner.Sign(rand.Reader, sum[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(sig)
	}
	tests := []struct {
		name  string
		id    string
		vault func(v *vault.Vault)
		clock time.Time
		files func() map[string][]byte
		is    error
		msg   string
	}{{
		name: "tampered payload",
		files: func() map[string][]byte {
			return reseal(t, st.files, func(p *partial.Partial, files map[string][]byte) {
				f := claimedOf(t, files)
				tg := *f.Targets
				tg.Expires = tuf.NewExpiry(f.Expires().Time.AddDate(1, 0, 0))
				g, err := tuf.NewTargetsFile(&tg)
				if err != nil {
					t.Fatal(err)
				}
				g.Signatures = f.Signatures
				files["8.claimed.partial.json"] = g.Bytes()
			})
		},
		is:  ErrSiteMismatch,
		msg: "claimed: the partial carries version 8 with payload ",
	}, {
		name: "metadata swapped, partial.json not",
		files: func() map[string][]byte {
			out := reseal(t, st.files, func(*partial.Partial, map[string][]byte) {})
			out["8.claimed.partial.json"] = append([]byte(nil), out["8.claimed.partial.json"]...)
			out["8.claimed.partial.json"][10] ^= 1
			return out
		},
		is:  ErrBadPartial,
		msg: "join the partial: the partial is refused: 8.claimed.partial.json has SHA-256 ",
	}, {
		name: "metadata of another version than listed",
		files: func() map[string][]byte {
			return reseal(t, st.files, func(p *partial.Partial, files map[string][]byte) {
				files["9.claimed.partial.json"] = files["8.claimed.partial.json"]
				delete(files, "8.claimed.partial.json")
				p.Roles[0].Version, p.Roles[0].Metadata = 9, "9.claimed.partial.json"
			})
		},
		is:  ErrBadPartial,
		msg: "9.claimed.partial.json holds version 8 with payload ",
	}, {
		name:  "another vault",
		vault: func(v *vault.Vault) { v.PolicyBytes = []byte("another policy") },
		files: func() map[string][]byte { return st.files },
		is:    ErrOtherVault,
		msg:   "its policy has SHA-256 " + bundle.SumHex([]byte("the policy file")) + ", this vault's " + bundle.SumHex([]byte("another policy")),
	}, {
		name: "a rehearsal's partial",
		files: func() map[string][]byte {
			return reseal(t, st.files, func(p *partial.Partial, _ map[string][]byte) { p.Rehearsal = true })
		},
		is:  ErrOtherVault,
		msg: "join the partial: the partial was built on another vault, or on this vault in another state: the partial is a rehearsal's, this ceremony is not a rehearsal",
	}, {
		name:  "another ceremony id",
		id:    "ceremony-test-2",
		files: func() map[string][]byte { return st.files },
		is:    ErrOtherCeremony,
		msg:   "the partial is of ceremony ceremony-test-1, this log is of ceremony ceremony-test-2",
	}, {
		name:  "site B's clock before the ceremony time",
		clock: st.fx.now.Add(-time.Hour),
		files: func() map[string][]byte { return st.files },
		is:    ErrBadPartial,
		msg:   "its ceremony time " + st.fx.now.Format(time.RFC3339) + " is after this site's confirmed time " + st.fx.now.Add(-time.Hour).Format(time.RFC3339),
	}, {
		name: "signature over other bytes",
		files: func() map[string][]byte {
			return reseal(t, st.files, func(p *partial.Partial, files map[string][]byte) {
				f := claimedOf(t, files)
				f.Signatures[0].Sig = signOther("other bytes")
				files["8.claimed.partial.json"] = f.Bytes()
			})
		},
		is:  ErrBadPartial,
		msg: "the signature of claimed version 8 by alice (key " + alice + ") does not verify",
	}, {
		name: "the same signature twice",
		files: func() map[string][]byte {
			return reseal(t, st.files, func(p *partial.Partial, files map[string][]byte) {
				f := claimedOf(t, files)
				f.Signatures = append(f.Signatures, f.Signatures[0])
				files["8.claimed.partial.json"] = f.Bytes()
			})
		},
		is:  ErrBadPartial,
		msg: "8.claimed.partial.json: malformed metadata: signatures[1].keyid: keyid " + alice + " has more than one signature",
	}, {
		name: "bundle swapped by the courier",
		files: func() map[string][]byte {
			return reseal(t, st.files, func(p *partial.Partial, files map[string][]byte) {
				// The bundle of another ceremony, as well signed.
				other := newFixture(t)
				other.bundle = filepath.Join(t.TempDir(), "bundle")
				drafts := intaketest.Lines(other.f.Rotate(t, "r-rotate", "existing-b", []string{"b1"}, "b2"))
				if err := other.f.Pack("bundle-0002", drafts...).Write(other.bundle); err != nil {
					t.Fatal(err)
				}
				d, _, blobs := other.deps()
				s := other.open(d)
				for s.State() != StateReview {
					other.step(s)
				}
				files[partial.CopyName] = blobs[s.imp.blob]
			})
		},
		is:  ErrBadPartial,
		msg: "it names bundle bundle-0001",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := st.siteB()
			if tc.vault != nil {
				tc.vault(v)
			}
			id := ceremonyID
			if tc.id != "" {
				id = tc.id
			}
			clock := st.fx.now.Add(time.Hour)
			if !tc.clock.IsZero() {
				clock = tc.clock
			}
			s, log := st.openBAt(t, v, id, clock)
			err := joinB(s, tc.files())
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v\nwant %v containing %q", err, tc.is, tc.msg)
			}
			for _, sig := range s.Progress() {
				if len(sig.Signed) != 0 {
					t.Errorf("a refused partial left signatures merged: %v", sig)
				}
			}
			if strings.Contains(string(log.bytes()), `"type":"merged"`) {
				t.Error("the refused merge is in the log")
			}
		})
	}
}

// TestTwoSitesHolderTwice: a holder whose two keys the delegation lists
// is one vote: a partial carrying a signature by each is refused.
func TestTwoSitesHolderTwice(t *testing.T) {
	var second crypto.Signer
	st := newSitesWith(t, func(fx *fixture) {
		second = softkeys(t, "alice")
		k, err := tuf.KeyFromPublic(second.Public())
		if err != nil {
			t.Fatal(err)
		}
		top := *fx.vault.Targets.Targets
		d := *top.Delegations
		d.Keys = map[string]*tuf.Key{k.ID(): k}
		for id, key := range top.Delegations.Keys {
			d.Keys[id] = key
		}
		r := *d.Roles[0]
		r.KeyIDs = append(append([]string(nil), r.KeyIDs...), k.ID())
		d.Roles = []*tuf.DelegatedRole{&r}
		top.Delegations = &d
		f, err := tuf.NewTargetsFile(&top)
		if err != nil {
			t.Fatal(err)
		}
		fx.vault.Targets = f
		alice := &fx.vault.Policy.Holders[0]
		alice.Keys = append(alice.Keys, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenSoftkey, URI: "softkey:path=/keys/alice-2.key.pem"})
		fx.tokens.keys[k.ID()] = second
	})
	files := reseal(t, st.files, func(p *partial.Partial, files map[string][]byte) {
		f := claimedOf(t, files)
		if err := f.Sign(st.fx.vault.Targets.Targets.Delegations.Keys, st.fx.vault.Policy.Holders[0].Keys[1].KeyID, second); err != nil {
			t.Fatal(err)
		}
		files["8.claimed.partial.json"] = f.Bytes()
	})
	s, _ := st.openB(t, st.siteB(), ceremonyID)
	err := joinB(s, files)
	sigs := claimedOf(t, files).Signatures
	want := "merge the partial's signatures: the partial is refused: alice signs claimed twice, with keys " + sigs[0].KeyID + " and " + sigs[1].KeyID
	if !errors.Is(err, ErrBadPartial) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// TestTwoSitesDecideNothing: the joining site takes the first site's
// decisions and makes none of its own.
func TestTwoSitesDecideNothing(t *testing.T) {
	st := newSites(t)
	s, _ := st.openB(t, st.siteB(), ceremonyID)
	if err := importB(s, st.files); err != nil {
		t.Fatal(err)
	}
	if err := s.Decide("r-add", Reject, "not here", "bob"); !errors.Is(err, ErrJoinedDecisions) {
		t.Errorf("a decision at the joining site: %v, want ErrJoinedDecisions", err)
	}
	if err := s.BulkApprove(2, "bob"); !errors.Is(err, ErrJoinedDecisions) {
		t.Errorf("a bulk approval at the joining site: %v, want ErrJoinedDecisions", err)
	}
	if err := s.Build(); !errors.Is(err, ErrUndecided) {
		t.Errorf("a build before the decisions are adopted: %v, want ErrUndecided", err)
	}
}

// TestTwoSitesSignAfterMerge: at the joining site nobody signs, and
// nothing is exported, before the partial's signatures are merged: the
// site's own holders could otherwise meet the threshold without them,
// and they would be dropped.
func TestTwoSitesSignAfterMerge(t *testing.T) {
	st := newSites(t)
	s, _ := st.openB(t, st.siteB(), ceremonyID)
	for _, step := range []func() error{func() error { return importB(s, st.files) }, func() error { return s.Adopt("bob") }, s.Build} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SignAs(context.Background(), "bob"); !errors.Is(err, ErrNotMerged) || err.Error() != "sign as bob: "+ErrNotMerged.Error() {
		t.Errorf("bob signing before the merge: %v, want ErrNotMerged", err)
	}
	// A signed line before the merged one, as a tampered log would have
	// it, does not replay.
	bob := st.fx.vault.Policy.Holders[1].Keys[0].KeyID
	p := s.built.byRole["claimed"]
	sig, err := tuf.SignMessageUnverified(st.fx.tokens.keys[bob], p.keys[bob], p.File.SignedBytes())
	if err != nil {
		t.Fatal(err)
	}
	ev := &Signed{Role: "claimed", Version: p.Version, Holder: "bob", KeyID: bob, Token: "softkey of bob", PINTriesBefore: -1, PINTriesAfter: -1, Signature: hex.EncodeToString(sig)}
	if err := s.commit(ev); !errors.Is(err, ErrNotMerged) {
		t.Errorf("a signed line before the merge: %v, want ErrNotMerged", err)
	}
	if _, err := s.PartialFiles(); !errors.Is(err, ErrNotMerged) {
		t.Errorf("a partial before the merge: %v, want ErrNotMerged", err)
	}
	if err := s.Exported(map[string]string{}); !errors.Is(err, ErrNotMerged) {
		t.Errorf("an export recorded before the merge: %v, want ErrNotMerged", err)
	}
	if err := s.ExportedPartial(map[string]string{}); !errors.Is(err, ErrNotMerged) {
		t.Errorf("a partial export recorded before the merge: %v, want ErrNotMerged", err)
	}
}

// TestPartialRefusedAfterWaiver: a ceremony in which a recovery's notice
// period was waived exports no partial: the waiver travels in no
// partial, and the next site would judge the recovery without it.
func TestPartialRefusedAfterWaiver(t *testing.T) {
	fx := newWaiverFixture(t)
	s, _ := fx.toState(StateReview)
	if err := s.WaiveNotice(context.Background(), "r-recover", waiverReason, []string{"carol", "alice"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r-recover", "r-add"} {
		if err := s.Decide(id, Approve, "", "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Build(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignAs(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PartialFiles(); !errors.Is(err, ErrWaiverOneSite) {
		t.Errorf("a partial after a waiver: %v, want ErrWaiverOneSite", err)
	}
}
