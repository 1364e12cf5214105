package tuf

import (
	"crypto"
	"crypto/ed25519"
	"encoding/hex"
	"slices"
	"strconv"
	"testing"
)

func statuses(res *ThresholdResult) []SigStatus {
	var out []SigStatus
	for _, c := range res.Checks {
		out = append(out, c.Status)
	}
	return out
}

// TestThresholdDistinctKeys: one public key listed under two keyids (its
// plain keyid, and one with an extra field) counts once.
func TestThresholdDistinctKeys(t *testing.T) {
	a, b := edSigner(1), edSigner(2)
	ka, kb := mustKey(t, a.Public()), mustKey(t, b.Public())
	kaExtra, err := parseKeyJSON(`{"keytype":"ed25519","scheme":"ed25519","x-again":true,"keyval":{"public":"` + ka.Public + `"}}`)
	if err != nil {
		t.Fatal(err)
	}
	keys := keyMap(ka, kaExtra, kb)
	f := signTargets(t)
	if err := f.Sign(keys, ka.ID(), a); err != nil {
		t.Fatal(err)
	}
	if err := f.Sign(keys, kaExtra.ID(), a); err != nil {
		t.Fatal(err)
	}
	res := f.VerifyRole("proj", keys, []string{ka.ID(), kaExtra.ID(), kb.ID()}, 2)
	wantErr(t, res.Err(), ErrThreshold, "not enough valid signatures for role proj: 1 of 2 distinct keys signed")
	if !slices.Equal(statuses(res), []SigStatus{SigCounted, SigDuplicateKey}) || !slices.Equal(res.Signers, []string{ka.ID()}) || res.Met() {
		t.Errorf("checks %v signers %v", res.Checks, res.Signers)
	}
	// Through a parse, the same.
	g := mustParse(t, "t.json", f.Bytes())
	if res := g.VerifyRole("proj", keys, []string{ka.ID(), kaExtra.ID(), kb.ID()}, 2); res.Err() == nil {
		t.Error("parsed file met the threshold with one key")
	}
	// A second distinct key meets it.
	if err := f.Sign(keys, kb.ID(), b); err != nil {
		t.Fatal(err)
	}
	res = f.VerifyRole("proj", keys, []string{ka.ID(), kaExtra.ID(), kb.ID()}, 2)
	if res.Err() != nil || !slices.Equal(statuses(res), []SigStatus{SigCounted, SigDuplicateKey, SigCounted}) {
		t.Errorf("%v: %v", res.Err(), res.Checks)
	}
	want := []string{ka.ID(), kb.ID()}
	slices.Sort(want)
	if !slices.Equal(res.Signers, want) {
		t.Errorf("Signers %v, want %v", res.Signers, want)
	}

	// Two entries by one key under one keyid (possible only in code; Parse
	// rejects it) count once too.
	sigs := append(slices.Clone(f.Signatures[:1]), f.Signatures[0])
	res = CountSignatures("proj", f.SignedBytes(), sigs, keys, []string{ka.ID()}, 2)
	if len(res.Signers) != 1 || !slices.Equal(statuses(res), []SigStatus{SigCounted, SigDuplicateKey}) {
		t.Errorf("%v %v", res.Signers, res.Checks)
	}
}

