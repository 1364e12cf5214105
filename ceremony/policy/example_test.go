package policy

import (
	"os"
	"testing"
	"time"
)

// TestExample: the example policy in docs/ is one that Parse accepts, and
// it reads as its comments say.
func TestExample(t *testing.T) {
	data, err := os.ReadFile("../../docs/policy-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("policy-example.yaml", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := p.SignedRoles(); len(got) != 1 || got[0] != "claimed" {
		t.Errorf("SignedRoles = %v", got)
	}
	if e := p.Expiry("claimed"); e.Expiry != 90*24*time.Hour || e.Warning != 14*24*time.Hour {
		t.Errorf("Expiry(claimed) = %+v", e)
	}
	if p.Rules.MaxPublishedSize != 64<<20 {
		t.Errorf("max_published_size %d", p.Rules.MaxPublishedSize)
	}
	if len(p.Holders) != 3 || p.Rules.MinDwell != 7*24*time.Hour || !p.RequirePossession || p.Rules.Repository != "pypi.example.org" {
		t.Errorf("decoded %+v", p)
	}
}
