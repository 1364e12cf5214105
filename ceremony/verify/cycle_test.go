package verify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// projects makes a claimed role, signed by the chain's claimed key,
// delegating each name to dev; and each project's metadata, signed by dev,
// delegating nothing.
func projects(t testing.TB, c *chain, dev key, names ...string) (claimed []byte, files []Input) {
	t.Helper()
	cl := delegating(1, now.AddDate(0, 3, 0), "", c.new[2])
	cl.Delegations = &tuf.Delegations{Keys: keyMap(dev)}
	for _, name := range names {
		cl.Delegations.Roles = append(cl.Delegations.Roles, &tuf.DelegatedRole{
			Name: name, KeyIDs: ids(dev), Threshold: 1, Terminating: true, Paths: []string{name + "/*"}})
	}
	project := targetsFile(t, delegating(1, now.AddDate(0, 3, 0), ""), keyMap(dev), dev)
	for _, name := range names {
		files = append(files, in(name+".json", project))
	}
	return targetsFile(t, cl, c.targetsT.Delegations.Keys, c.new[2]), files
}

// TestWalkDelegationCycleBackToDelegator: one project's developer signs
// metadata that delegates "claimed", its own delegator's role. A client
// walking down from targets (TUF §5.6.7) reaches claimed first and skips a
// role it has visited, so claimed and every project verify; before, the
// cycle left claimed and every project not checked, whatever the order.
// A claimed.json the developer signs is still judged against targets.
func TestWalkDelegationCycleBackToDelegator(t *testing.T) {
	c := newChain(t)
	dev := newKey(t, 8)
	claimed, files := projects(t, c, dev, "project-a", "project-b")
	files[0] = in("project-a.json", targetsFile(t, delegating(1, now.AddDate(0, 3, 0), "claimed", dev), keyMap(dev), dev))
	files = append(files, in("2.root.json", c.root2), in("targets.json", c.targets), in("claimed.json", claimed))
	reversed := slices.Clone(files)
	slices.Reverse(reversed)
	for _, fs := range [][]Input{files, reversed} {
		r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: fs})
		if want := `1.root.json: valid 
2.root.json: valid 
claimed.json: valid 
project-a.json: valid 
project-b.json: valid 
targets.json: valid 
verdict valid`; summary(r) != want {
			t.Errorf("order %s:\n%s\nwant\n%s", names2(fs), summary(r), want)
		}
		if got := file(t, r, "claimed.json"); got.Delegator != "targets.json" || len(got.Notes) != 0 {
			t.Errorf("claimed judged against %s, notes %+v", got.Delegator, got.Notes)
		}
	}

	// The developer's own claimed.json: judged against targets, whose
	// claimed keys did not sign it, not against project-a.
	forgedT := delegating(2, now.AddDate(0, 3, 0), "project-a", dev)
	forgedT.Delegations.Roles = append(forgedT.Delegations.Roles, &tuf.DelegatedRole{Name: "project-b", KeyIDs: ids(dev), Threshold: 1, Paths: []string{"project-b/*"}})
	forged := targetsFile(t, forgedT, keyMap(dev), dev)
	for _, fs := range [][]Input{files, reversed} {
		fs = slices.Clone(fs)
		fs[slices.IndexFunc(fs, func(i Input) bool { return i.Name == "claimed.json" })] = in("claimed.json", forged)
		r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: fs})
		got := file(t, r, "claimed.json")
		if got.Verdict != NotValid || !errors.Is(got.Err, tuf.ErrThreshold) || got.Delegator != "targets.json" {
			t.Errorf("forged claimed: %s %s %v", got.Verdict, got.Delegator, got.Err)
		}
		if got := file(t, r, "project-b.json"); got.Verdict != NotChecked ||
			got.Reason() != "project-b cannot be checked because its delegator claimed (claimed.json) failed" {
			t.Errorf("project-b: %s %s", got.Verdict, got.Reason())
		}
	}
}

