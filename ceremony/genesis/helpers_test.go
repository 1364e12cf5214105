package genesis

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
)

// now is the tests' confirmed time.
var now = time.Date(2027, 1, 10, 9, 0, 0, 0, time.UTC)

// holder is a test holder: a root key and a key for targets and claimed,
// each a software key of its own (so on tokens of their own).
type holder struct {
	name        string
	root, other vaulttest.Holder
}

// holders makes n holders with fixed keys; holder i's keys have seeds
// 10+2i and 11+2i.
func holders(t *testing.T, n int) []holder {
	t.Helper()
	var out []holder
	for i := range n {
		out = append(out, holder{fmt.Sprintf("Holder %d", i+1), vaulttest.Key(t, byte(10+2*i)), vaulttest.Key(t, byte(11+2*i))})
	}
	return out
}

// policyText is a rehearsal policy placing the holders' keys, with the
// thresholds given for root, targets and claimed.
func policyText(hs []holder, root, targets, claimed int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `format: conclave-policy/1
rehearsal: true
repository: example
intake_keys:
  - keytype: ed25519
    scheme: ed25519
    keyval:
      public: d943401082d79304938763c96058aca8268d73886fcb8e34ba01169fc7113b3b
roles:
  root:
    threshold: %d
  targets:
    threshold: %d
  claimed:
    threshold: %d
holders:
`, root, targets, claimed)
	for _, h := range hs {
		slug := strings.ReplaceAll(strings.ToLower(h.name), " ", "")
		fmt.Fprintf(&b, "  - name: %s\n    keys:\n", h.name)
		fmt.Fprintf(&b, "      - keyid: %s\n        token: softkey\n        uri: softkey:name=%s-root\n        roles: [root]\n", h.root.Key.ID(), slug)
		fmt.Fprintf(&b, "      - keyid: %s\n        token: softkey\n        uri: softkey:name=%s\n        roles: [targets, claimed]\n", h.other.Key.ID(), slug)
	}
	return []byte(b.String())
}

// records are the holders' enrolment records as Init takes them.
func records(hs []holder) []Record {
	var out []Record
	for _, h := range hs {
		slug := strings.ReplaceAll(strings.ToLower(h.name), " ", "")
		out = append(out,
			Record{Holder: h.name, Key: h.root.Key, Token: policy.TokenSoftkey, URI: "softkey:name=" + slug + "-root"},
			Record{Holder: h.name, Key: h.other.Key, Token: policy.TokenSoftkey, URI: "softkey:name=" + slug})
	}
	return out
}

// onlineKeys are fixed keys for snapshot and timestamp.
func onlineKeys(t *testing.T, seed byte) map[string]*tuf.Key {
	return map[string]*tuf.Key{tuf.TypeSnapshot: vaulttest.Key(t, seed).Key, tuf.TypeTimestamp: vaulttest.Key(t, seed+1).Key}
}

func parsePolicy(t *testing.T, data []byte) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// signAll signs the plan with each listed key.
func signAll(t *testing.T, plan *Plan, keys ...vaulttest.Holder) {
	t.Helper()
	for _, k := range keys {
		if _, err := plan.Sign(k.Key.ID(), k.Signer); err != nil {
			t.Fatal(err)
		}
	}
}

// genesisVault runs Init for three holders (thresholds 2) signed by the
// first two, and opens the vault it makes.
func genesisVault(t *testing.T) (*vault.Vault, []holder) {
	t.Helper()
	hs := holders(t, 3)
	pb := policyText(hs, 2, 2, 2)
	plan, err := Init(Input{Policy: parsePolicy(t, pb), PolicyBytes: pb, Records: records(hs), Online: onlineKeys(t, 90), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	signAll(t, plan, hs[0].root, hs[1].root, hs[0].other, hs[1].other)
	if err := plan.Complete(); err != nil {
		t.Fatal(err)
	}
	files, err := vault.Create(plan.AdoptInput(), "genesis-1", now, []vault.File{{Name: "log.jsonl", Data: []byte("{}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(vault.NewMemReader(files))
	if err != nil {
		t.Fatal(err)
	}
	return v, hs
}
