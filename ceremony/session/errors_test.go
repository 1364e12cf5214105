package session

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
)

// toState drives a new ceremony to a state.
func (fx *fixture) toState(st State) (*Session, *memoryAppender) {
	fx.t.Helper()
	d, a, _ := fx.deps()
	s := fx.open(d)
	for s.State() != st {
		fx.step(s)
	}
	return s, a
}

func TestClockNotLaterRefused(t *testing.T) {
	for _, last := range []string{"same second", "later"} {
		t.Run(last, func(t *testing.T) {
			fx := newFixture(t)
			fx.vault.LastCeremony = fx.now
			if last == "later" {
				fx.vault.LastCeremony = fx.now.Add(time.Hour)
			}
			d, a, _ := fx.deps()
			s := fx.open(d)
			if err := s.Preflight(passingChecks(), nil); err != nil {
				t.Fatal(err)
			}
			err := s.ConfirmClock(fx.now, "wendy")
			var ce *ClockError
			if !errors.As(err, &ce) || !errors.Is(err, ErrClockNotLater) {
				t.Fatalf("ConfirmClock: %v", err)
			}
			want := fmt.Sprintf("confirm the clock: the confirmed time 2026-11-24T12:00:00Z is not later than the vault's last ceremony, %s: check the clock against one kept outside the room", fx.vault.LastCeremony.Format(time.RFC3339))
			if err.Error() != want {
				t.Errorf("message:\n got %s\nwant %s", err, want)
			}
			if len(a.lines) != 2 || s.State() != StatePreflight {
				t.Errorf("%d lines, state %s", len(a.lines), s.State())
			}
		})
	}
}

func TestBulkCountMismatchRefused(t *testing.T) {
	fx := newFixture(t)
	s, a := fx.toState(StateReview)
	lines := len(a.lines)
	err := s.BulkApprove(3, "bob")
	var be *BulkCountError
	if !errors.As(err, &be) || !errors.Is(err, ErrBulkCount) || be.Undecided != 2 || be.Confirmed != 3 {
		t.Fatalf("BulkApprove(3): %v", err)
	}
	if err.Error() != "approve in bulk: 2 rule-approvable requests are undecided, not the 3 confirmed: count again" {
		t.Errorf("message %q", err)
	}
	if len(a.lines) != lines {
		t.Error("a refused bulk approval was written")
	}
	if _, ra := s.Undecided(); ra != 2 {
		t.Errorf("%d rule-approvable undecided after a refused bulk approval", ra)
	}
	// Deciding one of them by hand changes the count to confirm.
	if err := s.Decide("r-rotate", Reject, "the maintainer asked to wait", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := s.BulkApprove(2, "bob"); !errors.Is(err, ErrBulkCount) {
		t.Errorf("BulkApprove(2) after one was decided: %v", err)
	}
	if err := s.BulkApprove(1, "bob"); err != nil {
		t.Errorf("BulkApprove(1): %v", err)
	}
	if d, _ := s.Decision("r-rotate"); d.Decision != Reject {
		t.Errorf("the bulk approval overrode a rejection: %+v", d)
	}
}

func TestBulkApproveLeavesNeedsJudgement(t *testing.T) {
	fx := newFixture(t)
	s, _ := fx.toState(StateReview)
	if err := s.BulkApprove(2, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Decision("r-add"); ok {
		t.Error("a request needing judgement was approved in bulk")
	}
	err := s.Build()
	var ue *UndecidedError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUndecided) || ue.NeedsJudgement != 1 {
		t.Fatalf("Build with one undecided: %v", err)
	}
}

func TestInvalidCannotBeDecided(t *testing.T) {
	fx := newFixture(t)
	s, a := fx.toState(StateReview)
	lines := len(a.lines)
	for _, d := range []string{Approve, Reject, Defer} {
		if err := s.Decide("r-bad", d, "a reason", "alice"); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Decide(r-bad, %s): %v", d, err)
		}
	}
	if err := s.Decide("r-none", Approve, "", "alice"); err == nil || err.Error() != `decide request r-none: the bundle holds no request "r-none"` {
		t.Errorf("Decide(r-none): %v", err)
	}
	if err := s.Decide("r-add", Reject, "", "alice"); err == nil || !strings.Contains(err.Error(), "needs a reason") {
		t.Errorf("a rejection without a reason: %v", err)
	}
	if err := s.Decide("r-add", Approve, "", "mallory"); !errors.Is(err, ErrNotPresent) {
		t.Errorf("a decision by someone not present: %v", err)
	}
	if len(a.lines) != lines {
		t.Error("a refused decision was written")
	}
}

