package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// base is a small valid policy; the refusal cases edit it, so that the
// line numbers they expect stay where they are.
const base = `format: conclave-policy/1
repository: pypi.example.org
intake_keys:
  - keytype: ed25519
    scheme: ed25519
    keyval:
      public: d943401082d79304938763c96058aca8268d73886fcb8e34ba01169fc7113b3b
holders:
  - name: Alice Martin
    keys:
      - keyid: b4f31b7ac0e2f6d81969517dbd31fdd35c8ee17c1dfdfce461e8cd9b143ed007
        token: yubikey
        serial: 18243311
        slot: 9c
  - name: Bogdan Ionescu
    keys:
      - keyid: 25be7c308340b7d942bb4ac0d9a8bbf9c08f806879e2856e490d557845f9bdf0
        token: yubikey
        serial: 20911784
        slot: 9c
`

// Keyids of the holders in base.
const (
	aliceKey  = "b4f31b7ac0e2f6d81969517dbd31fdd35c8ee17c1dfdfce461e8cd9b143ed007"
	bogdanKey = "25be7c308340b7d942bb4ac0d9a8bbf9c08f806879e2856e490d557845f9bdf0"
)

// edit returns base with old replaced by new (old must occur once) and
// extra appended.
func edit(t *testing.T, old, new, extra string) []byte {
	t.Helper()
	s := base
	if old != "" {
		if n := strings.Count(s, old); n != 1 {
			t.Fatalf("%q occurs %d times in the base policy", old, n)
		}
		s = strings.Replace(s, old, new, 1)
	}
	return []byte(s + extra)
}

func TestParseBase(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(base))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	d := p.Rules
	if p.DelegatingRole != "claimed" || d.DelegatingRole != "claimed" || d.Repository != "pypi.example.org" ||
		d.PathTemplate != "{name}/*" || d.RecoveryNotice != 14*24*time.Hour || d.MaxKeys != 16 {
		t.Errorf("defaults not applied: %+v, rules %+v", p, d)
	}
	if p.Rehearsal || p.Attestation.Required {
		t.Errorf("a flag is on by default: %+v", p)
	}
	if !p.RequirePossession || d.PossessionOptional {
		t.Errorf("proofs of possession not required by default: %v, rules %v", p.RequirePossession, d.PossessionOptional)
	}
	if got := p.Expiry("claimed"); got != (RolePolicy{Expiry: 90 * 24 * time.Hour, Warning: 14 * 24 * time.Hour}) {
		t.Errorf("Expiry(claimed) = %+v", got)
	}
	if len(p.IntakeKeys) != 1 || p.IntakeKeys[0].ID() != "0d63e60b056b6e62ca27691b1154ef5289ffb58d75a938582fb264b9264354f9" {
		t.Errorf("intake keys %v", p.IntakeKeys)
	}
	if h, ok := p.Holder(bogdanKey); !ok || h.Name != "Bogdan Ionescu" || h.Keys[0].Serial != 20911784 || h.Keys[0].Slot != "9c" {
		t.Errorf("Holder(bogdan) = %+v, %v", h, ok)
	}
	if h, ok := p.Holder(strings.Repeat("0", 64)); ok {
		t.Errorf("Holder(unknown) = %+v", h)
	}
	if sum := sha256.Sum256([]byte(base)); p.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 %q", p.SHA256)
	}
	p, err = Parse("policy.yaml", edit(t, "", "", "requests:\n  require_possession: false\n"))
	if err != nil || p.RequirePossession || !p.Rules.PossessionOptional {
		t.Errorf("require_possession: false gives %v, rules %v (%v)", p.RequirePossession, p.Rules.PossessionOptional, err)
	}
	if d.MaxPublishedSize != 64<<20 || d.MaxBatchSize != 8<<20 || d.MaxBatchRequests != 4096 || d.MaxRequestSize != 1<<20 {
		t.Errorf("published-state limit %d, batch limits %d bytes and %d requests, request limit %d by default", d.MaxPublishedSize, d.MaxBatchSize, d.MaxBatchRequests, d.MaxRequestSize)
	}
	p, err = Parse("policy.yaml", edit(t, "", "", "bundle_limits:\n  max_published_size: 4096\n  max_batch_requests: 100\n  max_batch_size: 65536\n  max_request_size: 4096\n  max_requests: 1000\n"))
	if err != nil || p.Rules.MaxPublishedSize != 4096 || p.Rules.MaxBatchSize != 65536 || p.Rules.MaxBatchRequests != 100 || p.Rules.MaxRequestSize != 4096 || p.Rules.MaxRequests != 1000 {
		t.Errorf("max_published_size: 4096 gives %+v (%v)", p.Rules, err)
	}
}

