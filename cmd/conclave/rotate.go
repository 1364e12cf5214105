package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
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
	usage:   "rotate --vault VAULT [--policy FILE] [--add RECORD...] [--online-keys snapshot=FILE,timestamp=FILE] --sign KEYREF... [--pin-fd N] [--force-threshold REASON] [--attestation-roots DIR]",
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
	policyFile := fs.String("policy", "", "the new policy `FILE`, placing the keys of the new root (default: the vault's policy, for a change of online keys only)")
	var records multiFlag
	fs.Var(&records, "add", "an enrolment `RECORD` of a key the new policy places that the vault's metadata does not hold yet (repeat it)")
	onlineKeys := fs.String("online-keys", "", "replace online keys: `snapshot=FILE,timestamp=FILE` (either or both), each a TUF key object")
	var sign multiFlag
	fs.Var(&sign, "sign", "a holder's key `KEYREF`, as the old or the new policy enrols it; repeat it until the old root's threshold, the new root's, and every other file's are met")
	pinFD := fs.Int("pin-fd", -1, "read each PIN asked for, one line each, from file descriptor `N` (default: ask at the terminal, without showing it)")
	force := fs.String("force-threshold", "", "accept a role whose threshold equals its number of keys, for the written `REASON` (recorded in the log)")
	rootsDir := fs.String("attestation-roots", "", "check YubiKey attestations against the PEM certificates in `DIR` instead of Yubico's roots (a test or rehearsal CA)")
	at := fs.String("at", "", "the ceremony's `TIME` (RFC 3339), for a rehearsal policy only; otherwise the system clock")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usagef("rotate takes no arguments")
	case *vaultPath == "":
		return usagef("rotate needs --vault VAULT")
	case *policyFile == "" && *onlineKeys == "":
		return usagef("rotate needs --policy FILE (holders, keys or thresholds change) or --online-keys (online keys change)")
	case len(sign) == 0:
		return usagef("rotate needs --sign KEYREF for each holder who signs")
	}
	vd, v, err := openVault(*vaultPath)
	if err != nil {
		return err
	}
	defer vd.Close()
	if err := checkNoUnfinished(vd, v); err != nil {
		return err
	}
	pol, polBytes := v.Policy, v.PolicyBytes
	if *policyFile != "" {
		if polBytes, err = readNamedFile(*policyFile); err != nil {
			return err
		}
		if pol, err = policy.Parse(*policyFile, polBytes); err != nil {
			return refused(err)
		}
	}
	now, err := rootCeremonyTime(pol, v, *at)
	if err != nil {
		return err
	}
	online, err := parseOnlineKeys(*onlineKeys)
	if err != nil {
		return err
	}
	recs, err := readRecords(env.stdout, pol, records, *rootsDir)
	if err != nil {
		return err
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
	rs, err := rootSigners(plan, []*policy.Policy{pol, v.Policy}, sign)
	if err != nil {
		return err
	}
	r, err := startRootRun(env, vd, now)
	if err != nil {
		return err
	}
	defer r.Close()
	opened, err := r.opened(genesis.KindRotate, pol, v, recs, online, *force)
	if err != nil {
		return err
	}
	if err := r.append(genesis.TypeRootOpened, opened); err != nil {
		return err
	}
	if err := r.append(genesis.TypeRootBuilt, plan.BuiltEvent(change)); err != nil {
		return err
	}
	if err := r.sign(ctx, plan, pol, rs, *pinFD); err != nil {
		return err
	}
	return r.finish(func(logs []vault.File) ([]vault.File, error) {
		u := plan.RootUpdate(r.id, now)
		u.Logs = logs
		return v.NextRoot(u)
	})
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
