package validate_test

import (
	"testing"

	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// TestHostileNames: a project may not be named like a role that is not a
// project (request.CheckNotRole): each add below would otherwise be
// rule-approvable (its keys published a day before). The cases go to the
// hostile corpus with the prefix "reserved name".
func TestHostileNames(t *testing.T) {
	reserved := want{verdict.Invalid, []verdict.Code{verdict.ProjectRoleName}}
	cases := []struct {
		name    string
		project string
		other   []string // rules.OtherRoles
		want    want
	}{
		{"root", "root", nil, reserved},
		{"targets", "targets", nil, reserved},
		{"snapshot", "snapshot", nil, reserved},
		{"timestamp", "timestamp", nil, reserved},
		{"the delegating role", "claimed", nil, reserved},
		{"the delegating role in capitals", "CLAIMED", nil, reserved},
		{"a top-level role in mixed case", "TimeStamp", nil, reserved},
		{"a shard", "Claimed_Shard.A", []string{"claimed-shard-a"}, reserved},
		{"a role beside the delegating role", "recently-claimed", []string{"Recently_Claimed"}, reserved},
		{"a role whose file is the project's version 1", "Legacy", []string{"1.legacy"}, reserved},
		// Legal: "1.root" is "1-root", whose files never collide with
		// 1.root.json.
		{"1.root is not root", "1.root", nil, want{verdict.RuleApprovable, nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.rules.OtherRoles = c.other
			d := e.f.Add(t, "r1", c.project, "n1", "n2")
			e.dwell(d)
			e.pack = e.f.Pack("b1", it.Lines(d)...)
			o := e.run()
			checkVerdict(t, o, "r1", c.want)
			e.saveCorpus("reserved name "+c.name, o, corpusExpect{ID: "r1", Class: c.want.class, Codes: c.want.codes})
		})
	}
}

// TestReservedNameSentence: the sentence names what was written and why.
func TestReservedNameSentence(t *testing.T) {
	e := newEnv(t)
	e.pack = e.f.Pack("b1", it.Lines(e.f.Add(t, "r1", "Root", "n1"), e.f.Recover(t, "r2", "claimed"))...)
	o := e.run()
	for id, w := range map[string]string{
		"r1": `The project name "Root" is refused: it is the top-level role root: TUF clients refuse metadata that delegates a top-level role, and the project's metadata file would be that role's.`,
		"r2": `The project name "claimed" is refused: it is the role "claimed" once folded as PEP 503 and case-insensitive filesystems fold names, so the project and the role would share a name and a metadata file.`,
	} {
		v := o.byID[id]
		if len(v.Findings) != 1 || v.Findings[0].Sentence != w || v.Findings[0].Code != verdict.ProjectRoleName {
			t.Errorf("%s: got %+v\nwant %q", id, v.Findings, w)
		}
	}
}