func TestWrongState(t *testing.T) {
	fx := newFixture(t)
	s, _ := fx.toState(StateImport)
	err := s.Decide("r-add", Approve, "", "alice")
	var se *StateError
	if !errors.As(err, &se) || se.Want != StateReview || se.Have != StateImport {
		t.Fatalf("Decide in import: %v", err)
	}
	if err.Error() != "decide: the ceremony is in state import, not review" {
		t.Errorf("message %q", err)
	}
	if _, err := s.SignAs(context.Background(), "alice"); !errors.As(err, &se) || se.Want != StateBuild {
		t.Errorf("SignAs in import: %v", err)
	}
	if _, err := s.Abandon("the bundle was refused", "wendy"); err != nil {
		t.Fatal(err)
	}
	if err := s.Note("wendy", "after the end"); !errors.As(err, &se) || err.Error() != "note: the ceremony is abandoned" {
		t.Errorf("Note after abandon: %v", err)
	}
}

func TestPreflight(t *testing.T) {
	failing := func(status string) []Check {
		cs := passingChecks()
		cs[1].Status = status
		return cs
	}
	for _, tc := range []struct {
		name      string
		checks    []Check
		overrides map[string]string
		rehearsal bool
		blocking  []string
	}{
		{name: "all pass", checks: passingChecks()},
		{name: "required fails", checks: failing(CheckFail), blocking: []string{"radio.rfkill"}},
		{name: "a failure is not overridden", checks: failing(CheckFail), overrides: map[string]string{"radio.rfkill": "no radio"}, blocking: []string{"radio.rfkill"}},
		{name: "unchecked overridden", checks: failing(CheckUnchecked), overrides: map[string]string{"radio.rfkill": "no radio hardware: removed from the board"}},
		{name: "unchecked", checks: failing(CheckUnchecked), blocking: []string{"radio.rfkill"}},
		{name: "required not run", checks: passingChecks()[:1], blocking: []string{"radio.rfkill"}},
		{name: "rehearsal goes on", checks: failing(CheckFail), rehearsal: true, blocking: []string{"radio.rfkill"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.vault.Policy.Rehearsal = tc.rehearsal
			d, a, _ := fx.deps()
			s, err := Open(d, Opening{ConclaveVersion: "v0.test", BinarySHA256: bundle.SumHex(nil), Rehearsal: tc.rehearsal, RehearsalReason: "training", Participants: holderNames, Witnesses: []string{"wendy"}})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Preflight(tc.checks, tc.overrides)
			blocked := len(tc.blocking) > 0 && !tc.rehearsal
			var pe *PreflightError
			if blocked != errors.As(err, &pe) || blocked != errors.Is(err, ErrPreflightBlocked) {
				t.Fatalf("Preflight: %v", err)
			}
			if len(a.lines) != 2 {
				t.Fatalf("%d lines: the record must be written whatever it says", len(a.lines))
			}
			ev, _ := decodeEvent(TypePreflight, parseLog(t, a.bytes())[1].Body)
			if got := ev.(*PreflightEvent).Blocking; fmt.Sprint(got) != fmt.Sprint(append([]string{}, tc.blocking...)) {
				t.Errorf("blocking %v, want %v", got, tc.blocking)
			}
			err = s.ConfirmClock(fx.now, "wendy")
			if blocked == (err == nil) {
				t.Errorf("ConfirmClock after the preflight: %v", err)
			}
		})
	}
}

// TestRehearsalRefusedOnProductionVault: a rehearsal goes on past failed
// checks, so it must not run on a vault whose signatures are publishable
// — neither opened so nor replayed from a log that says so.
func TestRehearsalRefusedOnProductionVault(t *testing.T) {
	fx := newFixture(t)
	d, a, _ := fx.deps()
	_, err := Open(d, Opening{ConclaveVersion: "v0.test", BinarySHA256: bundle.SumHex(nil), Rehearsal: true, RehearsalReason: "training", Participants: holderNames})
	if !errors.Is(err, ErrProductionVault) {
		t.Fatalf("Open: %v", err)
	}
	if len(a.lines) != 0 {
		t.Error("a refused opening was written")
	}
}

func TestRehearsalVaultRefusedInProduction(t *testing.T) {
	fx := newFixture(t)
	fx.vault.Policy.Rehearsal = true
	d, a, _ := fx.deps()
	_, err := Open(d, Opening{ConclaveVersion: "v0.test", BinarySHA256: bundle.SumHex(nil), Participants: holderNames})
	if !errors.Is(err, ErrRehearsalVault) {
		t.Fatalf("Open: %v", err)
	}
	if len(a.lines) != 0 {
		t.Error("a refused opening was written")
	}
	if _, err := Open(d, Opening{ConclaveVersion: "v0.test", BinarySHA256: bundle.SumHex(nil), Rehearsal: true, RehearsalReason: "training", Participants: holderNames}); err != nil {
		t.Errorf("a rehearsal on a rehearsal vault: %v", err)
	}
}

