package genesis

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
)

// TestInit: the first root names the root keys and the targets keys the
// policy places, with its thresholds and the online keys; targets
// delegates claimed to the keys the policy places for it, not
// terminating, over every path the template can give; the vault holding
// it opens (root self-signed, targets and claimed verified, the binding
// by a root threshold, the layout as bound).
func TestInit(t *testing.T) {
	v, hs := genesisVault(t)
	root := v.Root.Root
	if root.Version != 1 || v.Root.Expires().String() != "2028-01-10T09:00:00Z" {
		t.Errorf("root version %d expires %s, want 1 and 2028-01-10T09:00:00Z (a year, the policy's default)", root.Version, v.Root.Expires())
	}
	wantRoot := []string{hs[0].root.Key.ID(), hs[1].root.Key.ID(), hs[2].root.Key.ID()}
	if got := root.Roles[tuf.TypeRoot]; !slices.Equal(got.KeyIDs, wantRoot) || got.Threshold != 2 {
		t.Errorf("root role %v/%d, want %v/2", got.KeyIDs, got.Threshold, wantRoot)
	}
	wantOther := []string{hs[0].other.Key.ID(), hs[1].other.Key.ID(), hs[2].other.Key.ID()}
	if got := root.Roles[tuf.TypeTargets]; !slices.Equal(got.KeyIDs, wantOther) {
		t.Errorf("targets role %v, want %v", got.KeyIDs, wantOther)
	}
	online := onlineKeys(t, 90)
	if got := root.Roles[tuf.TypeTimestamp].KeyIDs; !slices.Equal(got, []string{online[tuf.TypeTimestamp].ID()}) {
		t.Errorf("timestamp keys %v, want the online key", got)
	}
	if _, marked := root.Rehearsal(); !marked {
		t.Error("a rehearsal policy's root is not marked")
	}
	d := v.Targets.Targets.Delegations.Roles
	if len(d) != 1 || d[0].Name != "claimed" || d[0].Terminating || !slices.Equal(d[0].Paths, []string{"*/*"}) || !slices.Equal(d[0].KeyIDs, wantOther) {
		t.Errorf("targets delegates %+v, want claimed, not terminating, paths */*, the holders' other keys", *d[0])
	}
	if v.LastCeremonyID != "genesis-1" {
		t.Errorf("last ceremony %q, want genesis-1", v.LastCeremonyID)
	}
}

// TestInitRefusesNoSpare: a threshold equal to the number of keys is
// refused, unless a reason is written.
func TestInitRefusesNoSpare(t *testing.T) {
	hs := holders(t, 3)
	pb := policyText(hs, 3, 2, 2)
	in := Input{Policy: parsePolicy(t, pb), PolicyBytes: pb, Records: records(hs), Online: onlineKeys(t, 90), Now: now}
	_, err := Init(in)
	if !errors.Is(err, ErrNoSpare) || err.Error() != "role root: the threshold equals the number of keys: losing one key would lock the role (threshold 3 of 3 keys); add a key, lower the threshold, or accept it with a written reason" {
		t.Fatalf("err = %v, want ErrNoSpare for root", err)
	}
	in.ForceThreshold = "the fourth holder enrols next month"
	if _, err := Init(in); err != nil {
		t.Fatalf("with a reason: %v", err)
	}
}

