package interop

// Conclave writes, go-tuf verifies.
//
// Every test builds metadata with Conclave's API (tuf.NewRootFile,
// tuf.NewTargetsFile, (*File).Sign), writes it with (*File).Bytes, reads it
// with go-tuf's metadata package and verifies it with go-tuf's
// VerifyDelegate (and, for the whole client flow, go-tuf's
// trustedmetadata). Where Conclave also judges the same bytes, both
// verdicts are asserted, so a disagreement shows up as a failure.

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// TestKeyIDsAgree: Conclave and go-tuf compute the same keyid for the same
// key object, for every key type Conclave writes, and go-tuf's own key
// objects (metadata.KeyFromPublicKey) are byte for byte Conclave's for
// ed25519, ECDSA P-256 and RSA.
func TestKeyIDsAgree(t *testing.T) {
	ks := keys(t)
	for _, k := range []testKey{ks.ed1, ks.p256a, ks.p384a, ks.rsa1} {
		t.Run(k.name, func(t *testing.T) {
			if got := gotufID(t, k.gotufKey()); got != k.id() {
				t.Errorf("go-tuf keyid of Conclave's key object = %s, Conclave's = %s", got, k.id())
			}
			if k.name == "ecdsa-p384" {
				return // see TestGoTUFSignNamesP384KeysAsP256
			}
			own, err := metadata.KeyFromPublicKey(k.signer.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(own, k.gotufKey()) {
				t.Errorf("go-tuf's key object %+v differs from Conclave's %+v", own, k.gotufKey())
			}
			if got := gotufID(t, own); got != k.id() {
				t.Errorf("go-tuf keyid = %s, Conclave keyid = %s", got, k.id())
			}
		})
	}
}

// TestGoTUFVerifiesEachKeyType: a root whose every role is held by one key
// of one type, signed by Conclave, verifies in go-tuf; go-tuf computes
// exactly Conclave's signed bytes; a corrupted signature is refused by both.
func TestGoTUFVerifiesEachKeyType(t *testing.T) {
	ks := keys(t)
	for _, k := range []testKey{ks.ed1, ks.p256a, ks.p384a, ks.rsa1} {
		t.Run(k.name, func(t *testing.T) {
			r := conclaveRoot(1, []testKey{k}, 1, k)
			f := newRootFile(t, r)
			signConclave(t, f, r.Keys, k)
			data := f.Bytes()

			gt := gotufRoot(t, data)
			if got := gotufCanonical(t, gt.Signed); !bytes.Equal(got, f.SignedBytes()) {
				t.Fatalf("go-tuf's canonical signed part differs from Conclave's\ngo-tuf:   %s\nconclave: %s", got, f.SignedBytes())
			}
			for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
				if err := gt.VerifyDelegate(role, gt); err != nil {
					t.Errorf("go-tuf VerifyDelegate(%s): %v", role, err)
				}
			}
			res, err := parseConclave(t, "root.json", data).VerifyWithRoot(r)
			wantConclaveThreshold(t, res, err, ids(k))

			// Flip one bit of the signature: both refuse.
			raw, err := hex.DecodeString(f.Signatures[0].Sig)
			if err != nil {
				t.Fatal(err)
			}
			raw[len(raw)/2] ^= 0x01
			f.Signatures[0].Sig = hex.EncodeToString(raw)
			bad := f.Bytes()
			wantUnsigned(t, gotufRoot(t, bad).VerifyDelegate("root", gotufRoot(t, bad)), "root", 0, 1)
			res, err = parseConclave(t, "root.json", bad).VerifyWithRoot(r)
			wantConclaveThreshold(t, res, err, nil)
			if res.Checks[0].Status != tuf.SigBadSignature {
				t.Errorf("conclave status of the corrupted signature = %q, want %q", res.Checks[0].Status, tuf.SigBadSignature)
			}
		})
	}
}

