package review

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/journal"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/intake/intaketest"
	"github.com/conclave-keys/conclave/tui/theme"
)

// reviewSession is a real ceremony in the review state, its log a real
// journal on disk: a bundle with a rotation and a removal that may be
// approved together, an add that needs judgement and an invalid recovery.
func reviewSession(t *testing.T) (*session.Session, *vault.Vault) {
	t.Helper()
	f := intaketest.New(t)
	k, err := tuf.KeyFromPublic(intaketest.Key("holder alice").Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	now := intaketest.Now
	pol := &policy.Policy{
		Repository:     f.Rules.Repository,
		IntakeKeys:     []*tuf.Key{f.Intake.Key},
		DelegatingRole: "claimed",
		Roles:          map[string]policy.RolePolicy{"claimed": {Expiry: 90 * 24 * time.Hour, Warning: 14 * 24 * time.Hour}},
		Rules:          f.Rules,
		Holders:        []policy.Holder{{Name: "alice", Keys: []policy.HolderKey{{KeyID: k.ID(), Token: policy.TokenSoftkey, URI: "softkey:name=alice"}}}},
	}
	top := &tuf.Targets{Targets: map[string]*tuf.TargetFile{}, Delegations: &tuf.Delegations{Keys: map[string]*tuf.Key{k.ID(): k}, Roles: []*tuf.DelegatedRole{
		{Name: "claimed", KeyIDs: []string{k.ID()}, Threshold: 1, Paths: []string{"*/*"}},
	}}}
	top.Version, top.Expires = 3, tuf.NewExpiry(now.AddDate(1, 0, 0))
	topFile, err := tuf.NewTargetsFile(top)
	if err != nil {
		t.Fatal(err)
	}
	v := &vault.Vault{
		Generation:   "gen-000004",
		Hash:         bundle.SumHex([]byte("generation 4")),
		Targets:      topFile,
		Delegators:   map[string]*tuf.File{"claimed": f.Delegator},
		Policy:       pol,
		PolicyBytes:  []byte("the policy file"),
		Register:     vault.Register{"claimed": {intaketest.BaseVersion: bundle.SumHex(f.Delegator.SignedBytes())}},
		LastCeremony: now.AddDate(0, -1, 0),
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	drafts := intaketest.Lines(
		f.Rotate(t, "r-rotate", "existing-b", []string{"b1"}, "b2"),
		f.Remove(t, "r-remove", "existing-a", "a1", "a2"),
		f.Add(t, "r-add", "fresh", "n1"),
		f.Recover(t, "r-bad", "ghost"),
	)
	if err := f.Pack("bundle-0001", drafts...).Write(dir); err != nil {
		t.Fatal(err)
	}
	j, _, err := journal.Open(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	s, err := session.Open(session.Deps{Vault: v, Log: transcript.New(j, "ceremony-review-1"), Blobs: j.Blobs(), Now: func() time.Time { return now }},
		session.Opening{ConclaveVersion: "v0.test", BinarySHA256: bundle.SumHex([]byte("binary")), Participants: []string{"alice"}, Witnesses: []string{"wendy"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Preflight([]session.Check{{ID: "clock", Status: session.CheckConfirm, Message: "compare the clock"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmClock(now, "wendy"); err != nil {
		t.Fatal(err)
	}
	if err := s.Import(intaketest.DirSource{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	return s, v
}

// TestRealSession: the screen over a real session: the invalid request
// is refused by the session, the add is opened and approved, the count
// typed approves the rest, and the session then builds.
func TestRealSession(t *testing.T) {
	s, v := reviewSession(t)
	m := New(Options{Session: s, By: "alice", Trusted: TrustedIn(v), Theme: theme.New(theme.Options{}), Size: theme.Size{Width: 100, Height: 30}})
	if got := lines(m)[0]; got != "Review · 0 / 3 decided · 1 need judgement · 1 invalid · bundle bundle-0001" {
		t.Fatalf("counts %q", got)
	}
	press(t, m, "G", "a")
	if m.note != "not recorded: decide request r-bad: the request is invalid and cannot be decided" {
		t.Fatalf("note %q", m.note)
	}
	press(t, m, "g", "enter")
	want := "trusted now: claimed version 7, expires " + v.Delegators["claimed"].Expires().UTC().Format("2006-01-02 15:04 UTC")
	if !strings.Contains(strings.Join(lines(m), "\n"), "\n"+want+"\n") {
		t.Fatalf("no line %q in:\n%s", want, strings.Join(lines(m), "\n"))
	}
	press(t, m, "a", "esc", "B", "3", "enter")
	if m.note != "not recorded: 2 undecided rule-approvable requests, not the 3 typed: count again" {
		t.Fatalf("note %q", m.note)
	}
	press(t, m, "backspace", "2", "enter")
	if msg := press(t, m, "F"); msg != (Finished{}) {
		t.Fatalf("message %#v, note %q", msg, m.note)
	}
	if err := s.Build(); err != nil {
		t.Fatal(err)
	}
}
