package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/genesis"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/vault"
	pgpwords "github.com/conclave-keys/conclave/ceremony/words"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var rotateCommand = &command{
	name:    "rotate",
	summary: "rotate the root: root N+1 with holders in and out, new thresholds or online keys as a new policy places them, signed by a threshold of the old root's keys and of the new root's",
	usage:   "rotate --vault VAULT [--policy FILE] [--add RECORD[=ROLE,...]...] [--remove HOLDER...] [--remove-key KEYID...] [--threshold ROLE=N...] [--online-keys snapshot=FILE,timestamp=FILE] --sign KEYREF... [--pin-fd N] [--force-threshold REASON] [--attestation-roots DIR]",
}

func init() {
	rotateCommand.run = runRotate
	register(rotateCommand)
}

// runRotate is the root rotation ceremony (docs/genesis.md).
func runRotate(ctx context.Context, env *environment, args []string) error {
	c := rotateCommand
	fs := newFlagSet(env, c)
	vaultPath := fs.String("vault", "", "the `VAULT` directory")
	policyFile := fs.String("policy", "", "the new policy `FILE`, placing the keys of the new root (default: the vault's policy), edited further by --add ROLES, --remove, --remove-key and --threshold")
	var adds, removes, removeKeys, thresholds multiFlag
	fs.Var(&adds, "add", "an enrolment `RECORD` of a key the vault's metadata does not hold yet; RECORD=ROLE,ROLE also adds the key to the policy, in those roles (repeat it); cut at the last \"=\" only when role names follow it, so RECORD may hold \"=\" and \",\"")
	fs.Var(&removes, "remove", "remove the `HOLDER` and all their keys from the policy (repeat it)")
	fs.Var(&removeKeys, "remove-key", "remove the key `KEYID` from its holder in the policy: a holder's old token, replaced by a key given with --add (repeat it)")
	fs.Var(&thresholds, "threshold", "set a role's threshold in the policy, `ROLE=N` (repeat it)")
	var onlineKeys multiFlag
	fs.Var(&onlineKeys, "online-keys", "replace online keys, `ROLE=FILE[,ROLE=FILE]`: snapshot=FILE, timestamp=FILE or both, each file a TUF key object; FILE runs to the next \",snapshot=\" or \",timestamp=\" (so it may hold \",\" and \"=\"), and the flag may be repeated")
	force := fs.String("force-threshold", "", "accept a role whose threshold equals its number of keys, for the written `REASON` (recorded in the log)")
	flags := addRootFlags(fs, "a holder's key `KEYREF`, as the old or the new policy enrols it; repeat it until the old root's threshold, the new root's, and every other file's are met", true)
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usagef("rotate takes no arguments")
	case *vaultPath == "":
		return usagef("rotate needs --vault VAULT")
	case *policyFile == "" && len(onlineKeys)+len(adds)+len(removes)+len(removeKeys)+len(thresholds) == 0:
		return usagef("rotate needs a change: --policy FILE, --add, --remove or --threshold (holders, keys or thresholds), or --online-keys")
	case len(flags.sign) == 0:
		return usagef("rotate needs --sign KEYREF for each holder who signs")
	}
	vd, v, err := openVault(*vaultPath)
	if err != nil {
		return namedWrong(err)
	}
	defer vd.Close()
	if err := checkNoUnfinished(vd, v); err != nil {
		return err
	}
	polName, pol, polBytes := vault.PolicyFile, v.Policy, v.PolicyBytes
	if *policyFile != "" {
		if polBytes, err = readNamedFile(*policyFile); err != nil {
			return namedWrong(err)
		}
		if pol, err = policy.Parse(*policyFile, polBytes); err != nil {
			return refused(err)
		}
		polName = *policyFile
	}
	edit, paths, from, err := parsePolicyEdit(adds, removes, removeKeys, thresholds)
	if err != nil {
		return err
	}
	now, err := rootCeremonyTime(pol, v, *flags.at)
	if err != nil {
		return err
	}
	online, _, err := parseOnlineKeys(onlineKeys, nil)
	if err != nil {
		return err
	}
	recs, err := readRecords(env.stdout, pol, paths, *flags.rootsDir)
	if err != nil {
		return err
	}
	if len(edit.Add)+len(edit.Remove)+len(edit.RemoveKeys)+len(edit.Thresholds) > 0 {
		for i := range edit.Add {
			r := recs[from[i]]
			edit.Add[i].Holder, edit.Add[i].Contact = r.Holder, r.Contact
			edit.Add[i].Key = policy.HolderKey{KeyID: r.Key.ID(), Token: r.Token, Serial: r.Serial, Slot: r.Slot, URI: r.URI}
		}
		if polBytes, err = edit.Apply(polName, polBytes); err != nil {
			return refused(err)
		}
		if pol, err = policy.Parse(polName, polBytes); err != nil {
			return refused(err)
		}
		fmt.Fprintf(env.stdout, "the policy %s, edited as asked, is the new policy (it is written into the vault)\n", termtext.Safe(polName))
	}
	plan, change, err := genesis.Rotate(genesis.RotateInput{
		Vault: v, Policy: pol, PolicyBytes: polBytes, Records: recs, Online: online, Now: now, ForceThreshold: *force,
	})
	if err != nil {
		return refused(err)
	}
	fmt.Fprintf(env.stdout, "rotation of root version %d to %d, confirmed time %s\n", v.Root.Version(), v.Root.Version()+1, genesis.ConfirmedString(now))
	writeChange(env.stdout, change)
	writeDigest(env.stdout, "", "new policy hash:", pol.SHA256)
	return rootCeremony{
		kind: genesis.KindRotate, vd: vd, v: v, pol: pol, pols: []*policy.Policy{pol, v.Policy}, plan: plan, change: change,
		records: recs, online: online, force: *force, now: now, flags: flags,
	}.run(ctx, env)
}

