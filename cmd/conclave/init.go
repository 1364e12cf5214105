package main

import (
	"context"
	"fmt"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/genesis"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var initCommand = &command{
	name:    "init",
	summary: "create a new trust root: root version 1, targets and the signed roles from a policy and the holders' enrolment records, signed by the holders present, in a new vault with the ceremony's log",
	usage:   "init --policy FILE --holders RECORD... --online-keys snapshot=FILE,timestamp=FILE --out VAULT --sign KEYREF... [--pin-fd N] [--force-threshold REASON] [--attestation-roots DIR]",
}

func init() {
	initCommand.run = runInit
	register(initCommand)
}

// runInit is the genesis ceremony (docs/genesis.md).
func runInit(ctx context.Context, env *environment, args []string) error {
	c := initCommand
	fs := newFlagSet(env, c)
	policyFile := fs.String("policy", "", "the policy `FILE`: its holders, and the roles and thresholds their keys are placed in (docs/policy.md)")
	var records multiFlag
	fs.Var(&records, "holders", "an enrolment `RECORD` of a key the policy places (repeat it for every key)")
	var onlineKeys multiFlag
	fs.Var(&onlineKeys, "online-keys", "the online public keys, `ROLE=FILE,ROLE=FILE`: snapshot=FILE,timestamp=FILE, and ROLE=FILE for each key of each of the policy's online_roles, each file a TUF key object; FILE runs to the next \",ROLE=\" naming one of these roles (so it may hold \",\" and \"=\"), and the flag may be repeated")
	out := fs.String("out", "", "the new vault's directory `VAULT`: it must not exist, or be empty")
	force := fs.String("force-threshold", "", "accept a role whose threshold equals its number of keys, for the written `REASON` (recorded in the log)")
	flags := addRootFlags(fs, "a holder's key `KEYREF`, as the policy enrols it: yubikey:serial=N;slot=S, a pkcs11: URI, or softkey:path=FILE in a rehearsal; repeat it until every threshold is met", true)
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usagef("init takes no arguments")
	case *policyFile == "" || *out == "" || len(onlineKeys) == 0:
		return usagef("init needs --policy FILE, --online-keys snapshot=FILE,timestamp=FILE and --out VAULT")
	case len(records) == 0:
		return usagef("init needs --holders RECORD for each key the policy places")
	case len(flags.sign) == 0:
		return usagef("init needs --sign KEYREF for each holder who signs")
	}
	if err := vaultdir.CheckNew(*out); err != nil {
		return err
	}
	polBytes, err := readNamedFile(*policyFile)
	if err != nil {
		return namedWrong(err)
	}
	pol, err := policy.Parse(*policyFile, polBytes)
	if err != nil {
		return refused(err)
	}
	now, err := confirmedTime(pol, *flags.at)
	if err != nil {
		return err
	}
	var delegated []string
	for _, r := range pol.OnlineRoles {
		delegated = append(delegated, r.Name)
	}
	online, onlineDelegated, err := parseOnlineKeys(onlineKeys, delegated)
	if err != nil {
		return err
	}
	recs, err := readRecords(env.stdout, pol, records, *flags.rootsDir)
	if err != nil {
		return err
	}
	plan, err := genesis.Init(genesis.Input{
		Policy: pol, PolicyBytes: polBytes, Records: recs, Online: online, OnlineDelegated: onlineDelegated, Now: now, ForceThreshold: *force,
	})
	if err != nil {
		return refused(err)
	}
	fmt.Fprintf(env.stdout, "new trust root for repository %s, confirmed time %s\n", termtext.Safe(pol.Repository), genesis.ConfirmedString(now))
	writeDigest(env.stdout, "", "policy hash:", pol.SHA256)
	return rootCeremony{
		kind: genesis.KindInit, out: *out, pol: pol, pols: []*policy.Policy{pol}, plan: plan,
		records: recs, online: online, force: *force, now: now, flags: flags,
	}.run(ctx, env)
}