func names2(fs []Input) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return strings.Join(out, " ")
}

// TestWalkUnreachableCycle: files that delegate each other and that no
// verified file delegates are not checked, and name only the files of the
// cycle; a file they delegate names its own delegator.
func TestWalkUnreachableCycle(t *testing.T) {
	c := newChain(t)
	dev := newKey(t, 8)
	a := targetsFile(t, delegating(1, now.AddDate(0, 3, 0), "b", dev), keyMap(dev), dev)
	bT := delegating(1, now.AddDate(0, 3, 0), "a", dev)
	bT.Delegations.Roles = append(bT.Delegations.Roles, &tuf.DelegatedRole{Name: "leaf", KeyIDs: ids(dev), Threshold: 1, Paths: []string{"leaf/*"}})
	b := targetsFile(t, bT, keyMap(dev), dev)
	leaf := targetsFile(t, delegating(1, now.AddDate(0, 3, 0), ""), keyMap(dev), dev)
	files := []Input{in("2.root.json", c.root2), in("targets.json", c.targets), in("claimed.json", c.claimed),
		in("a.json", a), in("b.json", b), in("leaf.json", leaf)}
	reversed := slices.Clone(files)
	slices.Reverse(reversed)
	for _, fs := range [][]Input{files, reversed} {
		r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: fs})
		for _, name := range []string{"a.json", "b.json"} {
			got := file(t, r, name)
			if got.Verdict != NotChecked || (got.Reason() != `cannot be checked: its possible delegators delegate each other in a cycle ("a.json", "b.json")` &&
				got.Reason() != `cannot be checked: its possible delegators delegate each other in a cycle ("b.json", "a.json")`) {
				t.Errorf("%s: %s %s", name, got.Verdict, got.Reason())
			}
		}
		if got := file(t, r, "leaf.json"); got.Verdict != NotChecked || got.Reason() != "leaf cannot be checked because its delegator b (b.json) failed" {
			t.Errorf("leaf: %s %s", got.Verdict, got.Reason())
		}
		if got := file(t, r, "claimed.json"); got.Verdict != Valid {
			t.Errorf("claimed: %s %s", got.Verdict, got.Reason())
		}
	}
}

// blockedProjects is a claimed role no verified file delegates, in a cycle
// with the first of n projects it delegates: every project waits on it.
func blockedProjects(t testing.TB, n int) Options {
	c := newChain(t)
	dev := newKey(t, 8)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("project-%05d", i)
	}
	claimed, files := projects(t, c, dev, names...)
	files[0] = in(files[0].Name, targetsFile(t, delegating(1, now.AddDate(0, 3, 0), "claimed", dev), keyMap(dev), dev))
	// targets delegates another role: nothing verified delegates claimed.
	other := delegating(1, now.AddDate(0, 3, 0), "other", c.new[2])
	files = append(files, in("2.root.json", c.root2), in("targets.json", targetsFile(t, other, c.r2.Keys, c.new[0], c.new[2])),
		in("claimed.json", claimed))
	return Options{Trusted: in("1.root.json", c.root1), Files: files, Now: now}
}

// TestWalkBlockedReasonsBounded: 2,000 projects wait on a claimed role
// that cannot be checked. Each reason names at most a few files, so the
// report grows with the number of files, not with its square; before, every
// waiting file named every other (a 210 MB report for 4,000 projects).
func TestWalkBlockedReasonsBounded(t *testing.T) {
	const n = 2000
	r := walk(t, blockedProjects(t, n))
	if r.Count(NotChecked) != n+1 {
		t.Fatalf("%d not checked, want %d", r.Count(NotChecked), n+1)
	}
	for _, f := range r.Files {
		if k := strings.Count(f.Reason(), ".json"); k > listMax+1 {
			t.Fatalf("%s names %d files: %.200s", f.Name, k, f.Reason())
		}
	}
	if got := file(t, r, "project-00001.json").Reason(); got != "project-00001 cannot be checked because its delegator claimed (claimed.json) failed" {
		t.Errorf("project-00001: %s", got)
	}
	doc, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	// One file's entry is some 400 bytes; 2 KiB each is room, n² is not.
	if len(doc) > (n+4)*2048 {
		t.Errorf("the JSON report is %d bytes for %d files", len(doc), n+4)
	}
}