// TestGoTUFVerifiesMixedRootThreshold: a root held by four keys of four
// types with threshold 3 verifies in go-tuf when all four or any three
// sign, and is refused below the threshold, with go-tuf's exact count.
func TestGoTUFVerifiesMixedRootThreshold(t *testing.T) {
	ks := keys(t)
	holders := []testKey{ks.ed1, ks.p256a, ks.p384a, ks.rsa1}
	r := conclaveRoot(1, holders, 3, ks.online)
	for _, tc := range []struct {
		name    string
		signers []testKey
	}{
		{"all four", holders},
		{"ed25519 p256 p384", []testKey{ks.ed1, ks.p256a, ks.p384a}},
		{"p256 p384 rsa", []testKey{ks.p256a, ks.p384a, ks.rsa1}},
		{"ed25519 rsa p384 (other order)", []testKey{ks.ed1, ks.rsa1, ks.p384a}},
		{"two of four", []testKey{ks.ed1, ks.rsa1}},
		{"one of four", []testKey{ks.p384a}},
		{"the online key, not a root key", []testKey{ks.online}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRootFile(t, r)
			signConclave(t, f, r.Keys, tc.signers...)
			data := f.Bytes()
			gt := gotufRoot(t, data)
			err := gt.VerifyDelegate("root", gt)

			var counted []testKey
			for _, s := range tc.signers {
				if s.id() != ks.online.id() {
					counted = append(counted, s)
				}
			}
			if len(counted) >= 3 {
				if err != nil {
					t.Fatalf("go-tuf refused root signed by %d of 4 (threshold 3): %v", len(counted), err)
				}
			} else {
				wantUnsigned(t, err, "root", len(counted), 3)
			}
			res, cerr := parseConclave(t, "root.json", data).VerifyWithRoot(r)
			wantConclaveThreshold(t, res, cerr, ids(counted...))
		})
	}
}

// aliasKey returns Conclave's key object for k's public key with one more
// (unknown) field, so it has another keyid: the same key listed twice. It
// is made by parsing, the only way Conclave takes a key object it did not
// build; Conclave and go-tuf must agree on its keyid.
func aliasKey(t *testing.T, k testKey) *tuf.Key {
	t.Helper()
	gk := k.gotufKey()
	gk.UnrecognizedFields = map[string]any{"x-interop-alias": "the same public key, listed again"}
	id := gotufID(t, gk)
	doc := fmt.Sprintf(`{"signatures":[],"signed":{"_type":"targets","delegations":{"keys":{%q:%s},"roles":[]},"expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{},"version":1}}`,
		id, mustJSON(t, gk))
	f := parseConclave(t, "alias.json", []byte(doc))
	key := f.Targets.Delegations.Keys[id]
	if key == nil || key.ID() != id {
		t.Fatalf("conclave keyid of the alias key object = %v, go-tuf's = %s", key, id)
	}
	if key.Fingerprint() != k.key.Fingerprint() {
		t.Fatalf("alias key has fingerprint %s, want %s", key.Fingerprint(), k.key.Fingerprint())
	}
	return key
}

// TestGoTUFCountsOneKeyOnce: one public key listed under two keyids, both
// in the root role with threshold 2, signing under both keyids, counts once
// in go-tuf as in Conclave: the file is refused by both.
func TestGoTUFCountsOneKeyOnce(t *testing.T) {
	ks := keys(t)
	for _, k := range []testKey{ks.ed1, ks.p256a, ks.p384a, ks.rsa1} {
		t.Run(k.name, func(t *testing.T) {
			alias := aliasKey(t, k)
			r := conclaveRoot(1, []testKey{k}, 2, ks.online)
			r.Keys[alias.ID()] = alias
			r.Roles[tuf.TypeRoot].KeyIDs = append(r.Roles[tuf.TypeRoot].KeyIDs, alias.ID())
			f := newRootFile(t, r)
			signConclave(t, f, r.Keys, k)
			if err := f.Sign(r.Keys, alias.ID(), k.signer); err != nil {
				t.Fatalf("conclave sign under the alias keyid: %v", err)
			}
			if len(f.Signatures) != 2 {
				t.Fatalf("%d signatures, want 2", len(f.Signatures))
			}
			data := f.Bytes()
			gt := gotufRoot(t, data)
			wantUnsigned(t, gt.VerifyDelegate("root", gt), "root", 1, 2)

			res, err := parseConclave(t, "root.json", data).VerifyWithRoot(r)
			wantConclaveThreshold(t, res, err, ids(k))
			want := []tuf.SigCheck{{KeyID: k.id(), Status: tuf.SigCounted}, {KeyID: alias.ID(), Status: tuf.SigDuplicateKey}}
			if !reflect.DeepEqual(res.Checks, want) {
				t.Errorf("conclave checks = %+v, want %+v", res.Checks, want)
			}

			// With a second, distinct key signing, both accept.
			r.Roles[tuf.TypeRoot].KeyIDs = append(r.Roles[tuf.TypeRoot].KeyIDs, ks.ed3.id())
			r.Keys[ks.ed3.id()] = ks.ed3.key
			f = newRootFile(t, r)
			signConclave(t, f, r.Keys, k)
			if err := f.Sign(r.Keys, alias.ID(), k.signer); err != nil {
				t.Fatal(err)
			}
			signConclave(t, f, r.Keys, ks.ed3)
			data = f.Bytes()
			gt = gotufRoot(t, data)
			if err := gt.VerifyDelegate("root", gt); err != nil {
				t.Errorf("go-tuf: %v", err)
			}
			res, err = parseConclave(t, "root.json", data).VerifyWithRoot(r)
			wantConclaveThreshold(t, res, err, ids(k, ks.ed3))
		})
	}
}

