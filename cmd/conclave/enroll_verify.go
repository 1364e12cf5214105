package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/conclave-keys/conclave/ceremony/enrolment"
	pgpwords "github.com/conclave-keys/conclave/ceremony/words"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// enrolmentCheckFormat names the --json document
// (docs/formats/schema/enrolment-check.schema.json).
const enrolmentCheckFormat = "conclave-enrolment-check/1"

// enrolmentCheckJSON is what `conclave enroll verify --json` prints for a
// record it accepts; a refused record is a conclave-error/1 document.
type enrolmentCheckJSON struct {
	Format            string               `json:"format"`
	File              string               `json:"file"`
	Holder            enrolmentHolderJSON  `json:"holder"`
	KeyID             string               `json:"keyid"`
	KeyType           string               `json:"keytype"`
	Scheme            string               `json:"scheme"`
	Token             enrolmentTokenJSON   `json:"token"`
	Time              string               `json:"time"`
	Nonce             string               `json:"nonce"`
	Fingerprint       string               `json:"fingerprint"`
	FingerprintGroups []string             `json:"fingerprint_groups"`
	FingerprintWords  []string             `json:"fingerprint_words"`
	Attestation       enrolmentAttestJSON  `json:"attestation"`
	Policy            *enrolmentPolicyJSON `json:"policy,omitempty"`
}

type enrolmentHolderJSON struct {
	Name    string `json:"name"`
	Contact string `json:"contact,omitempty"`
}

type enrolmentTokenJSON struct {
	Kind        string   `json:"kind"`
	Serial      uint32   `json:"serial,omitempty"`
	Slot        string   `json:"slot,omitempty"`
	URI         string   `json:"uri,omitempty"`
	Firmware    string   `json:"firmware,omitempty"`
	FormFactor  string   `json:"form_factor,omitempty"`
	PINPolicy   string   `json:"pin_policy,omitempty"`
	TouchPolicy string   `json:"touch_policy,omitempty"`
	Attributes  []string `json:"attributes,omitempty"`
}

// enrolmentAttestJSON: Status is "verified", "none" (the record has no
// attestation) or "not-checked" (this build cannot check it).
type enrolmentAttestJSON struct {
	Status string `json:"status"`
	Root   string `json:"root,omitempty"`
	Vendor bool   `json:"vendor"`
}

type enrolmentPolicyJSON struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// runEnrollVerify checks a record as an officer does, on any machine.
func runEnrollVerify(ctx context.Context, env *environment, args []string) error {
	c := enrollVerifyCommand
	fs := newFlagSet(env, c)
	policyFile := fs.String("policy", "", "apply this policy `FILE`'s attestation rules (required, min_firmware, PIN and touch policies)")
	vaultDir := fs.String("vault", "", "apply the policy of the vault `DIR`")
	rootsDir := fs.String("attestation-roots", "", "trust the PEM certificates in `DIR` as attestation roots instead of Yubico's (a test or rehearsal CA; marked NON-YUBICO)")
	nonceHex := fs.String("nonce", "", "the nonce `HEX` (64 digits) the officer gave the holder for this enrolment")
	asJSON := fs.Bool("json", false, "print a JSON report instead of text")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("enroll verify takes one RECORD file")
	}
	if *policyFile != "" && *vaultDir != "" {
		return usagef("enroll verify takes --policy FILE or --vault DIR, not both")
	}
	var nonce []byte
	if *nonceHex != "" {
		var err error
		if nonce, err = enrollNonce(*nonceHex); err != nil {
			return err
		}
	}
	checker, err := enrolmentAttestationChecker(*rootsDir)
	if err != nil {
		return err
	}
	pol, err := enrollPolicy(*policyFile, *vaultDir)
	if err != nil {
		return err
	}
	path := fs.Arg(0)
	data, err := readNamedFile(path)
	if err != nil {
		return namedWrong(fmt.Errorf("read the record: %w", err))
	}
	r, err := enrolment.Parse(data)
	if err != nil {
		return refused(fmt.Errorf("%s: %w", path, err))
	}
	opts := enrolment.VerifyOptions{Attestation: checker, Nonce: nonce}
	if pol != nil {
		opts.Policy = &pol.Attestation
	}
	v, err := enrolment.Verify(r, opts)
	if err != nil {
		return refused(fmt.Errorf("%s: %w", path, err))
	}
	report := enrolmentCheckReport(path, v)
	if pol != nil {
		name := *policyFile
		if name == "" {
			name = *vaultDir
		}
		report.Policy = &enrolmentPolicyJSON{File: name, SHA256: pol.SHA256}
	}
	if *asJSON {
		return writeJSON(env.stdout, report)
	}
	writeEnrolmentCheck(env.stdout, r, report)
	return nil
}

func enrolmentCheckReport(path string, v *enrolment.Verified) *enrolmentCheckJSON {
	r := v.Record
	fp := r.Fingerprint()
	b, _ := hex.DecodeString(fp)
	t := r.Token
	out := &enrolmentCheckJSON{
		Format: enrolmentCheckFormat, File: path,
		Holder: enrolmentHolderJSON{Name: r.Holder.Name, Contact: r.Holder.Contact},
		KeyID:  r.KeyID(), KeyType: r.Key.Type, Scheme: r.Key.Scheme,
		Token: enrolmentTokenJSON{Kind: t.Kind, Serial: t.Serial, Slot: t.Slot, URI: t.URI, Firmware: t.Firmware,
			FormFactor: t.FormFactor, PINPolicy: t.PINPolicy, TouchPolicy: t.TouchPolicy, Attributes: t.Attributes},
		Time:  r.Time.UTC().Format("2006-01-02T15:04:05Z"),
		Nonce: hex.EncodeToString(r.Nonce), Fingerprint: fp,
		FingerprintGroups: pgpwords.Groups(fp), FingerprintWords: pgpwords.PGP(b),
	}
	switch {
	case v.Attested != nil:
		out.Attestation = enrolmentAttestJSON{Status: "verified", Root: v.Attested.Root, Vendor: v.Attested.Vendor}
	case len(r.Attestation) == 0:
		out.Attestation = enrolmentAttestJSON{Status: "none"}
	default:
		out.Attestation = enrolmentAttestJSON{Status: "not-checked"}
	}
	return out
}

// writeEnrolmentCheck prints the verdict for the officer.
func writeEnrolmentCheck(w io.Writer, r *enrolment.Record, rep *enrolmentCheckJSON) {
	fmt.Fprintf(w, "enrolment record %s\n", termtext.Safe(rep.File))
	writeRecordSummary(w, r)
	switch rep.Attestation.Status {
	case "verified":
		fmt.Fprintf(w, "  attestation  verified: %s\n", termtext.Safe(rep.Attestation.Root))
	case "none":
		fmt.Fprintln(w, "  attestation  NONE: the token gave no attestation; nothing proves the key was made on it")
	default:
		fmt.Fprintln(w, "  attestation  NOT CHECKED: this conclave was built without cgo and has no YubiKey support")
	}
	if rep.Policy != nil {
		fmt.Fprintf(w, "  policy       met: %s (sha256 %s)\n", termtext.Safe(rep.Policy.File), termtext.ShortHex(rep.Policy.SHA256))
	} else {
		fmt.Fprintln(w, "  policy       not checked (no --policy or --vault)")
	}
	fmt.Fprintln(w, "Ask the holder to read out their fingerprint; it must be this one:")
	writeFingerprint(w, rep.Fingerprint)
	fmt.Fprintln(w, "VALID: the proof of possession verifies against the record's key")
}
