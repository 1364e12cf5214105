package rehearsal

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// PolicyHolder is a holder as the rehearsal's policy lists them.
type PolicyHolder struct {
	Name     string
	Enrolled policy.HolderKey
}

// policyYAML writes the rehearsal's policy (docs/policy-example.yaml
// explains each field): marked rehearsal, so that no production ceremony
// accepts it and SoftHSM may sign; the generated repository's name and
// intake key; claimed valid 90 days; the holders and their tokens; and the
// SoftHSM module by its hash. YubiKey attestation is not required: the
// virtual cards attest under a SIMULATOR root, which no production
// ceremony trusts.
func policyYAML(holders []PolicyHolder, intakeKey *tuf.Key, softHSM policy.Module) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `# A REHEARSAL policy, made by conclave rehearse: every production ceremony
# refuses it. Its holders' keys are on virtual YubiKeys and SoftHSM.
format: %s
rehearsal: true
repository: %s
intake_keys:
  - keytype: %s
    scheme: %s
    keyval:
      public: %s
delegating_role: %s
path_template: %q
roles:
  %s:
    expiry: 90d
    warning: 14d
requests:
  require_possession: true
  min_dwell: 7d
  recovery_notice: 14d
attestation:
  required: false
pkcs11_modules:
  - path: %s
    sha256: %s
holders:
`, policy.Format, Repository, intakeKey.Type, intakeKey.Scheme, intakeKey.Public,
		DelegatingRole, PathTemplate, DelegatingRole, softHSM.Path, softHSM.SHA256)
	for _, h := range holders {
		fmt.Fprintf(&b, "  - name: %s\n    keys:\n      - keyid: %s\n        token: %s\n", h.Name, h.Enrolled.KeyID, h.Enrolled.Token)
		switch h.Enrolled.Token {
		case policy.TokenYubiKey:
			fmt.Fprintf(&b, "        serial: %d\n        slot: %q\n", h.Enrolled.Serial, h.Enrolled.Slot)
		default:
			fmt.Fprintf(&b, "        uri: %s\n", strconv.Quote(h.Enrolled.URI))
		}
	}
	return []byte(b.String())
}
