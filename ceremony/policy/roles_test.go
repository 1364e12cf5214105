package policy

import (
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// aliceKey2 is a second key of Alice's, in another slot of her YubiKey.
const aliceKey2 = "0a3f4f666b0b84abec70820797ca0a7613d800284806c190752a0d6c91fa7e3f"

// twoKeysForAlice is base with a second key for Alice.
func twoKeysForAlice(t *testing.T) *Policy {
	t.Helper()
	p, err := Parse("policy.yaml", edit(t, "        slot: 9c\n  - name: Bogdan",
		"        slot: 9c\n      - keyid: "+aliceKey2+"\n        token: yubikey\n        serial: 18243311\n        slot: 9d\n  - name: Bogdan", ""))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// metadata is a root whose root role is 2 of (alice, bogdan, other) and
// whose targets delegate claimed to claimedKeys with threshold.
func metadata(rootThreshold int64, claimedKeys []string, threshold int64) (*tuf.Root, *tuf.Targets) {
	other := strings.Repeat("e", 64)
	online := strings.Repeat("f", 64)
	root := &tuf.Root{
		Keys: map[string]*tuf.Key{aliceKey: nil, bogdanKey: nil, other: nil, online: nil},
		Roles: map[string]*tuf.RoleKeys{
			"root":      {KeyIDs: []string{aliceKey, bogdanKey, other}, Threshold: rootThreshold},
			"targets":   {KeyIDs: []string{aliceKey, bogdanKey, other}, Threshold: 2},
			"snapshot":  {KeyIDs: []string{online}, Threshold: 1},
			"timestamp": {KeyIDs: []string{online}, Threshold: 1},
		},
	}
	targets := &tuf.Targets{Delegations: &tuf.Delegations{
		Roles: []*tuf.DelegatedRole{{Name: "claimed", KeyIDs: claimedKeys, Threshold: threshold, Paths: []string{"*"}}},
	}}
	return root, targets
}

func TestCheckRoles(t *testing.T) {
	p := twoKeysForAlice(t)
	for _, tc := range []struct {
		name          string
		rootThreshold int64
		claimed       []string
		threshold     int64
		noDelegation  bool
		want          string
	}{
		{"one key each", 2, []string{aliceKey2, bogdanKey}, 2, false, ""},
		{"alice's two keys meet claimed's threshold", 2, []string{aliceKey, aliceKey2, bogdanKey}, 2, false,
			"policy.yaml:9: holders[0]: holder Alice Martin alone holds 2 of role claimed's keys, enough for its threshold of 2: no one person may sign a role alone"},
		{"alice's two keys below claimed's threshold", 2, []string{aliceKey, aliceKey2, bogdanKey}, 3, false, ""},
		{"a root of threshold one", 1, []string{aliceKey2, bogdanKey}, 2, false,
			"policy.yaml:9: holders[0]: holder Alice Martin alone holds 1 of role root's keys, enough for its threshold of 1: no one person may sign a role alone"},
		{"a key listed nowhere", 2, []string{bogdanKey, strings.Repeat("d", 64)}, 2, false,
			"policy.yaml:15: holders[0].keys[1].keyid: holder Alice Martin's key " + aliceKey2 + " is not a key of root or of any role the policy signs"},
		{"claimed not delegated", 2, nil, 0, true,
			"policy policy.yaml: targets does not delegate role claimed, which the policy signs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, targets := metadata(tc.rootThreshold, tc.claimed, tc.threshold)
			if tc.noDelegation {
				targets.Delegations.Roles[0].Name = "other"
			}
			err := p.CheckRoles(root, targets)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("CheckRoles:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// sharded is a policy whose projects are split over three shards.
const sharded = `
shards:
  - role: claimed-ab
    prefixes: [a, b]
    paths: ["a*", "b*"]
  - role: claimed-django
    prefixes: [django]
    paths: ["django*/*"]
  - role: claimed-rest
    prefixes: [""]
    paths: ["*"]
roles:
  claimed-rest:
    expiry: 30d
    warning: 7d
`

func TestShards(t *testing.T) {
	p, err := Parse("policy.yaml", edit(t, "", "", sharded))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.SignedRoles(), " "); got != "claimed-ab claimed-django claimed-rest" {
		t.Errorf("SignedRoles = %s", got)
	}
	if p.DelegatingRole != "" || p.Rules.DelegatingRole != "claimed-ab" || strings.Join(p.Rules.OtherRoles, " ") != "claimed-django claimed-rest" {
		t.Errorf("roles: %q, rules %q %q", p.DelegatingRole, p.Rules.DelegatingRole, p.Rules.OtherRoles)
	}
	for project, want := range map[string]string{
		"abc": "claimed-ab", "b": "claimed-ab", "django": "claimed-django", "django-rest": "claimed-django",
		"dj": "claimed-rest", "zope": "claimed-rest", "0x": "claimed-rest",
	} {
		if got := p.ShardFor(project); got != want {
			t.Errorf("ShardFor(%q) = %q, want %q", project, got, want)
		}
	}
	if got := p.Expiry("claimed-rest"); got.Expiry != 30*24*3600e9 || got.Warning != 7*24*3600e9 {
		t.Errorf("Expiry(claimed-rest) = %+v", got)
	}
	if got := p.Expiry("claimed-ab"); got != (RolePolicy{Expiry: DefaultExpiry, Warning: DefaultWarning}) {
		t.Errorf("Expiry(claimed-ab) = %+v", got)
	}

	// Without a catch-all, one prefix for each character a name can
	// start with covers every project too.
	var all []string
	for _, c := range nameStarts {
		all = append(all, `"`+string(c)+`"`)
	}
	full := "shards:\n  - role: claimed-all\n    prefixes: [" + strings.Join(all, ", ") + "]\n    paths: [\"*\"]\n"
	p, err = Parse("policy.yaml", edit(t, "", "", full))
	if err != nil {
		t.Fatalf("Parse with every first character: %v", err)
	}
	if got := p.ShardFor("9lives"); got != "claimed-all" {
		t.Errorf("ShardFor = %q", got)
	}
	if _, err := Parse("policy.yaml", edit(t, "", "", strings.Replace(full, `"9", `, "", 1))); err == nil ||
		!strings.HasSuffix(err.Error(), `shards: project "9" falls to no shard: give one shard the prefix "" (every project not matched otherwise), or prefixes for all of a–z and 0–9`) {
		t.Errorf("Parse without 9: %v", err)
	}
}

// TestCovers: a shard's path covers a prefix's projects only when every
// path of theirs matches it.
func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		q, pattern string
		want       bool
	}{
		{"*", "a*/*", true},
		{"a*", "a*/*", true},
		{"a*/*", "a*/*", true},
		{"a?*", "ab*/*", true},
		{"a/*", "a*/*", false}, // "ab/x" is not under a/
		{"a?*", "a*", false},   // "a" has no character after a
		{"b*", "a*/*", false},
		{"a*/x", "a*/*", false},
		{"django*", "dj*/*", false},
	} {
		if got := covers(tc.q, tc.pattern); got != tc.want {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.q, tc.pattern, got, tc.want)
		}
	}
}