// TestPlanRefusesExpiryPast9999: a ceremony whose time plus a role's
// period passes the year 9999 (a rehearsal's --at, a clock gone wrong) is
// refused before anyone signs: no metadata can write such an expiry (RFC
// 3339 section 5.6), and the vault would refuse the signed files.
func TestPlanRefusesExpiryPast9999(t *testing.T) {
	late := time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC)
	hs := holders(t, 3)
	pb := policyText(hs, 2, 2, 2)
	_, err := Init(Input{Policy: parsePolicy(t, pb), PolicyBytes: pb, Records: records(hs), Online: onlineKeys(t, 90), Now: late})
	want := "root/1.root.json: root version 1 would expire 10000-11-30T00:00:00Z: metadata cannot say a time after the year 9999; check the clock"
	if !errors.Is(err, ErrExpiryRange) || err.Error() != want {
		t.Errorf("Init: %v, want %q", err, want)
	}
	v, _ := genesisVault(t)
	_, err = Refresh(v, []string{"claimed"}, late)
	want = "metadata/claimed.json: claimed version 2 would expire 10000-02-29T00:00:00Z: metadata cannot say a time after the year 9999; check the clock"
	if !errors.Is(err, ErrExpiryRange) || err.Error() != want {
		t.Errorf("Refresh: %v, want %q", err, want)
	}
}

// TestInitRefusesRecords: a record of a key the policy does not enrol, a
// record for another holder, a record on another token, and a placed key
// without a record are each refused.
func TestInitRefusesRecords(t *testing.T) {
	hs := holders(t, 3)
	pb := policyText(hs, 2, 2, 2)
	p := parsePolicy(t, pb)
	stranger := holders(t, 4)[3]
	for _, tc := range []struct {
		name string
		edit func([]Record) []Record
		want string
	}{
		{"unknown key", func(r []Record) []Record {
			return append(r, Record{Holder: "Holder 4", Key: stranger.root.Key, Token: "softkey", URI: "softkey:name=x"})
		}, "Holder 4's record is of key " + stranger.root.Key.ID() + ", which the policy enrols for no holder"},
		{"other holder", func(r []Record) []Record { r[0].Holder = "Holder 2"; return r },
			"key " + hs[0].root.Key.ID() + " is Holder 2's in the record and Holder 1's in the policy"},
		{"other token", func(r []Record) []Record { r[0].URI = "softkey:name=elsewhere"; return r },
			"Holder 1's key " + hs[0].root.Key.ID() + " is on softkey softkey:name=elsewhere in the record and on softkey softkey:name=holder1-root in the policy"},
		{"missing", func(r []Record) []Record { return r[1:] },
			"Holder 1's key " + hs[0].root.Key.ID() + " (roles root) has no enrolment record among those given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Init(Input{Policy: p, PolicyBytes: pb, Records: tc.edit(records(hs)), Online: onlineKeys(t, 90), Now: now})
			if !errors.Is(err, ErrRecord) || err.Error() != ErrRecord.Error()+": "+tc.want {
				t.Fatalf("err = %v\nwant %s: %s", err, ErrRecord, tc.want)
			}
		})
	}
}

// TestInitRefusesOnlineHolderKey: an online key that is a holder's key.
func TestInitRefusesOnlineHolderKey(t *testing.T) {
	hs := holders(t, 3)
	pb := policyText(hs, 2, 2, 2)
	online := onlineKeys(t, 90)
	online[tuf.TypeSnapshot] = hs[0].other.Key
	_, err := Init(Input{Policy: parsePolicy(t, pb), PolicyBytes: pb, Records: records(hs), Online: online, Now: now})
	if !errors.Is(err, ErrOnline) || !strings.Contains(err.Error(), "snapshot's online key "+hs[0].other.Key.ID()+" is a holder's key") {
		t.Fatalf("err = %v, want ErrOnline naming the holder's key", err)
	}
}

