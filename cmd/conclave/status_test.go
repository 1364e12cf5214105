package main

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
)

// TestExpiryCheck: the preflight result names the roles in their warning
// period and those expired, and never blocks.
func TestExpiryCheck(t *testing.T) {
	v, err := vault.Open(vault.NewMemReader(vaulttest.New(t).Adopted(t)))
	if err != nil {
		t.Fatal(err)
	}
	// claimed expires three months after vaulttest.Now, targets six.
	res := expiryCheck(v, vaulttest.Now)
	if res.ID != idVaultExpiry || res.Status != preflight.Info || res.Message != "every role of the vault is valid beyond its warning period" {
		t.Errorf("fresh: %+v", res)
	}
	res = expiryCheck(v, vaulttest.Now.AddDate(0, 3, -3))
	if res.Status != preflight.Info || res.Message != "near expiry or expired: claimed; refresh them (conclave refresh, docs/genesis.md)" ||
		!slices.Equal(res.Details, []string{"claimed version 1 expires 2027-03-01T10:00:00Z, in its warning period since 2027-02-15T10:00:00Z"}) {
		t.Errorf("claimed due: %+v", res)
	}
	res = expiryCheck(v, vaulttest.Now.AddDate(0, 4, 0))
	if res.Details[0] != "claimed version 1 EXPIRED at 2027-03-01T10:00:00Z" {
		t.Errorf("claimed expired: %+v", res)
	}
}

// TestStatusLostTwice: a holder reported lost twice is a confused command
// line, refused before the vault is opened, not two deadlines that
// disagree.
func TestStatusLostTwice(t *testing.T) {
	code, stdout, stderr := run(t, "status", t.TempDir(), "--lost", "alice=2027-01-10T09:00:00Z", "--lost", "alice=2027-01-11T09:00:00Z")
	want := "error: --lost: holder alice is named twice\n"
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, want)
	}
}

// TestStatusSpares: status lists each spare token's key as a spare, in
// reserve or in its roles, and the vault copies the policy asks for.
func TestStatusSpares(t *testing.T) {
	example, err := os.ReadFile("../../docs/policy-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse("policy.yaml", example)
	if err != nil {
		t.Fatal(err)
	}
	sp := spares(p)
	want := []spareJSON{{Holder: "Alice Martin", KeyID: "3e9d2a41c07b58f6e1a24d95b8c7f30e6a1d4c82b95e07f3a6c1d8e2f4b70a95", Token: "YubiKey 18243402, slot 9c", Roles: []string{}}}
	if !reflect.DeepEqual(sp, want) {
		t.Errorf("spares = %+v, want %+v", sp, want)
	}
	sp = append(sp, spareJSON{Holder: "Bogdan Ionescu", KeyID: strings.Repeat("b", 64), Token: "YubiKey 7, slot 9c", Roles: []string{"claimed"}})
	var b strings.Builder
	writeStatus(&b, statusReport{Vault: "VAULT", Generation: "gen-000001", VaultCopies: 3, Spares: sp})
	for _, line := range []string{
		"vault copies: 3, each brought up to date after every ceremony (policy custody.vault_copies)\n",
		"spare token: Alice Martin's, YubiKey 18243402, slot 9c, key 3e9d2a41c07b58f6e1a24d95b8c7f30e6a1d4c82b95e07f3a6c1d8e2f4b70a95: in reserve, in no role (a rotation places it)\n",
		"spare token: Bogdan Ionescu's, YubiKey 7, slot 9c, key " + strings.Repeat("b", 64) + ": in roles claimed\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("status lacks %q:\n%s", line, b.String())
		}
	}
}

// TestStatusNotAVault: a directory that holds no generation, such as an
// empty one, is the wrong directory named on the command line (status 2),
// not a failure to finish (3).
func TestStatusNotAVault(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := run(t, "status", dir)
	want := "error: vault " + dir + ": the vault holds no generation: there is no CURRENT file\n"
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, want)
	}
}

// TestNamedWrongIsUsage: a directory with no vault generation given as the
// vault, and a directory where a file is asked for, are the wrong names on
// the command line (status 2) in every command that opens them.
func TestNamedWrongIsUsage(t *testing.T) {
	dir := t.TempDir()
	empty := dir + "/empty"
	d := dir + "/d.json"
	for _, p := range []string{empty, d} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	noGen := "error: vault " + empty + ": the vault holds no generation: there is no CURRENT file\n"
	notFile := "open " + d + ": it is a directory, not a regular file: only regular files are read from the transfer medium\n"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"rotate", "--vault", empty, "--threshold", "root=1", "--sign", "x"}, noGen},
		{[]string{"refresh", "--vault", empty, "--sign", "x"}, noGen},
		{[]string{"enroll", "verify", "--vault", empty, d}, noGen},
		{[]string{"enroll", "verify", d}, "error: read the record: " + notFile},
		{[]string{"enroll", "verify", "--policy", d, d}, "error: read the policy: " + notFile},
		{[]string{"init", "--policy", d, "--holders", d, "--online-keys", "snapshot=" + d, "--out", dir + "/new", "--sign", "x"}, "error: " + notFile},
	} {
		code, stdout, stderr := run(t, c.args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, stdout, stderr, c.want)
		}
	}
}
