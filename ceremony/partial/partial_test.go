package partial

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func sample() *Partial {
	h := strings.Repeat("ab", 32)
	return &Partial{
		Format:       Format,
		Ceremony:     "20261203T120000Z-0a1b2c3d",
		CeremonyTime: "2026-12-03T12:00:00Z",
		Vault:        Vault{RootVersion: 2, RootSHA256: h, TargetsSHA256: h, PolicySHA256: h},
		Bundle:       Bundle{ID: "bundle-0001", ManifestSHA256: h, CopySHA256: h},
		Decisions: []Decision{
			{RequestID: "r-add", Decision: "approve", By: "alice"},
			{RequestID: "r-remove", Decision: "defer", Reason: "call the maintainer", By: "alice"},
		},
		Digest: h,
		Roles:  []Role{{Role: "claimed", Version: 8, PayloadSHA256: h, Metadata: "8.claimed.partial.json", MetadataSHA256: h}},
	}
}

func TestRoundTrip(t *testing.T) {
	data := sample().Encode()
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Encode(), data) {
		t.Error("a parsed partial does not encode to the same bytes")
	}
	if got := strings.Join(p.Files(), " "); got != "bundle.copy 8.claimed.partial.json" {
		t.Errorf("files %q", got)
	}
}

func TestParseRefuses(t *testing.T) {
	good := string(sample().Encode())
	tests := []struct {
		name, data, msg string
	}{
		{"unknown member", strings.Replace(good, `"format"`, `"extra": 1, "format"`, 1), `partial.json: json: unknown field "extra"`},
		{"other spacing", strings.Replace(good, "  \"format\"", "\"format\"", 1), "partial.json: " + ErrNotExact.Error()},
		{"member twice", strings.Replace(good, `"rehearsal": false,`, `"rehearsal": false, "rehearsal": false,`, 1), "partial.json: " + ErrNotExact.Error()},
		{"trailing bytes", good + "{}", "partial.json: " + ErrNotExact.Error()},
		{"format", strings.Replace(good, Format, "conclave-partial/2", 1), `partial.json: format: "conclave-partial/2" is not conclave-partial/1`},
		{"ceremony id with a slash", strings.Replace(good, "20261203T120000Z-0a1b2c3d", "../vault", 1), `partial.json: ceremony: "../vault" is not a ceremony id`},
		{"time not UTC", strings.Replace(good, "2026-12-03T12:00:00Z", "2026-12-03T12:00:00+01:00", 1), `partial.json: ceremony_time: "2026-12-03T12:00:00+01:00" is not an RFC 3339 UTC time to the second`},
		{"decisions out of order", strings.Replace(strings.Replace(good, `"r-add"`, `"r-zzz"`, 1), `"r-remove"`, `"r-add"`, 1), `partial.json: decisions[1].request_id: "r-add" is not after "r-zzz" in byte order: one decision per request, sorted`},
		{"metadata name", strings.Replace(good, "8.claimed.partial.json", "8.claimed.json", 1), `partial.json: roles[0].metadata: "8.claimed.json" is not "8.claimed.partial.json"`},
		{"role name", strings.Replace(strings.Replace(good, `"role": "claimed"`, `"role": "../x"`, 1), "8.claimed.partial.json", "8.../x.partial.json", 1), `partial.json: roles[0].role: "../x" is not a role name a policy signs (a–z, 0–9 and "-" inside)`},
		{"no role", strings.Replace(good, good[strings.Index(good, `"roles": [`):strings.LastIndex(good, "]")+1], `"roles": []`, 1), "partial.json: roles: 0 roles; a partial carries 1 to 4096"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data))
			if err == nil || err.Error() != tc.msg {
				t.Fatalf("got %v\nwant %s", err, tc.msg)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("error is %T, not a *partial.Error", err)
			}
		})
	}
}

// FuzzParse: whatever the medium holds, Parse refuses it or returns a
// partial that encodes to exactly the bytes read and passes Check.
func FuzzParse(f *testing.F) {
	f.Add(sample().Encode())
	f.Add([]byte(`{"format":"conclave-partial/1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Encode(), data) {
			t.Fatal("accepted bytes that are not the partial's one encoding")
		}
		if err := p.Check(); err != nil {
			t.Fatalf("accepted a partial Check refuses: %v", err)
		}
	})
}

// BenchmarkParse100k reads the partial of a 100,000-request ceremony:
// one decision per request, a reason on every tenth.
func BenchmarkParse100k(b *testing.B) {
	p := sample()
	p.Decisions = make([]Decision, 100_000)
	for i := range p.Decisions {
		d := Decision{RequestID: fmt.Sprintf("req-%06d", i), Decision: "approve", By: "Alice Martin"}
		if i%10 == 0 {
			d.Decision, d.Reason = "defer", "the maintainer is to confirm by telephone"
		}
		p.Decisions[i] = d
	}
	data := p.Encode()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
