package intake_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

func TestNewDraftRefuses(t *testing.T) {
	k := it.Key("n1").Key
	cases := []struct {
		r    intake.Request
		want string
	}{
		{intake.Request{ID: "../x", Kind: request.Add, Project: "p", Keys: nil}, `request id "../x": an id may hold only ASCII letters, digits, ".", "_" and "-", starting with a letter or digit`},
		{intake.Request{ID: "r1", Kind: request.Add, Project: "dj\u0430ngo"}, `project "djаngo": a project name may hold only ASCII letters, digits, ".", "_" and "-" (PEP 508), and 'а' is not one of them`},
		{intake.Request{ID: "r1", Kind: request.Add, Project: "p"}, "an add request needs keys"},
		{intake.Request{ID: "r1", Kind: request.Remove, Project: "p", Keys: []*tuf.Key{k}}, "a remove request has no keys"},
		{intake.Request{ID: "r1", Kind: "takeover", Project: "p"}, `unknown request kind "takeover"`},
	}
	for _, c := range cases {
		if _, err := intake.NewDraft(c.r); err == nil || err.Error() != c.want {
			t.Errorf("NewDraft(%+v) = %v, want %q", c.r, err, c.want)
		}
	}
}

func TestSignPossessionNeedsEverySigner(t *testing.T) {
	d, err := intake.NewDraft(intake.Request{ID: "r1", Kind: request.Add, Project: "p", Keys: []*tuf.Key{it.Key("n1").Key, it.Key("n2").Key}, Threshold: 2, Made: it.Now})
	if err != nil {
		t.Fatal(err)
	}
	err = intake.SignPossession(d, []intake.Signer{it.Key("n1")})
	if err == nil || !strings.HasPrefix(err.Error(), "possession statement: no signer for key ") {
		t.Fatalf("got %v", err)
	}
}

func TestPackNeverReplaces(t *testing.T) {
	f := it.New(t)
	dir := filepath.Join(t.TempDir(), "bundle")
	p := f.Pack("b1", it.Files(f.Add(t, "r1", "p", "n1"))...)
	if err := p.Write(dir); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(dir); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v, want fs.ErrExist", err)
	}
}
