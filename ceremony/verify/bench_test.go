package verify

import (
	"context"
	"fmt"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// BenchmarkWalkManyDelegated walks a repository directory as an auditor
// names it: a claimed role delegating n projects, and each project's own
// metadata. Finding each project's delegation must not cost a pass over
// every project (n² on a large repository).
func BenchmarkWalkManyDelegated(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			c := newChain(b)
			dev := newKey(b, 8)
			claimed := delegating(1, now.AddDate(0, 3, 0), "", c.new[2])
			claimed.Delegations = &tuf.Delegations{Keys: keyMap(dev)}
			for i := 0; i < n; i++ {
				name := fmt.Sprintf("project-%05d", i)
				claimed.Delegations.Roles = append(claimed.Delegations.Roles, &tuf.DelegatedRole{
					Name: name, KeyIDs: ids(dev), Threshold: 1, Terminating: true, Paths: []string{name + "/*"}})
			}
			files := []Input{in("2.root.json", c.root2), in("targets.json", c.targets),
				in("claimed.json", targetsFile(b, claimed, c.targetsT.Delegations.Keys, c.new[2]))}
			project := targetsFile(b, delegating(1, now.AddDate(0, 3, 0), ""), keyMap(dev), dev)
			for i := 0; i < n; i++ {
				files = append(files, in(fmt.Sprintf("project-%05d.json", i), project))
			}
			o := Options{Trusted: in("1.root.json", c.root1), Files: files, Now: now}
			b.ResetTimer()
			for b.Loop() {
				r, err := Walk(context.Background(), o)
				if err != nil || r.Verdict != Valid {
					b.Fatalf("%v %s", err, r.Verdict)
				}
			}
		})
	}
}

// BenchmarkWalkBlocked walks n projects that all wait on a claimed role in
// a delegation cycle no verified file enters: the reasons, and so the
// report, must grow with n, not n².
func BenchmarkWalkBlocked(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			o := blockedProjects(b, n)
			b.ResetTimer()
			for b.Loop() {
				r, err := Walk(context.Background(), o)
				if err != nil || r.Verdict != NotValid {
					b.Fatalf("%v %s", err, r.Verdict)
				}
				doc, err := r.JSON()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(doc)), "report-bytes")
			}
		})
	}
}
