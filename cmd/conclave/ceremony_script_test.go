package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// scriptDoc is the documentation that holds the example script.
const scriptDoc = "../../docs/ceremony-script.md"

// docExampleScript returns the first YAML block of docs/ceremony-script.md.
func docExampleScript(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(scriptDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatalf("%s has no yaml block", scriptDoc)
	}
	return []byte(block)
}

// TestScriptDocExample: the documented example reads as it says.
func TestScriptDocExample(t *testing.T) {
	s, err := parseScript("example.yaml", docExampleScript(t))
	if err != nil {
		t.Fatal(err)
	}
	want := &script{
		Participants:       []string{"Alice Martin", "Bogdan Ionescu", "Chiara Rossi"},
		Witnesses:          []string{"Dana Okafor"},
		ConfirmSystemClock: true,
		Overrides:          map[string]string{"radio.rfkill": "the machine has no radio; the kernel exposes no rfkill switch"},
		Decisions: scriptDecisions{
			By:                  "Alice Martin",
			RuleApprovable:      true,
			RuleApprovableCount: 998,
			Approve:             []string{"3f1c0e2a-recover-example"},
			Reject:              map[string]string{"7d2b9a41-add-example": "the project's maintainers say they did not ask for this"},
			Defer:               map[string]string{"0b5e6c33-rotate-example": "waiting for the maintainer's confirmation by phone"},
		},
		Signing:      []string{"Alice Martin", "Chiara Rossi"},
		SignHead:     []string{"Alice Martin"},
		TokenRetries: 3,
		TokenDelay:   30 * time.Second,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

// minimalScript is the least a script holds.
const minimalScript = `format: conclave-ceremony-script/1
participants: [Alice]
clock: {time: "2027-01-05T10:00:00Z"}
decisions: {by: Alice}
signing: [Alice]
`

// TestScriptWaiver: waive_notice reads each request's reason and holders.
func TestScriptWaiver(t *testing.T) {
	s, err := parseScript("s.yaml", []byte(minimalScript+"waive_notice:\n  r-recover:\n    reason: \"key stolen\"\n    holders: [Alice]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]scriptWaiver{"r-recover": {Reason: "key stolen", Holders: []string{"Alice"}}}
	if !reflect.DeepEqual(s.Waivers, want) {
		t.Errorf("got %+v", s.Waivers)
	}
}

func TestScriptMinimal(t *testing.T) {
	s, err := parseScript("s.yaml", []byte(minimalScript))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Time.Equal(time.Date(2027, 1, 5, 10, 0, 0, 0, time.UTC)) || s.ConfirmSystemClock || s.TokenRetries != 0 || s.Decisions.RuleApprovable {
		t.Errorf("got %+v", s)
	}
}

// TestScriptRefused: every refusal names the file, the line and the field.
func TestScriptRefused(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "s.yaml: the script is empty"},
		{"unknown top field", minimalScript + "pins: [123456]\n",
			"s.yaml:6: pins: unknown field (the fields here are format, rehearsal, participants, witnesses, clock, preflight, waive_notice, decisions, signing, close, token_wait)"},
		{"waiver without reason", minimalScript + "waive_notice: {r1: {holders: [Alice]}}\n",
			"s.yaml:6: waive_notice.r1.reason: missing: a waiver names the reason and the holders who sign it"},
		{"waiver empty reason", minimalScript + "waive_notice: {r1: {reason: \" \", holders: [Alice]}}\n",
			"s.yaml:6: waive_notice.r1.reason: is empty"},
		{"waiver without holders", minimalScript + "waive_notice: {r1: {reason: stolen, holders: []}}\n",
			"s.yaml:6: waive_notice.r1.holders: is empty: name the holders who waive the notice period"},
		{"waiver holder twice", minimalScript + "waive_notice: {r1: {reason: stolen, holders: [Alice, Alice]}}\n",
			`s.yaml:6: waive_notice.r1.holders[1]: "Alice" is listed twice`},
		{"waiver holder not there", minimalScript + "waive_notice: {r1: {reason: stolen, holders: [Alice, Bob]}}\n",
			`s.yaml:6: waive_notice.r1.holders[1]: "Bob" is not among the participants`},
		{"waiver unknown field", minimalScript + "waive_notice: {r1: {reason: stolen, holders: [Alice], by: Alice}}\n",
			"s.yaml:6: waive_notice.r1.by: unknown field (the fields here are reason, holders)"},
		{"unknown nested field", strings.Replace(minimalScript, "{by: Alice}", "{by: Alice, aprove: [x]}", 1),
			"s.yaml:4: decisions.aprove: unknown field (the fields here are by, approve_rule_approvable, approve, reject, defer)"},
		{"key twice", minimalScript + "signing: [Alice]\n", "s.yaml:6: signing: given twice (first on line 5)"},
		{"wrong format", strings.Replace(minimalScript, "script/1", "script/2", 1),
			`s.yaml:1: format: "conclave-ceremony-script/2" is not a script format Conclave reads (conclave-ceremony-script/1)`},
		{"missing", "format: conclave-ceremony-script/1\n", "s.yaml:1: participants: missing: every script names it"},
		{"two clocks", strings.Replace(minimalScript, `{time: "2027-01-05T10:00:00Z"}`, `{confirm: system, time: "2027-01-05T10:00:00Z"}`, 1),
			"s.yaml:3: clock: give either confirm: system (the machine's clock, confirmed by the people in the room) or time: (a given time, for rehearsals and tests)"},
		{"clock confirm other", strings.Replace(minimalScript, `{time: "2027-01-05T10:00:00Z"}`, `{confirm: wristwatch}`, 1),
			`s.yaml:3: clock.confirm: want system, found the text "wristwatch"`},
		{"bad time", strings.Replace(minimalScript, "2027-01-05T10:00:00Z", "tomorrow", 1),
			`s.yaml:3: clock.time: "tomorrow" is not an RFC 3339 time such as 2027-01-01T00:00:00Z`},
		{"bulk without count", strings.Replace(minimalScript, "{by: Alice}", "{by: Alice, approve_rule_approvable: {}}", 1),
			"s.yaml:4: decisions.approve_rule_approvable.count: missing: a bulk approval confirms how many requests it approves"},
		{"bulk true", strings.Replace(minimalScript, "{by: Alice}", "{by: Alice, approve_rule_approvable: true}", 1),
			"s.yaml:4: decisions.approve_rule_approvable: want a mapping, found the boolean true"},
		{"count negative", strings.Replace(minimalScript, "{by: Alice}", "{by: Alice, approve_rule_approvable: {count: -1}}", 1),
			"s.yaml:4: decisions.approve_rule_approvable.count: -1 is out of range (0 to 1073741824)"},
		{"two decisions", strings.Replace(minimalScript, "{by: Alice}", "{by: Alice, approve: [r1], reject: {r1: no}}", 1),
			`s.yaml:4: decisions.reject.r1: request "r1" is also in decisions.approve: one decision per request`},
		{"empty reason", strings.Replace(minimalScript, "{by: Alice}", `{by: Alice, defer: {r1: " "}}`, 1),
			"s.yaml:4: decisions.defer.r1: is empty"},
		{"control character", strings.Replace(minimalScript, "{by: Alice}", `{by: Alice, reject: {r1: "no\x1b[2J"}}`, 1),
			`s.yaml:4: decisions.reject.r1: "no\x1b[2J" holds a control, invisible or backslash character; write plain text`},
		{"decider not there", strings.Replace(minimalScript, "{by: Alice}", "{by: Mallory}", 1),
			`s.yaml:4: decisions.by: "Mallory" is not among the participants`},
		{"signer not there", strings.Replace(minimalScript, "signing: [Alice]", "signing: [Alice, Bob]", 1),
			`s.yaml:5: signing[1]: "Bob" is not among the participants`},
		{"signer twice", strings.Replace(minimalScript, "signing: [Alice]", "signing: [Alice, Alice]", 1),
			`s.yaml:5: signing[1]: "Alice" is listed twice`},
		{"witness participates", minimalScript + "witnesses: [Alice]\n",
			`s.yaml:6: witnesses: "Alice" is also a participant: a witness watches, and is not one of the people deciding`},
		{"unknown preflight check", minimalScript + "preflight: {overrides: {wifi: off}}\n",
			"s.yaml:6: preflight.overrides.wifi: no preflight check has this ID (the IDs are network.interfaces, network.default-route-ipv4, network.default-route-ipv6, radio.rfkill, clock, media.removable)"},
		{"anchor", strings.Replace(minimalScript, "participants: [Alice]", "participants: &p [Alice]", 1),
			"s.yaml:2: participants: anchor &p refused: write every value out where it applies"},
		{"alias", "token_wait: {delay: &d 30s}\nrehearsal: *d\n" + minimalScript,
			"s.yaml:2: rehearsal: alias *d refused: write every value out where it applies"},
		{"tag", strings.Replace(minimalScript, "signing: [Alice]", "signing: [!!str Alice]", 1),
			"s.yaml:5: signing[0]: explicit tag !!str refused: write the value plainly"},
		{"second document", minimalScript + "---\nformat: x\n", "s.yaml:6: a second YAML document starts here; a script is one document"},
		{"bad delay", minimalScript + "token_wait: {retries: 2, delay: 100ms}\n",
			`s.yaml:6: token_wait.delay: "100ms" is not a duration between 1s and 1h, such as 30s or 2m`},
		{"too many retries", minimalScript + "token_wait: {retries: 1000}\n",
			"s.yaml:6: token_wait.retries: 1000 is out of range (0 to 100)"},
		{"syntax", "format: [\n", "s.yaml:1: not valid YAML: did not find expected node content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseScript("s.yaml", []byte(tc.text))
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v\nwant  %s", err, tc.want)
			}
		})
	}
}

// FuzzParseScript: any bytes are read or refused, never a panic; what is
// read names its decider and signers among the participants.
func FuzzParseScript(f *testing.F) {
	f.Add([]byte(minimalScript))
	f.Add(docExampleScript(f))
	f.Add([]byte(minimalScript + "waive_notice: {r1: {reason: stolen, holders: [Alice]}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseScript("f.yaml", data)
		if err != nil {
			return
		}
		if len(s.Participants) == 0 || len(s.Signing) == 0 {
			t.Fatalf("read a script without participants or signers: %+v", s)
		}
		for _, h := range append(append(append([]string{s.Decisions.By}, s.Signing...), s.SignHead...), waiverHolders(s)...) {
			found := false
			for _, p := range s.Participants {
				found = found || p == h
			}
			if !found {
				t.Fatalf("%q is not a participant: %+v", h, s)
			}
		}
	})
}
