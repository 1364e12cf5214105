package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/enrolment"
	"github.com/conclave-keys/conclave/ceremony/policy"
	pgpwords "github.com/conclave-keys/conclave/ceremony/words"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// The token work needs cgo (piv-go and miekg/pkcs11): enroll_cgo.go does
// it, enroll_nocgo.go says this build cannot.
var enrollCommand = &command{
	name:        "enroll",
	summary:     "enrol a new key holder: generate a key on their YubiKey or HSM, attested, and write an enrolment record; or check a record",
	usage:       "enroll yubikey|pkcs11|verify ...  (conclave enroll SUBCOMMAND --help)",
	subcommands: []*command{enrollYubikeyCommand, enrollPKCS11Command, enrollVerifyCommand},
}

var enrollYubikeyCommand = &command{
	name:    "enroll yubikey",
	summary: "set a new YubiKey's PIN, PUK and management key, generate a key on it with the policy's PIN and touch policies, verify its attestation, and write the enrolment record to the transfer media",
	usage:   "enroll yubikey --holder NAME [--contact C] [--serial N] [--slot 9c] [--algorithm A] --policy FILE|--vault DIR [--attestation-roots DIR] [--nonce HEX] [--pin-fd N] --out MEDIUM",
}

var enrollPKCS11Command = &command{
	name:    "enroll pkcs11",
	summary: "generate a non-extractable key on a PKCS#11 token (an HSM), check its attributes, and write the enrolment record to the transfer media",
	usage:   "enroll pkcs11 --holder NAME [--contact C] --uri 'pkcs11:token=…;object=LABEL' [--algorithm A] --policy FILE|--vault DIR [--nonce HEX] [--pin-fd N] --out MEDIUM",
}

var enrollVerifyCommand = &command{
	name:    "enroll verify",
	summary: "check an enrolment record on any machine: proof of possession, keyid, attestation chain, firmware and policies; print its fingerprint to compare with the holder's",
	usage:   "enroll verify [--policy FILE|--vault DIR] [--attestation-roots DIR] [--nonce HEX] [--json] RECORD",
}

func init() {
	enrollYubikeyCommand.run = runEnrollYubikey
	enrollPKCS11Command.run = runEnrollPKCS11
	enrollVerifyCommand.run = runEnrollVerify
	register(enrollCommand)
}

// enrollFlags are an enrolment's flags, and what prepare makes of them.
type enrollFlags struct {
	holder, contact, out string
	policyFile, vaultDir string
	nonce, algorithm     string
	pinFD                int
	// YubiKey only: serial, slot, attestationRoots; PKCS#11 only: uri.
	serial           uint
	slot, uri        string
	attestationRoots string

	policy     *policy.Policy
	nonceBytes []byte
	pins       *pinInput
	// notice takes the steps and prompts (standard error), result the
	// record's summary and fingerprint (standard output).
	notice, result io.Writer
}

// define makes the flag set with the flags both enrolments take.
func (f *enrollFlags) define(env *environment, c *command) *flag.FlagSet {
	fs := newFlagSet(env, c)
	fs.StringVar(&f.holder, "holder", "", "the new holder's `NAME`, as the policy will list it")
	fs.StringVar(&f.contact, "contact", "", "how to reach the holder (`TEXT`: an e-mail address, a telephone number)")
	fs.StringVar(&f.out, "out", "", "the transfer `MEDIUM` (a directory) to write the enrolment record to")
	fs.StringVar(&f.policyFile, "policy", "", "the policy `FILE` whose attestation rules and PKCS#11 modules apply")
	fs.StringVar(&f.vaultDir, "vault", "", "take the policy from the vault `DIR` instead of --policy")
	fs.StringVar(&f.nonce, "nonce", "", "the enrolment nonce `HEX` (64 digits), when an officer gave one (default: drawn at random)")
	fs.StringVar(&f.algorithm, "algorithm", "ecdsa-p256", "the key `ALGORITHM`: ecdsa-p256, ecdsa-p384, ed25519 (YubiKey 5.7+ or PKCS#11 3.0), rsa-2048 … rsa-4096")
	fs.IntVar(&f.pinFD, "pin-fd", -1, "read PINs, PUKs and SO PINs from file descriptor `N`, one a line, in the order asked (default: the terminal, without echo)")
	return fs
}

