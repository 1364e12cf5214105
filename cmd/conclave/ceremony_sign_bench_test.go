//go:build cgo

package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/airgap/journal"
	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
)

// BenchmarkSignatureSoftHSM is one holder's signature through SoftHSM
// as the engine makes it (session.SignAs: the holder's key looked up,
// the signature made, verified, appended to the fsync'd journal and
// applied), against the token's own signature of the same payload, and
// against one fsync'd journal append alone. The token is logged in once:
// opening it and the PIN are the holder's time, not the engine's.
//
//	go test -run '^$' -bench SignatureSoftHSM ./cmd/conclave/
//
// "ms-engine-overhead/op" is the engine's time less the token's;
// "ms-overhead-without-fsync/op" is that less one journal append.
func BenchmarkSignatureSoftHSM(b *testing.B) {
	privateSoftHSM(b)
	_, k, _ := softHSMWithKey(b, "holder1")
	key, err := tuf.KeyFromPublic(k.Public)
	if err != nil {
		b.Fatal(err)
	}
	_, sum, err := pkcs11.HashModule(testSoftHSM)
	if err != nil {
		b.Fatal(err)
	}
	sel := uri.New()
	sel.Set(uri.Token, "holder1")
	sel.Set(uri.Object, "holder1")
	sel.Set(uri.ModulePath, testSoftHSM)
	fx := newCeremonyFixtureWith(b, &tokenHolder{
		key:     key,
		policy:  fmt.Sprintf("        token: pkcs11\n        uri: %q\n", sel.String()),
		modules: fmt.Sprintf("pkcs11_modules:\n  - path: %s\n    sha256: %s\n", testSoftHSM, sum),
	})
	vd, v, err := openVault(fx.vault)
	if err != nil {
		b.Fatal(err)
	}
	defer vd.Close()
	tokens := holders.New(holders.Options{
		Policy: v.Policy, Keys: holders.MetadataKeys(v.Root.Root, v.Targets.Targets), Notice: io.Discard, SoftkeyDir: fx.keys,
		Prompts: func(string) hsm.Prompts {
			return hsm.Prompts{PIN: func(context.Context, hsm.PINRequest) ([]byte, error) { return []byte("user-pin-1"), nil }}
		},
	})
	defer tokens.Close()
	once := &loggedIn{t: tokens, signers: map[string]session.Signer{}}
	holder := v.Policy.Holders[0]
	signer, err := once.Signer(context.Background(), holder, holder.Keys[0])
	if err != nil {
		b.Fatal(err)
	}
	report := preflight.System().Run()
	var checks []session.Check
	for _, r := range report.Results {
		checks = append(checks, session.Check{ID: r.ID, Status: string(r.Status), Message: r.Message})
	}
	var engine, raw, appendAlone time.Duration
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		j, _, err := journal.Open(filepath.Join(fx.dir, fmt.Sprintf("journal-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		s, err := session.Open(session.Deps{Vault: v, Log: transcript.New(j, fmt.Sprintf("bench-%d", i)), Blobs: j.Blobs(), Tokens: once},
			session.Opening{ConclaveVersion: "bench", BinarySHA256: bundle.SumHex(nil), Rehearsal: true, RehearsalReason: "benchmark",
				Participants: []string{"Holder 1", "Holder 2", "Holder 3"}, Witnesses: []string{"Wendy"}})
		if err != nil {
			b.Fatal(err)
		}
		must(b, s.Preflight(checks, nil))
		must(b, s.ConfirmClock(ceremonyNow, "Holder 1"))
		must(b, s.Import(bundleSource{bundleMedia(fx.bundle, v.Policy.Rules)}))
		must(b, s.Decide("r-add", session.Approve, "", "Holder 1"))
		must(b, s.BulkApprove(2, "Holder 1"))
		must(b, s.Build())
		msg := builtPayload(b, j)
		b.StartTimer()

		t0 := time.Now()
		if roles, err := s.SignAs(ctx, "Holder 1"); err != nil || len(roles) != 1 {
			b.Fatalf("sign: %v %v", roles, err)
		}
		t1 := time.Now()
		if _, err := signer.Sign(rand.Reader, msg, crypto.Hash(0)); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := j.Append(make([]byte, 400)); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		engine, raw, appendAlone = engine+t1.Sub(t0), raw+t2.Sub(t1), appendAlone+t3.Sub(t2)

		b.StopTimer()
		j.Close()
		b.StartTimer()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(engine), "ms-engine/op")
	b.ReportMetric(ms(raw), "ms-token/op")
	b.ReportMetric(ms(appendAlone), "ms-fsync-append/op")
	b.ReportMetric(ms(engine-raw), "ms-engine-overhead/op")
	b.ReportMetric(ms(engine-raw-appendAlone), "ms-overhead-without-fsync/op")
}

// loggedIn hands out each holder's signer once: the token stays open and
// logged in for every signature after the first.
type loggedIn struct {
	t       *holders.Tokens
	signers map[string]session.Signer
}

func (l *loggedIn) Signer(ctx context.Context, h policy.Holder, k policy.HolderKey) (session.Signer, error) {
	if s := l.signers[k.KeyID]; s != nil {
		return s, nil
	}
	s, err := l.t.Signer(ctx, h, k)
	if err != nil {
		return nil, err
	}
	l.signers[k.KeyID] = s
	return s, nil
}

// builtPayload reads the payload the log's built event registered back
// from the journal's blobs.
func builtPayload(b *testing.B, j *journal.Journal) []byte {
	data, err := os.ReadFile(filepath.Join(j.Dir(), journal.LogName))
	if err != nil {
		b.Fatal(err)
	}
	entries, _, err := transcript.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if e.Type != session.TypeBuilt {
			continue
		}
		var ev session.Built
		if err := json.Unmarshal(e.Body, &ev); err != nil || len(ev.Payloads) != 1 {
			b.Fatalf("built event: %v", err)
		}
		msg, err := j.Blobs().Get(ev.Payloads[0].PayloadSHA256)
		if err != nil {
			b.Fatal(err)
		}
		return msg
	}
	b.Fatal("no built event in the log")
	return nil
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
