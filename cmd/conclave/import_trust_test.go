package main

import (
	"encoding/json"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// without returns args without the flag and its value.
func without(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// withoutBool returns args without the flag, which takes no value.
func withoutBool(args []string, flag string) []string {
	var out []string
	for _, a := range args {
		if a != flag {
			out = append(out, a)
		}
	}
	return out
}

// TestRegressionImportNamesTheRepository: without a repository named, a
// bundle from any source was accepted without a word. Now the vault's
// policy names the repository, and a bundle from another is refused.
func TestRegressionImportNamesTheRepository(t *testing.T) {
	args, bundleDir := importSetup(t, func(t *testing.T, f *it.Fixture) *intake.Pack {
		p := twoRequests(t, f)
		p.Source = "elsewhere.org"
		return p
	})
	code, out, errOut := run(t, append(args, bundleDir)...)
	r := decodeReport(t, out)
	if code != 1 || r.Refused == nil || r.Refused.Code != verdict.BundleSourceMismatch {
		t.Fatalf("exit %d, refusal %+v\n%s", code, r.Refused, errOut)
	}
}

// TestRegressionImportExpiredDelegator: a --delegator that had expired at
// --now was used without a word. It is refused, unless
// --allow-expired-delegator is given, which the report shows.
func TestRegressionImportExpiredDelegator(t *testing.T) {
	args, bundleDir := importSetup(t, twoRequests)
	late := without(args, "--now")
	late = append(late, "--now", "2027-02-22T12:00:00Z") // the fixture's delegator expires then

	code, out, errOut := run(t, append(withoutBool(late, "--json"), bundleDir)...)
	wantErr := "error: vault " + args[3] + ": the trusted claimed metadata, version 7, expired on 2027-02-22T12:00:00Z, before the ceremony time 2027-02-22T12:00:00Z\n" +
		"hint: if the ceremony is to renew it, add --allow-expired-delegator\n"
	if code != 1 || out != "" || errOut != wantErr {
		t.Fatalf("expired: exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, out, errOut, wantErr)
	}

	code, out, errOut = run(t, append(late, "--allow-expired-delegator", bundleDir)...)
	var r verdict.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, errOut)
	}
	if code != 0 || len(r.Notes) != 1 || r.Notes[0].Code != verdict.DelegatorExpired ||
		r.Notes[0].Sentence != "The trusted claimed metadata, version 7, expired on 2027-02-22T12:00:00Z, before the ceremony time 2027-02-22T12:00:00Z; the requests were judged against it only because --allow-expired-delegator was given. Make sure no newer version exists: a newer one may delegate other keys." {
		t.Fatalf("allowed: exit %d, notes %+v", code, r.Notes)
	}

	// A second before it expires, nothing is said.
	early := append(without(args, "--now"), "--now", "2027-02-22T11:59:59Z", bundleDir)
	code, out, _ = run(t, early...)
	if r := decodeReport(t, out); code != 0 || len(r.Notes) != 0 {
		t.Fatalf("not yet expired: exit %d, notes %+v", code, r.Notes)
	}
}