// TestWalkRoleQuotedOnce: a role name from a file name is quoted, not
// escaped: the printer escapes what it holds, once (before, strconv.Quote
// escaped it and the printer escaped the backslash again).
func TestWalkRoleQuotedOnce(t *testing.T) {
	c := newChain(t)
	r := walk(t, Options{Trusted: in("1.root.json", c.root1), Files: []Input{in("2.root.json", c.root2), in("targets.json", c.targets),
		in("x\x1b[2Kx.json", c.claimed)}})
	if got := file(t, r, "x\x1b[2Kx.json"); got.Reason() != "role is not delegated: none of the files verified delegates a role named \"x\x1b[2Kx\"" {
		t.Errorf("%q", got.Reason())
	}
}

// TestWalkCycleEveryOrder: with a cycle back to claimed, a project that
// targets also delegates (both verified: ambiguous), and a cycle no
// verified file enters, every order of the files gives the same verdicts
// against the same delegators.
func TestWalkCycleEveryOrder(t *testing.T) {
	c := newChain(t)
	dev := newKey(t, 8)
	claimed, files := projects(t, c, dev, "project-a", "project-b")
	files[0] = in("project-a.json", targetsFile(t, delegating(1, now.AddDate(0, 3, 0), "claimed", dev), keyMap(dev), dev))
	top := delegating(1, now.AddDate(0, 3, 0), "claimed", c.new[2])
	top.Delegations.Keys = keyMap(c.new[2], dev)
	top.Delegations.Roles = append(top.Delegations.Roles, &tuf.DelegatedRole{Name: "project-b", KeyIDs: ids(dev), Threshold: 1, Paths: []string{"b/*"}})
	a := targetsFile(t, delegating(1, now.AddDate(0, 3, 0), "b", dev), keyMap(dev), dev)
	b := targetsFile(t, delegating(1, now.AddDate(0, 3, 0), "a", dev), keyMap(dev), dev)
	files = append(files, in("targets.json", targetsFile(t, top, c.r2.Keys, c.new[0], c.new[2])), in("claimed.json", claimed),
		in("a.json", a), in("b.json", b))
	var first string
	var permute func(k int)
	permute = func(k int) {
		if k == len(files) {
			r := walk(t, Options{Trusted: in("root.json", c.root2), Files: files})
			var lines []string
			for _, f := range r.Files {
				// Names are listed in the order given; the verdicts are not.
				reason := strings.NewReplacer(`"a.json", "b.json"`, "a, b", `"b.json", "a.json"`, "a, b",
					`"claimed.json", "targets.json"`, "claimed, targets", `"targets.json", "claimed.json"`, "claimed, targets").Replace(f.Reason())
				lines = append(lines, fmt.Sprintf("%s %s %s %s", f.Name, f.Verdict, f.Delegator, reason))
			}
			slices.Sort(lines)
			got := strings.Join(lines, "\n")
			if first == "" {
				first = got
			} else if got != first {
				t.Fatalf("order %s:\n%s\nfirst order:\n%s", names2(files), got, first)
			}
			return
		}
		for i := k; i < len(files); i++ {
			files[k], files[i] = files[i], files[k]
			permute(k + 1)
			files[k], files[i] = files[i], files[k]
		}
	}
	permute(0)
	if !strings.Contains(first, "claimed.json valid targets.json") || !strings.Contains(first, "project-a.json valid claimed.json") ||
		!strings.Contains(first, "a.json not-checked") || !strings.Contains(first, "project-b.json not-valid") {
		t.Errorf("%s", first)
	}
}