func TestThresholdIgnoresUnknownAndBad(t *testing.T) {
	a, b, c := edSigner(1), edSigner(2), edSigner(3)
	ka, kb, kc := mustKey(t, a.Public()), mustKey(t, b.Public()), mustKey(t, c.Public())
	keys := keyMap(ka, kb, kc)
	f := signTargets(t)
	mustSign(t, f, keys, a, b, c)
	// c is in the delegator's keys but not the role's; d in neither.
	d := edSigner(4)
	kd := mustKey(t, d.Public())
	sigD, err := SignMessage(d, kd, f.SignedBytes())
	if err != nil {
		t.Fatal(err)
	}
	f.Signatures = append(f.Signatures, Signature{KeyID: kd.ID(), Sig: hex.EncodeToString(sigD)})
	role := []string{ka.ID(), kb.ID()}
	res := f.VerifyRole("proj", keys, role, 2)
	if res.Err() != nil || !slices.Equal(statuses(res), []SigStatus{SigCounted, SigCounted, SigUnknownKey, SigUnknownKey}) {
		t.Errorf("%v %v", res.Err(), res.Checks)
	}

	// A bad signature and a malformed one are ignored, not fatal.
	sigs := slices.Clone(f.Signatures)
	raw, _ := hex.DecodeString(sigs[1].Sig)
	raw[0] ^= 1
	sigs[1].Sig = hex.EncodeToString(raw)
	sigs[0].Sig = "zz"
	res = CountSignatures("proj", f.SignedBytes(), sigs, keys, role, 1)
	wantErr(t, res.Err(), ErrThreshold, "not enough valid signatures for role proj: 0 of 1 distinct keys signed")
	if !slices.Equal(statuses(res), []SigStatus{SigMalformed, SigBadSignature, SigUnknownKey, SigUnknownKey}) || len(res.Signers) != 0 {
		t.Errorf("%v %v", res.Signers, res.Checks)
	}
	// A signature over other bytes is bad.
	res = CountSignatures("proj", append(slices.Clone(f.SignedBytes()), ' '), f.Signatures, keys, role, 1)
	if !slices.Equal(statuses(res), []SigStatus{SigBadSignature, SigBadSignature, SigUnknownKey, SigUnknownKey}) {
		t.Errorf("%v", res.Checks)
	}

	// Keys the role lists but the delegator lacks, and keyids that are not
	// their key's hash (counted, as clients do, and reported).
	res = CountSignatures("proj", f.SignedBytes(), nil, map[string]*Key{"00ff": ka}, []string{"00ff", "aa"}, 1)
	if !slices.Equal(res.MissingKeys, []string{"aa"}) || !slices.Equal(res.MismatchedKeyIDs, []string{"00ff"}) {
		t.Errorf("missing %v mismatched %v", res.MissingKeys, res.MismatchedKeyIDs)
	}
	sigA, _ := SignMessage(a, ka, f.SignedBytes())
	res = CountSignatures("proj", f.SignedBytes(), []Signature{{KeyID: "00ff", Sig: hex.EncodeToString(sigA)}}, map[string]*Key{"00ff": ka}, []string{"00ff"}, 1)
	if res.Err() != nil {
		t.Errorf("mismatched keyid: %v", res.Err())
	}
	if got := KeyIDMismatches(map[string]*Key{"00ff": ka, kb.ID(): kb, "ab": kc}); !slices.Equal(got, []string{"00ff", "ab"}) {
		t.Errorf("KeyIDMismatches = %v", got)
	}
}

func TestVerifyWithRoot(t *testing.T) {
	a, b := edSigner(1), edSigner(2)
	ka, kb := mustKey(t, a.Public()), mustKey(t, b.Public())
	root := testRoot(1, 1, ka, kb) // targets, snapshot, timestamp: ka only
	f := signTargets(t)
	mustSign(t, f, root.Keys, b)
	res, err := f.VerifyWithRoot(root)
	wantErr(t, err, ErrThreshold, "not enough valid signatures for role targets: 0 of 1 distinct keys signed")
	if !slices.Equal(statuses(res), []SigStatus{SigUnknownKey}) {
		t.Errorf("%v", res.Checks)
	}
	mustSign(t, f, root.Keys, a)
	if _, err := f.VerifyWithRoot(root); err != nil {
		t.Error(err)
	}

	// Snapshot metadata, read only; its signatures in testdata are junk.
	rf := mustParse(t, "root.json", readTestdata(t, "roundtrip", "root.json"))
	snap := mustParse(t, "snapshot.json", readTestdata(t, "roundtrip", "snapshot.json"))
	res, err = snap.VerifyWithRoot(rf.Root)
	wantErr(t, err, ErrThreshold, "not enough valid signatures for role snapshot: 0 of 1 distinct keys signed")
	if !slices.Equal(statuses(res), []SigStatus{SigBadSignature}) {
		t.Errorf("%v", res.Checks)
	}
	delete(rf.Root.Roles, TypeSnapshot)
	_, err = snap.VerifyWithRoot(rf.Root)
	wantErr(t, err, ErrNotDelegated, "role is not delegated: root names no snapshot role")
}

