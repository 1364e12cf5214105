package interop

// go-tuf writes, Conclave verifies.
//
// Every test builds metadata with go-tuf's metadata package, signs it with
// the sigstore signers go-tuf's own tests use, serialises it with
// ToBytes(false) (compact, encoding/json with HTML escaping) and
// ToBytes(true) (indented), and reads it with Conclave's tuf.Parse. The
// parsed file must verify with VerifyWithRoot, VerifyRootUpdate or
// VerifyDelegated, and re-encode to exactly the bytes that were signed.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

var prettyModes = []struct {
	name   string
	pretty bool
}{{"compact", false}, {"pretty", true}}

// gotufKeyFor is go-tuf's key object for k: metadata.KeyFromPublicKey for
// ed25519, P-256 and RSA; for P-384, which KeyFromPublicKey mislabels (see
// TestGoTUFSignNamesP384KeysAsP256), the key object the spec defines.
func gotufKeyFor(t testing.TB, k testKey) *metadata.Key {
	t.Helper()
	if k.name == "ecdsa-p384" {
		return &metadata.Key{Type: metadata.KeyTypeECDSA_SHA2_P256, Scheme: metadata.KeySchemeECDSA_SHA2_P384,
			Value: metadata.KeyVal{PublicKey: k.key.Public}}
	}
	key, err := metadata.KeyFromPublicKey(k.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// signGoTUFKeys signs with go-tuf's Sign, or names P-384 signatures by the
// spec's keyid (go-tuf's Sign would name them by a P-256 key object).
func signGoTUFKeys[T metadata.Roles](t testing.TB, m *metadata.Metadata[T], ks ...testKey) {
	t.Helper()
	for _, k := range ks {
		if k.name == "ecdsa-p384" {
			signGoTUFAs(t, m, k.id(), k)
		} else {
			signGoTUF(t, m, k)
		}
	}
}

// gotufRootMeta is a go-tuf root: root held by rootKeys with threshold,
// targets by targetKeys (threshold 1), snapshot and timestamp by online.
func gotufRootMeta(t testing.TB, version int64, rootKeys []testKey, threshold int, targetKeys []testKey, online testKey) *metadata.Metadata[metadata.RootType] {
	t.Helper()
	m := metadata.Root(expires)
	m.Signed.Version = version
	add := func(role string, ks ...testKey) {
		for _, k := range ks {
			if err := m.Signed.AddKey(gotufKeyFor(t, k), role); err != nil {
				t.Fatalf("go-tuf AddKey(%s, %s): %v", k.name, role, err)
			}
		}
	}
	add("root", rootKeys...)
	add("targets", targetKeys...)
	add("snapshot", online)
	add("timestamp", online)
	m.Signed.Roles["root"].Threshold = threshold
	return m
}

// checkRoundTrip: Conclave's re-encoding of the parsed signed part is the
// signed bytes, and both are what go-tuf signed.
func checkRoundTrip(t testing.TB, f *tuf.File, gotufSigned any) {
	t.Helper()
	enc, err := f.EncodeSigned()
	if err != nil {
		t.Fatalf("EncodeSigned: %v", err)
	}
	if !bytes.Equal(enc, f.SignedBytes()) {
		t.Errorf("Conclave's re-encoding differs from the bytes read\nencoded: %s\nread:    %s", enc, f.SignedBytes())
	}
	if want := gotufCanonical(t, gotufSigned); !bytes.Equal(f.SignedBytes(), want) {
		t.Errorf("Conclave's signed bytes differ from go-tuf's canonical form\nconclave: %s\ngo-tuf:   %s", f.SignedBytes(), want)
	}
}

// TestConclaveVerifiesGoTUFRoot: a root go-tuf writes, held by keys of
// every type with threshold 3 of 4, verifies in Conclave with exactly the
// four signers; below the threshold Conclave refuses it with its exact
// message.
func TestConclaveVerifiesGoTUFRoot(t *testing.T) {
	ks := keys(t)
	holders := []testKey{ks.ed1, ks.p256a, ks.p384a, ks.rsa1}
	for _, mode := range prettyModes {
		t.Run(mode.name, func(t *testing.T) {
			m := gotufRootMeta(t, 1, holders, 3, []testKey{ks.ed2, ks.p256b}, ks.online)
			signGoTUFKeys(t, m, holders...)
			if err := m.VerifyDelegate("root", m); err != nil {
				t.Fatalf("go-tuf does not verify its own root: %v", err)
			}
			data := toBytes(t, m, mode.pretty)
			f := parseConclave(t, "root.json", data)
			res, err := f.VerifyWithRoot(f.Root)
			wantConclaveThreshold(t, res, err, ids(holders...))
			checkRoundTrip(t, f, m.Signed)
			if f.Root.ConsistentSnapshot == nil || !*f.Root.ConsistentSnapshot {
				t.Errorf("consistent_snapshot = %v, want true", f.Root.ConsistentSnapshot)
			}
			for role, want := range map[string][]string{
				"root": sortedIDs(holders...), "targets": sortedIDs(ks.ed2, ks.p256b),
				"snapshot": ids(ks.online), "timestamp": ids(ks.online),
			} {
				got := append([]string(nil), f.Root.Roles[role].KeyIDs...)
				if fmt.Sprint(sortStrings(got)) != fmt.Sprint(want) {
					t.Errorf("role %s keyids %v, want %v", role, got, want)
				}
			}

			// Two of four: refused.
			m.ClearSignatures()
			signGoTUFKeys(t, m, ks.p384a, ks.rsa1)
			f = parseConclave(t, "root.json", toBytes(t, m, mode.pretty))
			res, err = f.VerifyWithRoot(f.Root)
			wantConclaveThreshold(t, res, err, ids(ks.p384a, ks.rsa1))
			if want := "not enough valid signatures for role root: 2 of 3 distinct keys signed"; err == nil || err.Error() != want {
				t.Errorf("conclave error = %v, want %q", err, want)
			}
			wantUnsigned(t, m.VerifyDelegate("root", m), "root", 2, 3)
		})
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestGoTUFSignNamesP384KeysAsP256 records a go-tuf v2.4.2 defect that
// matters for interop: metadata.KeyFromPublicKey gives an ECDSA P-384 key
// the scheme "ecdsa-sha2-nistp256", and (*Metadata).Sign names every
// signature by that key object's keyid. So:
//   - a P-384 signature go-tuf's Sign makes carries a keyid that no
//     correct key object (scheme ecdsa-sha2-nistp384) has: Conclave ignores
//     it as an unknown key, and so does go-tuf itself;
//   - a root listing go-tuf's mislabelled key object is refused by
//     Conclave's parser: a P-384 key under a P-256 scheme.
func TestGoTUFSignNamesP384KeysAsP256(t *testing.T) {
	ks := keys(t)
	own, err := metadata.KeyFromPublicKey(ks.p384a.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	if own.Type != "ecdsa" || own.Scheme != "ecdsa-sha2-nistp256" {
		t.Fatalf("go-tuf's P-384 key object is %s/%s; if go-tuf fixed it, update this test and signGoTUFKeys", own.Type, own.Scheme)
	}
	ownID := gotufID(t, own)
	if ownID == ks.p384a.id() {
		t.Fatal("the mislabelled key object has the correct keyid")
	}

	// A correct root, signed by go-tuf's Sign with the P-384 key.
	m := gotufRootMeta(t, 1, []testKey{ks.p384a}, 1, []testKey{ks.ed2}, ks.online)
	signGoTUF(t, m, ks.p384a)
	if m.Signatures[0].KeyID != ownID {
		t.Fatalf("go-tuf signed as %s, want the mislabelled keyid %s", m.Signatures[0].KeyID, ownID)
	}
	wantUnsigned(t, m.VerifyDelegate("root", m), "root", 0, 1)
	f := parseConclave(t, "root.json", toBytes(t, m, false))
	res, err := f.VerifyWithRoot(f.Root)
	wantConclaveThreshold(t, res, err, nil)
	if want := []tuf.SigCheck{{KeyID: ownID, Status: tuf.SigUnknownKey}}; !reflect.DeepEqual(res.Checks, want) {
		t.Errorf("conclave checks %+v, want %+v", res.Checks, want)
	}

	// A root listing go-tuf's own key object for the P-384 key.
	m = metadata.Root(expires)
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if err := m.Signed.AddKey(own, role); err != nil {
			t.Fatal(err)
		}
	}
	_, err = tuf.Parse("root.json", toBytes(t, m, false))
	want := fmt.Sprintf("root.json: malformed metadata: signed.keys.%s: keyval.public: invalid key: key is on curve P-384 but the scheme needs P-256", ownID)
	if !errors.Is(err, tuf.ErrMalformed) || err.Error() != want {
		t.Errorf("tuf.Parse error = %v\nwant %s", err, want)
	}
}

// TestConclaveVerifiesGoTUFRootRotation: go-tuf rotates root v1 → v2 (two
// keys revoked, two added, among them P-384), v2 signed by the old and the
// new threshold; Conclave's VerifyRootUpdate accepts it with exactly those
// signers, and refuses a v2 short of the old threshold.
func TestConclaveVerifiesGoTUFRootRotation(t *testing.T) {
	ks := keys(t)
	v1 := gotufRootMeta(t, 1, []testKey{ks.ed1, ks.p256a, ks.rsa1}, 2, []testKey{ks.ed2}, ks.online)
	signGoTUFKeys(t, v1, ks.ed1, ks.p256a)
	v1Bytes := toBytes(t, v1, false)

	for _, mode := range prettyModes {
		t.Run(mode.name, func(t *testing.T) {
			v2, err := metadata.Root().FromBytes(v1Bytes)
			if err != nil {
				t.Fatal(err)
			}
			v2.Signed.Version = 2
			for _, k := range []testKey{ks.p256a, ks.rsa1} {
				if err := v2.Signed.RevokeKey(k.id(), "root"); err != nil {
					t.Fatalf("go-tuf RevokeKey(%s): %v", k.name, err)
				}
			}
			for _, k := range []testKey{ks.ed3, ks.p384a} {
				if err := v2.Signed.AddKey(gotufKeyFor(t, k), "root"); err != nil {
					t.Fatal(err)
				}
			}
			v2.ClearSignatures()
			signGoTUFKeys(t, v2, ks.p256a, ks.rsa1, ks.ed3, ks.p384a)
			data := toBytes(t, v2, mode.pretty)

			trusted, err := trustedmetadata.New(v1Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := trusted.UpdateRoot(data); err != nil {
				t.Fatalf("go-tuf refuses its own rotation: %v", err)
			}

			c1 := parseConclave(t, "1.root.json", v1Bytes)
			c2 := parseConclave(t, "2.root.json", data)
			checkRoundTrip(t, c2, v2.Signed)
			up, err := tuf.VerifyRootUpdate(c1.Root, c2)
			if err != nil {
				t.Fatalf("conclave VerifyRootUpdate: %v", err)
			}
			if got, want := up.ByTrusted.Signers, sortedIDs(ks.p256a, ks.rsa1); !reflect.DeepEqual(got, want) {
				t.Errorf("counted by v1's keys: %v, want %v", got, want)
			}
			if got, want := up.BySelf.Signers, sortedIDs(ks.ed3, ks.p384a); !reflect.DeepEqual(got, want) {
				t.Errorf("counted by v2's keys: %v, want %v", got, want)
			}
			if got, want := sortStrings(c2.Root.Roles["root"].KeyIDs), sortedIDs(ks.ed1, ks.ed3, ks.p384a); !reflect.DeepEqual(got, want) {
				t.Errorf("v2 root keyids %v, want %v", got, want)
			}

			// Signed by the new keys and one old key: short of v1's threshold.
			v2.ClearSignatures()
			signGoTUFKeys(t, v2, ks.rsa1, ks.ed3, ks.p384a)
			up, err = tuf.VerifyRootUpdate(c1.Root, parseConclave(t, "2.root.json", toBytes(t, v2, mode.pretty)))
			if want := "not enough valid signatures for role root (keys of version 1): 1 of 2 distinct keys signed"; !errors.Is(err, tuf.ErrThreshold) || err.Error() != want {
				t.Errorf("conclave error = %v, want %q", err, want)
			}
			if up == nil || !up.BySelf.Met() {
				t.Errorf("conclave: v2's own threshold should be met: %+v", up)
			}
			wantUnsigned(t, v1.VerifyDelegate("root", v2), "root", 1, 2)
		})
	}
}

// A target path with characters encoding/json escapes (&, <, >): go-tuf's
// compact output writes them as \u0026, \u003c, \u003e; canonical JSON
// (what is signed) has them raw.
const awkwardTarget = "project-a/a&b <c>-1.0.tar.gz"

// TestConclaveVerifiesGoTUFDelegations: go-tuf top-level targets with
// targets (custom data, sha256 and sha512) and delegations (terminating
// roles with explicit paths, and one with path_hash_prefixes), a delegated
// role file, a succinct-roles delegator and one of its bins, and snapshot
// and timestamp: all verify in Conclave and re-encode exactly.
func TestConclaveVerifiesGoTUFDelegations(t *testing.T) {
	ks := keys(t)
	root := gotufRootMeta(t, 1, []testKey{ks.ed1}, 1, []testKey{ks.p256a, ks.rsa1}, ks.online)
	signGoTUFKeys(t, root, ks.ed1)
	croot := parseConclave(t, "root.json", toBytes(t, root, false)).Root

	top := metadata.Targets(expires)
	content := []byte("release archive\n")
	tf, err := metadata.TargetFile().FromBytes(awkwardTarget, content, "sha256", "sha512")
	if err != nil {
		t.Fatal(err)
	}
	custom := json.RawMessage(`{"owner":"project-a","tags":["stable","<b>"],"n":3}`)
	tf.Custom = &custom
	top.Signed.Targets[awkwardTarget] = tf
	top.Signed.Delegations = &metadata.Delegations{
		Keys: map[string]*metadata.Key{},
		Roles: []metadata.DelegatedRole{
			{Name: "project-a", Threshold: 2, Terminating: true, Paths: []string{"project-a/*"}, KeyIDs: []string{}},
			{Name: "project-b", Threshold: 1, Terminating: true, Paths: []string{"project-b/*"}, KeyIDs: []string{}},
			{Name: "hashed", Threshold: 1, Terminating: false, PathHashPrefixes: []string{"0a", "ff"}, KeyIDs: []string{}},
		},
	}
	for role, ks := range map[string][]testKey{"project-a": {ks.projA1, ks.projA2}, "project-b": {ks.projB1}, "hashed": {ks.projB1}} {
		for _, k := range ks {
			if err := top.Signed.AddKey(gotufKeyFor(t, k), role); err != nil {
				t.Fatal(err)
			}
		}
	}
	signGoTUFKeys(t, top, ks.p256a, ks.rsa1)

	proj := metadata.Targets(expires)
	proj.Signed.Version = 7
	proj.Signed.Targets[awkwardTarget] = tf
	signGoTUFKeys(t, proj, ks.projA1, ks.projA2)

	bins := metadata.Targets(expires)
	bins.Signed.Delegations = &metadata.Delegations{
		Keys:          map[string]*metadata.Key{},
		SuccinctRoles: &metadata.SuccinctRoles{KeyIDs: []string{}, Threshold: 2, BitLength: 3, NamePrefix: "bin"},
	}
	for _, k := range []testKey{ks.ed2, ks.p384b, ks.rsa1} {
		if err := bins.Signed.AddKey(gotufKeyFor(t, k), ""); err != nil {
			t.Fatal(err)
		}
	}
	signGoTUFKeys(t, bins, ks.p256a)
	binName := bins.Signed.Delegations.SuccinctRoles.GetRolesForTarget(awkwardTarget)[0].Name
	bin := metadata.Targets(expires)
	bin.Signed.Targets[awkwardTarget] = tf
	signGoTUFKeys(t, bin, ks.p384b, ks.rsa1)

	snap := metadata.Snapshot(expires)
	signGoTUFKeys(t, snap, ks.online)
	ts := metadata.Timestamp(expires)
	signGoTUFKeys(t, ts, ks.online)

	for _, mode := range prettyModes {
		t.Run(mode.name, func(t *testing.T) {
			topData := toBytes(t, top, mode.pretty)
			if !mode.pretty && !bytes.Contains(topData, []byte(`a\u0026b \u003cc\u003e`)) {
				t.Fatalf("expected go-tuf to HTML-escape the target path: %s", topData)
			}
			ctop := parseConclave(t, "targets.json", topData)
			checkRoundTrip(t, ctop, top.Signed)
			res, err := ctop.VerifyWithRoot(croot)
			wantConclaveThreshold(t, res, err, ids(ks.p256a, ks.rsa1))

			ctf := ctop.Targets.Targets[awkwardTarget]
			if ctf == nil || ctf.Length != int64(len(content)) || len(ctf.Hashes) != 2 {
				t.Fatalf("conclave reads target %s as %+v (targets %v)", awkwardTarget, ctf, ctop.Targets.Targets)
			}
			if got := string(ctf.Custom.Canonical()); got != `{"n":3,"owner":"project-a","tags":["stable","<b>"]}` {
				t.Errorf("custom = %s", got)
			}
			var got []string
			for _, d := range ctop.Targets.Delegations.Roles {
				got = append(got, fmt.Sprintf("%s t=%d term=%v paths=%v prefixes=%v keys=%d", d.Name, d.Threshold, d.Terminating, d.Paths, d.PathHashPrefixes, len(d.KeyIDs)))
			}
			want := []string{
				"project-a t=2 term=true paths=[project-a/*] prefixes=[] keys=2",
				"project-b t=1 term=true paths=[project-b/*] prefixes=[] keys=1",
				"hashed t=1 term=false paths=[] prefixes=[0a ff] keys=1",
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("conclave reads delegations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			cproj := parseConclave(t, "project-a.json", toBytes(t, proj, mode.pretty))
			checkRoundTrip(t, cproj, proj.Signed)
			res, err = cproj.VerifyDelegated(ctop.Targets, "project-a")
			wantConclaveThreshold(t, res, err, ids(ks.projA1, ks.projA2))
			res, err = cproj.VerifyDelegated(ctop.Targets, "project-b")
			wantConclaveThreshold(t, res, err, nil)
			if want := "not enough valid signatures for role project-b: 0 of 1 distinct keys signed"; err == nil || err.Error() != want {
				t.Errorf("conclave error = %v, want %q", err, want)
			}

			cbins := parseConclave(t, "bins.json", toBytes(t, bins, mode.pretty))
			checkRoundTrip(t, cbins, bins.Signed)
			if got := cbins.Targets.Delegations.SuccinctRoles.BinFor(awkwardTarget); got != binName {
				t.Errorf("conclave routes %s to %s, go-tuf to %s", awkwardTarget, got, binName)
			}
			cbin := parseConclave(t, binName+".json", toBytes(t, bin, mode.pretty))
			checkRoundTrip(t, cbin, bin.Signed)
			res, err = cbin.VerifyDelegated(cbins.Targets, binName)
			wantConclaveThreshold(t, res, err, ids(ks.p384b, ks.rsa1))

			for name, m := range map[string]struct {
				data   []byte
				signed any
			}{
				"snapshot.json":  {toBytes(t, snap, mode.pretty), snap.Signed},
				"timestamp.json": {toBytes(t, ts, mode.pretty), ts.Signed},
			} {
				f := parseConclave(t, name, m.data)
				checkRoundTrip(t, f, m.signed)
				res, err := f.VerifyWithRoot(croot)
				wantConclaveThreshold(t, res, err, ids(ks.online))
			}
		})
	}
}

// TestGoTUFUnknownFieldsRoundTrip: fields go-tuf carries as
// UnrecognizedFields, at every level it keeps them, survive Conclave's
// parse: the typed value re-encodes to the signed bytes, the whole file
// re-encodes to go-tuf's canonical form of the whole file, and go-tuf
// reads Conclave's re-encoding back with the same fields and verifies it.
func TestGoTUFUnknownFieldsRoundTrip(t *testing.T) {
	ks := keys(t)
	x := func(level string) map[string]any {
		return map[string]any{
			"x-" + level:        "kept",
			"x-" + level + "-n": 42,
			"x-" + level + "-o": map[string]any{"b": []any{true, false, nil}, "a": "\u00e9\u2603 <&>"},
		}
	}

	root := gotufRootMeta(t, 1, []testKey{ks.ed1}, 1, []testKey{ks.p256a}, ks.online)
	root.UnrecognizedFields = x("file")
	root.Signed.UnrecognizedFields = x("signed")
	root.Signed.Roles["root"].UnrecognizedFields = x("role")
	// A key with extra fields has a keyid of its own; list it for targets.
	extra := gotufKeyFor(t, ks.rsa1)
	extra.UnrecognizedFields = x("key")
	extra.Value.UnrecognizedFields = x("keyval")
	if err := root.Signed.AddKey(extra, "targets"); err != nil {
		t.Fatal(err)
	}
	extraID := gotufID(t, extra)
	signGoTUFKeys(t, root, ks.ed1)
	root.Signatures[0].UnrecognizedFields = x("signature")

	top := metadata.Targets(expires)
	top.UnrecognizedFields = x("file")
	top.Signed.UnrecognizedFields = x("signed")
	tf, err := metadata.TargetFile().FromBytes("a/b.txt", []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	tf.UnrecognizedFields = x("target")
	top.Signed.Targets["a/b.txt"] = tf
	top.Signed.Delegations = &metadata.Delegations{
		Keys:               map[string]*metadata.Key{},
		Roles:              []metadata.DelegatedRole{{Name: "a", KeyIDs: []string{}, Threshold: 1, Terminating: true, Paths: []string{"a/*"}, UnrecognizedFields: x("delegated-role")}},
		UnrecognizedFields: x("delegations"),
	}
	if err := top.Signed.AddKey(gotufKeyFor(t, ks.projA1), "a"); err != nil {
		t.Fatal(err)
	}
	signGoTUFAs(t, top, extraID, ks.rsa1)
	signGoTUFKeys(t, top, ks.p256a)
	top.Signatures[1].UnrecognizedFields = x("signature")

	snap := metadata.Snapshot(expires)
	snap.Signed.Meta["targets.json"].UnrecognizedFields = x("meta")
	snap.Signed.UnrecognizedFields = x("signed")
	signGoTUFKeys(t, snap, ks.online)

	for _, mode := range prettyModes {
		t.Run(mode.name, func(t *testing.T) {
			croot := parseConclave(t, "root.json", toBytes(t, root, mode.pretty))
			res, err := croot.VerifyWithRoot(croot.Root)
			wantConclaveThreshold(t, res, err, ids(ks.ed1))
			if croot.Root.Keys[extraID] == nil || croot.Root.Keys[extraID].ID() != extraID {
				t.Fatalf("conclave does not find the key with extra fields under go-tuf's keyid %s", extraID)
			}
			ctop := parseConclave(t, "targets.json", toBytes(t, top, mode.pretty))
			res, err = ctop.VerifyWithRoot(croot.Root)
			wantConclaveThreshold(t, res, err, []string{extraID, ks.p256a.id()})
			csnap := parseConclave(t, "snapshot.json", toBytes(t, snap, mode.pretty))
			res, err = csnap.VerifyWithRoot(croot.Root)
			wantConclaveThreshold(t, res, err, ids(ks.online))

			for _, c := range []struct {
				name   string
				f      *tuf.File
				whole  any
				signed any
			}{
				{"root", croot, root, root.Signed},
				{"targets", ctop, top, top.Signed},
				{"snapshot", csnap, snap, snap.Signed},
			} {
				checkRoundTrip(t, c.f, c.signed)
				// Conclave writes files in canonical JSON with control
				// characters escaped (cjson.Encoder.FileForm): securesystemslib
				// leaves a PEM key's newlines raw, which is not valid JSON.
				// The only control character here is the PEM newline.
				want := bytes.ReplaceAll(gotufCanonical(t, c.whole), []byte("\n"), []byte(`\n`))
				if got := c.f.Bytes(); !bytes.Equal(got, want) {
					t.Errorf("%s: Conclave's Bytes differ from go-tuf's canonical file (newlines escaped)\nconclave: %s\ngo-tuf:   %s", c.name, got, want)
				}
			}

			// Back to go-tuf: Conclave's bytes keep every field and verify.
			groot := gotufRoot(t, croot.Bytes())
			if !reflect.DeepEqual(jsonRound(t, groot), jsonRound(t, root)) {
				t.Errorf("go-tuf reads Conclave's root differently:\n%s\nwant\n%s", mustJSON(t, groot), mustJSON(t, root))
			}
			if err := groot.VerifyDelegate("root", groot); err != nil {
				t.Errorf("go-tuf: %v", err)
			}
			gtop := gotufTargets(t, ctop.Bytes())
			if !reflect.DeepEqual(jsonRound(t, gtop), jsonRound(t, top)) {
				t.Errorf("go-tuf reads Conclave's targets differently:\n%s\nwant\n%s", mustJSON(t, gtop), mustJSON(t, top))
			}
			if err := groot.VerifyDelegate("targets", gtop); err != nil {
				t.Errorf("go-tuf: %v", err)
			}
		})
	}
}

// jsonRound is v as generic JSON, to compare go-tuf values whose maps hold
// numbers as int on one side and float64 on the other.
func jsonRound(t testing.TB, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal(mustJSON(t, v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConclaveReadsGoTUFFractionalExpiry: go-tuf writes expires with
// encoding/json's RFC 3339 nanosecond form when the time has a fraction;
// Conclave reads it as the same instant, verifies the signature over the
// bytes as written, and writes only the canonical form (whole seconds).
func TestConclaveReadsGoTUFFractionalExpiry(t *testing.T) {
	ks := keys(t)
	for _, tc := range []struct {
		nanos int
		text  string
	}{
		{500_000_000, "2030-01-01T00:00:00.5Z"},
		{123_456_789, "2030-01-01T00:00:00.123456789Z"},
		{0, "2030-01-01T00:00:00Z"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			m := metadata.Targets(time.Date(2030, 1, 1, 0, 0, 0, tc.nanos, time.UTC))
			m.Signed.Expires = time.Date(2030, 1, 1, 0, 0, 0, tc.nanos, time.UTC)
			signGoTUFKeys(t, m, ks.ed1)
			f := parseConclave(t, "targets.json", toBytes(t, m, false))
			if got := f.Expires().String(); got != "2030-01-01T00:00:00Z" {
				t.Errorf("expires written as %s, want 2030-01-01T00:00:00Z", got)
			}
			if !f.Expires().Time.Equal(m.Signed.Expires) {
				t.Errorf("expires instant %v, want %v", f.Expires().Time, m.Signed.Expires)
			}
			if tc.nanos == 0 {
				checkRoundTrip(t, f, m.Signed)
			} else if want := gotufCanonical(t, m.Signed); f.Expires().NonCanonical() != tc.text || !bytes.Equal(f.SignedBytes(), want) {
				t.Errorf("read as %q; signed bytes\nconclave: %s\ngo-tuf:   %s", f.Expires().NonCanonical(), f.SignedBytes(), want)
			}
			res := f.VerifyRole("targets", keyMap(ks.ed1), ids(ks.ed1), 1)
			wantConclaveThreshold(t, res, res.Err(), ids(ks.ed1))
		})
	}
}

// TestConclaveVerifiesGoTUFLegacyECDSAKeyType: go-tuf accepts the keytype
// "ecdsa-sha2-nistp256" that early securesystemslib wrote; Conclave reads
// such keys for verifying (and says they are legacy).
func TestConclaveVerifiesGoTUFLegacyECDSAKeyType(t *testing.T) {
	ks := keys(t)
	legacy := &metadata.Key{Type: metadata.KeyTypeECDSA_SHA2_P256_COMPAT, Scheme: metadata.KeySchemeECDSA_SHA2_P256,
		Value: metadata.KeyVal{PublicKey: ks.p256a.key.Public}}
	id := gotufID(t, legacy)
	m := metadata.Root(expires)
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if err := m.Signed.AddKey(legacy, role); err != nil {
			t.Fatal(err)
		}
	}
	signGoTUFAs(t, m, id, ks.p256a)
	if err := m.VerifyDelegate("root", m); err != nil {
		t.Fatalf("go-tuf: %v", err)
	}
	f := parseConclave(t, "root.json", toBytes(t, m, false))
	res, err := f.VerifyWithRoot(f.Root)
	wantConclaveThreshold(t, res, err, []string{id})
	if k := f.Root.Keys[id]; k == nil || k.Legacy() != `legacy keytype "ecdsa-sha2-nistp256" (written by early securesystemslib)` {
		t.Errorf("legacy key: %+v", k)
	}
	checkRoundTrip(t, f, m.Signed)
}

// TestDuplicateSignatureKeyIDRefusedByBoth: two signature entries under one
// keyid. go-tuf refuses the file when it reads it, and so does Conclave,
// each naming the keyid.
func TestDuplicateSignatureKeyIDRefusedByBoth(t *testing.T) {
	ks := keys(t)
	m := metadata.Targets(expires)
	signGoTUFKeys(t, m, ks.ed1)
	m.Signatures = append(m.Signatures, m.Signatures[0])
	data := toBytes(t, m, false)

	_, err := metadata.Targets().FromBytes(data)
	var value *metadata.ErrValue
	if want := "value error: multiple signatures found for key ID " + ks.ed1.id(); !errors.As(err, &value) || err.Error() != want {
		t.Errorf("go-tuf error = %v, want %q", err, want)
	}
	_, err = tuf.Parse("targets.json", data)
	if want := fmt.Sprintf("targets.json: malformed metadata: signatures[1].keyid: keyid %s has more than one signature", ks.ed1.id()); !errors.Is(err, tuf.ErrMalformed) || err.Error() != want {
		t.Errorf("tuf.Parse error = %v\nwant %s", err, want)
	}
}
