package bundle_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// TestPublishedStateOwnLimit: the published state of 100,000 projects
// (18.7 MB, past the 8 MiB a batch file may have) is read under the
// default limits; one byte over bundle_limits.max_published_size refuses
// the bundle from its manifest, before the file is read, naming the
// entry, the file and both sizes.
func TestPublishedStateOwnLimit(t *testing.T) {
	f := it.New(t)
	dir := filepath.Join(t.TempDir(), "bundle")
	p := f.Pack("bundle-0001", it.Lines(f.Add(t, "r-add", "fresh", "n1"))...)
	p.Published = it.Published(100_000)
	if err := p.Write(dir); err != nil {
		t.Fatal(err)
	}
	size := int64(len(bundle.EncodePublished(p.Published)))
	if r := f.Rules; size <= 2*r.MaxBatchSize || size > r.MaxPublishedSize {
		t.Fatalf("the published state is %d bytes: want well past max_batch_size (%d) and within max_published_size (%d)", size, r.MaxBatchSize, r.MaxPublishedSize)
	}
	trust := bundle.Trust{IntakeKeys: map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key}, Bases: f.Bases, Rules: f.Rules}
	b, err := bundle.Load(it.DirSource{Dir: dir}, trust)
	if err != nil {
		t.Fatalf("a published state of 100,000 projects (%d bytes): %v", size, err)
	}
	if len(b.Published) != 100_000 || len(b.Items) != 1 {
		t.Errorf("read %d published projects and %d requests", len(b.Published), len(b.Items))
	}

	trust.Rules.MaxPublishedSize = size - 1
	_, err = bundle.Load(it.DirSource{Dir: dir}, trust)
	var be *verdict.BundleError
	want := fmt.Sprintf(`bundle-limit: files[1]: the published state "published.json" is listed as %d bytes; at most %d are allowed for it (bundle_limits.max_published_size)`, size, size-1)
	if !errors.As(err, &be) || be.Code != verdict.BundleLimit || err.Error() != want {
		t.Errorf("over the limit:\n got %v\nwant %s", err, want)
	}
}
