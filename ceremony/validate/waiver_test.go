package validate_test

import (
	"testing"

	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// A waiver covers the one change it names: under another request id, or
// for another change under the same id, the recovery stays invalid under
// its notice period.
func TestWaiverBoundToChange(t *testing.T) {
	e := newEnv(t)
	d := e.f.Recover(t, "r1", "existing-a", "n1")
	e.pack = e.f.Pack("b1", it.Lines(d, e.f.Recover(t, "r2", "existing-b", "n2"))...)
	r, err := request.Parse(d.Encode(), request.Limits{MaxDepth: e.rules.MaxJSONDepth, MaxProjectName: e.rules.MaxProjectName, MaxRequestedBy: e.rules.MaxRequestedBy, MaxKeys: e.rules.MaxKeys})
	if err != nil {
		t.Fatal(err)
	}
	other, err := request.Parse(e.f.Recover(t, "r1", "existing-a", "n9").Encode(), request.Limits{MaxDepth: e.rules.MaxJSONDepth, MaxProjectName: e.rules.MaxProjectName, MaxRequestedBy: e.rules.MaxRequestedBy, MaxKeys: e.rules.MaxKeys})
	if err != nil {
		t.Fatal(err)
	}
	waiver := validate.Waiver{ChangeDigest: r.ChangeDigest(), Role: "claimed", Threshold: 2, Holders: []string{"alice", "bob"}, Reason: "key stolen"}
	underNotice := want{verdict.Invalid, []verdict.Code{verdict.RecoverNotice}}
	waived := want{verdict.NeedsJudgement, []verdict.Code{verdict.Recovery, verdict.NoticeWaived}}
	for _, tc := range []struct {
		name   string
		waiver map[string]validate.Waiver
		r1, r2 want
	}{
		{"none", nil, underNotice, underNotice},
		{"this change", map[string]validate.Waiver{"r1": waiver}, waived, underNotice},
		{"under another id", map[string]validate.Waiver{"r2": waiver}, underNotice, underNotice},
		{"another change", map[string]validate.Waiver{"r1": {ChangeDigest: other.ChangeDigest(), Role: "claimed", Threshold: 2, Holders: []string{"alice", "bob"}, Reason: "key stolen"}}, underNotice, underNotice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.waivers = tc.waiver
			o := e.run()
			checkVerdict(t, o, "r1", tc.r1)
			checkVerdict(t, o, "r2", tc.r2)
		})
	}
}
