package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

func init() {
	c := &command{
		name:    "verify",
		summary: "verify TUF metadata as a client would: signatures, thresholds, versions and expiry",
		usage:   "verify --trusted-root ROOT.json [--delegator TARGETS.json] [--at TIME] [--max-size BYTES] FILE...",
	}
	c.run = func(ctx context.Context, env *environment, args []string) error {
		fs := newFlagSet(env, c)
		trusted := fs.String("trusted-root", "", "root metadata you trust (obtained out of band): the start of the chain")
		delegator := fs.String("delegator", "", "targets metadata that delegates the FILEs (verified first, like a FILE)")
		at := fs.String("at", "", "judge expiry at this instant (RFC 3339, e.g. 2027-01-01T00:00:00Z) instead of now")
		maxSize := fs.Int64("max-size", defaultMaxMetadataSize, "read no file larger than this many bytes")
		if err := parseFlags(env, c, fs, args); err != nil {
			return err
		}
		if *trusted == "" {
			return usagef("--trusted-root is required")
		}
		files := fs.Args()
		if *delegator != "" {
			files = append([]string{*delegator}, files...)
		}
		if len(files) == 0 {
			return usagef("name at least one FILE to verify")
		}
		now := time.Now()
		if *at != "" {
			t, err := time.Parse(time.RFC3339, *at)
			if err != nil {
				return usagef("--at %q is not an RFC 3339 time such as 2027-01-01T00:00:00Z", *at)
			}
			now = t
		}
		if *maxSize < 1 {
			return usagef("--max-size must be a positive number of bytes")
		}
		v := &verifier{out: env.stdout, now: now, maxSize: *maxSize, delegators: map[string]*tuf.Targets{}}
		rootLater := false
		for _, f := range files {
			rootLater = rootLater || isRootName(f)
		}
		ok := v.trust(*trusted, !rootLater)
		for i, f := range files {
			lastRoot := true
			for _, later := range files[i+1:] {
				if isRootName(later) {
					lastRoot = false
				}
			}
			if !v.check(f, lastRoot) {
				ok = false
			}
		}
		if !ok {
			fmt.Fprintln(env.stdout, "\nRESULT: NOT VALID — at least one file failed; see above")
			return exitError{1}
		}
		fmt.Fprintln(env.stdout, "\nRESULT: all files valid")
		return nil
	}
	register(c)
}

// verifier walks the files in order, as a client updating its metadata does.
type verifier struct {
	out        io.Writer
	now        time.Time
	maxSize    int64
	root       *tuf.Root
	delegators map[string]*tuf.Targets // role name → verified targets metadata
}

// roleName is the role a file holds, from its name: "claimed.json",
// "3.claimed.json" → "claimed" (TUF §5 consistent-snapshot names).
func roleName(path string) (role string, version int64) {
	base := strings.TrimSuffix(filepath.Base(path), ".json")
	if v, rest, ok := strings.Cut(base, "."); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return rest, n
		}
	}
	return base, 0
}

func isRootName(path string) bool {
	r, _ := roleName(path)
	return r == tuf.TypeRoot
}

func (v *verifier) load(path string) (*tuf.File, bool) {
	data, err := safefile.ReadNamed(path, v.maxSize)
	if err != nil {
		hint := ""
		if errors.Is(err, safefile.ErrLimit) {
			hint = " (--max-size sets another limit)"
		}
		fmt.Fprintf(v.out, "%s: NOT VALID: cannot read: %v%s\n", path, err, hint)
		return nil, false
	}
	f, err := tuf.Parse(path, data)
	if err != nil {
		fmt.Fprintf(v.out, "NOT VALID: %v\n", err)
		return nil, false
	}
	return f, true
}

// trust loads the trusted root. It is trusted as given (obtained out of
// band), but its own signatures are still counted and shown, and when no
// later root supersedes it, its expiry is checked like any file's. The
// walk goes on after a failure so that every problem is reported.
func (v *verifier) trust(path string, final bool) bool {
	f, ok := v.load(path)
	if !ok {
		return false
	}
	if f.Root == nil {
		fmt.Fprintf(v.out, "%s: NOT VALID: --trusted-root must be root metadata, this is %s\n", path, f.Type())
		return false
	}
	res, err := f.VerifyWithRoot(f.Root)
	fmt.Fprintf(v.out, "%s: root version %d (trusted root)\n", path, f.Root.Version)
	v.printResult(res, f.Root.Keys)
	v.printMismatches(f.Root.Keys)
	v.root = f.Root
	if err == nil && final {
		err = f.CheckExpiry(v.now)
	}
	return v.verdict(f, err)
}

