//go:build cgo

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/conclave-keys/conclave/ceremony/enrolment"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// protectedAttributes are what pkcs11.Token.GenerateKey reads back from
// the new private key, refusing and destroying a key that lacks any
// (PKCS#11 v2.40 §4.9: sensitive, never extractable, and both from the
// start). The record lists them as checked.
var protectedAttributes = []string{"CKA_SENSITIVE", "!CKA_EXTRACTABLE", "CKA_ALWAYS_SENSITIVE", "CKA_NEVER_EXTRACTABLE"}

// runEnrollPKCS11 generates a key on a PKCS#11 token through a module the
// policy allows and writes the enrolment record.
func runEnrollPKCS11(ctx context.Context, env *environment, args []string) error {
	c := enrollPKCS11Command
	var f enrollFlags
	fs := f.define(env, c)
	fs.StringVar(&f.uri, "uri", "", "the RFC 7512 `URI` of the token and the new key's label: pkcs11:token=…;object=LABEL (with ?module-path= when the policy allows several modules)")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("enroll pkcs11 takes no arguments")
	}
	if f.uri == "" {
		return usagef("enroll pkcs11 needs --uri 'pkcs11:token=…;object=LABEL'")
	}
	sel, err := uri.Parse(f.uri)
	if err != nil {
		return usagef("--uri: %v", err)
	}
	label, ok := sel.Get(uri.Object)
	if !ok || label == "" {
		return usagef("--uri: name the new key's label with object=LABEL")
	}
	if err := f.prepare(env, "enroll pkcs11"); err != nil {
		return err
	}
	defer f.pins.Close()
	modules := pkcs11.ModulePolicy{Rehearsal: f.policy.Rehearsal}
	for _, m := range f.policy.PKCS11Modules {
		modules.Allowed = append(modules.Allowed, pkcs11.AllowedModule{Path: m.Path, SHA256: m.SHA256})
	}

	const steps = 3
	f.step(1, steps, "opening the token")
	tok, err := pkcs11.Open(ctx, f.uri, modules, f.pins.prompts(f.holder))
	if err != nil {
		return err
	}
	defer tok.Close()
	fmt.Fprintf(f.notice, "  %s\n", termtext.Safe(tok.Describe()))

	f.step(2, steps, "generating a non-extractable key (%s) labelled %s", f.algorithm, termtext.Quote(label))
	key, err := tok.GenerateKey(ctx, hsm.GenerateOptions{Algorithm: hsm.Algorithm(f.algorithm), Label: label})
	if err != nil {
		return err
	}
	fmt.Fprintf(f.notice, "  checked on the token: %s\n", termtext.Safe(fmt.Sprint(protectedAttributes)))

	f.step(3, steps, "signing the proof of possession and writing the record")
	tk, err := tuf.KeyFromPublic(key.Public)
	if err != nil {
		return err
	}
	r := &enrolment.Record{
		Holder: enrolment.Holder{Name: f.holder, Contact: f.contact},
		Key:    tk,
		Token:  enrolment.Token{Kind: enrolment.KindPKCS11, URI: key.URI, Attributes: protectedAttributes},
		Nonce:  f.nonceBytes,
		Time:   time.Now().UTC().Truncate(time.Second),
	}
	signer, err := tok.Signer(ctx, key)
	if err != nil {
		return err
	}
	if err := r.Sign(signer); err != nil {
		return err
	}
	return f.finish(r, nil)
}
