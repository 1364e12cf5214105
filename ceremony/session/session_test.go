package session

import (
	"bytes"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake/intaketest"
)

func TestFullCeremony(t *testing.T) {
	fx := newFixture(t)
	d, a, _ := fx.deps()
	s := fx.open(d)
	fx.run(s)

	entries, torn, err := transcript.Parse(a.bytes())
	if err != nil || torn {
		t.Fatalf("the log does not parse: torn %v, %v", torn, err)
	}
	var types []string
	for _, e := range entries {
		types = append(types, e.Type)
	}
	want := "opened preflight clock imported decided bulk-approved built signed signed exported closed"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}

	r := s.Report()
	if r.Counts != (verdict.Counts{RuleApprovable: 2, NeedsJudgement: 1, Invalid: 1}) {
		t.Errorf("counts %+v", r.Counts)
	}
	u, err := s.Update()
	if err != nil {
		t.Fatal(err)
	}
	claimed := u.Roles["claimed"]
	if claimed == nil || claimed.Version() != intaketest.BaseVersion+1 {
		t.Fatalf("update roles %v", u.Roles)
	}
	if _, err := claimed.VerifyDelegated(fx.vault.Targets.Targets, "claimed"); err != nil {
		t.Errorf("the signed claimed does not verify: %v", err)
	}
	want90 := tuf.NewExpiry(fx.now.AddDate(0, 0, 90))
	if claimed.Expires().String() != want90.String() {
		t.Errorf("expires %s, want %s", claimed.Expires(), want90)
	}
	if !u.History.SeenBundle("bundle-0001") || !u.Confirmed.Equal(fx.now) {
		t.Errorf("the update does not record the bundle at the confirmed time")
	}
	if got := s.Progress()[0].String(); got != "claimed: 2 of 3 holders signed, threshold 2 met" {
		t.Errorf("progress %q", got)
	}
	if fx.tokens.asked["alice"] != 1 || fx.tokens.asked["bob"] != 1 || fx.tokens.asked["carol"] != 0 {
		t.Errorf("tokens asked %v", fx.tokens.asked)
	}
	if bytes.Contains(a.bytes(), []byte(secretPIN)) {
		t.Error("the PIN is in the log")
	}
}