// verdict prints the outcome for one file.
func (v *verifier) verdict(f *tuf.File, err error) bool {
	switch {
	case errors.Is(err, tuf.ErrExpired):
		fmt.Fprintf(v.out, "  EXPIRED (the signatures are valid): %v\n", err)
		return false
	case err != nil:
		fmt.Fprintf(v.out, "  NOT VALID: %v\n", err)
		return false
	}
	fmt.Fprintf(v.out, "  valid; expires %s\n", f.Expires())
	return true
}

func (v *verifier) check(path string, lastRoot bool) bool {
	f, ok := v.load(path)
	if !ok {
		return false
	}
	role, nameVersion := roleName(path)
	if nameVersion != 0 && nameVersion != f.Version() {
		fmt.Fprintf(v.out, "%s: NOT VALID: the file name says version %d but the metadata is version %d\n", path, nameVersion, f.Version())
		return false
	}
	fmt.Fprintf(v.out, "%s: %s version %d\n", path, f.Type(), f.Version())
	var err error
	switch {
	case f.Root != nil:
		var up *tuf.RootUpdate
		up, err = tuf.VerifyRootUpdate(v.root, f)
		if up != nil {
			v.printResult(up.ByTrusted, v.root.Keys)
			v.printResult(up.BySelf, f.Root.Keys)
		}
		v.printMismatches(f.Root.Keys)
		if err == nil {
			v.root = f.Root
			v.delegators = map[string]*tuf.Targets{} // a new root restarts the targets chain
			if !lastRoot {
				fmt.Fprintf(v.out, "  expiry not checked: a later root supersedes this one (TUF 5.3.10)\n")
			}
		}
	case role == tuf.TypeTargets && f.Targets != nil:
		var res *tuf.ThresholdResult
		res, err = f.VerifyWithRoot(v.root)
		v.printResult(res, v.root.Keys)
	case f.Targets != nil:
		err = v.checkDelegated(f, role)
	default:
		// snapshot and timestamp are signed by root's keys for that role.
		var res *tuf.ThresholdResult
		res, err = f.VerifyWithRoot(v.root)
		v.printResult(res, v.root.Keys)
	}
	if err == nil && f.Targets != nil {
		// Its signatures hold, so its delegations are authentic even if it
		// has expired: later files are still judged against them, and the
		// expiry is reported on its own.
		v.delegators[role] = f.Targets
	}
	if err == nil && (f.Root == nil || lastRoot) {
		err = f.CheckExpiry(v.now)
	}
	if f.Targets != nil && f.Targets.Delegations != nil {
		v.printMismatches(f.Targets.Delegations.Keys)
	}
	return v.verdict(f, err)
}

// checkDelegated finds the verified targets metadata that delegates role.
func (v *verifier) checkDelegated(f *tuf.File, role string) error {
	for name, d := range v.delegators {
		if _, _, ok := d.Delegation(role); ok {
			res, err := f.VerifyDelegated(d, role)
			if res != nil {
				fmt.Fprintf(v.out, "  delegated by %s\n", name)
				v.printResult(res, d.Delegations.Keys)
			}
			return err
		}
	}
	return fmt.Errorf("%w: no file verified so far delegates a role named %q (list the delegating targets metadata before it)", tuf.ErrNotDelegated, role)
}

func (v *verifier) printResult(res *tuf.ThresholdResult, keys map[string]*tuf.Key) {
	if res == nil {
		return
	}
	fmt.Fprintf(v.out, "  %s: signed by %d distinct keys; threshold %d\n", res.Role, len(res.Signers), res.Threshold)
	for _, c := range res.Checks {
		desc := ""
		if k, ok := keys[c.KeyID]; ok {
			desc = " (" + k.Type + "/" + k.Scheme + ")"
		}
		fmt.Fprintf(v.out, "    keyid %s%s: %s\n", c.KeyID, desc, c.Status)
	}
	for _, id := range res.MissingKeys {
		fmt.Fprintf(v.out, "    keyid %s: listed by the role but no such key is defined\n", id)
	}
}

func (v *verifier) printMismatches(keys map[string]*tuf.Key) {
	for _, id := range tuf.KeyIDMismatches(keys) {
		fmt.Fprintf(v.out, "  WARNING: keyid %s does not match its key (the key hashes to %s); clients still accept it, but Conclave will not build on this metadata\n", id, keys[id].ID())
	}
}

// defaultMaxMetadataSize is twice the targets metadata of 200,000
// delegated projects with two keys each (about 125 MB), the most a bundle
// may ask for.
const defaultMaxMetadataSize = 256 << 20