// TestRootNeedsConsistentSnapshot: go-tuf writes "consistent_snapshot":
// false back into a root that lacks the field before it checks signatures,
// so every signature over the root as written fails there; python-tuf
// leaves the field out. Conclave refuses to write a root without it.
func TestRootNeedsConsistentSnapshot(t *testing.T) {
	ks := keys(t)
	r := conclaveRoot(1, []testKey{ks.ed1}, 1, ks.online)
	r.ConsistentSnapshot = nil
	_, err := tuf.NewRootFile(r)
	want := "encode root metadata: signed.consistent_snapshot: must be set (true or false)"
	if err == nil || err.Error() != want {
		t.Errorf("tuf.NewRootFile error = %v, want %q", err, want)
	}
}

// rotation is root v1 → v2 with a changed keyset, each key of v1 and v2.
type rotation struct {
	v1, v2  *tuf.Root
	oldKeys []testKey // v1's root keys, threshold 2
	newKeys []testKey // v2's root keys, threshold 2
	v1File  *tuf.File
	v1Bytes []byte
}

// newRotation: v1 root keys {ed1, p256a, rsa1}, threshold 2; v2 root keys
// {ed1, p384a, ed2}, threshold 2 (p256a and rsa1 removed, p384a and ed2
// added).
func newRotation(t *testing.T) *rotation {
	ks := keys(t)
	rot := &rotation{
		oldKeys: []testKey{ks.ed1, ks.p256a, ks.rsa1},
		newKeys: []testKey{ks.ed1, ks.p384a, ks.ed2},
	}
	rot.v1 = conclaveRoot(1, rot.oldKeys, 2, ks.online)
	rot.v2 = conclaveRoot(2, rot.newKeys, 2, ks.online)
	rot.v1File = newRootFile(t, rot.v1)
	signConclave(t, rot.v1File, rot.v1.Keys, ks.p256a, ks.rsa1)
	rot.v1Bytes = rot.v1File.Bytes()
	return rot
}

// signRotation signs a new root file with old keys (listed by the trusted
// root) and new keys (listed by the new root). A key in both is asked once.
func signRotation(t *testing.T, f *tuf.File, trusted, next *tuf.Root, oldSigners, newSigners []testKey) {
	t.Helper()
	for _, s := range oldSigners {
		if err := f.Sign(trusted.Keys, s.id(), s.signer); err != nil {
			t.Fatalf("sign with old key %s: %v", s.name, err)
		}
	}
	for _, s := range newSigners {
		if err := f.Sign(next.Keys, s.id(), s.signer); err != nil {
			t.Fatalf("sign with new key %s: %v", s.name, err)
		}
	}
}