// prepare checks the common flags, reads the policy and draws the nonce.
func (f *enrollFlags) prepare(env *environment, name string) error {
	if f.holder == "" || f.out == "" {
		return usagef("%s needs --holder NAME and --out MEDIUM", name)
	}
	if err := checkEnrollText("--holder", f.holder, true); err != nil {
		return err
	}
	if err := checkEnrollText("--contact", f.contact, false); err != nil {
		return err
	}
	if (f.policyFile == "") == (f.vaultDir == "") {
		return usagef("%s needs the policy: --policy FILE or --vault DIR (one of them)", name)
	}
	if st, err := os.Stat(f.out); err != nil {
		return fmt.Errorf("the transfer medium: %w", err)
	} else if !st.IsDir() {
		return usagef("--out %s: not a directory (name the transfer medium's mount point or a directory on it)", termtext.Safe(f.out))
	} else if err := safefile.CheckDir(f.out); err != nil {
		// Before the token is touched: the record is written there last.
		return usagef("--out: %v", err)
	} else if err := probeMedium(f.out); err != nil {
		return fmt.Errorf("the transfer medium %s cannot take the record, so nothing was done on the token: %w", termtext.Safe(f.out), err)
	}
	nonce, err := enrollNonce(f.nonce)
	if err != nil {
		return err
	}
	f.nonceBytes = nonce
	if f.policy, err = enrollPolicy(f.policyFile, f.vaultDir); err != nil {
		return err
	}
	pins, err := openPINInput(f.pinFD, env.stderr)
	if err != nil {
		return err
	}
	f.pins, f.notice, f.result = pins, env.stderr, env.stdout
	return nil
}

// checkEnrollText refuses a name or contact the record could not carry,
// before any token is touched.
func checkEnrollText(flagName, s string, required bool) error {
	h := enrolment.Holder{Name: "x", Contact: s}
	if required {
		h = enrolment.Holder{Name: s}
	}
	var e *enrolment.Error
	if err := enrolment.CheckHolder(h); errors.As(err, &e) {
		return usagef("%s: %s", flagName, e.Msg)
	}
	return nil
}

// enrollNonce reads --nonce, or draws one.
func enrollNonce(s string) ([]byte, error) {
	if s == "" {
		b := make([]byte, enrolment.NonceSize)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != enrolment.NonceSize || hex.EncodeToString(b) != s {
		return nil, usagef("--nonce: must be %d lower-case hex digits", 2*enrolment.NonceSize)
	}
	return b, nil
}

// enrollPolicy reads the policy from a file or from a vault.
func enrollPolicy(file, vaultDir string) (*policy.Policy, error) {
	if file != "" {
		data, err := readNamedFile(file)
		if err != nil {
			return nil, namedWrong(fmt.Errorf("read the policy: %w", err))
		}
		p, err := policy.Parse(file, data)
		if err != nil {
			return nil, refused(err)
		}
		return p, nil
	}
	if vaultDir == "" {
		return nil, nil
	}
	vd, v, err := openVault(vaultDir)
	if err != nil {
		return nil, namedWrong(err)
	}
	defer vd.Close()
	return v.Policy, nil
}

// step announces one step of an enrolment to the holder.
func (f *enrollFlags) step(n, of int, format string, a ...any) {
	fmt.Fprintf(f.notice, "step %d of %d: %s\n", n, of, fmt.Sprintf(format, a...))
}

// secret reads one secret (a PIN, PUK or SO PIN): a line of --pin-fd, or
// typed at the terminal without echo. what names it ("current PIN"); it
// never holds the secret.
func (p *pinInput) secret(ctx context.Context, what string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.fd != nil {
		fmt.Fprintf(p.notice, "%s: reading it from --pin-fd %d\n", what, p.fdNum)
		return readPINLine(p.fd, fmt.Sprintf("--pin-fd %d", p.fdNum))
	}
	tty, err := openTTY()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	return readSecretAt(tty, what)
}

// newSecret reads a new secret; typed at the terminal, it is asked twice
// and the two must match.
func (p *pinInput) newSecret(ctx context.Context, what string) ([]byte, error) {
	first, err := p.secret(ctx, what)
	if err != nil || p.fd != nil {
		return first, err
	}
	again, err := p.secret(ctx, what+", again")
	if err != nil {
		clear(first)
		return nil, err
	}
	defer clear(again)
	if !bytes.Equal(first, again) {
		clear(first)
		return nil, fmt.Errorf("the two %ss typed differ: %w", what, errSecretMismatch)
	}
	return first, nil
}

// readSecretAt asks for a secret at the terminal, without echo.
func readSecretAt(tty *os.File, what string) ([]byte, error) {
	fmt.Fprintf(tty, "%s: ", what)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("reading the %s from the terminal: %w", what, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("no %s typed: %w", what, hsm.ErrCancelled)
	}
	return b, nil
}

var errSecretMismatch = errors.New("nothing was changed")

// probeSize is what the probe file writes: more than any record (a
// YubiKey's holds two certificates of about a kilobyte each).
const probeSize = 64 << 10

// probeMedium writes a file of probeSize to dir, as the record will be
// written, and removes it: a medium full, read-only or failing is found
// before a key is made on the token, whose record would then be lost.
func probeMedium(dir string) error {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	name := ".conclave-probe-" + hex.EncodeToString(b[:])
	if err := writeRecordFile(dir, name, make([]byte, probeSize)); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, name))
}

