package validate

import (
	"fmt"
	"sync"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// sharedKeyBundle is a bundle of n valid add requests, each for its own
// project and every one listing the same key: each request shares that
// key with the n-1 others, the most key-shared warnings a bundle can ask
// for.
func sharedKeyBundle(tb testing.TB, f *it.Fixture, n int) *bundle.Bundle {
	tb.Helper()
	lim := request.Limits{MaxDepth: f.Rules.MaxJSONDepth, MaxProjectName: f.Rules.MaxProjectName, MaxRequestedBy: f.Rules.MaxRequestedBy, MaxKeys: f.Rules.MaxKeys}
	items := make([]bundle.Item, n)
	for i := range items {
		d := f.Add(tb, fmt.Sprintf("r%d", i), fmt.Sprintf("shared-%d", i), "shared")
		r, err := request.Parse(d.Encode(), lim)
		if err != nil {
			tb.Fatal(err)
		}
		items[i] = bundle.Item{Batch: "requests/0001.jsonl", Line: i + 1, Request: r}
	}
	return &bundle.Bundle{Items: items}
}

var (
	sharedOnce   sync.Once
	sharedBundle *bundle.Bundle
)

// BenchmarkImportOneSharedKey: 8,000 requests that all list one key,
// judged without the signature checks (those cost the same whatever the
// keys are shared with). Each request's key-shared warning names the
// first few others and counts the rest, so this costs about what 8,000
// requests with keys of their own cost.
func BenchmarkImportOneSharedKey(b *testing.B) {
	f := costFix(b)
	sharedOnce.Do(func() { sharedBundle = sharedKeyBundle(b, f, 8000) })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vs := Validate(Input{Bundle: sharedBundle, Delegators: map[string]*tuf.Targets{"claimed": f.Delegator.Targets}, Rules: f.Rules, Now: it.Now, skipSignatures: true})
		if !vs[0].Has(verdict.KeyShared) {
			b.Fatalf("unexpected verdict %+v", vs[0])
		}
	}
}

// TestKeySharedWorkBounded: the key-shared warning of a request whose key
// n other requests list costs the same work whatever n is: it names the
// first three and counts the rest, so its allocations do not grow with n
// (they grew by one formatted name per other request, which made a bundle
// of requests sharing one key quadratic).
func TestKeySharedWorkBounded(t *testing.T) {
	f := it.New(t)
	allocs := map[int]float64{}
	for _, n := range []int{10, 400} {
		bu := sharedKeyBundle(t, f, n)
		in := Input{Bundle: bu, Delegators: map[string]*tuf.Targets{"claimed": f.Delegator.Targets}, Rules: f.Rules, Now: it.Now, skipSignatures: true}
		st := index(&in, request.NewRoles(f.Rules.RoleNames()))
		invalid := make([]bool, n)
		sh := newSharing(st.proposed, invalid)
		var v verdict.Verdict
		allocs[n] = testing.AllocsPerRun(10, func() {
			v = verdict.Verdict{}
			st.shareKeys(&v, bu.Items[0].Request, bu.Items, sh, invalid)
		})
		want := fmt.Sprintf(`Key 1 is also a key of project "shared-1" (only proposed, by request "r1" in this bundle), project "shared-2" (only proposed, by request "r2" in this bundle), project "shared-3" (only proposed, by request "r3" in this bundle) and %d more; whoever holds it could sign for all of them.`, n-4)
		if len(v.Findings) != 1 || v.Findings[0].Sentence != want {
			t.Errorf("n=%d: findings %+v\nwant %s", n, v.Findings, want)
		}
	}
	if allocs[400] > 2*allocs[10] {
		t.Errorf("key-shared warning: %v allocations with 10 others, %v with 400; the work must not grow with the number of others", allocs[10], allocs[400])
	}
}