// TestRootChain: version N+1 needs a threshold of N's root keys and a
// threshold of its own, and exactly version N+1 (TUF §5.3.4–5.3.5).
func TestRootChain(t *testing.T) {
	o1, o2, n1, n2 := edSigner(1), edSigner(2), edSigner(3), edSigner(4)
	ko1, ko2, kn1, kn2 := mustKey(t, o1.Public()), mustKey(t, o2.Public()), mustKey(t, n1.Public()), mustKey(t, n2.Public())
	trusted := testRoot(1, 2, ko1, ko2)
	next := func(version int64, signers ...crypto.Signer) *File {
		f := mustRootFile(t, testRoot(version, 2, kn1, kn2))
		all := keyMap(ko1, ko2, kn1, kn2)
		mustSign(t, f, all, signers...)
		// Through the written bytes, as a client reads it.
		return mustParse(t, "2.root.json", f.Bytes())
	}
	up, err := VerifyRootUpdate(trusted, next(2, o1, o2, n1, n2))
	if err != nil {
		t.Fatal(err)
	}
	if len(up.ByTrusted.Signers) != 2 || len(up.BySelf.Signers) != 2 {
		t.Errorf("signers %v %v", up.ByTrusted.Signers, up.BySelf.Signers)
	}

	// Signed only by the new keys: the trusted root's threshold is missing.
	up, err = VerifyRootUpdate(trusted, next(2, n1, n2))
	wantErr(t, err, ErrThreshold, "not enough valid signatures for role root (keys of version 1): 0 of 2 distinct keys signed")
	if up.BySelf.Err() != nil {
		t.Errorf("BySelf: %v", up.BySelf.Err())
	}
	// One old key is not enough either.
	_, err = VerifyRootUpdate(trusted, next(2, o1, n1, n2))
	wantErr(t, err, ErrThreshold, "not enough valid signatures for role root (keys of version 1): 1 of 2 distinct keys signed")

	// Signed only by the old keys: its own threshold is missing.
	up, err = VerifyRootUpdate(trusted, next(2, o1, o2))
	wantErr(t, err, ErrThreshold, "not enough valid signatures for role root (its own keys): 0 of 2 distinct keys signed")
	if up.ByTrusted.Err() != nil {
		t.Errorf("ByTrusted: %v", up.ByTrusted.Err())
	}
	_, err = VerifyRootUpdate(trusted, next(2, o1, o2, n2))
	wantErr(t, err, ErrThreshold, "not enough valid signatures for role root (its own keys): 1 of 2 distinct keys signed")

	// Version must be exactly N+1.
	for _, v := range []int64{1, 3, 10} {
		_, err = VerifyRootUpdate(trusted, next(v, o1, o2, n1, n2))
		wantErr(t, err, ErrVersion, "unexpected version: root version "+strconv.FormatInt(v, 10)+" cannot follow version 1 (expected 2)")
	}

	// Not root metadata at all.
	_, err = VerifyRootUpdate(trusted, signTargets(t))
	wantErr(t, err, ErrWrongType, "wrong metadata type: expected root metadata, found targets")

	// A rotation that keeps one old key: o2 signs for both.
	keep := mustRootFile(t, testRoot(2, 2, ko2, kn1))
	mustSign(t, keep, keyMap(ko1, ko2, kn1), o1, o2, n1)
	if _, err := VerifyRootUpdate(trusted, keep); err != nil {
		t.Error(err)
	}
}

func delegator(t *testing.T, keys ...*Key) *Targets {
	tg := &Targets{Targets: map[string]*TargetFile{}, Delegations: &Delegations{Keys: keyMap(keys...)}}
	tg.Version, tg.Expires = 1, testExpiry
	return tg
}

