package rehearsal

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// Signing names the holders who sign in the rehearsal's ceremony, in
// order: two of three, one on a YubiKey and one on the HSM.
var Signing = []string{"Alice", "Carol"}

// Witness is the rehearsal's witness, who keeps the paper log.
const Witness = "Walter"

// Script returns the headless ceremony's script (docs/ceremony-script.md)
// for the bundle: a rehearsal, its clock the given time, every
// rule-approvable request approved together with their count confirmed,
// and each request that needs judgement decided on its own, approved or
// rejected with the reason the generator gave it; the holders in Signing
// sign, and the last of them signs the log's head at the close. The
// script holds no PIN.
func (b *Bundle) Script(holders []string, now time.Time) []byte {
	var s strings.Builder
	fmt.Fprintf(&s, `# The ceremony script of a REHEARSAL, made by conclave rehearse.
format: conclave-ceremony-script/1
rehearsal: "conclave rehearse: training and trying Conclave on virtual YubiKeys and SoftHSM"
participants:
`)
	for _, h := range holders {
		fmt.Fprintf(&s, "  - %s\n", h)
	}
	fmt.Fprintf(&s, "witnesses:\n  - %s\nclock:\n  time: \"%s\"\ndecisions:\n  by: %s\n", Witness, now.UTC().Format(time.RFC3339), holders[0])
	fmt.Fprintf(&s, "  approve_rule_approvable:\n    count: %d\n", b.Counts()[verdict.RuleApprovable])
	var approve, reject []string
	for _, id := range slices.Sorted(maps.Keys(b.Expect)) {
		e := b.Expect[id]
		if e.Class != verdict.NeedsJudgement {
			continue
		}
		if e.Approve {
			approve = append(approve, id)
		} else {
			reject = append(reject, id)
		}
	}
	if len(approve) > 0 {
		s.WriteString("  approve:\n")
		for _, id := range approve {
			fmt.Fprintf(&s, "    - %s\n", id)
		}
	}
	if len(reject) > 0 {
		s.WriteString("  reject:\n")
		for _, id := range reject {
			fmt.Fprintf(&s, "    %s: %q\n", id, b.Expect[id].Reason)
		}
	}
	s.WriteString("signing:\n")
	for _, h := range Signing {
		fmt.Fprintf(&s, "  - %s\n", h)
	}
	fmt.Fprintf(&s, "close:\n  sign_head:\n    - %s\n", Signing[len(Signing)-1])
	return []byte(s.String())
}