// TestPlanComplete: a plan short of a threshold names the file and the
// group; a key in no group is refused before it signs.
func TestPlanComplete(t *testing.T) {
	hs := holders(t, 3)
	pb := policyText(hs, 2, 2, 2)
	plan, err := Init(Input{Policy: parsePolicy(t, pb), PolicyBytes: pb, Records: records(hs), Online: onlineKeys(t, 90), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	signAll(t, plan, hs[0].root, hs[0].other, hs[1].other)
	err = plan.Complete()
	if !errors.Is(err, ErrIncomplete) || err.Error() != "root/1.root.json: not signed by enough keys: 1 of the 2 needed of root version 1's root keys signed" {
		t.Fatalf("err = %v", err)
	}
	stranger := holders(t, 4)[3]
	if _, err := plan.Sign(stranger.root.Key.ID(), stranger.root.Signer); err == nil || err.Error() != "key "+stranger.root.Key.ID()+" signs nothing in this ceremony: it is in none of the roles that sign" {
		t.Fatalf("a stranger's key: err = %v", err)
	}
}

// rotation rotates Holder 3 out and Holder 4 in, in every role.
func rotation(t *testing.T, v *vault.Vault, hs []holder) (*Plan, *Change, []holder) {
	t.Helper()
	h4 := holders(t, 4)[3]
	next := []holder{hs[0], hs[1], h4}
	pb := policyText(next, 2, 2, 2)
	plan, change, err := Rotate(RotateInput{Vault: v, Policy: parsePolicy(t, pb), PolicyBytes: pb, Records: records([]holder{h4}), Now: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return plan, change, next
}

// TestRotate: root 2 is signed by a threshold of root 1's root keys and
// of its own; targets and claimed are re-signed by the new keys; the
// vault's next generation opens with the whole root history, and the
// change names who comes and goes, role by role.
func TestRotate(t *testing.T) {
	v, hs := genesisVault(t)
	plan, change, next := rotation(t, v, hs)
	var names []string
	for _, d := range plan.Docs {
		names = append(names, d.Name)
	}
	if !slices.Equal(names, []string{"root/2.root.json", "metadata/targets.json", "metadata/claimed.json"}) {
		t.Fatalf("plan signs %v", names)
	}
	if !slices.Equal(change.HoldersIn, []string{"Holder 4"}) || !slices.Equal(change.HoldersOut, []string{"Holder 3"}) {
		t.Errorf("holders in %v out %v", change.HoldersIn, change.HoldersOut)
	}
	root := change.Roles[0]
	if root.Role != "root" || len(root.Added) != 1 || root.Added[0] != (KeyRef{next[2].root.Key.ID(), "Holder 4"}) ||
		len(root.Removed) != 1 || root.Removed[0] != (KeyRef{hs[2].root.Key.ID(), "Holder 3"}) || len(root.Kept) != 2 {
		t.Errorf("root change %+v", root)
	}
	// Holder 1 and 2 sign with their root keys (old and new root alike),
	// and with their other keys (the new targets and claimed).
	signAll(t, plan, hs[0].root, hs[1].root, hs[0].other, hs[1].other)
	if err := plan.Complete(); err != nil {
		t.Fatal(err)
	}
	files, err := v.NextRoot(plan.RootUpdate("rotate-1", now.Add(24*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	nv, err := vault.Open(vault.NewMemReader(files))
	if err != nil {
		t.Fatal(err)
	}
	if len(nv.Roots) != 2 || nv.Targets.Version() != 2 || nv.Delegators["claimed"].Version() != 2 {
		t.Errorf("roots %d, targets version %d, claimed version %d; want 2, 2, 2", len(nv.Roots), nv.Targets.Version(), nv.Delegators["claimed"].Version())
	}
	if _, ok := nv.Policy.Holder(next[2].root.Key.ID()); !ok {
		t.Error("the new vault's policy does not enrol Holder 4")
	}
}

// TestRotateNewKeysOnly: a rotation signed only by keys of the new root
// is short of the old root's threshold, and a root so signed is refused
// by the vault (TUF §5.3.4).
func TestRotateNewKeysOnly(t *testing.T) {
	v, hs := genesisVault(t)
	// Every root key changes: only the new keys sign.
	fresh := holders(t, 7)[4:]
	fresh[0].other, fresh[1].other, fresh[2].other = hs[0].other, hs[1].other, hs[2].other
	fresh[0].name, fresh[1].name, fresh[2].name = hs[0].name, hs[1].name, hs[2].name
	pb := policyText(fresh, 2, 2, 2)
	var recs []Record
	for _, r := range records(fresh) {
		if !strings.HasSuffix(r.URI, "-root") {
			continue
		}
		recs = append(recs, r)
	}
	plan, _, err := Rotate(RotateInput{Vault: v, Policy: parsePolicy(t, pb), PolicyBytes: pb, Records: recs, Now: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	signAll(t, plan, fresh[0].root, fresh[1].root)
	err = plan.Complete()
	if !errors.Is(err, ErrIncomplete) || err.Error() != "root/2.root.json: not signed by enough keys: 0 of the 2 needed of root version 1's root keys signed" {
		t.Fatalf("Complete: %v", err)
	}
	_, err = v.NextRoot(plan.RootUpdate("rotate-1", now.Add(time.Hour)))
	if !errors.Is(err, vault.ErrRootChain) || !errors.Is(err, tuf.ErrThreshold) {
		t.Fatalf("NextRoot: err = %v, want ErrRootChain with ErrThreshold", err)
	}
}

// TestRotateNothing: the same layout and online keys is no rotation.
func TestRotateNothing(t *testing.T) {
	v, _ := genesisVault(t)
	_, _, err := Rotate(RotateInput{Vault: v, Policy: v.Policy, PolicyBytes: v.PolicyBytes, Now: now.Add(time.Hour)})
	if !errors.Is(err, ErrNoChange) {
		t.Fatalf("err = %v, want ErrNoChange", err)
	}
}

// TestRotateOnlineKey: replacing the timestamp key changes only root.
func TestRotateOnlineKey(t *testing.T) {
	v, hs := genesisVault(t)
	online := map[string]*tuf.Key{tuf.TypeTimestamp: onlineKeys(t, 95)[tuf.TypeTimestamp]}
	plan, change, err := Rotate(RotateInput{Vault: v, Policy: v.Policy, PolicyBytes: v.PolicyBytes, Online: online, Now: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Docs) != 1 || plan.Docs[0].Role != "root" {
		t.Fatalf("plan signs %d files, want root alone", len(plan.Docs))
	}
	if ts := change.Roles[len(change.Roles)-1]; ts.Role != "timestamp" || len(ts.Added) != 1 || len(ts.Removed) != 1 {
		t.Errorf("timestamp change %+v", ts)
	}
	signAll(t, plan, hs[1].root, hs[2].root)
	if _, err := v.NextRoot(plan.RootUpdate("rotate-1", now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
}

// TestRefresh: the roles in their warning period get new versions with
// new expiries, nothing else changed, and the vault opens.
func TestRefresh(t *testing.T) {
	v, hs := genesisVault(t)
	if _, err := Refresh(v, nil, now.Add(time.Hour)); !errors.Is(err, ErrNothingDue) {
		t.Fatalf("fresh vault: err = %v, want ErrNothingDue", err)
	}
	// 80 days on, claimed (90 days, warned 14 before) is due; root and
	// targets (a year) are not.
	at := now.Add(80 * 24 * time.Hour)
	plan, err := Refresh(v, nil, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Docs) != 1 || plan.Docs[0].Role != "claimed" || plan.Docs[0].File.Version() != 2 || plan.Docs[0].File.Expires().String() != "2027-06-29T09:00:00Z" {
		t.Fatalf("plan %+v", plan.Docs[0])
	}
	signAll(t, plan, hs[0].other, hs[2].other)
	files, err := v.NextRoot(plan.RootUpdate("refresh-1", at))
	if err != nil {
		t.Fatal(err)
	}
	nv, err := vault.Open(vault.NewMemReader(files))
	if err != nil {
		t.Fatal(err)
	}
	// Root by name: a new root version, signed by the same root keys,
	// bound again.
	plan, err = Refresh(nv, []string{"root"}, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	signAll(t, plan, hs[0].root, hs[2].root)
	if _, err := nv.NextRoot(plan.RootUpdate("refresh-2", at.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := Refresh(nv, []string{"snapshot"}, at); err == nil || err.Error() != "snapshot is not a role of this vault ([root targets claimed])" {
		t.Fatalf("snapshot: err = %v", err)
	}
}

// TestStatus: each role's state at an instant, and a lost token's
// deadline.
func TestStatus(t *testing.T) {
	v, _ := genesisVault(t)
	s := Status(v, now.Add(80*24*time.Hour))
	var got []string
	for _, r := range s.Roles {
		got = append(got, r.Role+"="+r.State)
	}
	if want := []string{"root=ok", "targets=ok", "claimed=warning", "snapshot=online", "timestamp=online"}; !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	if s.Roles[2].WarnFrom.Format(time.RFC3339) != "2027-03-27T09:00:00Z" || s.Roles[2].Keys[0].Holder != "Holder 1" {
		t.Errorf("claimed %+v", s.Roles[2])
	}
	if s = Status(v, now.Add(91*24*time.Hour)); s.Roles[2].State != StateExpired {
		t.Errorf("after 91 days claimed is %s", s.Roles[2].State)
	}
	l, err := LostToken(v, "Holder 2", now, now.Add(8*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if l.Deadline.Format(time.RFC3339) != "2027-01-17T09:00:00Z" || !l.Overdue || len(l.Keys) != 2 {
		t.Errorf("lost %+v", l)
	}
	if _, err := LostToken(v, "Nobody", now, now); !errors.Is(err, ErrUnknownHolder) {
		t.Errorf("err = %v", err)
	}
	// A report so late that its deadline falls after 9999 has no RFC 3339
	// form (section 5.6: four-digit years): refused, not a status that
	// cannot be written as JSON.
	late := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	want := "the deadline 7d after 9999-12-31T23:59:59Z is after the year 9999"
	if _, err := LostToken(v, "Holder 2", late, now); !errors.Is(err, ErrLostTime) || err.Error() != want {
		t.Errorf("a report in 9999: %v, want %q", err, want)
	}
}

// TestInitShards: with shards, targets delegates each shard, in the
// policy's order, over the paths the policy writes out, and version 1 of
// each shard is made; the vault opens.
func TestInitShards(t *testing.T) {
	hs := holders(t, 3)
	text := string(policyText(hs, 2, 2, 2))
	text = strings.Replace(text, "  claimed:\n    threshold: 2\n", "  claimed-rest:\n    threshold: 2\n  claimed-ab:\n    threshold: 2\n", 1)
	text = strings.ReplaceAll(text, "roles: [targets, claimed]", "roles: [targets, claimed-rest, claimed-ab]")
	text = strings.Replace(text, "roles:\n", "shards:\n  - {role: claimed-rest, prefixes: [\"\"], paths: [\"*\"]}\n  - {role: claimed-ab, prefixes: [a, b], paths: [\"a*\", \"b*\"]}\nroles:\n", 1)
	pb := []byte(text)
	plan, err := Init(Input{Policy: parsePolicy(t, pb), PolicyBytes: pb, Records: records(hs), Online: onlineKeys(t, 90), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	signAll(t, plan, hs[0].root, hs[1].root, hs[0].other, hs[1].other)
	files, err := vault.Create(plan.AdoptInput(), "genesis-1", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(vault.NewMemReader(files))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range v.Targets.Targets.Delegations.Roles {
		got = append(got, r.Name+" "+strings.Join(r.Paths, ","))
	}
	if want := []string{"claimed-rest *", "claimed-ab a*,b*"}; !slices.Equal(got, want) {
		t.Errorf("targets delegates %v, want %v", got, want)
	}
	if len(v.Delegators) != 2 {
		t.Errorf("%d signed roles", len(v.Delegators))
	}
}

// onlinePolicy is policyText with two online roles, recently-claimed
// (threshold 1) and unclaimed (threshold 2).
func onlinePolicy(hs []holder) []byte {
	return []byte(strings.Replace(string(policyText(hs, 2, 2, 2)), "holders:\n",
		"online_roles:\n  - {name: recently-claimed, paths: [\"*/*\"]}\n  - {name: unclaimed, paths: [\"*/*\"], threshold: 2}\nholders:\n", 1))
}

// TestInitOnlineRoles: the policy's online roles are delegated by
// targets after claimed, in the policy's order, to their online keys
// with their thresholds; the vault opens. Keys too few for a threshold,
// a holder's key, or keys for a role the policy does not name are
// refused.
func TestInitOnlineRoles(t *testing.T) {
	hs := holders(t, 3)
	pb := onlinePolicy(hs)
	recent, un1, un2 := vaulttest.Key(t, 80).Key, vaulttest.Key(t, 81).Key, vaulttest.Key(t, 82).Key
	in := Input{Policy: parsePolicy(t, pb), PolicyBytes: pb, Records: records(hs), Online: onlineKeys(t, 90), Now: now,
		OnlineDelegated: map[string][]*tuf.Key{"recently-claimed": {recent}, "unclaimed": {un1, un2}}}
	plan, err := Init(in)
	if err != nil {
		t.Fatal(err)
	}
	signAll(t, plan, hs[0].root, hs[1].root, hs[0].other, hs[1].other)
	if err := plan.Complete(); err != nil {
		t.Fatal(err)
	}
	files, err := vault.Create(plan.AdoptInput(), "genesis-1", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(vault.NewMemReader(files))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range v.Targets.Targets.Delegations.Roles {
		got = append(got, fmt.Sprintf("%s %v %d %t", r.Name, r.KeyIDs, r.Threshold, r.Terminating))
	}
	want := []string{
		fmt.Sprintf("claimed %v 2 false", []string{hs[0].other.Key.ID(), hs[1].other.Key.ID(), hs[2].other.Key.ID()}),
		fmt.Sprintf("recently-claimed %v 1 false", []string{recent.ID()}),
		fmt.Sprintf("unclaimed %v 2 false", []string{un1.ID(), un2.ID()}),
	}
	if !slices.Equal(got, want) {
		t.Errorf("targets delegates\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, tc := range []struct {
		name   string
		online map[string][]*tuf.Key
		want   string
	}{
		{"a key twice", map[string][]*tuf.Key{"recently-claimed": {recent}, "unclaimed": {un1, un1}},
			"the online keys are not as they must be: unclaimed's online key " + un1.ID() + " is given twice"},
		{"none", map[string][]*tuf.Key{"recently-claimed": {recent}},
			"the online keys are not as they must be: online role unclaimed has threshold 2 and 0 keys"},
		{"a holder's key", map[string][]*tuf.Key{"recently-claimed": {hs[0].other.Key}, "unclaimed": {un1, un2}},
			"the online keys are not as they must be: recently-claimed's online key " + hs[0].other.Key.ID() + " is a holder's key: the online repository would hold it"},
		{"not in the policy", map[string][]*tuf.Key{"recently-claimed": {recent}, "unclaimed": {un1, un2}, "other": {recent}},
			"the online keys are not as they must be: the policy names no online role other (online_roles)"},
	} {
		in.OnlineDelegated = tc.online
		if _, err := Init(in); !errors.Is(err, ErrOnline) || err.Error() != tc.want {
			t.Errorf("%s: %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

// TestRotateKeepsOnlineRoles: a rotation's policy that adds an online
// role is refused: the rotation keeps targets' delegations of online
// roles as they are, so the policy bound would not describe them.
func TestRotateKeepsOnlineRoles(t *testing.T) {
	v, hs := genesisVault(t)
	pb := onlinePolicy(hs)
	_, _, err := Rotate(RotateInput{Vault: v, Policy: parsePolicy(t, pb), PolicyBytes: pb, Online: onlineKeys(t, 95), Now: now.Add(time.Hour)})
	if err == nil || err.Error() != "the new policy's online_roles differ from the vault's: a rotation keeps targets' delegations of online roles as they are" {
		t.Fatalf("err = %v", err)
	}
}