// TestGoTUFRootRotation: a Conclave root rotation, v2 signed by the old and
// the new threshold, is accepted by go-tuf's VerifyDelegate with the old
// root and with itself, and by trustedmetadata.UpdateRoot (TUF §5.3);
// rotations short of either threshold or skipping a version are refused by
// go-tuf and Conclave alike.
func TestGoTUFRootRotation(t *testing.T) {
	ks := keys(t)
	for _, tc := range []struct {
		name          string
		version       int64
		old, new      []testKey
		oldOK, newOK  bool
		oldGot        int // go-tuf's count against v1's root role
		newGot        int // go-tuf's count against v2's root role
		wantGoTUFErr  string
		wantVersionOK bool
	}{
		{name: "old and new threshold", version: 2, old: []testKey{ks.p256a, ks.rsa1}, new: []testKey{ks.p384a, ks.ed2},
			oldOK: true, newOK: true, oldGot: 2, newGot: 2, wantVersionOK: true},
		{name: "shared key counts for both", version: 2, old: []testKey{ks.ed1, ks.rsa1}, new: []testKey{ks.ed2},
			oldOK: true, newOK: true, oldGot: 2, newGot: 2, wantVersionOK: true},
		{name: "new keys only", version: 2, new: []testKey{ks.p384a, ks.ed2},
			newOK: true, oldGot: 0, newGot: 2,
			wantGoTUFErr: "unsigned metadata error: Verifying root failed, not enough signatures, got 0, want 2", wantVersionOK: true},
		{name: "old keys only", version: 2, old: []testKey{ks.p256a, ks.rsa1},
			oldOK: true, oldGot: 2, newGot: 0,
			wantGoTUFErr: "unsigned metadata error: Verifying root failed, not enough signatures, got 0, want 2", wantVersionOK: true},
		{name: "one old key short", version: 2, old: []testKey{ks.rsa1}, new: []testKey{ks.p384a, ks.ed2},
			newOK: true, oldGot: 1, newGot: 2,
			wantGoTUFErr: "unsigned metadata error: Verifying root failed, not enough signatures, got 1, want 2", wantVersionOK: true},
		{name: "version skipped", version: 3, old: []testKey{ks.p256a, ks.rsa1}, new: []testKey{ks.p384a, ks.ed2},
			oldOK: true, newOK: true, oldGot: 2, newGot: 2,
			wantGoTUFErr: "bad version number error: bad version number, expected 2, got 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rot := newRotation(t)
			rot.v2.Version = tc.version
			f := newRootFile(t, rot.v2)
			signRotation(t, f, rot.v1, rot.v2, tc.old, tc.new)
			data := f.Bytes()

			g1, g2 := gotufRoot(t, rot.v1Bytes), gotufRoot(t, data)
			err := g1.VerifyDelegate("root", g2)
			if tc.oldOK != (err == nil) {
				t.Errorf("go-tuf v1.VerifyDelegate(root, v2) = %v, want ok=%v", err, tc.oldOK)
			} else if err != nil {
				wantUnsigned(t, err, "root", tc.oldGot, 2)
			}
			err = g2.VerifyDelegate("root", g2)
			if tc.newOK != (err == nil) {
				t.Errorf("go-tuf v2.VerifyDelegate(root, v2) = %v, want ok=%v", err, tc.newOK)
			} else if err != nil {
				wantUnsigned(t, err, "root", tc.newGot, 2)
			}

			trusted, err := trustedmetadata.New(rot.v1Bytes)
			if err != nil {
				t.Fatalf("go-tuf trustedmetadata.New(v1): %v", err)
			}
			_, err = trusted.UpdateRoot(data)
			if tc.wantGoTUFErr == "" {
				if err != nil {
					t.Fatalf("go-tuf UpdateRoot: %v", err)
				}
				if trusted.Root.Signed.Version != 2 {
					t.Errorf("go-tuf trusted root version = %d, want 2", trusted.Root.Signed.Version)
				}
			} else if err == nil || err.Error() != tc.wantGoTUFErr {
				t.Errorf("go-tuf UpdateRoot error = %v, want %q", err, tc.wantGoTUFErr)
			}

			// Conclave's own judgement of the same bytes.
			up, err := tuf.VerifyRootUpdate(rot.v1, parseConclave(t, "2.root.json", data))
			if up == nil {
				t.Fatalf("conclave VerifyRootUpdate: %v", err)
			}
			if up.ByTrusted.Met() != tc.oldOK || up.BySelf.Met() != tc.newOK {
				t.Errorf("conclave: by trusted met=%v by self met=%v, want %v %v", up.ByTrusted.Met(), up.BySelf.Met(), tc.oldOK, tc.newOK)
			}
			switch {
			case tc.wantGoTUFErr == "" && err != nil:
				t.Errorf("conclave refused what go-tuf accepted: %v", err)
			case tc.wantGoTUFErr != "" && !tc.wantVersionOK && !errors.Is(err, tuf.ErrVersion):
				t.Errorf("conclave error = %v, want tuf.ErrVersion", err)
			case tc.wantGoTUFErr != "" && tc.wantVersionOK && !errors.Is(err, tuf.ErrThreshold):
				t.Errorf("conclave error = %v, want tuf.ErrThreshold", err)
			}
		})
	}
}

