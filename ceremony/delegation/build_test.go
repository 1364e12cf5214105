package delegation

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

func testKey(t *testing.T) *tuf.Key {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public()
	k, err := tuf.KeyFromPublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestBuildRefusesRoleNames: the builder is the last guard; a project named
// like a role that is not a project, or not normalised, is never written.
func TestBuildRefusesRoleNames(t *testing.T) {
	k := testKey(t)
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, want := range map[string]string{
		"root":      "project root: it is the top-level role root: TUF clients refuse metadata that delegates a top-level role, and the project's metadata file would be that role's",
		"timestamp": "project timestamp: it is the top-level role timestamp: TUF clients refuse metadata that delegates a top-level role, and the project's metadata file would be that role's",
		"claimed":   `project claimed: it is the role "claimed" once folded as PEP 503 and case-insensitive filesystems fold names, so the project and the role would share a name and a metadata file`,
		"shard-a":   `project shard-a: it is the role "Shard_A" once folded as PEP 503 and case-insensitive filesystems fold names, so the project and the role would share a name and a metadata file`,
		"Root":      `project "Root": the name is not a normalised project name (PEP 503)`,
		"1.root":    `project "1.root": the name is not a normalised project name (PEP 503)`,
	} {
		_, err := Build([]Project{{Name: "fine", Keys: []*tuf.Key{k}, Threshold: 1}, {Name: name, Keys: []*tuf.Key{k}, Threshold: 1}}, "{name}/*", []string{"claimed", "Shard_A"}, 1, exp)
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v\nwant %s", name, err, want)
		}
	}
	if _, err := Build([]Project{{Name: "1-root", Keys: []*tuf.Key{k}, Threshold: 1}}, "{name}/*", []string{"claimed"}, 1, exp); err != nil {
		t.Errorf("1-root: %v", err)
	}
}

// TestApply: new delegations merge in name order whatever the order they
// are given in, a changed one keeps its place, and a removal must name a
// delegation that exists and is not also changed.
func TestApply(t *testing.T) {
	k := testKey(t)
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	p := func(name string) Project { return Project{Name: name, Keys: []*tuf.Key{k}, Threshold: 1} }
	cur, err := Build([]Project{p("bravo"), p("delta"), p("foxtrot")}, "{name}/*", nil, 1, exp)
	if err != nil {
		t.Fatal(err)
	}
	next, err := Apply(cur, []Project{p("golf"), p("delta"), p("alpha"), p("echo")}, []string{"bravo"}, "{name}/*", nil, 2, exp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range next.Delegations.Roles {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, " "); got != "alpha delta echo foxtrot golf" {
		t.Errorf("delegations %s, want alpha delta echo foxtrot golf", got)
	}
	if next.Delegations.Roles[3] != cur.Delegations.Roles[2] {
		t.Error("the unchanged delegation foxtrot was not kept as it was")
	}
	for remove, want := range map[string]string{
		"charlie": "project charlie is not delegated, so its delegation cannot end",
		"delta":   "project delta is both changed and removed",
	} {
		if _, err := Apply(cur, []Project{p("delta")}, []string{remove}, "{name}/*", nil, 2, exp); err == nil || err.Error() != want {
			t.Errorf("remove %s: got %v, want %s", remove, err, want)
		}
	}
}

// TestBuildRefusesOneKeyTwice: a public key listed twice counts once, so
// the project is refused, whether it has a few keys or many.
func TestBuildRefusesOneKeyTwice(t *testing.T) {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := make([]*tuf.Key, 17)
	for i := range keys {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		k, err := tuf.KeyFromPublic(ed25519.NewKeyFromSeed(seed).Public())
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	for _, n := range []int{2, 17} {
		ks := append(append([]*tuf.Key{}, keys[:n-1]...), keys[0])
		_, err := Build([]Project{{Name: "twice", Keys: ks, Threshold: 1}}, "{name}/*", nil, 1, exp)
		if want := "project twice: the same public key is listed twice"; err == nil || err.Error() != want {
			t.Errorf("%d keys: got %v, want %s", n, err, want)
		}
	}
	if _, err := Build([]Project{{Name: "distinct", Keys: keys, Threshold: 17}}, "{name}/*", nil, 1, exp); err != nil {
		t.Errorf("17 distinct keys: %v", err)
	}
}
