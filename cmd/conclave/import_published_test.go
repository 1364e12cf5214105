package main

import (
	"path/filepath"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// TestImportLargePublishedState: a bundle whose published state names
// 100,000 projects (18.8 MB, far past the 1 MiB a request file may have)
// is read from the medium and judged; under a policy whose
// max_published_size is 1 MiB the same bundle is refused from its
// manifest, naming the entry, the file and both sizes.
func TestImportLargePublishedState(t *testing.T) {
	f := it.New(t)
	p := f.Pack("b1", it.Lines(f.Add(t, "r1", "new-project", "n1"))...)
	p.Published = it.Published(100_000)
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := p.Write(dir); err != nil {
		t.Fatal(err)
	}
	size := len(bundle.EncodePublished(p.Published))
	for _, tc := range []struct {
		name, policy string
		refused      string
	}{
		{"default limits", "", ""},
		{"max_published_size 1 MiB", "bundle_limits:\n  max_published_size: 1048576\n",
			`files[1]: the published state "published.json" is listed as 18800046 bytes; at most 1048576 are allowed for it (bundle_limits.max_published_size)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := importVault(t, f.DelegatorBytes, it.Key("claimed-owner").Key, f.Intake.Key, f.Rules.Repository, tc.policy, nil)
			code, out, errOut := run(t, "import", "--dry-run", "--vault", v, "--now", "2026-11-24T12:00:00Z", "--json", dir)
			r := decodeReport(t, out)
			if tc.refused == "" {
				if code != 0 || r.Refused != nil || len(r.Requests) != 1 {
					t.Fatalf("a published state of %d bytes: exit %d, refused %+v\n%s", size, code, r.Refused, errOut)
				}
				return
			}
			if r.Refused == nil || r.Refused.Code != verdict.BundleLimit || r.Refused.Sentence != tc.refused || size != 18800046 {
				t.Fatalf("exit %d, refused %+v (published state %d bytes)\nwant %s", code, r.Refused, size, tc.refused)
			}
		})
	}
}
