package interop

// Where go-tuf v2.4.2 and Conclave judge the same bytes differently. Each
// test pins both verdicts exactly, so a change on either side shows up.
// None of these files is one Conclave's builders produce; they are hazards
// for code that assembles metadata by hand, and for Conclave's "verify as a
// TUF client would" step, which must not be more lenient than the clients.
// (The P-384 keyid defect, the any-name-is-a-bin leniency and the
// consistent_snapshot requirement are recorded next to the tests they
// affect: TestGoTUFSignNamesP384KeysAsP256, TestGoTUFAcceptsAnyBinName,
// TestRootNeedsConsistentSnapshot.)

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// TestMissingDelegatedKey: a delegated role lists a keyid that
// delegations.keys does not hold, and the role's threshold is met by its
// other keys. go-tuf refuses the delegated file outright (VerifyDelegate
// stops at the first keyid it cannot find). Conclave agrees: it refuses to
// write such a delegator, and its verification fails with ErrMissingKey
// even though the threshold is met.
func TestMissingDelegatedKey(t *testing.T) {
	ks := keys(t)
	const ghost = "00000000000000000000000000000000000000000000000000000000000000ff"
	role := func(keyids ...string) []*tuf.DelegatedRole {
		return []*tuf.DelegatedRole{{Name: "project-a", KeyIDs: keyids, Threshold: 2, Terminating: true, Paths: []string{"project-a/*"}}}
	}
	// go-tuf's verdict, on a delegator whose bytes Conclave did write
	// (without the ghost) and which go-tuf is then given with it.
	good := conclaveTargets(1)
	good.Delegations = &tuf.Delegations{Keys: keyMap(ks.projA1, ks.projA2), Roles: role(ks.projA1.id(), ks.projA2.id())}
	goodBytes := newTargetsFile(t, good).Bytes()
	ghostBytes := bytes.Replace(goodBytes, []byte(`"keyids":[`), []byte(`"keyids":["`+ghost+`",`), 1)
	if bytes.Equal(ghostBytes, goodBytes) {
		t.Fatal("could not insert the ghost keyid")
	}
	proj := newTargetsFile(t, conclaveTargets(1))
	signConclave(t, proj, good.Delegations.Keys, ks.projA1, ks.projA2)
	data := proj.Bytes()

	err := gotufTargets(t, ghostBytes).VerifyDelegate("project-a", gotufTargets(t, data))
	var value *metadata.ErrValue
	want := fmt.Sprintf("value error: key with ID %s not found in project-a keyids", ghost)
	if !errors.As(err, &value) || err.Error() != want {
		t.Errorf("go-tuf error = %v, want %q", err, want)
	}

	// Conclave never writes it...
	bad := conclaveTargets(1)
	bad.Delegations = &tuf.Delegations{Keys: keyMap(ks.projA1, ks.projA2), Roles: role(ghost, ks.projA1.id(), ks.projA2.id())}
	_, err = tuf.NewTargetsFile(bad)
	wantErr := "encode targets metadata: signed.delegations.roles[0].keyids: role lists a key that is not defined: " + ghost
	if err == nil || err.Error() != wantErr || !errors.Is(err, tuf.ErrMissingKey) {
		t.Errorf("tuf.NewTargetsFile error = %v, want %q", err, wantErr)
	}
	// ...and refuses it when it reads it, like go-tuf.
	delegator := parseConclave(t, "targets.json", ghostBytes)
	res, err := parseConclave(t, "project-a.json", data).VerifyDelegated(delegator.Targets, "project-a")
	wantErr = "role lists a key that is not defined: role project-a lists keyid " + ghost + ", which the delegating metadata does not define"
	if err == nil || err.Error() != wantErr || !errors.Is(err, tuf.ErrMissingKey) {
		t.Errorf("conclave error = %v, want %q", err, wantErr)
	}
	if res == nil || len(res.Signers) != 2 || fmt.Sprint(res.MissingKeys) != fmt.Sprint([]string{ghost}) {
		t.Errorf("conclave result = %+v, want 2 signers and MissingKeys [%s]", res, ghost)
	}
}

// TestTargetWithoutHashes: a target entry with an empty hashes object.
// Both go-tuf and Conclave refuse to parse the file, and Conclave refuses
// to write one.
func TestTargetWithoutHashes(t *testing.T) {
	ks := keys(t)
	tg := conclaveTargets(1)
	tg.Targets["project-a/empty.txt"] = &tuf.TargetFile{Length: 0, Hashes: map[string]string{"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}
	f := newTargetsFile(t, tg)
	signConclave(t, f, keyMap(ks.ed1), ks.ed1)
	data := bytes.Replace(f.Bytes(), []byte(`{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`), []byte(`{}`), 1)

	_, err := metadata.Targets().FromBytes(data)
	if err == nil || err.Error() != "hashes must not be empty for target files" {
		t.Errorf("go-tuf FromBytes error = %v, want %q", err, "hashes must not be empty for target files")
	}
	_, err = tuf.Parse("targets.json", data)
	want := `targets.json: malformed metadata: signed.targets["project-a/empty.txt"].hashes: must list at least one hash`
	if err == nil || err.Error() != want {
		t.Errorf("conclave Parse error = %v, want %q", err, want)
	}
	tg.Targets["project-a/empty.txt"].Hashes = map[string]string{}
	_, err = tuf.NewTargetsFile(tg)
	want = `encode targets metadata: signed.targets["project-a/empty.txt"].hashes: must list at least one hash`
	if err == nil || err.Error() != want {
		t.Errorf("conclave NewTargetsFile error = %v, want %q", err, want)
	}
}

// TestGoTUFNonUTCExpiry: go-tuf writes expires in whatever zone the
// time.Time carries ("2030-01-01T02:00:00+02:00") and verifies it. The TUF
// specification's examples end in Z, but the value is an RFC 3339 instant:
// Conclave reads it as the same instant, verifies the signature over the
// bytes as written, and writes only the canonical form.
func TestGoTUFNonUTCExpiry(t *testing.T) {
	ks := keys(t)
	zone := time.FixedZone("EET", 2*60*60)
	m := metadata.Targets(expires.In(zone))
	signGoTUFKeys(t, m, ks.ed1)
	data := toBytes(t, m, false)

	back := gotufTargets(t, data)
	if err := metadataVerifyTargets(back, ks.ed1); err != nil {
		t.Errorf("go-tuf does not verify its own file: %v", err)
	}
	f, err := tuf.Parse("targets.json", data)
	if err != nil {
		t.Fatalf("tuf.Parse: %v", err)
	}
	if !f.Expires().Time.Equal(expires) || f.Expires().NonCanonical() != "2030-01-01T02:00:00+02:00" || f.Expires().String() != "2030-01-01T00:00:00Z" {
		t.Errorf("expires %v, read as %q, written as %s", f.Expires().Time, f.Expires().NonCanonical(), f.Expires())
	}
	res := f.VerifyRole("targets", keyMap(ks.ed1), ids(ks.ed1), 1)
	wantConclaveThreshold(t, res, res.Err(), ids(ks.ed1))
}

// metadataVerifyTargets verifies go-tuf targets metadata with go-tuf,
// through a root go-tuf makes whose targets role is k alone.
func metadataVerifyTargets(m *metadata.Metadata[metadata.TargetsType], k testKey) error {
	root := metadata.Root(expires)
	if err := root.Signed.AddKey(k.gotufKey(), "targets"); err != nil {
		return err
	}
	return root.VerifyDelegate("targets", m)
}
