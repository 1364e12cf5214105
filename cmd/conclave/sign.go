package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/conclave-keys/conclave/airgap/vaultdir"
)

var signCommand = &command{
	name:    "sign",
	summary: "continue, at another air-gapped site, a ceremony another site exported partly signed: rebuild its payload from this vault, compare bytes, add this site's holders' signatures and export the metadata or the next partial",
	usage: "sign --vault DIR --in PARTIAL --out DIR --script FILE.yaml --confirm-digest DIGEST [--pin-fd N] [--softkey-dir DIR]\n" +
		"       conclave sign --resume LOG --in PARTIAL --out DIR --script FILE.yaml --confirm-digest DIGEST [--pin-fd N] [--softkey-dir DIR]",
}

func init() {
	signCommand.run = runSign
	register(signCommand)
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// confirmDigest reads a digest as the paper log holds it: 64 hex
// digits, or the numbered groups Conclave prints (words.Groups), each
// group numbered in its place, so that a group skipped or written twice
// is a mistake, not another digest.
func confirmDigest(s string) (string, bool) {
	fields := strings.Fields(s)
	if len(fields) == 1 && hexDigest.MatchString(fields[0]) {
		return fields[0], true
	}
	var b strings.Builder
	for i, f := range fields {
		n, g, ok := strings.Cut(f, ":")
		if !ok || n != strconv.Itoa(i+1) {
			return "", false
		}
		b.WriteString(g)
	}
	d := b.String()
	return d, len(fields) > 1 && hexDigest.MatchString(d)
}

// runSign reads the partial and the script, then runs this site's
// ceremony headless (runHeadless) under the partial's ceremony id: the
// partial joined, its bundle imported, its decisions adopted, the
// payloads rebuilt and compared, its signatures merged, the digest
// confirmed, this site's holders' signatures added, the metadata or the
// next partial exported, the ceremony closed.
func runSign(ctx context.Context, env *environment, args []string) error {
	c := signCommand
	fs := newFlagSet(env, c)
	vaultPath := fs.String("vault", "", "this site's vault `DIR` (its current generation is opened and verified)")
	in := fs.String("in", "", "the `PARTIAL` directory on the transfer medium, as the previous site exported it")
	out := fs.String("out", "", "the export `DIR` on the transfer medium: new, or empty")
	scriptPath := fs.String("script", "", "this site's script `FILE.yaml` (docs/two-sites.md): who is present, the clock, who signs; its decisions name only by")
	resume := fs.String("resume", "", "continue this site's ceremony whose log is `LOG` (VAULT/journal/ID)")
	digest := fs.String("confirm-digest", "", "the summary `DIGEST` the previous site read out over another channel than the medium: 64 hex digits, or its numbered groups as printed")
	softkeys := fs.String("softkey-dir", "", "the software key store `DIR` of a rehearsal policy's softkey:name=NAME keys (INSECURE keys: rehearsals only)")
	pinFD := fs.Int("pin-fd", -1, "read each PIN, one line each in the order the tokens ask, from the open file descriptor `N` (3 or more); without it, PINs are typed at the terminal, not shown")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("sign takes no arguments: name the partial with --in")
	}
	switch {
	case *in == "" || *out == "" || *scriptPath == "":
		return usagef("--in, --out and --script are required")
	case *resume == "" && *vaultPath == "":
		return usagef("name --vault (a new ceremony at this site), or --resume LOG (continue one)")
	}
	confirmed, ok := confirmDigest(*digest)
	if !ok {
		return usagef("--confirm-digest must be the summary digest the previous site read out: 64 lowercase hex digits, or the numbered groups as printed (\"1:e9d8 2:984a … 16:361a\")")
	}
	data, err := readNamedFile(*scriptPath)
	if err != nil {
		return fmt.Errorf("read the script: %w", err)
	}
	sc, err := parseScript(*scriptPath, data)
	if err != nil {
		return refused(err)
	}
	if d := sc.Decisions; d.RuleApprovable || len(d.Approve)+len(d.Reject)+len(d.Defer) > 0 {
		return refused(fmt.Errorf("%s: decisions: this site takes the first site's decisions, so the script names only decisions.by (who confirms taking them)", *scriptPath))
	}
	if len(sc.Witnesses) == 0 {
		return refused(fmt.Errorf("%s: witnesses: a witness records that the summary digest was confirmed over an independent channel: name one", *scriptPath))
	}
	files, p, err := readPartial(*in)
	if err != nil {
		return err
	}
	if *resume != "" {
		if id := filepath.Base(filepath.Clean(*resume)); id != p.Ceremony && filepath.Base(filepath.Dir(filepath.Clean(*resume))) != p.Ceremony {
			return refused(fmt.Errorf("the partial in %s is of ceremony %s, the log %s is not", *in, p.Ceremony, *resume))
		}
	}
	if *vaultPath != "" && *resume == "" {
		if err := checkNotOwnPartial(*vaultPath, p.Ceremony); err != nil {
			return err
		}
	}
	pins, err := openPINInput(*pinFD, env.stderr)
	if err != nil {
		return err
	}
	defer pins.Close()
	o := headlessOptions{
		Vault: *vaultPath, Out: *out, Resume: *resume, Script: sc, Prompts: pins.prompts, Notice: env.stderr, SoftkeyDir: *softkeys,
		Join: files, ID: p.Ceremony, ConfirmDigest: confirmed,
	}
	_, err = runHeadless(ctx, env, o)
	return err
}

// checkNotOwnPartial refuses a partial whose ceremony already has a
// journal in this vault: the site that exported it, or a site that
// signed it already.
func checkNotOwnPartial(vaultPath, id string) error {
	dir := filepath.Join(vaultPath, vaultdir.JournalDirName, id)
	if _, err := os.Lstat(dir); err == nil {
		return refused(withHint(fmt.Errorf("ceremony %s already has a log in this vault (%s): this vault exported, signed or refused this partial already", id, dir),
			"carry the partial to a site that has not signed it"))
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
