package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

func parseDraft(tb testing.TB, f *it.Fixture, d *request.Draft) *request.Request {
	tb.Helper()
	r, err := request.Parse(d.Encode(), request.Limits{MaxDepth: f.Rules.MaxJSONDepth, MaxProjectName: f.Rules.MaxProjectName, MaxRequestedBy: f.Rules.MaxRequestedBy, MaxKeys: f.Rules.MaxKeys})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestCheapRefusalsVerifyNothing: a request refused by its project name
// or by a possession statement that is not the one it needs costs no
// signature verification, only its one refusal; a request without a
// refusal is verified.
func TestCheapRefusalsVerifyNothing(t *testing.T) {
	f := it.New(t)
	for _, tc := range []struct {
		name     string
		draft    *request.Draft
		verified bool
		code     verdict.Code
	}{
		{"refused name", f.Add(t, "r1", strings.Repeat("a", f.Rules.MaxProjectName+1), "n1"), false, verdict.ProjectName},
		{"name of a role", f.Add(t, "r1", f.Rules.DelegatingRole, "n1"), false, verdict.ProjectRoleName},
		{"statement for another base", f.AddAt(t, it.BaseVersion-1, "r1", "new-project", "n1"), false, verdict.PossessionBase},
		{"nothing refused", f.Add(t, "r1", "new-project", "n1"), true, verdict.NoDwell},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := parseDraft(t, f, tc.draft)
			in := Input{Bundle: &bundle.Bundle{Items: []bundle.Item{{Batch: "requests/0001.jsonl", Line: 1, Request: r}}}, Delegators: map[string]*tuf.Targets{"claimed": f.Delegator.Targets}, Rules: f.Rules, Now: it.Now}
			if kc := prepare(r, &in, request.NewRoles(f.Rules.RoleNames())); kc.verified != tc.verified {
				t.Errorf("signatures verified: %v, want %v", kc.verified, tc.verified)
			}
			r = parseDraft(t, f, tc.draft)
			in.Bundle.Items[0].Request = r
			if codes := Validate(in)[0].Codes(); len(codes) != 1 || codes[0] != tc.code {
				t.Errorf("codes %v, want [%s]", codes, tc.code)
			}
		})
	}
}

// TestRoleCheckFoldsOnce: the role names are folded once per bundle, and
// a request's name, already normalised, is compared as it is: checking
// it allocates nothing.
func TestRoleCheckFoldsOnce(t *testing.T) {
	f := it.New(t)
	r := parseDraft(t, f, f.Add(t, "r1", "new-project", "n1"))
	in := Input{Bundle: &bundle.Bundle{Items: []bundle.Item{{Batch: "requests/0001.jsonl", Line: 1, Request: r}}}, Delegators: map[string]*tuf.Targets{"claimed": f.Delegator.Targets}, Rules: f.Rules, Now: it.Now}
	st := index(&in, request.NewRoles(f.Rules.RoleNames()))
	var v verdict.Verdict
	if n := testing.AllocsPerRun(100, func() { st.checkNotRole(&v, r) }); n != 0 || len(v.Findings) != 0 {
		t.Errorf("%v allocations, findings %v; want none", n, v.Findings)
	}
}

// BenchmarkImportRefusedByBase: 2,000 requests signed for another
// version of the delegating metadata, parsed and judged with the
// signature checks: each is refused by a byte comparison, and none of
// their 2,000 signatures is verified.
func BenchmarkImportRefusedByBase(b *testing.B) {
	f := costFix(b)
	data := make([][]byte, 2000)
	for i := range data {
		data[i] = f.AddAt(b, it.BaseVersion-1, fmt.Sprintf("r%d", i), fmt.Sprintf("old-%d", i), "n1").Encode()
	}
	lim := request.Limits{MaxDepth: f.Rules.MaxJSONDepth, MaxProjectName: f.Rules.MaxProjectName, MaxRequestedBy: f.Rules.MaxRequestedBy, MaxKeys: f.Rules.MaxKeys}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		items := make([]bundle.Item, len(data))
		for j, d := range data {
			r, err := request.Parse(d, lim)
			if err != nil {
				b.Fatal(err)
			}
			items[j] = bundle.Item{Batch: "requests/0001.jsonl", Line: j + 1, Request: r}
		}
		vs := Validate(Input{Bundle: &bundle.Bundle{Items: items}, Delegators: map[string]*tuf.Targets{"claimed": f.Delegator.Targets}, Rules: f.Rules, Now: it.Now})
		if !vs[0].Has(verdict.PossessionBase) {
			b.Fatalf("unexpected verdict %+v", vs[0])
		}
	}
}