// parsePolicyEdit reads --add RECORD[=ROLE,...], --remove HOLDER,
// --remove-key KEYID and --threshold ROLE=N (each holder, key and role
// once): the policy edit (its added keys still to be filled
// from their records), the records' paths, and for each added key the
// index of its record among them.
func parsePolicyEdit(adds, removes, removeKeys, thresholds []string) (e policy.Edit, paths []string, from []int, err error) {
	e = policy.Edit{Remove: removes, RemoveKeys: removeKeys, Thresholds: map[string]int64{}}
	for i, who := range removes {
		if slices.Index(removes, who) != i {
			return e, nil, nil, usagef("--remove: holder %s is named twice", termtext.Safe(who))
		}
	}
	for i, id := range removeKeys {
		if slices.Index(removeKeys, id) != i {
			return e, nil, nil, usagef("--remove-key: key %s is named twice", termtext.Safe(id))
		}
	}
	for _, a := range adds {
		// Cut at the last "=" only when role names follow it: a record's
		// path may hold "=" and "," (in/a=b.json, x,y.json=root).
		path := a
		if i := strings.LastIndexByte(a, '='); i >= 0 {
			roles := strings.Split(a[i+1:], ",")
			switch {
			case a[i+1:] == "":
				return e, nil, nil, usagef("--add %s: name the roles after =, such as RECORD=root or RECORD=targets,claimed", termtext.Safe(a))
			case !slices.ContainsFunc(roles, func(r string) bool { return !policy.IsRoleName(r) }):
				path = a[:i]
				e.Add = append(e.Add, policy.AddedKey{Roles: roles})
				from = append(from, len(paths))
			}
		}
		paths = append(paths, path)
	}
	for _, t := range thresholds {
		role, n, ok := strings.Cut(t, "=")
		v, err := strconv.ParseInt(n, 10, 64)
		if !ok || role == "" || err != nil || v < 1 {
			return e, nil, nil, usagef("--threshold %s: write ROLE=N, N from 1", termtext.Safe(t))
		}
		if _, dup := e.Thresholds[role]; dup {
			return e, nil, nil, usagef("--threshold: role %s is named twice", termtext.Safe(role))
		}
		e.Thresholds[role] = v
	}
	return e, paths, from, nil
}

// rootCeremonyTime is confirmedTime, which must also be later than the
// vault's last ceremony (checked again when the generation is made; here
// so that nobody signs for a generation that cannot be written).
func rootCeremonyTime(pol *policy.Policy, v *vault.Vault, at string) (time.Time, error) {
	now, err := confirmedTime(pol, at)
	if err != nil {
		return now, err
	}
	if !now.After(v.LastCeremony) {
		return now, refused(fmt.Errorf("the time %s is not after the vault's last ceremony, %s: check the clock", genesis.ConfirmedString(now), genesis.ConfirmedString(v.LastCeremony)))
	}
	return now, nil
}

// writeChange shows a rotation: the holders who come and go, and each
// role's threshold and keys before and after, each key that comes or
// goes with its fingerprint as words to read aloud (the PGP words of the
// first eight bytes of its keyid).
func writeChange(w io.Writer, c *genesis.Change) {
	if len(c.HoldersIn) > 0 {
		fmt.Fprintf(w, "holders in:  %s\n", safeJoin(c.HoldersIn))
	}
	if len(c.HoldersOut) > 0 {
		fmt.Fprintf(w, "holders out: %s\n", safeJoin(c.HoldersOut))
	}
	for _, r := range c.Roles {
		if !r.Changed() {
			fmt.Fprintf(w, "%-10s unchanged: threshold %d of %d keys\n", r.Role, r.ThresholdAfter, len(r.Kept))
			continue
		}
		fmt.Fprintf(w, "%-10s threshold %d of %d keys -> %d of %d keys\n", r.Role, r.ThresholdBefore, len(r.Kept)+len(r.Removed), r.ThresholdAfter, len(r.Kept)+len(r.Added))
		for _, k := range r.Added {
			fmt.Fprintf(w, "  + %s %s\n      %s\n", k.KeyID, keyOwner(k), keyWords(k.KeyID))
		}
		for _, k := range r.Removed {
			fmt.Fprintf(w, "  - %s %s\n      %s\n", k.KeyID, keyOwner(k), keyWords(k.KeyID))
		}
		for _, k := range r.Kept {
			fmt.Fprintf(w, "  = %s %s\n", k.KeyID, keyOwner(k))
		}
	}
}

func keyOwner(k genesis.KeyRef) string {
	if k.Holder == "" {
		return "(online key)"
	}
	return "(" + termtext.Safe(k.Holder) + ")"
}

// keyWords is the PGP words of a keyid's first eight bytes.
func keyWords(keyid string) string {
	b, _ := hex.DecodeString(keyid)
	return strings.Join(pgpwords.PGP(b[:min(8, len(b))]), " ")
}

func safeJoin(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = termtext.Safe(s)
	}
	return strings.Join(out, ", ")
}