// topTargets is Conclave top-level targets with three delegations: two
// terminating project roles with explicit paths, and one with
// path_hash_prefixes (Conclave writes the field; go-tuf checks only its
// structure and signatures here, see the package README).
func topTargets(ks *keySet) *tuf.Targets {
	tg := conclaveTargets(1)
	tg.Delegations = &tuf.Delegations{
		Keys: keyMap(ks.projA1, ks.projA2, ks.projB1),
		Roles: []*tuf.DelegatedRole{
			{Name: "project-a", KeyIDs: ids(ks.projA1, ks.projA2), Threshold: 2, Terminating: true, Paths: []string{"project-a/*"}},
			{Name: "project-b", KeyIDs: ids(ks.projB1), Threshold: 1, Terminating: true, Paths: []string{"project-b/*", "project-b-docs/*"}},
			{Name: "hashed", KeyIDs: ids(ks.projB1), Threshold: 1, Terminating: false, PathHashPrefixes: []string{"00", "8f"}},
		},
	}
	return tg
}

// projectFile is delegated targets metadata for project-a with one target.
func projectFile(t *testing.T, role string, version int64) (*tuf.Targets, []byte) {
	content := []byte("project-a 1.0 release archive\n")
	s256, s512 := sha256.Sum256(content), sha512.Sum512(content)
	tg := conclaveTargets(version)
	custom := cjson.ObjectValue(
		cjson.Member{Name: "owner", Value: cjson.StringValue(role)},
		cjson.Member{Name: "notes", Value: cjson.StringValue("line one\nline <two> & \u00e9")},
		cjson.Member{Name: "n", Value: cjson.IntValue(3)},
		cjson.Member{Name: "tags", Value: cjson.ArrayValue(cjson.StringValue("stable"), cjson.BoolValue(true), cjson.NullValue())},
	)
	tg.Targets[role+"/"+role+"-1.0.tar.gz"] = &tuf.TargetFile{
		Length: int64(len(content)),
		Hashes: map[string]string{"sha256": fmt.Sprintf("%x", s256), "sha512": fmt.Sprintf("%x", s512)},
		Custom: &custom,
	}
	return tg, content
}

// TestGoTUFVerifiesDelegations: Conclave's top-level targets (signed by the
// root's targets keys) and a delegated project role (signed by the
// project's keys) verify in go-tuf; go-tuf reads the terminating flags and
// explicit paths Conclave wrote; signatures below the role's threshold, and
// a file presented under another role's name, are refused.
func TestGoTUFVerifiesDelegations(t *testing.T) {
	ks := keys(t)
	r := conclaveRoot(1, []testKey{ks.ed1, ks.p256a, ks.rsa1}, 2, ks.online)
	rootFile := newRootFile(t, r)
	signConclave(t, rootFile, r.Keys, ks.ed1, ks.rsa1)
	top := topTargets(ks)
	topFile := newTargetsFile(t, top)
	signConclave(t, topFile, r.Keys, ks.p256a, ks.rsa1)

	groot := gotufRoot(t, rootFile.Bytes())
	gtop := gotufTargets(t, topFile.Bytes())
	if got := gotufCanonical(t, gtop.Signed); !bytes.Equal(got, topFile.SignedBytes()) {
		t.Fatalf("go-tuf's canonical targets differ from Conclave's\ngo-tuf:   %s\nconclave: %s", got, topFile.SignedBytes())
	}
	if err := groot.VerifyDelegate("targets", gtop); err != nil {
		t.Fatalf("go-tuf root.VerifyDelegate(targets): %v", err)
	}

	// go-tuf reads the delegations as written.
	var got []string
	for _, d := range gtop.Signed.Delegations.Roles {
		got = append(got, fmt.Sprintf("%s t=%d term=%v paths=%v prefixes=%v", d.Name, d.Threshold, d.Terminating, d.Paths, d.PathHashPrefixes))
	}
	want := []string{
		"project-a t=2 term=true paths=[project-a/*] prefixes=[]",
		"project-b t=1 term=true paths=[project-b/* project-b-docs/*] prefixes=[]",
		"hashed t=1 term=false paths=[] prefixes=[00 8f]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("go-tuf delegations:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Explicit paths route as written (fnmatch per path segment).
	for target, roles := range map[string][]metadata.RoleResult{
		"project-a/project-a-1.0.tar.gz": {{Name: "project-a", Terminating: true}},
		"project-b-docs/index.html":      {{Name: "project-b", Terminating: true}},
		"project-a/sub/dir.txt":          nil,
		"project-c/x.tar.gz":             nil,
	} {
		var named []metadata.RoleResult
		for _, rr := range gtop.Signed.Delegations.GetRolesForTarget(target) {
			if rr.Name != "hashed" { // base64 prefix matching: not judged here
				named = append(named, rr)
			}
		}
		if !reflect.DeepEqual(named, roles) {
			t.Errorf("go-tuf GetRolesForTarget(%s) = %v, want %v", target, named, roles)
		}
	}

	for _, tc := range []struct {
		name    string
		role    string // the name the file is verified under
		signers []testKey
		got     int // go-tuf's count; -1 when accepted
		want    int
	}{
		{"threshold met", "project-a", []testKey{ks.projA1, ks.projA2}, -1, 2},
		{"one of two", "project-a", []testKey{ks.projA2}, 1, 2},
		{"signed by another project's key", "project-a", []testKey{ks.projB1}, 0, 2},
		{"presented as project-b", "project-b", []testKey{ks.projA1, ks.projA2}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, _ := projectFile(t, "project-a", 1)
			f := newTargetsFile(t, tg)
			signConclave(t, f, top.Delegations.Keys, tc.signers...)
			data := f.Bytes()
			gf := gotufTargets(t, data)
			if got := gotufCanonical(t, gf.Signed); !bytes.Equal(got, f.SignedBytes()) {
				t.Fatalf("go-tuf's canonical project file differs from Conclave's\ngo-tuf:   %s\nconclave: %s", got, f.SignedBytes())
			}
			err := gtop.VerifyDelegate(tc.role, gf)
			if tc.got < 0 {
				if err != nil {
					t.Fatalf("go-tuf VerifyDelegate(%s): %v", tc.role, err)
				}
			} else {
				wantUnsigned(t, err, tc.role, tc.got, tc.want)
			}
			res, cerr := parseConclave(t, tc.role+".json", data).VerifyDelegated(top, tc.role)
			var counted []testKey
			keyids, _, _ := top.Delegation(tc.role)
			for _, s := range tc.signers {
				for _, id := range keyids {
					if id == s.id() {
						counted = append(counted, s)
					}
				}
			}
			wantConclaveThreshold(t, res, cerr, ids(counted...))
		})
	}
}