// A token pulled out (or any error from the token layer) records nothing
// and changes nothing; the holder tries again.
func TestTokenErrorRetried(t *testing.T) {
	fx := newFixture(t)
	s, a := fx.toState(StateBuild)
	lines := len(a.lines)
	fx.tokens.fail["alice"] = fmt.Errorf("yubikey: %w", hsm.ErrTokenRemoved)
	roles, err := s.SignAs(context.Background(), "alice")
	if !errors.Is(err, hsm.ErrTokenRemoved) || len(roles) != 0 {
		t.Fatalf("SignAs with the token pulled: %v, %v", roles, err)
	}
	if len(a.lines) != lines || s.State() != StateBuild || len(s.built.payloads[0].File.Signatures) != 0 {
		t.Fatal("a failed signature changed the ceremony")
	}
	if roles, err := s.SignAs(context.Background(), "alice"); err != nil || fmt.Sprint(roles) != "[claimed]" {
		t.Fatalf("SignAs again: %v, %v", roles, err)
	}
	// Signed already: not asked again.
	asked := fx.tokens.asked["alice"]
	if roles, err := s.SignAs(context.Background(), "alice"); err != nil || len(roles) != 0 || fx.tokens.asked["alice"] != asked {
		t.Errorf("a holder who signed was asked again: %v, %v", roles, err)
	}
	if _, err := s.ExportFiles(); !errors.Is(err, ErrIncomplete) || err.Error() != "not every role is signed: claimed: 1 of 3 holders signed, threshold 2 not met" {
		t.Errorf("ExportFiles below the threshold: %v", err)
	}
	if _, err := s.SignAs(context.Background(), "mallory"); !errors.Is(err, ErrNotHolder) {
		t.Errorf("SignAs(mallory): %v", err)
	}
}

// Whatever the token layer holds (the PIN) never reaches the log or the
// blobs: the session is given a signer, never a secret.
func TestNoSecretInLog(t *testing.T) {
	fx := newFixture(t)
	d, a, blobs := fx.deps()
	fx.run(fx.open(d))
	for _, b := range append([][]byte{a.bytes()}, mapsValues(blobs)...) {
		if bytes.Contains(b, []byte(secretPIN)) || bytes.Contains(b, []byte("7319")) {
			t.Fatal("the PIN given to the token layer is in the log or a blob")
		}
	}
}

