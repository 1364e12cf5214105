package bundle_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// FuzzOpenManifest: hostile manifest files never panic the reader, every
// refusal is a *verdict.BundleError with a code, and nothing is accepted
// unless the trusted intake key signed it.
func FuzzOpenManifest(f *testing.F) {
	intake := it.Key("intake").Key
	keys := map[string]*tuf.Key{intake.ID(): intake}
	f.Add([]byte(`{"payload":"","payloadType":"application/vnd.conclave.bundle-manifest.v1+json","signatures":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := bundle.OpenManifest(data, keys, bundle.ManifestLimits{MaxFiles: 1000})
		if err != nil {
			var be *verdict.BundleError
			if !errors.As(err, &be) || be.Code == "" || be.Sentence == "" {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		if m.BundleID == "" {
			t.Fatal("accepted a manifest without an id")
		}
	})
}

// TestOpenManifestExact: the manifest file is exactly the canonical form
// of its envelope, and the payload canonical JSON. A byte outside the
// signed payload (a newline an editor added, a space between members)
// changes the file's hash without changing what was signed, so it is
// refused; so is a payload that is signed but not canonical.
func TestOpenManifestExact(t *testing.T) {
	signer := it.Key("intake")
	keys := map[string]*tuf.Key{signer.Key.ID(): signer.Key}
	m := &bundle.Manifest{
		BundleID: "b-1",
		Source:   "example.org",
		Created:  it.Now,
		Bases:    []bundle.Base{{Role: "claimed", Version: 7, SHA256: strings.Repeat("ab", 32)}},
		Files:    []bundle.Entry{{Path: "requests/r1.json", Kind: bundle.KindBatch, Size: 10, SHA256: strings.Repeat("01", 32)}},
	}
	sign := func(e *envelope.Envelope) error { return intake.SignEnvelope(e, signer) }
	good, err := bundle.SignManifest(m, sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.OpenManifest(good, keys, bundle.ManifestLimits{}); err != nil {
		t.Fatalf("the exact manifest: %v", err)
	}
	// A payload that is valid, signed, but not canonical: a space after
	// the first comma.
	env := &envelope.Envelope{PayloadType: bundle.TypeManifest, Payload: []byte(strings.Replace(string(m.Encode()), `}],"bundle_id"`, `}], "bundle_id"`, 1))}
	if err := sign(env); err != nil {
		t.Fatal(err)
	}
	notCanonical := env.Marshal()

	const fileSentence = "the manifest file is not exactly the canonical form of its envelope (it differs at byte %d): nothing may stand outside the signed payload, not even whitespace or a final newline, so that each bundle has one manifest file"
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"final newline", append(append([]byte(nil), good...), '\n'), fmt.Sprintf(fileSentence, len(good))},
		{"final space", append(append([]byte(nil), good...), ' '), fmt.Sprintf(fileSentence, len(good))},
		{"leading space", append([]byte(" "), good...), fmt.Sprintf(fileSentence, 0)},
		{"space between members", []byte(strings.Replace(string(good), `,"payloadType"`, `, "payloadType"`, 1)), fmt.Sprintf(fileSentence, strings.Index(string(good), `,"payloadType"`)+1)},
		{"payload not canonical", notCanonical, fmt.Sprintf("the manifest breaks the bundle format: the payload is not canonical JSON (it differs from its canonical form at byte %d)", strings.Index(string(m.Encode()), `}],"bundle_id"`)+3)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := bundle.OpenManifest(c.data, keys, bundle.ManifestLimits{})
			var be *verdict.BundleError
			if !errors.As(err, &be) || be.Code != verdict.ManifestInvalid || be.Sentence != c.want {
				t.Fatalf("got  %v\nwant %s: %s", err, verdict.ManifestInvalid, c.want)
			}
		})
	}
}
