package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/verdict"
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
// bundle from any source was accepted without a word. Now the command
// line must name it, or say --any-repository, which the report shows.
func TestRegressionImportNamesTheRepository(t *testing.T) {
	args, bundleDir := importSetup(t, twoRequests)
	bare := without(args, "--repository")

	code, out, errOut := run(t, append(withoutBool(bare, "--json"), bundleDir)...)
	if code != 2 || out != "" || !strings.HasPrefix(errOut, "error: name the repository whose bundles this ceremony takes (--repository NAME, the manifest's source), or accept any with --any-repository\nusage: conclave import ") {
		t.Fatalf("no repository: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	code, _, errOut = run(t, append(withoutBool(args, "--json"), "--any-repository", bundleDir)...)
	if code != 2 || !strings.HasPrefix(errOut, "error: --any-repository contradicts the repository named, \"example.org\"\n") {
		t.Fatalf("both: exit %d, stderr %q", code, errOut)
	}

	code, out, errOut = run(t, append(bare, "--any-repository", bundleDir)...)
	r := decodeReport(t, out)
	want := verdict.AnyRepositoryNote("example.org")
	if code != 0 || len(r.Notes) != 1 || r.Notes[0] != want || want.Sentence != "The bundle's source was not checked: this import was told to accept a bundle from any repository (--any-repository). The bundle says it comes from \"example.org\"; only the intake key vouches for that." {
		t.Fatalf("--any-repository: exit %d, notes %+v\n%s", code, r.Notes, errOut)
	}
	text := without(bare, "--json")
	code, out, _ = run(t, append(text, "--any-repository", bundleDir)...)
	if code != 0 || !strings.Contains(out, "\nNOTE [any-repository]: The bundle's source was not checked: this import was told\n  to accept a bundle") {
		t.Fatalf("--any-repository text: exit %d\n%s", code, out)
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
	del := args[3]
	wantErr := "error: " + del + ": the trusted claimed metadata, version 7, expired on 2027-02-22T12:00:00Z, before the ceremony time 2027-02-22T12:00:00Z\n" +
		"hint: give the latest delegating metadata; if this is the latest and the ceremony is to renew it, add --allow-expired-delegator\n"
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