func mapsValues(m memoryBlobs) [][]byte {
	var out [][]byte
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// An abandoned ceremony burns what it built: the update registers it.
func TestAbandonBurnsVersions(t *testing.T) {
	fx := newFixture(t)
	s, _ := fx.toState(StateSign)
	p := s.built.payloads[0]
	u, err := s.Abandon("a holder's token was lost", "wendy")
	if err != nil {
		t.Fatal(err)
	}
	if u.Register["claimed"][p.Version] != p.SHA256 || len(u.Roles) != 0 || u.History != nil || !u.Confirmed.Equal(fx.now) {
		t.Errorf("update %+v", u)
	}
	if s.State() != StateAbandoned {
		t.Errorf("state %s", s.State())
	}
	if _, err := s.Abandon("again", "wendy"); err == nil {
		t.Error("abandoned twice")
	}
}

// Nothing approved: nothing is built or signed, and the decisions alone
// go back to the repository.
func TestNothingApproved(t *testing.T) {
	fx := newFixture(t)
	s, a := fx.toState(StateReview)
	for _, id := range []string{"r-add", "r-rotate", "r-remove"} {
		if err := s.Decide(id, Defer, "the holders ran out of time", "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Build(); err != nil {
		t.Fatal(err)
	}
	if s.State() != StateBuild || len(s.built.payloads) != 0 {
		t.Fatalf("state %s, %d payloads", s.State(), len(s.built.payloads))
	}
	if _, err := s.SignAs(context.Background(), "alice"); !errors.Is(err, ErrNotHolder) {
		t.Errorf("SignAs with nothing built: %v", err)
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
	if fmt.Sprint(names) != "[decisions.json export-manifest.json]" {
		t.Errorf("exported %v", names)
	}
	if !bytes.Contains(files[0].Data, []byte(`"roles":{}`)) || !bytes.Contains(files[0].Data, []byte(`"r-add":{"codes":["no-dwell"],"decision":"deferred","reason":"the holders ran out of time"}`)) {
		t.Errorf("decisions %s", files[0].Data)
	}
	hashes["decisions.json"] = bundle.SumHex([]byte("something else"))
	if err := s.Exported(hashes); err == nil {
		t.Error("an export read back with another hash was recorded")
	}
	hashes["decisions.json"] = bundle.SumHex(files[0].Data)
	if err := s.Exported(hashes); err != nil {
		t.Fatal(err)
	}
	u, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Roles) != 0 || !u.History.SeenBundle("bundle-0001") {
		t.Errorf("update %+v", u)
	}
	_ = a
}

// A signer that holds another key than the one enrolled (the wrong token
// handed over) is refused before it signs, and nothing is recorded.
func TestWrongKeyRefused(t *testing.T) {
	fx := newFixture(t)
	s, a := fx.toState(StateBuild)
	lines := len(a.lines)
	alice, carol := fx.vault.Policy.Holders[0].Keys[0].KeyID, fx.vault.Policy.Holders[2].Keys[0].KeyID
	fx.tokens.keys[alice] = fx.tokens.keys[carol]
	_, err := s.SignAs(context.Background(), "alice")
	if !errors.Is(err, tuf.ErrWrongSigner) {
		t.Fatalf("SignAs with carol's key for alice: %v", err)
	}
	if len(a.lines) != lines || len(s.built.payloads[0].File.Signatures) != 0 {
		t.Error("a signature by the wrong key changed the ceremony")
	}
}

// A holder is one vote however many of their keys a role lists: one
// signature, counted once. The second key is a spare token's (policy
// spare: true), placed in the role beside her own.
func TestHolderWithTwoKeysSignsOnce(t *testing.T) {
	fx := newFixture(t)
	spare := softkeys(t, "alice")
	k, err := tuf.KeyFromPublic(spare.Public())
	if err != nil {
		t.Fatal(err)
	}
	fx.tokens.keys[k.ID()] = spare
	alice := &fx.vault.Policy.Holders[0]
	alice.Keys = append(alice.Keys, policy.HolderKey{KeyID: k.ID(), Token: policy.TokenSoftkey, Spare: true})
	top := fx.vault.Targets.Targets
	top.Delegations.Keys[k.ID()] = k
	role := top.Delegations.Roles[0]
	role.KeyIDs, role.Threshold = append(role.KeyIDs, k.ID()), 3
	s, _ := fx.toState(StateBuild)
	if roles, err := s.SignAs(context.Background(), "alice"); err != nil || len(roles) != 1 {
		t.Fatalf("SignAs(alice): %v, %v", roles, err)
	}
	if n := len(s.built.payloads[0].File.Signatures); n != 1 {
		t.Errorf("alice made %d signatures", n)
	}
	if roles, _ := s.SignAs(context.Background(), "alice"); len(roles) != 0 || fx.tokens.asked["alice"] != 1 {
		t.Errorf("alice signed again with her other key: %v", roles)
	}
	if got := s.Progress()[0].String(); got != "claimed: 1 of 3 holders signed, threshold 3 not met" {
		t.Errorf("progress %q", got)
	}
}

// corruptSigner returns signatures with one bit flipped, as a faulty
// token would.
type corruptSigner struct{ crypto.Signer }

func (c corruptSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := c.Signer.Sign(r, digest, opts)
	if err == nil {
		sig[len(sig)-1] ^= 1
	}
	return sig, err
}

// A signature that does not verify (a faulty token) is refused before
// its line is written, and changes nothing: the signature is verified
// once, by the check of the line, over the payload's bytes.
func TestFaultySignatureRefused(t *testing.T) {
	fx := newFixture(t)
	s, a := fx.toState(StateBuild)
	lines := len(a.lines)
	keyid := fx.vault.Policy.Holders[0].Keys[0].KeyID
	fx.tokens.keys[keyid] = corruptSigner{fx.tokens.keys[keyid]}
	_, err := s.SignAs(context.Background(), fx.vault.Policy.Holders[0].Name)
	want := fmt.Sprintf("sign claimed as alice: the signature of claimed version %d by alice (key %s) does not verify: signature does not verify", s.built.payloads[0].Version, keyid)
	if !errors.Is(err, tuf.ErrBadSignature) || err.Error() != want {
		t.Fatalf("SignAs with a faulty token: %v\nwant %s", err, want)
	}
	if len(a.lines) != lines || s.State() != StateBuild || len(s.built.payloads[0].File.Signatures) != 0 {
		t.Fatal("a signature that does not verify changed the ceremony")
	}
}