// TestGoTUFClientFlow runs go-tuf's client-side state machine
// (trustedmetadata, TUF §5.3–5.6) over Conclave's output: root v1 trusted,
// root v2 rotated in, then a timestamp and snapshot that go-tuf writes
// itself (Conclave never produces them), Conclave's top-level targets and a
// delegated role Conclave signed. The clock is go-tuf's RefTime, fixed.
func TestGoTUFClientFlow(t *testing.T) {
	ks := keys(t)
	rot := newRotation(t)
	v2 := newRootFile(t, rot.v2)
	signRotation(t, v2, rot.v1, rot.v2, []testKey{ks.p256a, ks.rsa1}, []testKey{ks.p384a, ks.ed2})

	top := topTargets(ks)
	topFile := newTargetsFile(t, top)
	signConclave(t, topFile, rot.v2.Keys, ks.ed1, ks.p384a, ks.ed2)
	projTg, content := projectFile(t, "project-a", 3)
	proj := newTargetsFile(t, projTg)
	signConclave(t, proj, top.Delegations.Keys, ks.projA1, ks.projA2)
	topBytes, projBytes := topFile.Bytes(), proj.Bytes()

	snap := metadata.Snapshot(expires)
	snap.Signed.Meta = map[string]*metadata.MetaFiles{
		"targets.json":   metaFor(topBytes, 1),
		"project-a.json": metaFor(projBytes, 3),
	}
	signGoTUF(t, snap, ks.online)
	snapBytes := toBytes(t, snap, false)
	ts := metadata.Timestamp(expires)
	ts.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metaFor(snapBytes, 1)}
	signGoTUF(t, ts, ks.online)
	tsBytes := toBytes(t, ts, false)

	trusted, err := trustedmetadata.New(rot.v1Bytes)
	if err != nil {
		t.Fatalf("trustedmetadata.New: %v", err)
	}
	trusted.RefTime = refTime
	if _, err := trusted.UpdateRoot(v2.Bytes()); err != nil {
		t.Fatalf("UpdateRoot: %v", err)
	}
	if _, err := trusted.UpdateTimestamp(tsBytes); err != nil {
		t.Fatalf("UpdateTimestamp: %v", err)
	}
	if _, err := trusted.UpdateSnapshot(snapBytes, false); err != nil {
		t.Fatalf("UpdateSnapshot: %v", err)
	}
	if _, err := trusted.UpdateTargets(topBytes); err != nil {
		t.Fatalf("UpdateTargets: %v", err)
	}
	gproj, err := trusted.UpdateDelegatedTargets(projBytes, "project-a", "targets")
	if err != nil {
		t.Fatalf("UpdateDelegatedTargets(project-a): %v", err)
	}
	tf := gproj.Signed.Targets["project-a/project-a-1.0.tar.gz"]
	if tf == nil {
		t.Fatalf("go-tuf sees targets %v", gproj.Signed.Targets)
	}
	if err := tf.VerifyLengthHashes(content); err != nil {
		t.Errorf("go-tuf VerifyLengthHashes of the target: %v", err)
	}
	if err := tf.VerifyLengthHashes(append(content, '!')); err == nil {
		t.Error("go-tuf accepted a changed target")
	}

	// The delegated role under the wrong delegation is refused in the flow too.
	_, err = trusted.UpdateDelegatedTargets(projBytes, "project-b", "targets")
	var repo *metadata.ErrRepository
	if !errors.As(err, &repo) || err.Error() != "repository error: snapshot does not contain information for project-b" {
		t.Errorf("UpdateDelegatedTargets(project-b) = %v", err)
	}

	// Conclave verifies go-tuf's snapshot and timestamp with the same root.
	for name, data := range map[string][]byte{"snapshot.json": snapBytes, "timestamp.json": tsBytes} {
		res, err := parseConclave(t, name, data).VerifyWithRoot(rot.v2)
		wantConclaveThreshold(t, res, err, ids(ks.online))
	}
}