func TestVerifyDelegated(t *testing.T) {
	a, b := edSigner(1), edSigner(2)
	ka, kb := mustKey(t, a.Public()), mustKey(t, b.Public())
	d := delegator(t, ka, kb)
	d.Delegations.Roles = []*DelegatedRole{
		{Name: "proj-a", KeyIDs: []string{ka.ID()}, Threshold: 1, Terminating: true, Paths: []string{"proj-a/*"}},
		{Name: "proj-b", KeyIDs: []string{ka.ID(), kb.ID()}, Threshold: 2, Terminating: true, Paths: []string{"proj-b/*"}},
	}
	// Through the written bytes.
	df := mustTargetsFile(t, d)
	d = mustParse(t, "claimed.json", df.Bytes()).Targets

	f := signTargets(t)
	mustSign(t, f, d.Delegations.Keys, a)
	if _, err := f.VerifyDelegated(d, "proj-a"); err != nil {
		t.Error(err)
	}
	_, err := f.VerifyDelegated(d, "proj-b")
	wantErr(t, err, ErrThreshold, "not enough valid signatures for role proj-b: 1 of 2 distinct keys signed")
	_, err = f.VerifyDelegated(d, "proj-c")
	wantErr(t, err, ErrNotDelegated, `role is not delegated: the delegator does not delegate a role named "proj-c"`)

	r := mustRootFile(t, testRoot(1, 1, ka))
	_, err = r.VerifyDelegated(d, "proj-a")
	wantErr(t, err, ErrWrongType, "wrong metadata type: delegated role proj-a must be targets metadata, found root")

	none := &Targets{}
	_, err = f.VerifyDelegated(none, "proj-a")
	wantErr(t, err, ErrNotDelegated, `role is not delegated: the delegator does not delegate a role named "proj-a"`)
}

func TestVerifySuccinctDelegation(t *testing.T) {
	a, b := edSigner(1), edSigner(2)
	ka := mustKey(t, a.Public())
	d := delegator(t, ka)
	d.Delegations.SuccinctRoles = &SuccinctRoles{KeyIDs: []string{ka.ID()}, Threshold: 1, BitLength: 5, NamePrefix: "bin"}
	d = mustParse(t, "bins.json", mustTargetsFile(t, d).Bytes()).Targets

	f := signTargets(t)
	mustSign(t, f, d.Delegations.Keys, a)
	for _, bin := range []string{"bin-00", "bin-05", "bin-1f"} {
		if _, err := f.VerifyDelegated(d, bin); err != nil {
			t.Errorf("%s: %v", bin, err)
		}
	}
	for _, name := range []string{"bin-20", "bin-1F", "bin-5", "bin-005", "bins-00", "bin00", "bin-", "bin", "-00", "bin-0g", "bin--1"} {
		_, err := f.VerifyDelegated(d, name)
		wantErr(t, err, ErrNotDelegated, "role is not delegated: the delegator does not delegate a role named "+strconv.Quote(name))
	}
	g := signTargets(t)
	kb := mustKey(t, b.Public())
	if err := g.Sign(keyMap(kb), kb.ID(), b); err != nil {
		t.Fatal(err)
	}
	_, err := g.VerifyDelegated(d, "bin-05")
	wantErr(t, err, ErrThreshold, "not enough valid signatures for role bin-05: 0 of 1 distinct keys signed")
}

func TestSuccinctBins(t *testing.T) {
	// SHA-256 of "foo" (sha256sum): 2c26b46b68ffc68f… = 0010 1100 0010 0110 …
	// SHA-256 of "a":               ca978112ca1bbdca… = 1100 1010 1001 0111 …
	for _, tc := range []struct {
		bits       int64
		path, want string
	}{
		{1, "foo", "bin-0"},  // 0
		{4, "foo", "bin-2"},  // 0010
		{5, "foo", "bin-05"}, // 00101
		{8, "foo", "bin-2c"}, // 0010 1100
		{12, "foo", "bin-2c2"},
		{16, "foo", "bin-2c26"},
		{32, "foo", "bin-2c26b46b"},
		{1, "a", "bin-1"},     // 1
		{3, "a", "bin-6"},     // 110
		{9, "a", "bin-195"},   // 1 1001 0101
		{10, "a", "bin-32a"},  // 11 0010 1010
		{13, "a", "bin-1952"}, // 1 1001 0101 0010
	} {
		s := &SuccinctRoles{BitLength: tc.bits, NamePrefix: "bin"}
		if got := s.BinFor(tc.path); got != tc.want {
			t.Errorf("bit_length %d: BinFor(%q) = %s, want %s", tc.bits, tc.path, got, tc.want)
		}
		if !s.IsBin(tc.want) {
			t.Errorf("bit_length %d: IsBin(%s) = false", tc.bits, tc.want)
		}
	}

	s := &SuccinctRoles{BitLength: 5, NamePrefix: "proj-bins"}
	if s.NumBins() != 32 || s.BinName(0) != "proj-bins-00" || s.BinName(31) != "proj-bins-1f" {
		t.Errorf("NumBins %d, BinName(0) %s, BinName(31) %s", s.NumBins(), s.BinName(0), s.BinName(31))
	}
	s32 := &SuccinctRoles{BitLength: 32, NamePrefix: "b"}
	if s32.NumBins() != 1<<32 || s32.BinName(0) != "b-00000000" || !s32.IsBin("b-ffffffff") || s32.IsBin("b-100000000") {
		t.Errorf("bit_length 32: %d %s", s32.NumBins(), s32.BinName(0))
	}
	// Every bin name is a bin, and nothing one past the end is.
	for bits := int64(1); bits <= 12; bits++ {
		s := &SuccinctRoles{BitLength: bits, NamePrefix: "bin"}
		width := int((bits + 3) / 4)
		for i := uint64(0); i < s.NumBins(); i++ {
			name := s.BinName(i)
			if len(name) != len("bin-")+width || !s.IsBin(name) {
				t.Fatalf("bit_length %d: BinName(%d) = %s", bits, i, name)
			}
		}
		if next := s.BinName(s.NumBins()); len(next) == len("bin-")+width && s.IsBin(next) {
			t.Errorf("bit_length %d: %s is a bin", bits, next)
		}
	}
	for _, name := range []string{"bin-20", "bin-1F", "bin-5", "bin-005", "bin-+5", "bin- 5", "Bin-05", "bin-05 "} {
		if s := (&SuccinctRoles{BitLength: 5, NamePrefix: "bin"}); s.IsBin(name) {
			t.Errorf("IsBin(%q) = true", name)
		}
	}
}