// TestParseRefusals: every refusal names the file, the line and the
// field path, exactly.
func TestParseRefusals(t *testing.T) {
	const yk = "        token: yubikey\n        serial: 18243311\n        slot: 9c\n"
	for _, tc := range []struct {
		name, old, new, extra string
		want                  string
	}{
		// The YAML itself.
		{"duplicate key", "", "", "repository: other\n",
			`policy.yaml:21: repository: given twice (first on line 2)`},
		{"duplicate nested key", "        slot: 9c\n  - name: Bogdan", "        slot: 9c\n        slot: 9d\n  - name: Bogdan", "",
			`policy.yaml:15: holders[0].keys[0].slot: given twice (first on line 14)`},
		{"unknown field", "", "", "rehersal: true\n",
			`policy.yaml:21: rehersal: unknown field (the fields here are format, rehearsal, repository, intake_keys, delegating_role, shards, online_roles, path_template, roles, developer_keys, requests, bundle_limits, attestation, pkcs11_modules, preflight, holders, lost_token_deadline, custody)`},
		{"unknown nested field", "        slot: 9c\n  - name: Bogdan", "        slot: 9c\n        pin: 123456\n  - name: Bogdan", "",
			`policy.yaml:15: holders[0].keys[0].pin: unknown field (the fields here are keyid, token, serial, slot, uri, roles, spare)`},
		{"anchor", "repository: pypi.example.org", "repository: &r pypi.example.org", "",
			`policy.yaml:2: repository: anchor &r refused: a policy is read by people, so every value is written out where it applies`},
		{"alias without anchor", "", "", "delegating_role: *r\n",
			`policy.yaml: not valid YAML: unknown anchor 'r' referenced`},
		{"explicit tag", "repository: pypi.example.org", "repository: !!str pypi.example.org", "",
			`policy.yaml:2: repository: explicit tag !!str refused: write the value plainly`},
		{"merge key", "", "", "<<: {rehearsal: true}\n",
			`policy.yaml:21: a key must be text, found "<<"`},
		{"number as key", "", "", "1: x\n",
			`policy.yaml:21: a key must be text, found the number 1`},
		{"second document", "", "", "---\nformat: conclave-policy/1\n",
			`policy.yaml:21: a second YAML document starts here; a policy is one document`},
		{"syntax", "", "", "roles: [\n",
			`policy.yaml:21: not valid YAML: did not find expected node content`},
		{"not a mapping", "format: conclave-policy/1\n", "- format: conclave-policy/1\n", "",
			`policy.yaml:1: not valid YAML: did not find expected '-' indicator`},

		// Required fields and types.
		{"format missing", "format: conclave-policy/1\n", "", "",
			`policy.yaml:1: format: missing: every policy names it`},
		{"format unknown", "format: conclave-policy/1", "format: conclave-policy/2", "",
			`policy.yaml:1: format: "conclave-policy/2" is not a policy format Conclave reads (conclave-policy/1)`},
		{"repository a number", "repository: pypi.example.org", "repository: 12", "",
			`policy.yaml:2: repository: want text, found the number 12`},
		{"repository null", "repository: pypi.example.org", "repository:", "",
			`policy.yaml:2: repository: want text, found nothing (null)`},
		{"repository with an escape", "repository: pypi.example.org", `repository: "pypi\e[2J"`, "",
			`policy.yaml:2: repository: "pypi\x1b[2J" holds a control, invisible or backslash character; write plain text`},
		{"boolean yes", "", "", "rehearsal: yes\n",
			`policy.yaml:21: rehearsal: want true or false, found the text "yes"`},
		{"boolean quoted", "", "", "rehearsal: \"true\"\n",
			`policy.yaml:21: rehearsal: want true or false, found the text "true"`},
		{"boolean capitalised", "", "", "rehearsal: True\n",
			`policy.yaml:21: rehearsal: want true or false, found the boolean True`},
		{"holder without name", "  - name: Alice Martin\n    keys:", "  - keys:", "",
			`policy.yaml:9: holders[0].name: missing`},
		{"serial as text", "serial: 18243311", `serial: "18243311"`, "",
			`policy.yaml:13: holders[0].keys[0].serial: want a whole number, found the text "18243311"`},
		{"serial zero", "serial: 18243311", "serial: 0", "",
			`policy.yaml:13: holders[0].keys[0].serial: 0 is out of range (1 to 4294967295)`},
		{"serial too large", "serial: 18243311", "serial: 4294967296", "",
			`policy.yaml:13: holders[0].keys[0].serial: 4294967296 is out of range (1 to 4294967295)`},
		{"serial in hex", "serial: 18243311", "serial: 0x1F", "",
			`policy.yaml:13: holders[0].keys[0].serial: want a whole number written in decimal, found 0x1F`},
		{"rsa bits too small", "", "", "developer_keys:\n  rsa_min_bits: 1024\n",
			`policy.yaml:22: developer_keys.rsa_min_bits: 1024 is out of range (2048 to 8192)`},
		{"rsa bits a fraction", "", "", "developer_keys:\n  rsa_max_bits: 4096.5\n",
			`policy.yaml:22: developer_keys.rsa_max_bits: want a whole number, found the number 4096.5`},
		{"rsa max below min", "", "", "developer_keys:\n  rsa_min_bits: 4096\n  rsa_max_bits: 3072\n",
			`policy.yaml:23: developer_keys.rsa_max_bits: 3072 is below rsa_min_bits (4096)`},
		{"json depth", "", "", "bundle_limits:\n  max_json_depth: 3\n",
			`policy.yaml:22: bundle_limits.max_json_depth: 3 is out of range (4 to 512)`},
		{"total below batch size", "", "", "bundle_limits:\n  max_batch_size: 2048\n  max_request_size: 1024\n  max_total_size: 1024\n",
			`policy.yaml:24: bundle_limits.max_total_size: 1024 is below max_batch_size (2048)`},
		{"batch size below request size", "", "", "bundle_limits:\n  max_batch_size: 1024\n  max_request_size: 2048\n",
			`policy.yaml:22: bundle_limits.max_batch_size: 1024 is below max_request_size (2048)`},
		{"total below published size", "", "", "bundle_limits:\n  max_batch_size: 1024\n  max_request_size: 1024\n  max_published_size: 2048\n  max_total_size: 1024\n",
			`policy.yaml:25: bundle_limits.max_total_size: 1024 is below max_published_size (2048)`},
		{"published size zero", "", "", "bundle_limits:\n  max_published_size: 0\n",
			`policy.yaml:22: bundle_limits.max_published_size: 0 is out of range (1 to 1099511627776)`},
		{"scheme unknown", "", "", "developer_keys:\n  schemes: [ed25519, rsa-pkcs1v15-sha256]\n",
			`policy.yaml:22: developer_keys.schemes[1]: "rsa-pkcs1v15-sha256" is not a key scheme Conclave accepts (ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, rsassa-pss-sha256)`},
		{"scheme twice", "", "", "developer_keys:\n  schemes: [ed25519, ed25519]\n",
			`policy.yaml:22: developer_keys.schemes[1]: ed25519 is listed twice`},
		{"no scheme", "", "", "developer_keys:\n  schemes: []\n",
			`policy.yaml:22: developer_keys.schemes: no scheme: no developer key could be delegated`},

		// Durations and roles.
		{"duration without unit", "", "", "roles:\n  claimed:\n    expiry: 90\n",
			`policy.yaml:23: roles.claimed.expiry: "90" is not a duration: write a whole number of days, hours or minutes, such as 90d, 36h or 30m`},
		{"duration in weeks", "", "", "requests:\n  min_dwell: 1w\n",
			`policy.yaml:22: requests.min_dwell: "1w" is not a duration: write a whole number of days, hours or minutes, such as 90d, 36h or 30m`},
		{"duration in seconds", "", "", "requests:\n  recovery_notice: 90s\n",
			`policy.yaml:22: requests.recovery_notice: "90s" is not a duration: write a whole number of days, hours or minutes, such as 90d, 36h or 30m`},
		{"duration negative", "", "", "requests:\n  min_dwell: -1d\n",
			`policy.yaml:22: requests.min_dwell: "-1d" is not a duration: write a whole number of days, hours or minutes, such as 90d, 36h or 30m`},
		{"duration leading zero", "", "", "requests:\n  min_dwell: 07d\n",
			`policy.yaml:22: requests.min_dwell: "07d" is not a duration: write a whole number of days, hours or minutes, such as 90d, 36h or 30m`},
		{"duration too long", "", "", "roles:\n  claimed:\n    expiry: 3651d\n",
			`policy.yaml:23: roles.claimed.expiry: 3651d is longer than ten years (3650d)`},
		{"duration a list", "", "", "roles:\n  claimed:\n    expiry: [90d]\n",
			`policy.yaml:23: roles.claimed.expiry: want a duration such as 90d, 36h or 30m, found a list`},
		{"expiry zero", "", "", "roles:\n  claimed:\n    expiry: 0d\n",
			`policy.yaml:23: roles.claimed.expiry: must be longer than zero`},
		{"warning as long as expiry", "", "", "roles:\n  claimed:\n    expiry: 14d\n",
			`policy.yaml:22: roles.claimed.warning: 14d is not shorter than the expiry (14d): the role would be reported as expiring from the day it is signed`},
		{"warning longer than expiry", "", "", "roles:\n  claimed:\n    expiry: 7d\n",
			`policy.yaml:22: roles.claimed.warning: 14d is not shorter than the expiry (7d): the role would be reported as expiring from the day it is signed`},
		{"role not signed", "", "", "roles:\n  snapshot:\n    expiry: 365d\n",
			`policy.yaml:22: roles.snapshot: "snapshot" is not root, targets or a role this policy signs (claimed)`},
		{"role field unknown", "", "", "roles:\n  claimed:\n    expires: 90d\n",
			`policy.yaml:23: roles.claimed.expires: unknown field (the fields here are expiry, warning, threshold)`},
		{"delegating role top-level", "", "", "delegating_role: targets\n",
			`policy.yaml:21: delegating_role: "targets" is a top-level TUF role, not one a ceremony delegates projects to`},
		{"delegating role name", "", "", "delegating_role: Claimed\n",
			`policy.yaml:21: delegating_role: role name "Claimed" may hold only a–z, 0–9 and "-" inside`},
		{"role and shards", "", "", "delegating_role: claimed\nshards: []\n",
			`policy.yaml:22: shards: a policy names either delegating_role or shards, not both`},
		{"path template without name", "", "", "path_template: \"pkgs/*\"\n",
			`policy.yaml:21: path_template: "pkgs/*" does not contain {name}, so projects would share paths`},
		{"path template with a class", "", "", "path_template: \"{name}/[a-z]*\"\n",
			`policy.yaml:21: path_template: "{name}/[a-z]*" uses [, ] or \, which clients interpret differently`},

		// Shards.
		{"shard uncovered", "", "", "shards:\n  - role: claimed-a\n    prefixes: [a]\n    paths: [\"a*\"]\n",
			`policy.yaml:21: shards: project "0" falls to no shard: give one shard the prefix "" (every project not matched otherwise), or prefixes for all of a–z and 0–9`},
		{"shard prefix twice", "", "", "shards:\n  - role: claimed-a\n    prefixes: [a]\n    paths: [\"a*\"]\n  - role: claimed-rest\n    prefixes: [\"\", a]\n    paths: [\"*\"]\n",
			`policy.yaml:26: shards[1].prefixes[1]: prefix "a" is also a prefix of shard claimed-a: a project must fall to exactly one shard`},
		{"shard prefix not normalised", "", "", "shards:\n  - role: claimed-a\n    prefixes: [\"\", A]\n    paths: [\"*\"]\n",
			`policy.yaml:23: shards[0].prefixes[1]: prefix "A" cannot start a normalised project name (lower-case a–z, 0–9, single "-" inside)`},
		{"shard role twice", "", "", "shards:\n  - role: claimed-a\n    prefixes: [a]\n    paths: [\"a*\"]\n  - role: claimed-a\n    prefixes: [\"\"]\n    paths: [\"*\"]\n",
			`policy.yaml:25: shards[1].role: role "claimed-a" is also shards[0]`},
		{"shard paths miss its projects", "", "", "shards:\n  - role: claimed-a\n    prefixes: [a]\n    paths: [\"a/*\"]\n  - role: claimed-rest\n    prefixes: [\"\"]\n    paths: [\"*\"]\n",
			`policy.yaml:24: shards[0].paths: no path covers the projects of prefix "a" (a*/*)`},
		{"shard without paths", "", "", "shards:\n  - role: claimed-a\n    prefixes: [\"\"]\n    paths: []\n",
			`policy.yaml:24: shards[0].paths: no path: the shard would be delegated nothing`},
		{"shard without prefix", "", "", "shards:\n  - role: claimed-a\n    prefixes: []\n    paths: [\"*\"]\n",
			`policy.yaml:23: shards[0].prefixes: no prefix: the shard would hold no project`},
		{"shard field missing", "", "", "shards:\n  - role: claimed-a\n    prefixes: [\"\"]\n",
			`policy.yaml:22: shards[0].paths: missing`},

		// Online roles.
		{"online role signed", "", "", "online_roles:\n  - {name: claimed, paths: [\"*/*\"]}\n",
			`policy.yaml:22: online_roles[0].name: claimed is a role the policy signs: an online role is signed by the online repository's key`},
		{"online role top-level", "", "", "online_roles:\n  - {name: snapshot, paths: [\"*/*\"]}\n",
			`policy.yaml:22: online_roles[0].name: "snapshot" is a top-level TUF role, not one a ceremony delegates projects to`},
		{"online role twice", "", "", "online_roles:\n  - {name: unclaimed, paths: [\"*/*\"]}\n  - {name: unclaimed, paths: [\"*\"]}\n",
			`policy.yaml:23: online_roles[1].name: role unclaimed is also online_roles[0]`},
		{"online role without paths", "", "", "online_roles:\n  - {name: unclaimed, paths: []}\n",
			`policy.yaml:22: online_roles[0].paths: no path: the role would be delegated nothing`},
		{"online role threshold zero", "", "", "online_roles:\n  - {name: unclaimed, paths: [\"*/*\"], threshold: 0}\n",
			`policy.yaml:22: online_roles[0].threshold: 0 is out of range (1 to 255)`},
		{"online role field unknown", "", "", "online_roles:\n  - {name: unclaimed, paths: [\"*/*\"], keys: []}\n",
			`policy.yaml:22: online_roles[0].keys: unknown field (the fields here are name, paths, threshold)`},

		// Attestation, modules, preflight.
		{"firmware", "", "", "attestation:\n  min_firmware: \"5.7\"\n",
			`policy.yaml:22: attestation.min_firmware: "5.7" is not a firmware version written MAJOR.MINOR.PATCH (such as 5.7.0)`},
		{"pin policy", "", "", "attestation:\n  pin_policies: [once, sometimes]\n",
			`policy.yaml:22: attestation.pin_policies[1]: "sometimes" is not one of never, once, always, match-once, match-always`},
		{"touch policy twice", "", "", "attestation:\n  touch_policies: [always, always]\n",
			`policy.yaml:22: attestation.touch_policies[1]: always is listed twice`},
		{"module path relative", "", "", "pkcs11_modules:\n  - path: lib/hsm.so\n    sha256: " + strings.Repeat("a", 64) + "\n",
			`policy.yaml:22: pkcs11_modules[0].path: "lib/hsm.so" is not an absolute path`},
		{"module hash", "", "", "pkcs11_modules:\n  - path: /lib/hsm.so\n    sha256: " + strings.Repeat("A", 64) + "\n",
			`policy.yaml:23: pkcs11_modules[0].sha256: "` + strings.Repeat("A", 64) + `" is not a SHA-256 written as 64 lower-case hex digits`},
		{"module twice", "", "", "pkcs11_modules:\n  - path: /lib/hsm.so\n    sha256: " + strings.Repeat("a", 64) + "\n  - path: /lib/hsm.so\n    sha256: " + strings.Repeat("a", 64) + "\n",
			`policy.yaml:24: pkcs11_modules[1]: the same module as pkcs11_modules[0]`},
		{"preflight twice", "", "", "preflight:\n  required: [clock, clock]\n",
			`policy.yaml:22: preflight.required[1]: "clock" is listed twice`},

		// Intake keys.
		{"intake key unreadable", "public: d943", "public: zz43", "",
			`policy.yaml:7: intake_keys[0].keyval.public: invalid key: an ed25519 public key must be 32 bytes as lowercase hex`},
		{"intake key twice", "holders:\n", "  - keytype: ed25519\n    scheme: ed25519\n    keyval:\n      public: d943401082d79304938763c96058aca8268d73886fcb8e34ba01169fc7113b3b\nholders:\n", "",
			`policy.yaml:8: intake_keys[1]: the same key as intake_keys[0] (keyid 0d63e60b056b6e62ca27691b1154ef5289ffb58d75a938582fb264b9264354f9)`},

		// Holders and their keys.
		{"slot not a signing slot", "slot: 9c\n  - name: Bogdan", "slot: 9z\n  - name: Bogdan", "",
			`policy.yaml:14: holders[0].keys[0].slot: "9z" is not a PIV signing slot (9a, 9c, 9d, 9e, 82–95)`},
		{"slot missing", "        slot: 9c\n  - name: Bogdan", "  - name: Bogdan", "",
			`policy.yaml:11: holders[0].keys[0].slot: missing: name the PIV slot holding the key`},
		{"serial missing", "        serial: 18243311\n", "", "",
			`policy.yaml:11: holders[0].keys[0].serial: missing: a YubiKey is recognised by its serial number before its PIN is asked`},
		{"yubikey with a uri", "        slot: 9c\n  - name: Bogdan", "        slot: 9c\n        uri: pkcs11:token=a\n  - name: Bogdan", "",
			`policy.yaml:15: holders[0].keys[0].uri: a YubiKey key is named by serial and slot, not by a URI`},
		{"token unknown", "        token: yubikey\n        serial: 18243311", "        token: nitrokey\n        serial: 18243311", "",
			`policy.yaml:12: holders[0].keys[0].token: "nitrokey" is not a token kind (yubikey, pkcs11, softkey)`},
		{"pkcs11 without modules", yk + "  - name: Bogdan", "        token: pkcs11\n        uri: \"pkcs11:token=ceremony;object=alice\"\n  - name: Bogdan", "",
			`policy.yaml:12: holders[0].keys[0].token: a pkcs11 key needs pkcs11_modules to list the modules allowed to use it`},
		{"pkcs11 with a serial", yk + "  - name: Bogdan", "        token: pkcs11\n        serial: 4\n        uri: \"pkcs11:token=a\"\n  - name: Bogdan", "",
			`policy.yaml:13: holders[0].keys[0].serial: only a yubikey key has a serial`},
		{"pkcs11 uri of another kind", yk + "  - name: Bogdan", "        token: pkcs11\n        uri: \"softkey:name=a\"\n  - name: Bogdan", "rehearsal: true\n",
			`policy.yaml:13: holders[0].keys[0].uri: "softkey:name=a" is not a PKCS#11 URI (RFC 7512) such as pkcs11:token=ceremony;object=alice`},
		{"softkey outside a rehearsal", yk + "  - name: Bogdan", "        token: softkey\n        uri: \"softkey:name=alice\"\n  - name: Bogdan", "",
			`policy.yaml:12: holders[0].keys[0].token: softkey keys are files on the ceremony machine and protect nothing; they are allowed only in a policy with rehearsal: true`},
		{"softkey without uri", yk + "  - name: Bogdan", "        token: softkey\n  - name: Bogdan", "rehearsal: true\n",
			`policy.yaml:11: holders[0].keys[0].uri: missing: a softkey key is named by softkey:name=NAME`},
		{"keyid not hex", "keyid: b4f3", "keyid: B4F3", "",
			`policy.yaml:11: holders[0].keys[0].keyid: "B4F31b7ac0e2f6d81969517dbd31fdd35c8ee17c1dfdfce461e8cd9b143ed007" is not a keyid (64 lower-case hex digits)`},
		{"keyid of two holders", "keyid: 25be7c308340b7d942bb4ac0d9a8bbf9c08f806879e2856e490d557845f9bdf0", "keyid: " + aliceKey, "",
			`policy.yaml:17: holders[1].keys[0].keyid: keyid ` + aliceKey + ` is also holders[0].keys[0]`},
		{"one yubikey slot twice", "serial: 20911784", "serial: 18243311", "",
			`policy.yaml:17: holders[1].keys[0]: the same token key as holders[0].keys[0] (yubikey 18243311 slot 9c)`},
		{"holder name twice", "name: Bogdan Ionescu", "name: alice martin", "",
			`policy.yaml:15: holders[1].name: "alice martin" is also the name of holders[0]: the log names holders, so names must differ`},
		{"holder name with a control character", "name: Bogdan Ionescu", `name: "Bogdan\rIonescu"`, "",
			`policy.yaml:15: holders[1].name: "Bogdan\rIonescu" holds a control, invisible or backslash character; write plain text`},
		{"holder name with a bidi override", "name: Bogdan Ionescu", "name: \"Bogdan \u202eucsenoI\"", "",
			`policy.yaml:15: holders[1].name: "Bogdan \u202eucsenoI" holds a control, invisible or backslash character; write plain text`},
		{"holder name empty", "name: Bogdan Ionescu", `name: ""`, "",
			`policy.yaml:15: holders[1].name: is empty`},
		{"holder name too long", "name: Bogdan Ionescu", "name: " + strings.Repeat("B", 121), "",
			`policy.yaml:15: holders[1].name: is 121 characters long; at most 120 are allowed`},
		{"holder without keys", "    keys:\n      - keyid: 25be7c308340b7d942bb4ac0d9a8bbf9c08f806879e2856e490d557845f9bdf0\n        token: yubikey\n        serial: 20911784\n        slot: 9c\n", "    keys: []\n", "",
			`policy.yaml:16: holders[1].keys: no key: the holder could not sign`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("policy.yaml", edit(t, tc.old, tc.new, tc.extra))
			if err == nil {
				t.Fatalf("Parse accepted it; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse:\n got %s\nwant %s", err, tc.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Errorf("error %T is not a *policy.Error wrapping ErrInvalid", err)
			}
		})
	}
}