func metaFor(data []byte, version int64) *metadata.MetaFiles {
	m := metadata.MetaFile(version)
	sum := sha256.Sum256(data)
	m.Length = int64(len(data))
	m.Hashes = metadata.Hashes{"sha256": sum[:]}
	return m
}

// TestGoTUFVerifiesSuccinctRoles: Conclave targets delegating to succinct
// hash bins (TAP 15) verify in go-tuf; a bin file Conclave signed verifies
// against the delegator in go-tuf; both name the bins alike and route each
// path to the same bin.
func TestGoTUFVerifiesSuccinctRoles(t *testing.T) {
	ks := keys(t)
	r := conclaveRoot(1, []testKey{ks.ed1, ks.p256a}, 2, ks.online)
	tg := conclaveTargets(1)
	tg.Delegations = &tuf.Delegations{
		Keys:          keyMap(ks.ed2, ks.p256b, ks.rsa1),
		SuccinctRoles: &tuf.SuccinctRoles{KeyIDs: ids(ks.ed2, ks.p256b, ks.rsa1), Threshold: 2, BitLength: 5, NamePrefix: "bins"},
	}
	topFile := newTargetsFile(t, tg)
	signConclave(t, topFile, r.Keys, ks.ed1, ks.p256a)
	rootFile := newRootFile(t, r)
	signConclave(t, rootFile, r.Keys, ks.ed1, ks.p256a)

	groot, gtop := gotufRoot(t, rootFile.Bytes()), gotufTargets(t, topFile.Bytes())
	if got := gotufCanonical(t, gtop.Signed); !bytes.Equal(got, topFile.SignedBytes()) {
		t.Fatalf("go-tuf's canonical targets differ\ngo-tuf:   %s\nconclave: %s", got, topFile.SignedBytes())
	}
	if err := groot.VerifyDelegate("targets", gtop); err != nil {
		t.Fatalf("go-tuf root.VerifyDelegate(targets): %v", err)
	}
	sr := gtop.Signed.Delegations.SuccinctRoles
	if sr == nil || sr.BitLength != 5 || sr.NamePrefix != "bins" || sr.Threshold != 2 {
		t.Fatalf("go-tuf read succinct_roles %+v", sr)
	}
	names := sr.GetRoles()
	if len(names) != 32 {
		t.Fatalf("go-tuf names %d bins, want 32", len(names))
	}
	for i, name := range names {
		if want := tg.Delegations.SuccinctRoles.BinName(uint64(i)); name != want {
			t.Errorf("bin %d: go-tuf %s, conclave %s", i, name, want)
		}
	}

	target := "pkg/example-1.0.tar.gz"
	bin := tg.Delegations.SuccinctRoles.BinFor(target)
	if got := sr.GetRolesForTarget(target); len(got) != 1 || got[0].Name != bin || !got[0].Terminating {
		t.Fatalf("go-tuf routes %s to %v, conclave to %s", target, got, bin)
	}

	for _, tc := range []struct {
		name    string
		signers []testKey
		got     int // -1: accepted
	}{
		{"ed25519 and p256", []testKey{ks.ed2, ks.p256b}, -1},
		{"rsa and ed25519", []testKey{ks.rsa1, ks.ed2}, -1},
		{"one of three", []testKey{ks.p256b}, 1},
		{"a root key", []testKey{ks.ed1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bt := conclaveTargets(1)
			bt.Targets[target] = &tuf.TargetFile{Length: 3, Hashes: map[string]string{"sha256": fmt.Sprintf("%x", sha256.Sum256([]byte("abc")))}}
			f := newTargetsFile(t, bt)
			if tc.name == "a root key" {
				signConclave(t, f, r.Keys, tc.signers...)
			} else {
				signConclave(t, f, tg.Delegations.Keys, tc.signers...)
			}
			data := f.Bytes()
			err := gtop.VerifyDelegate(bin, gotufTargets(t, data))
			if tc.got < 0 {
				if err != nil {
					t.Fatalf("go-tuf VerifyDelegate(%s): %v", bin, err)
				}
			} else {
				wantUnsigned(t, err, bin, tc.got, 2)
			}
			res, cerr := parseConclave(t, bin+".json", data).VerifyDelegated(tg, bin)
			var counted []testKey
			if tc.name != "a root key" {
				counted = tc.signers
			}
			wantConclaveThreshold(t, res, cerr, ids(counted...))
		})
	}
}