// TestSignedBytesAreWhatIsSigned: for a parsed file, the bytes signatures
// cover are the canonical form of the signed member as read, even where
// the typed value would not have written it that way.
func TestSignedBytesAreWhatIsSigned(t *testing.T) {
	a := edSigner(1)
	ka := mustKey(t, a.Public())
	signed := []byte(`{"_type":"targets","expires":"2030-01-01T00:00:00.000Z","spec_version":"1.0.0","targets":{},"version":1,"x":"` + "\n" + `"}`)
	sig := ed25519.Sign(a, signed)
	file := `{"signed": {"x": "\n", "version": 1, "targets": {}, "spec_version": "1.0.0", "expires": "2030-01-01T00:00:00.000Z", "_type": "targets"},
	 "signatures": [{"keyid": "` + ka.ID() + `", "sig": "` + hex.EncodeToString(sig) + `"}]}`
	f := mustParse(t, "t.json", []byte(file))
	if string(f.SignedBytes()) != string(signed) {
		t.Errorf("SignedBytes() = %q", f.SignedBytes())
	}
	if err := f.VerifyRole("targets", keyMap(ka), []string{ka.ID()}, 1).Err(); err != nil {
		t.Error(err)
	}
}

// TestThresholdBelowOneNeverMet is the regression test for a role built in
// code with threshold 0 (Parse rejects one) verifying with no signatures.
func TestThresholdBelowOneNeverMet(t *testing.T) {
	a := edSigner(1)
	ka := mustKey(t, a.Public())
	f := signTargets(t)
	for _, th := range []int64{0, -1} {
		res := f.VerifyRole("proj", keyMap(ka), []string{ka.ID()}, th)
		if res.Met() {
			t.Errorf("threshold %d met with no signatures", th)
		}
		wantErr(t, res.Err(), ErrThreshold, "not enough valid signatures for role proj: threshold "+strconv.FormatInt(th, 10)+" is below 1")
	}
	mustSign(t, f, keyMap(ka), a)
	if res := f.VerifyRole("proj", keyMap(ka), []string{ka.ID()}, 0); res.Met() || res.Err() == nil {
		t.Error("threshold 0 met with a signature")
	}
}

// TestRegressionNoTrustedRoot: a check against no root is an error, not a
// nil dereference (conclave verify went on with no root when the trusted
// root failed, and crashed here).
func TestRegressionNoTrustedRoot(t *testing.T) {
	f := signTargets(t)
	_, err := VerifyRootUpdate(nil, f)
	wantErr(t, err, ErrNoTrustedRoot, "there is no trusted root to check against")
	_, err = f.VerifyWithRoot(nil)
	wantErr(t, err, ErrNoTrustedRoot, "there is no trusted root to check against")
}