// writeRecordFile writes the record, and the probe before it, to the
// transfer medium: a variable so that a test can make the medium fail.
var writeRecordFile = safefile.WriteFile

// writeRecord writes the record to the transfer media, named after the
// holder and the keyid, and says where.
func (f *enrollFlags) writeRecord(r *enrolment.Record) (string, error) {
	data, err := r.Marshal()
	if err != nil {
		return "", err
	}
	name := "enrolment-" + fileSlug(r.Holder.Name) + "-" + r.KeyID()[:12] + ".json"
	if err := writeRecordFile(f.out, name, data); err != nil {
		return name, err
	}
	return name, nil
}

// fileSlug is the part of a file name made from a holder's name: ASCII
// letters and digits, lower case, runs of anything else as one '-'.
func fileSlug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(c)
			dash = false
		} else {
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "holder"
	}
	return b.String()
}

// writeEnrolled tells the holder what was written and what to read out.
func (f *enrollFlags) writeEnrolled(r *enrolment.Record, name string) {
	w := f.result
	fmt.Fprintf(w, "enrolled %s\n", termtext.Safe(r.Holder.Name))
	writeRecordSummary(w, r)
	fmt.Fprintf(w, "  record       %s\n", termtext.Safe(name))
	fmt.Fprintf(w, "               written to %s\n", termtext.Safe(f.out))
	fmt.Fprintln(w, "Read the fingerprint out to the officer who checks the record (conclave enroll verify):")
	writeFingerprint(w, r.Fingerprint())
}

// writeRecordSummary prints what a record says, every string through termtext.
func writeRecordSummary(w io.Writer, r *enrolment.Record) {
	h := termtext.Safe(r.Holder.Name)
	if r.Holder.Contact != "" {
		h += " <" + termtext.Safe(r.Holder.Contact) + ">"
	}
	fmt.Fprintf(w, "  holder       %s\n", h)
	fmt.Fprintf(w, "  token        %s\n", describeRecordToken(r.Token))
	fmt.Fprintf(w, "  key          %s %s\n", termtext.Safe(r.Key.Type), termtext.Safe(r.Key.Scheme))
	fmt.Fprintf(w, "  keyid        %s\n", r.KeyID())
	fmt.Fprintf(w, "  made         %s (the enrolling machine's clock)\n", r.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  nonce        %s\n", hex.EncodeToString(r.Nonce))
}

func describeRecordToken(t enrolment.Token) string {
	if t.Kind == enrolment.KindYubiKey {
		s := fmt.Sprintf("YubiKey serial %d, slot %s, firmware %s, PIN %s, touch %s", t.Serial, termtext.Safe(t.Slot), termtext.Safe(t.Firmware), termtext.Safe(t.PINPolicy), termtext.Safe(t.TouchPolicy))
		if t.FormFactor != "" {
			s += ", " + termtext.Safe(t.FormFactor)
		}
		return s
	}
	s := "PKCS#11 " + termtext.Safe(t.URI)
	if t.Firmware != "" {
		s += ", firmware " + termtext.Safe(t.Firmware)
	}
	if len(t.Attributes) > 0 {
		s += ", checked " + termtext.Safe(strings.Join(t.Attributes, " "))
	}
	return s
}

// writeFingerprint prints a record's fingerprint as numbered hex groups
// and PGP words, to be read aloud.
func writeFingerprint(w io.Writer, fp string) {
	fmt.Fprintf(w, "  fingerprint  %s\n", strings.Join(pgpwords.Groups(fp), " "))
	b, _ := hex.DecodeString(fp)
	ws := pgpwords.PGP(b)
	for i := 0; i < len(ws); i += 8 {
		fmt.Fprintf(w, "               %s\n", strings.Join(ws[i:min(i+8, len(ws))], " "))
	}
}
