package tuf

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
)

// The benchmarks work on a targets role delegating to 100,000 projects,
// each with two ed25519 keys of its own (200,000 distinct keys), signed by
// 2 of the 3 keys of its delegator. Run them with -benchtime=1x or 3x:
//
//	go test -run '^$' -bench 100k -benchtime 3x ./ceremony/tuf/
const benchRoles = 100_000

var bench struct {
	once    sync.Once
	targets *Targets
	signers []crypto.Signer
	keys    map[string]*Key // the delegator's keys
	keyids  []string
	file    []byte // the signed file as written
}

// benchPublic is a distinct ed25519 public key for project i, key j. The
// parser does not check that ed25519 keys are curve points (nor do TUF
// clients), so hashes serve and keep the set-up short.
func benchPublic(i, j int) ed25519.PublicKey {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(i))
	binary.BigEndian.PutUint64(b[8:], uint64(j))
	h := sha256.Sum256(b[:])
	return ed25519.PublicKey(h[:])
}

func benchSetup(b *testing.B) {
	bench.once.Do(func() {
		d := &Delegations{Keys: make(map[string]*Key, 2*benchRoles), Roles: make([]*DelegatedRole, 0, benchRoles)}
		for i := range benchRoles {
			name := fmt.Sprintf("proj-%06d", i)
			r := &DelegatedRole{Name: name, Threshold: 1, Terminating: true, Paths: []string{name + "/*"}}
			for j := range 2 {
				k := mustKey(b, benchPublic(i, j))
				d.Keys[k.ID()] = k
				r.KeyIDs = append(r.KeyIDs, k.ID())
			}
			d.Roles = append(d.Roles, r)
		}
		tg := &Targets{Targets: map[string]*TargetFile{}, Delegations: d}
		tg.Version, tg.Expires = 1, testExpiry
		bench.targets = tg
		bench.keys = map[string]*Key{}
		for n := byte(1); n <= 3; n++ {
			s := edSigner(n)
			k := mustKey(b, s.Public())
			bench.signers = append(bench.signers, s)
			bench.keys[k.ID()] = k
			bench.keyids = append(bench.keyids, k.ID())
		}
		f := mustTargetsFile(b, tg)
		mustSign(b, f, bench.keys, bench.signers[:2]...)
		bench.file = f.Bytes()
	})
	if len(bench.targets.Delegations.Keys) != 2*benchRoles {
		b.Fatalf("%d distinct keys, want %d", len(bench.targets.Delegations.Keys), 2*benchRoles)
	}
}

// BenchmarkEncodeHash100k: canonical encoding of the typed role and its
// SHA-256, what building a new version costs before anyone signs.
func BenchmarkEncodeHash100k(b *testing.B) {
	benchSetup(b)
	f := &File{Targets: bench.targets}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := f.EncodeSigned()
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(out)
		b.SetBytes(int64(len(out)))
		_ = sum
	}
}

// BenchmarkSign100k: making the file and signing it with 2 of 3 keys
// (each signature verified at once, as Sign does).
func BenchmarkSign100k(b *testing.B) {
	benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f, err := NewTargetsFile(bench.targets)
		if err != nil {
			b.Fatal(err)
		}
		mustSign(b, f, bench.keys, bench.signers[:2]...)
		if len(f.Bytes()) != len(bench.file) {
			b.Fatal("file differs from the set-up's")
		}
	}
}

// BenchmarkParseVerify100k: parsing the written file strictly and counting
// its signatures against the 2-of-3 role.
func BenchmarkParseVerify100k(b *testing.B) {
	benchSetup(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(bench.file)))
	b.ResetTimer()
	for b.Loop() {
		f, err := Parse("claimed.json", bench.file)
		if err != nil {
			b.Fatal(err)
		}
		res := f.VerifyRole("claimed", bench.keys, bench.keyids, 2)
		if err := res.Err(); err != nil || len(res.Signers) != 2 {
			b.Fatal(err)
		}
		if len(f.Targets.Delegations.Roles) != benchRoles {
			b.Fatal("roles lost")
		}
	}
}
