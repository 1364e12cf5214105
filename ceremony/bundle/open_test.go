package bundle_test

import (
	"errors"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
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
