package session

import (
	"context"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
)

// TestExportedAfterAnotherSignature: a plan made before a further
// signature is not the plan any more; the files read back must be those
// of the state the export is recorded in.
func TestExportedAfterAnotherSignature(t *testing.T) {
	fx := newFixture(t)
	d, _, _ := fx.deps()
	s := fx.open(d)
	for s.State() != StateSign || len(s.Progress()[0].Signed) < 2 {
		fx.step(s)
	}
	files, err := s.ExportFiles()
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]string{}
	for _, f := range files {
		old[f.Name] = bundle.SumHex(f.Data)
	}
	if _, err := s.SignAs(context.Background(), "carol"); err != nil {
		t.Fatal(err)
	}
	err = s.Exported(old)
	if err == nil || !strings.HasPrefix(err.Error(), "record the export: the files read back are not the export planned") {
		t.Fatalf("the files of the plan before carol signed: %v", err)
	}
	files, err = s.ExportFiles()
	if err != nil {
		t.Fatal(err)
	}
	now := map[string]string{}
	for _, f := range files {
		now[f.Name] = bundle.SumHex(f.Data)
	}
	if err := s.Exported(now); err != nil {
		t.Fatal(err)
	}
}