// TestParseWholeFile: refusals of the file as a whole.
func TestParseWholeFile(t *testing.T) {
	const head = "format: conclave-policy/1\nrepository: r\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "", "policy.yaml: the policy is empty"},
		{"only comments", "# nothing\n", "policy.yaml: the policy is empty"},
		{"null", "~\n", "policy.yaml:1: want a mapping, found nothing (null)"},
		{"a list", "- format: conclave-policy/1\n", "policy.yaml:1: want a mapping, found a list"},
		{"holders missing", head + "intake_keys: []\n", "policy.yaml:1: holders: missing: every policy names it"},
		{"intake keys empty", head + "intake_keys: []\nholders: []\n", "policy.yaml:3: intake_keys: no intake key: bundles could not be verified"},
		{"holders a mapping", base[:strings.Index(base, "holders:")] + "holders: {}\n", "policy.yaml:8: holders: want a list, found a mapping"},
		{"no holder", base[:strings.Index(base, "holders:")] + "holders: []\n", "policy.yaml:8: holders: no holder: nobody could sign"},
		{"too large", "#" + strings.Repeat(" ", MaxSize), "policy.yaml: the policy is 262145 bytes long; at most 262144 are read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("policy.yaml", []byte(tc.doc))
			if err == nil || err.Error() != tc.want {
				t.Errorf("Parse:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestRehearsalSoftkey: a softkey is accepted in a rehearsal policy, and
// Check refuses the same policy once it is no longer a rehearsal.
func TestRehearsalSoftkey(t *testing.T) {
	p, err := Parse("policy.yaml", edit(t, "        token: yubikey\n        serial: 18243311\n        slot: 9c\n",
		"        token: softkey\n        uri: \"softkey:name=alice\"\n", "rehearsal: true\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !p.Rehearsal || p.Holders[0].Keys[0].URI != "softkey:name=alice" {
		t.Errorf("decoded %+v", p)
	}
	p.Rehearsal = false
	want := "policy.yaml:12: holders[0].keys[0].token: softkey keys are files on the ceremony machine and protect nothing; they are allowed only in a policy with rehearsal: true"
	if err := p.Check(); err == nil || err.Error() != want {
		t.Errorf("Check:\n got %v\nwant %s", err, want)
	}
}

// TestCheckRules: the rules built from the policy pass rules.Check, and a
// program that breaks them afterwards is told by Check.
func TestCheckRules(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Rules.Check(); err != nil {
		t.Errorf("rules.Check: %v", err)
	}
	p.Rules.MinDwell = -time.Hour
	want := "policy.yaml: rules: notice period and dwell time must not be negative"
	if err := p.Check(); err == nil || err.Error() != want || !errors.Is(err, ErrInvalid) {
		t.Errorf("Check:\n got %v\nwant %s", err, want)
	}
}

// TestDurations: what a policy writes and how it is read back.
func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want time.Duration
	}{
		{"0d", 0}, {"90d", 90 * 24 * time.Hour}, {"36h", 36 * time.Hour}, {"30m", 30 * time.Minute},
		{"3650d", MaxDuration}, {"87600h", MaxDuration}, {"5256000m", MaxDuration},
	} {
		got, err := ParseDuration(tc.s)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.s, got, err, tc.want)
		}
	}
	for _, s := range []string{"", "d", "90", "1w", "1s", "+1d", "-1d", "1.5d", "1d12h", "0x10d", " 1d", "3651d", "87601h", "99999999999d"} {
		if got, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", s, got)
		}
	}
	for d, want := range map[time.Duration]string{
		90 * 24 * time.Hour: "90d", 36 * time.Hour: "36h", 90 * time.Minute: "90m", 0: "0d",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestCheckPreflight: a required check must be one that exists.
func TestCheckPreflight(t *testing.T) {
	p, err := Parse("policy.yaml", edit(t, "", "", "preflight:\n  required: [clock, network.wifi]\n"))
	if err != nil {
		t.Fatal(err)
	}
	known := []string{"network.interfaces", "clock"}
	want := `policy.yaml:22: preflight.required[1]: no preflight check has the id "network.wifi" (the ids are network.interfaces, clock)`
	if err := p.CheckPreflight(known); err == nil || err.Error() != want {
		t.Errorf("CheckPreflight:\n got %v\nwant %s", err, want)
	}
	p.Preflight.Required = p.Preflight.Required[:1]
	if err := p.CheckPreflight(known); err != nil {
		t.Errorf("CheckPreflight: %v", err)
	}
}