// TestBinNamesAndRoutingAgree: for several bit lengths, go-tuf and Conclave
// name the same bins and route the same paths to the same bin (TAP 15:
// the first bit_length bits of SHA-256(path)).
func TestBinNamesAndRoutingAgree(t *testing.T) {
	for _, bits := range []int{1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 20, 32} {
		c := &tuf.SuccinctRoles{BitLength: int64(bits), NamePrefix: "delegated_bin"}
		g := &metadata.SuccinctRoles{BitLength: bits, NamePrefix: "delegated_bin"}
		if bits <= 16 {
			names := g.GetRoles()
			if uint64(len(names)) != c.NumBins() {
				t.Fatalf("bits %d: go-tuf %d bins, conclave %d", bits, len(names), c.NumBins())
			}
			for i, n := range names {
				if want := c.BinName(uint64(i)); n != want {
					t.Fatalf("bits %d bin %d: go-tuf %s, conclave %s", bits, i, n, want)
				}
				if !c.IsBin(n) || !g.IsDelegatedRole(n) {
					t.Fatalf("bits %d: %s not a bin (conclave %v, go-tuf %v)", bits, n, c.IsBin(n), g.IsDelegatedRole(n))
				}
			}
		}
		for i := 0; i < 200; i++ {
			p := fmt.Sprintf("files/%d/package-%d.whl", i%7, i)
			got := g.GetRolesForTarget(p)
			if want := c.BinFor(p); len(got) != 1 || got[0].Name != want {
				t.Fatalf("bits %d: %s → go-tuf %v, conclave %s", bits, p, got, want)
			}
		}
	}
}

// TestGoTUFAcceptsAnyBinName records a go-tuf leniency: VerifyDelegate on a
// succinct_roles delegator uses the bins' keys for any role name, including
// names that are not bins. Conclave's VerifyDelegated refuses such a name
// with ErrNotDelegated. (Harmless for a client that asks only for the bin
// GetRolesForTarget names, but a disagreement all the same.)
func TestGoTUFAcceptsAnyBinName(t *testing.T) {
	ks := keys(t)
	tg := conclaveTargets(1)
	tg.Delegations = &tuf.Delegations{
		Keys:          keyMap(ks.ed2),
		SuccinctRoles: &tuf.SuccinctRoles{KeyIDs: ids(ks.ed2), Threshold: 1, BitLength: 4, NamePrefix: "bins"},
	}
	top := newTargetsFile(t, tg)
	gtop := gotufTargets(t, top.Bytes())
	f := newTargetsFile(t, conclaveTargets(1))
	signConclave(t, f, tg.Delegations.Keys, ks.ed2)
	data := f.Bytes()
	for _, name := range []string{"bins-f", "bins-10", "not-a-bin"} {
		if err := gtop.VerifyDelegate(name, gotufTargets(t, data)); err != nil {
			t.Errorf("go-tuf VerifyDelegate(%s) = %v; this test records that go-tuf v2.4.2 accepts it", name, err)
		}
		_, err := parseConclave(t, name, data).VerifyDelegated(tg, name)
		if name == "bins-f" {
			if err != nil {
				t.Errorf("conclave VerifyDelegated(%s): %v", name, err)
			}
		} else if !errors.Is(err, tuf.ErrNotDelegated) {
			t.Errorf("conclave VerifyDelegated(%s) = %v, want ErrNotDelegated", name, err)
		}
	}
}
