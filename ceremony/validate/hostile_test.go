package validate_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// env is one test's bundle and trusted state.
type env struct {
	t     *testing.T
	f     *it.Fixture
	rules rules.Rules
	hist  *history.History
	pack  *intake.Pack
	// after runs on the written bundle directory.
	after func(dir string)
	// waivers are the notice periods waived (waiver_test.go).
	waivers map[string]validate.Waiver
}

func newEnv(t *testing.T) *env {
	f := it.New(t)
	return &env{t: t, f: f, rules: f.Rules}
}

// dwell records that the repository published the draft's keyset a day
// before the fixture's time, so that the add is not flagged "no dwell".
func (e *env) dwell(ds ...*request.Draft) {
	if e.hist == nil {
		e.hist = &history.History{}
	}
	if e.hist.Published == nil {
		e.hist.Published = map[string]map[string]time.Time{}
	}
	for _, d := range ds {
		st, err := d.PossessionStatement()
		if err != nil {
			e.t.Fatal(err)
		}
		e.hist.Published[st.Project] = map[string]time.Time{st.Keyset.Hash(): it.Now.Add(-24 * time.Hour)}
	}
}

type outcome struct {
	dir     string
	refused *verdict.BundleError
	// byID is the verdict on the first request of each id.
	byID map[string]verdict.Verdict
	list []verdict.Verdict
}

func (e *env) run() outcome {
	e.t.Helper()
	dir := filepath.Join(e.t.TempDir(), "bundle")
	if err := e.pack.Write(dir); err != nil {
		e.t.Fatal(err)
	}
	if e.after != nil {
		e.after(dir)
	}
	b, err := bundle.Load(it.DirSource{Dir: dir}, bundle.Trust{
		IntakeKeys: map[string]*tuf.Key{e.f.Intake.Key.ID(): e.f.Intake.Key},
		Bases:      e.f.Bases,
		Rules:      e.rules,
		Seen:       e.hist.SeenBundle,
	})
	if err != nil {
		var be *verdict.BundleError
		if !errors.As(err, &be) {
			e.t.Fatalf("Load: %v is not a *verdict.BundleError", err)
		}
		return outcome{dir: dir, refused: be}
	}
	vs := validate.Validate(validate.Input{Bundle: b, Delegators: map[string]*tuf.Targets{"claimed": e.f.Delegator.Targets}, Rules: e.rules, History: e.hist, Now: it.Now, Waivers: e.waivers})
	// The verdicts are in the bundle's order, which is the pack's.
	o := outcome{dir: dir, byID: map[string]verdict.Verdict{}, list: vs}
	for i, v := range vs {
		if i >= len(e.pack.Requests) {
			break // the batches were written again (rewriteBatches)
		}
		if id := idOf(e.pack.Requests[i]); id != "" {
			if _, twice := o.byID[id]; !twice {
				o.byID[id] = v
			}
		}
	}
	return o
}

// want is a request's expected verdict.
type want struct {
	class verdict.Class
	codes []verdict.Code
}

// idOf finds the id a request line gives, without parsing it (the line
// may be broken on purpose).
func idOf(line []byte) string {
	m := idPattern.FindSubmatch(line)
	if m == nil {
		return ""
	}
	return string(m[1])
}

var idPattern = regexp.MustCompile(`"id":"([^"\\]*)"`)

func checkVerdict(t *testing.T, o outcome, name string, w want) {
	t.Helper()
	if o.refused != nil {
		t.Fatalf("bundle refused: %v", o.refused)
	}
	v, ok := o.byID[name]
	if !ok {
		t.Fatalf("no verdict for %s; have %v", name, o.list)
	}
	codes := v.Codes()
	if len(codes) == 0 {
		codes = nil
	}
	if v.Class != w.class || !reflect.DeepEqual(codes, w.codes) {
		t.Fatalf("%s: got class %s codes %v (%+v), want class %s codes %v", name, v.Class, codes, v.Findings, w.class, w.codes)
	}
	for _, f := range v.Findings {
		if f.Sentence == "" || strings.Contains(f.Sentence, "%!") {
			t.Errorf("%s: finding %s has a broken sentence %q", name, f.Code, f.Sentence)
		}
	}
}

// setMember replaces (or adds) a member at a path of object names and
// array indices in a request file, and re-encodes it in file form.
func setMember(t *testing.T, data []byte, value cjson.Value, path ...string) []byte {
	t.Helper()
	v, err := cjson.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	v = set(t, v, value, path)
	e := cjson.Encoder{FileForm: true}
	e.Value(v)
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func set(t *testing.T, v, value cjson.Value, path []string) cjson.Value {
	if len(path) == 0 {
		return value
	}
	switch v.Kind() {
	case cjson.Object:
		var ms []cjson.Member
		found := false
		for _, m := range v.Members() {
			if m.Name == path[0] {
				found = true
				m.Value = set(t, m.Value, value, path[1:])
			}
			ms = append(ms, m)
		}
		if !found {
			ms = append(ms, cjson.Member{Name: path[0], Value: set(t, cjson.NullValue(), value, path[1:])})
		}
		return cjson.ObjectValue(ms...)
	case cjson.Array:
		i, err := strconv.Atoi(path[0])
		if err != nil {
			t.Fatal(err)
		}
		items := append([]cjson.Value(nil), v.Items()...)
		if i == len(items) {
			items = append(items, cjson.NullValue())
		}
		items[i] = set(t, items[i], value, path[1:])
		return cjson.ArrayValue(items...)
	}
	t.Fatalf("cannot set %v in %s", path, v.Kind())
	return v
}

func keyValue(t *testing.T, k *tuf.Key) cjson.Value {
	v, err := cjson.Parse(k.Canonical())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rawKey(keytype, scheme, public string) cjson.Value {
	return cjson.ObjectValue(
		cjson.Member{Name: "keytype", Value: cjson.StringValue(keytype)},
		cjson.Member{Name: "keyval", Value: cjson.ObjectValue(cjson.Member{Name: "public", Value: cjson.StringValue(public)})},
		cjson.Member{Name: "scheme", Value: cjson.StringValue(scheme)},
	)
}

func pemOf(t *testing.T, pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// ecdsaSigner makes an ECDSA developer key.
func ecdsaSigner(t *testing.T, c elliptic.Curve) intake.Signer {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := intake.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// addWith writes an add request for project with the given signers.
func addWith(t *testing.T, id, project string, signers ...intake.Signer) *request.Draft {
	keys := make([]*tuf.Key, len(signers))
	for i, s := range signers {
		keys[i] = s.Key
	}
	d, err := intake.NewDraft(intake.Request{ID: id, Kind: request.Add, Project: project, Keys: keys, Threshold: int64(len(keys)), Made: it.Now.Add(-time.Hour), RequestedBy: "test", BaseVersion: it.BaseVersion})
	if err != nil {
		t.Fatal(err)
	}
	if err := intake.SignPossession(d, signers); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestHostileRequests: each case breaks one rule in one request and
// asserts that request's exact codes and class.
func TestHostileRequests(t *testing.T) {
	cases := []struct {
		name  string
		build func(e *env) [][]byte
		id    string
		want  want
	}{
		{"valid add with dwell", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1", "n2")
			e.dwell(d)
			return it.Lines(d)
		}, "r1", want{verdict.RuleApprovable, nil}},
		{"no-dwell add", func(e *env) [][]byte {
			return it.Lines(e.f.Add(t, "r1", "new-project", "n1", "n2"))
		}, "r1", want{verdict.NeedsJudgement, []verdict.Code{verdict.NoDwell}}},
		{"dwell shorter than the policy's", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1")
			e.dwell(d)
			e.rules.MinDwell = 7 * 24 * time.Hour
			return it.Lines(d)
		}, "r1", want{verdict.NeedsJudgement, []verdict.Code{verdict.NoDwell}}},
		{"published keyset differs from the request's", func(e *env) [][]byte {
			e.dwell(e.f.Add(t, "r0", "new-project", "n1"))
			return it.Lines(e.f.Add(t, "r1", "new-project", "n1", "n2"))
		}, "r1", want{verdict.NeedsJudgement, []verdict.Code{verdict.NoDwell}}},
		{"duplicate JSON member", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = []byte(strings.Replace(string(fs[0]), `{"format"`, `{"kind":"add","format"`, 1))
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.JSONInvalid}}},
		{"deep nesting", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
			fs[0] = []byte(strings.Replace(string(fs[0]), `{"format"`, `{"x":`+deep+`,"format"`, 1))
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.JSONInvalid}}},
		{"invalid UTF-8", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = []byte(strings.Replace(string(fs[0]), `"intake test"`, "\"intake \xff test\"", 1))
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.JSONInvalid}}},
		{"trailing data", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = append(fs[0], "{}"...)
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.JSONInvalid}}},
		{"unknown member", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = setMember(t, fs[0], cjson.StringValue("x"), "paths")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.FormatInvalid}}},
		{"authorisation on an add", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1")
			d.Authorisation = e.f.Authorise(t, "existing-b", it.BaseVersion, nil, 0, "b1")
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.FormatInvalid}}},
		{"confusable project name", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = setMember(t, fs[0], cjson.StringValue("dj\u0430ngo"), "project")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.ProjectName}}},
		{"off-curve key", func(e *env) [][]byte {
			s := ecdsaSigner(t, elliptic.P256())
			d := addWith(t, "r1", "new-project", s)
			der, _ := x509.MarshalPKIXPublicKey(s.Signer.Public())
			der[len(der)-1] ^= 1 // move the point off the curve
			off := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			fs := it.Lines(d)
			fs[0] = setMember(t, fs[0], cjson.StringValue(off), "keys", "0", "keyval", "public")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyInvalid}}},
		{"RSA-1024 key", func(e *env) [][]byte {
			k, err := rsa.GenerateKey(rand.Reader, 1024)
			if err != nil {
				t.Fatal(err)
			}
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = setMember(t, fs[0], rawKey("rsa", tuf.SchemeRSAPSSSHA2, pemOf(t, &k.PublicKey)), "keys", "0")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyRSASize}}},
		{"legacy hex ECDSA point", func(e *env) [][]byte {
			s := ecdsaSigner(t, elliptic.P256())
			pt, err := s.Signer.Public().(*ecdsa.PublicKey).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = setMember(t, fs[0], rawKey("ecdsa", tuf.SchemeECDSAP256, hexString(pt)), "keys", "0")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyLegacy}}},
		{"extra member in a key", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = setMember(t, fs[0], cjson.StringValue("x"), "keys", "0", "x-note")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.FormatInvalid}}},
		{"scheme not allowed", func(e *env) [][]byte {
			e.rules.KeySchemes = []string{tuf.SchemeEd25519}
			return it.Lines(addWith(t, "r1", "new-project", ecdsaSigner(t, elliptic.P256())))
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyScheme}}},
		{"too many keys", func(e *env) [][]byte {
			e.rules.MaxKeys = 1
			return it.Lines(e.f.Add(t, "r1", "new-project", "n1", "n2"))
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.TooManyKeys}}},
		{"threshold 0", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1", "n2"))
			fs[0] = setMember(t, fs[0], cjson.IntValue(0), "threshold")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.ThresholdRange}}},
		{"threshold above the key count", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1", "n2"))
			fs[0] = setMember(t, fs[0], cjson.IntValue(3), "threshold")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.ThresholdRange}}},
		{"same key twice", func(e *env) [][]byte {
			fs := it.Lines(e.f.Add(t, "r1", "new-project", "n1"))
			fs[0] = setMember(t, fs[0], keyValue(t, it.Key("n1").Key), "keys", "1")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyDuplicate}}},
		{"same key under two keyids", func(e *env) [][]byte {
			s := ecdsaSigner(t, elliptic.P256())
			fs := it.Lines(addWith(t, "r1", "new-project", s))
			// The same PEM with a trailing newline: another keyid, the same key.
			fs[0] = setMember(t, fs[0], rawKey("ecdsa", tuf.SchemeECDSAP256, s.Key.Public+"\n"), "keys", "1")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyDuplicate}}},
		{"P-384 key (misverified by some clients)", func(e *env) [][]byte {
			d := addWith(t, "r1", "new-project", ecdsaSigner(t, elliptic.P384()))
			e.dwell(d)
			return it.Lines(d)
		}, "r1", want{verdict.NeedsJudgement, []verdict.Code{verdict.KeyMisverified}}},
		{"key already used by another project", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "a1")
			e.dwell(d)
			return it.Lines(d)
		}, "r1", want{verdict.NeedsJudgement, []verdict.Code{verdict.KeyShared}}},
		{"takeover by add", func(e *env) [][]byte {
			return it.Lines(e.f.Add(t, "r1", "existing-a", "n1"))
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.TakeoverAdd}}},
		{"takeover by add under another spelling", func(e *env) [][]byte {
			return it.Lines(e.f.Add(t, "r1", "Existing__A", "n1"))
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.TakeoverAdd}}},
		{"possession missing", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1")
			d.Possession = nil
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.PossessionMissing}}},
		{"possession signed over raw JSON, not the typed envelope", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1")
			s := it.Key("n1")
			sig, err := s.Signer.Sign(nil, d.Possession.Payload, crypto.Hash(0))
			if err != nil {
				t.Fatal(err)
			}
			d.Possession.Signatures = []envelope.Signature{{KeyID: s.Key.ID(), Sig: sig}}
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.PossessionInvalid}}},
		{"possession by one key of two", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1", "n2")
			d.Possession.Signatures = d.Possession.Signatures[:1]
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.PossessionInvalid}}},
		{"possession statement for another request", func(e *env) [][]byte {
			d := e.f.Add(t, "other", "new-project", "n1")
			d.ID = "r1"
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.PossessionWrong}}},
		{"possession statement not in canonical form", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1")
			spaced := strings.Replace(string(d.Possession.Payload), `,"project"`, `, "project"`, 1)
			d.Possession = &envelope.Envelope{PayloadType: request.TypePossession, Payload: []byte(spaced)}
			if err := intake.SignEnvelope(d.Possession, it.Key("n1")); err != nil {
				t.Fatal(err)
			}
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.PossessionWrong}}},
		{"possession of another envelope type", func(e *env) [][]byte {
			d := e.f.Add(t, "r1", "new-project", "n1")
			d.Possession.PayloadType = envelope.TypeKeyChange
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.PossessionInvalid}}},
		{"path overlap through a wildcard", func(e *env) [][]byte {
			// "existing*" matches "existing-a/…" when * also matches "/".
			e.rules.PathTemplate = "{name}*"
			d := e.f.Add(t, "r1", "existing", "n1")
			e.dwell(d)
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.PathOverlap}}},
		{"valid rotate", func(e *env) [][]byte {
			return it.Lines(e.f.Rotate(t, "r1", "existing-a", []string{"a1", "a2"}, "n1", "n2"))
		}, "r1", want{verdict.RuleApprovable, nil}},
		{"valid remove", func(e *env) [][]byte {
			return it.Lines(e.f.Remove(t, "r1", "existing-b", "b1"))
		}, "r1", want{verdict.RuleApprovable, nil}},
		{"rotate to the same keys", func(e *env) [][]byte {
			return it.Lines(e.f.Rotate(t, "r1", "existing-b", []string{"b1"}, "b1"))
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.NoChange}}},
		{"rotate of a project not delegated", func(e *env) [][]byte {
			d := e.f.Rotate(t, "r1", "existing-a", []string{"a1", "a2"}, "n1")
			d.Project = "nobody"
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.NotDelegated}}},
		{"takeover by rotate without authorisation", func(e *env) [][]byte {
			d := e.f.Rotate(t, "r1", "existing-a", nil, "n1")
			d.Authorisation = nil
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyChangeMissing}}},
		{"rotate authorised below the current threshold", func(e *env) [][]byte {
			return it.Lines(e.f.Rotate(t, "r1", "existing-a", []string{"a1"}, "n1"))
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyChangeBelow}}},
		{"rotate authorised by the new keys", func(e *env) [][]byte {
			return it.Lines(e.f.Rotate(t, "r1", "existing-a", []string{"n1", "n2"}, "n1", "n2"))
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.SignatureExtra}}},
		{"rotate authorisation bound to another base version", func(e *env) [][]byte {
			d := e.f.Rotate(t, "r1", "existing-a", nil, "n1")
			d.Authorisation = e.f.Authorise(t, "existing-a", it.BaseVersion-1, d.Keys, 1, "a1", "a2")
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyChangeBase}}},
		{"rotate authorisation bound to another keyset", func(e *env) [][]byte {
			d := e.f.Rotate(t, "r1", "existing-a", nil, "n1")
			kc := request.KeyChange{Project: "existing-a", BaseVersion: it.BaseVersion, CurrentKeyset: request.NewKeyset([]string{it.Key("a1").Key.ID()}, 1).Hash(),
				Change: request.ChangeRotate, NewKeyset: request.NewKeyset([]string{it.Key("n1").Key.ID()}, 1)}
			d.Authorisation = &envelope.Envelope{PayloadType: request.TypeKeyChange, Payload: kc.Payload()}
			for _, n := range []string{"a1", "a2"} {
				if err := intake.SignEnvelope(d.Authorisation, it.Key(n)); err != nil {
					t.Fatal(err)
				}
			}
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyChangeKeyset}}},
		{"rotate authorisation for other new keys", func(e *env) [][]byte {
			d := e.f.Rotate(t, "r1", "existing-a", nil, "n1")
			d.Authorisation = e.f.Authorise(t, "existing-a", it.BaseVersion, []*tuf.Key{it.Key("evil").Key}, 1, "a1", "a2")
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyChangeMismatch}}},
		{"removal authorisation used for a rotation", func(e *env) [][]byte {
			d := e.f.Rotate(t, "r1", "existing-a", nil, "n1")
			d.Authorisation = e.f.Authorise(t, "existing-a", it.BaseVersion, nil, 0, "a1", "a2")
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyChangeMismatch}}},
		{"authorisation that is not a key-change envelope", func(e *env) [][]byte {
			d := e.f.Rotate(t, "r1", "existing-a", nil, "n1")
			d.Authorisation = d.Possession
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyChangeNotEnv}}},
		{"authorisation that is not an envelope", func(e *env) [][]byte {
			fs := it.Lines(e.f.Rotate(t, "r1", "existing-a", []string{"a1", "a2"}, "n1"))
			fs[0] = setMember(t, fs[0], cjson.ObjectValue(cjson.Member{Name: "signed", Value: cjson.StringValue("yes")}), "authorisation")
			return fs
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.KeyChangeNotEnv}}},
		{"recover inside its notice period", func(e *env) [][]byte {
			return it.Lines(e.f.Recover(t, "r1", "existing-a", "n1"))
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.RecoverNotice}}},
		{"recover whose claimed date is old", func(e *env) [][]byte {
			d := e.f.Recover(t, "r1", "existing-a", "n1")
			d.Made = it.Now.Add(-365 * 24 * time.Hour) // the repository's word counts for nothing
			return it.Lines(d)
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.RecoverNotice}}},
		{"recover after its notice period", func(e *env) [][]byte {
			d := e.f.Recover(t, "r1", "existing-a", "n1")
			r, err := request.Parse(d.Encode(), request.Limits{MaxDepth: 16, MaxProjectName: 128, MaxRequestedBy: 256})
			if err != nil {
				t.Fatal(err)
			}
			e.hist = &history.History{FirstSeen: map[string]time.Time{r.ChangeDigest(): it.Now.Add(-15 * 24 * time.Hour)}}
			return it.Lines(d)
		}, "r1", want{verdict.NeedsJudgement, []verdict.Code{verdict.Recovery}}},
		{"recovery removal after its notice period", func(e *env) [][]byte {
			d := e.f.Recover(t, "r1", "existing-b")
			r, err := request.Parse(d.Encode(), request.Limits{MaxDepth: 16, MaxProjectName: 128, MaxRequestedBy: 256})
			if err != nil {
				t.Fatal(err)
			}
			e.hist = &history.History{FirstSeen: map[string]time.Time{r.ChangeDigest(): it.Now.Add(-14 * 24 * time.Hour)}}
			return it.Lines(d)
		}, "r1", want{verdict.NeedsJudgement, []verdict.Code{verdict.Recovery}}},
		{"duplicate request ids", func(e *env) [][]byte {
			return it.Lines(e.f.Add(t, "r1", "new-project", "n1"), e.f.Add(t, "r1", "other-project", "n2"))
		}, "r1", want{verdict.Invalid, []verdict.Code{verdict.DuplicateID}}},
		{"two requests for one project", func(e *env) [][]byte {
			return it.Lines(e.f.Add(t, "r1", "new-project", "n1"), e.f.Add(t, "r2", "New.Project", "n2"))
		}, "r2", want{verdict.Invalid, []verdict.Code{verdict.DuplicateProject}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			files := c.build(e)
			e.pack = e.f.Pack("b1", files...)
			o := e.run()
			checkVerdict(t, o, c.id, c.want)
			e.saveCorpus(c.name, o, corpusExpect{ID: c.id, Class: c.want.class, Codes: c.want.codes})
		})
	}
}

// TestDuplicateIDsBothInvalid: neither request sharing an id survives,
// in one batch or in two, and each verdict names its own batch and line.
func TestDuplicateIDsBothInvalid(t *testing.T) {
	for _, perBatch := range []int{2, 1} {
		e := newEnv(t)
		e.pack = e.f.Pack("b1", it.Lines(e.f.Add(t, "r1", "new-project", "n1"), e.f.Add(t, "r1", "other-project", "n2"))...)
		e.pack.MaxBatchRequests = perBatch
		o := e.run()
		if o.refused != nil || len(o.list) != 2 {
			t.Fatalf("%d per batch: refused %v, verdicts %+v", perBatch, o.refused, o.list)
		}
		wantAt := []string{"requests/0001.jsonl:1", "requests/0001.jsonl:2"}
		if perBatch == 1 {
			wantAt = []string{"requests/0001.jsonl:1", "requests/0002.jsonl:1"}
		}
		for i, v := range o.list {
			if v.At() != wantAt[i] || v.RequestID != "r1" || v.Class != verdict.Invalid || !reflect.DeepEqual(v.Codes(), []verdict.Code{verdict.DuplicateID}) {
				t.Errorf("%d per batch: verdict %d is %s %s %s %v, want %s r1 invalid [duplicate-id]", perBatch, i, v.At(), v.RequestID, v.Class, v.Codes(), wantAt[i])
			}
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// TestHostileBundles: each case breaks the bundle, which is refused as a
// whole with the exact code.
func TestHostileBundles(t *testing.T) {
	writeManifest := func(t *testing.T, dir string, m *bundle.Manifest, signer intake.Signer) {
		data, err := bundle.SignManifest(m, func(e *envelope.Envelope) error { return intake.SignEnvelope(e, signer) })
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, bundle.ManifestName), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	readManifest := func(t *testing.T, dir string) (*envelope.Envelope, *bundle.Manifest) {
		data, err := os.ReadFile(filepath.Join(dir, bundle.ManifestName))
		if err != nil {
			t.Fatal(err)
		}
		v, err := cjson.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		env, err := envelope.Parse(v, "")
		if err != nil {
			t.Fatal(err)
		}
		f := it.New(t)
		m, err := bundle.OpenManifest(data, map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key}, bundle.ManifestLimits{})
		if err != nil {
			t.Fatal(err)
		}
		return env, m
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, e *env)
		want  verdict.Code
	}{
		{"hash mismatch", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				p := filepath.Join(dir, "requests", "0001.jsonl")
				data, _ := os.ReadFile(p)
				data = []byte(strings.Replace(string(data), `"intake test"`, `"intake TEST"`, 1))
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}, verdict.FileHashMismatch},
		{"file longer than listed", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				f, err := os.OpenFile(filepath.Join(dir, "requests", "0001.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString(" ")
				f.Close()
			}
		}, verdict.FileHashMismatch},
		{"unsigned manifest (empty signatures)", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				env, _ := readManifest(t, dir)
				env.Signatures = nil
				os.WriteFile(filepath.Join(dir, bundle.ManifestName), env.Marshal(), 0o644)
			}
		}, verdict.ManifestUnsigned},
		{"unsigned manifest (bare payload)", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				env, _ := readManifest(t, dir)
				os.WriteFile(filepath.Join(dir, bundle.ManifestName), env.Payload, 0o644)
			}
		}, verdict.ManifestUnsigned},
		{"manifest signed by an unknown key", func(t *testing.T, e *env) {
			e.pack.Intake = it.Key("mallory")
		}, verdict.ManifestBadSignature},
		{"manifest changed after signing", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				env, m := readManifest(t, dir)
				m.Files[0].Size++
				env.Payload = m.Encode()
				os.WriteFile(filepath.Join(dir, bundle.ManifestName), env.Marshal(), 0o644)
			}
		}, verdict.ManifestBadSignature},
		{"manifest with a final newline", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				f, err := os.OpenFile(filepath.Join(dir, bundle.ManifestName), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString("\n")
				f.Close()
			}
		}, verdict.ManifestInvalid},
		{"manifest envelope of another type", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				env, _ := readManifest(t, dir)
				env.PayloadType = envelope.TypeProofOfPossession
				env.Signatures = nil
				if err := intake.SignEnvelope(env, e.f.Intake); err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, bundle.ManifestName), env.Marshal(), 0o644)
			}
		}, verdict.ManifestInvalid},
		{"manifest lists a path with ..", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				_, m := readManifest(t, dir)
				m.Files[0].Path = "../outside.json"
				writeManifest(t, dir, m, e.f.Intake)
			}
		}, verdict.ManifestInvalid},
		{"manifest lists an absolute path", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				_, m := readManifest(t, dir)
				m.Files[0].Path = "/etc/passwd"
				writeManifest(t, dir, m, e.f.Intake)
			}
		}, verdict.ManifestInvalid},
		{"manifest lists itself", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				_, m := readManifest(t, dir)
				m.Files[0].Path = bundle.ManifestName
				writeManifest(t, dir, m, e.f.Intake)
			}
		}, verdict.ManifestInvalid},
		{"replayed bundle", func(t *testing.T, e *env) {
			e.hist = &history.History{Bundles: map[string]time.Time{"b1": it.Now.Add(-48 * time.Hour)}}
		}, verdict.BundleReplayed},
		{"base metadata version mismatch", func(t *testing.T, e *env) {
			e.pack.Bases[0].Version--
		}, verdict.BundleBaseMismatch},
		{"base metadata hash mismatch", func(t *testing.T, e *env) {
			e.pack.Bases[0].SHA256 = strings.Repeat("0", 64)
		}, verdict.BundleBaseMismatch},
		{"a base for a role the ceremony does not sign", func(t *testing.T, e *env) {
			e.pack.Bases = append(e.pack.Bases, bundle.Base{Role: "claimed-z", Version: 1, SHA256: e.pack.Bases[0].SHA256})
		}, verdict.BundleBaseMismatch},
		{"another repository", func(t *testing.T, e *env) {
			e.pack.Source = "evil.example"
		}, verdict.BundleSourceMismatch},
		{"unlisted file", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				os.WriteFile(filepath.Join(dir, "requests", "extra.json"), []byte("{}"), 0o644)
			}
		}, verdict.BundleExtraFile},
		{"batch over its size limit", func(t *testing.T, e *env) {
			e.rules.MaxBatchSize = 100
		}, verdict.BundleLimit},
		{"batch over its request limit", func(t *testing.T, e *env) {
			e.rules.MaxBatchRequests = 1
			e.pack.Requests = append(e.pack.Requests, it.Lines(e.f.Add(t, "r2", "other", "n2"))...)
		}, verdict.BundleLimit},
		{"bundle over its request limit", func(t *testing.T, e *env) {
			e.rules.MaxRequests = 1
			e.pack.Requests = append(e.pack.Requests, it.Lines(e.f.Add(t, "r2", "other", "n2"))...)
			e.pack.MaxBatchRequests = 1
		}, verdict.BundleLimit},
		{"batch listed twice", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				_, m := readManifest(t, dir)
				m.Files = append(m.Files, m.Files[0])
				writeManifest(t, dir, m, e.f.Intake)
			}
		}, verdict.ManifestInvalid},
		{"batch listed as empty", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				_, m := readManifest(t, dir)
				p := filepath.Join(dir, filepath.FromSlash(m.Files[0].Path))
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				m.Files[0].Size, m.Files[0].SHA256 = 0, bundle.SumHex(nil)
				writeManifest(t, dir, m, e.f.Intake)
			}
		}, verdict.ManifestInvalid},
		{"manifest too large", func(t *testing.T, e *env) {
			e.rules.MaxManifestSize = 100
		}, verdict.BundleLimit},
		{"too many files", func(t *testing.T, e *env) {
			e.rules.MaxFiles = 1
			e.pack.Requests = append(e.pack.Requests, it.Lines(e.f.Add(t, "r2", "other", "n2"))...)
			e.pack.MaxBatchRequests = 1
		}, verdict.BundleLimit},
		{"listed file missing", func(t *testing.T, e *env) {
			e.after = func(dir string) {
				os.Remove(filepath.Join(dir, "requests", "0001.jsonl"))
			}
		}, verdict.BundleUnreadable},
		{"published state not normalised", func(t *testing.T, e *env) {
			e.pack.Published = map[string]request.Keyset{"Not_Normal": request.NewKeyset([]string{it.Key("n1").Key.ID()}, 1)}
		}, verdict.PublishedInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.pack = e.f.Pack("b1", it.Lines(e.f.Add(t, "r1", "new-project", "n1"))...)
			c.setup(t, e)
			o := e.run()
			if o.refused == nil {
				t.Fatalf("bundle accepted, want refusal %s; verdicts %+v", c.want, o.list)
			}
			if o.refused.Code != c.want {
				t.Fatalf("refused with %s (%s), want %s", o.refused.Code, o.refused.Sentence, c.want)
			}
			e.saveCorpus(c.name, o, corpusExpect{Refused: c.want})
		})
	}
}

// TestSentences: the words key holders read, for the findings that
// matter most.
func TestSentences(t *testing.T) {
	e := newEnv(t)
	e.pack = e.f.Pack("b1", it.Lines(
		e.f.Add(t, "r1", "Existing__A", "n1"),
		e.f.Rotate(t, "r2", "existing-b", []string{"n9"}, "n2"),
		e.f.Add(t, "r4", "fresh", "n4"),
	)...)
	o := e.run()
	e2 := newEnv(t)
	e2.pack = e2.f.Pack("b2", it.Lines(e2.f.Recover(t, "r3", "existing-a", "n3"))...)
	o.byID["r3"] = e2.run().byID["r3"]
	want := map[string]string{
		"r1": `Project "existing-a" (written "Existing__A") is already delegated to other keys; adding it again would hand it to new keys without its owners' consent (a takeover attempt).`,
		"r2": `The key-change authorisation carries a signature by a key that is not a current key (signature 1); only project "existing-b"'s current keys may sign it, each once.`,
		"r3": `Conclave first saw this recovery on 2026-11-24T12:00:00Z; its notice period of 14 days ends on 2026-12-08T12:00:00Z, and it cannot be approved before then.`,
		"r4": `The repository had not published these exact keys for project "fresh" in an earlier bundle; keys trusted on first use should have been public, unchanged, for a while before they are approved.`,
	}
	for id, w := range want {
		v := o.byID[id]
		if len(v.Findings) != 1 || v.Findings[0].Sentence != w {
			t.Errorf("%s: got %+v\nwant %q", id, v.Findings, w)
		}
	}
}

// TestPublishedNotes: the published state is compared with the trusted
// delegations (hygiene: a note, not a verdict).
func TestPublishedNotes(t *testing.T) {
	e := newEnv(t)
	e.pack = e.f.Pack("b1", it.Lines(e.f.Add(t, "r1", "new-project", "n1"))...)
	e.pack.Published = map[string]request.Keyset{
		"existing-a": request.NewKeyset([]string{it.Key("a1").Key.ID(), it.Key("a2").Key.ID()}, 2), // as delegated
		"existing-b": request.NewKeyset([]string{it.Key("evil").Key.ID()}, 1),                      // not as delegated
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := e.pack.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Load(it.DirSource{Dir: dir}, bundle.Trust{IntakeKeys: map[string]*tuf.Key{e.f.Intake.Key.ID(): e.f.Intake.Key}, Bases: e.f.Bases, Rules: e.rules})
	if err != nil {
		t.Fatal(err)
	}
	notes := validate.PublishedNotes(b, map[string]*tuf.Targets{"claimed": e.f.Delegator.Targets})
	want := `The repository says it publishes other keys for project "existing-b" than the ones the trusted metadata delegates to; unless a rotation for it is in this bundle, ask the repository why.`
	if len(notes) != 1 || notes[0].Code != verdict.PublishedDiffers || notes[0].Sentence != want {
		t.Fatalf("notes: %+v", notes)
	}
}

// rewriteBatches replaces the written bundle's batches with raw bytes
// that Pack would not write (line ends, empty lines), listed in a
// manifest signed again by the intake key: the bytes arrive as signed,
// so each broken line is a verdict on its request, not a refusal.
func (e *env) rewriteBatches(batches ...[]byte) {
	t := e.t
	e.after = func(dir string) {
		data, err := os.ReadFile(filepath.Join(dir, bundle.ManifestName))
		if err != nil {
			t.Fatal(err)
		}
		m, err := bundle.OpenManifest(data, map[string]*tuf.Key{e.f.Intake.Key.ID(): e.f.Intake.Key}, bundle.ManifestLimits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(dir, intake.BatchDir)); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, intake.BatchDir), 0o755); err != nil {
			t.Fatal(err)
		}
		m.Files = nil
		for i, b := range batches {
			name := intake.BatchName(i+1, len(batches))
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), b, 0o644); err != nil {
				t.Fatal(err)
			}
			m.Files = append(m.Files, bundle.Entry{Path: name, Kind: bundle.KindBatch, Size: int64(len(b)), SHA256: bundle.SumHex(b)})
		}
		signed, err := bundle.SignManifest(m, func(env *envelope.Envelope) error { return intake.SignEnvelope(env, e.f.Intake) })
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, bundle.ManifestName), signed, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileBatches: lines of a batch that break the batch format. Each
// is a verdict on the request at that line, named by its batch and line;
// the other requests of the batch are judged as usual.
func TestHostileBatches(t *testing.T) {
	lf := func(lines ...[]byte) []byte { return append(bytes.Join(lines, []byte("\n")), '\n') }
	cases := []struct {
		name  string
		setup func(e *env, r1, r2 []byte)
		at    string // the broken line
		id    string // the id of the request there, "" when it is not read
		want  want
		// sentence is the finding's, checked when set.
		sentence string
	}{
		{"line too long", func(e *env, r1, r2 []byte) {
			e.rules.MaxRequestSize = int64(len(r1)) - 1
		}, "requests/0001.jsonl:1", "", want{verdict.Invalid, []verdict.Code{verdict.RequestTooLarge}}, ""},
		{"CR LF line ends", func(e *env, r1, r2 []byte) {
			e.rewriteBatches(slices.Concat(r1, []byte("\r\n"), r2, []byte("\r\n")))
		}, "requests/0001.jsonl:1", "", want{verdict.Invalid, []verdict.Code{verdict.FormatInvalid}},
			"The request breaks the request format: the line ends in CR LF; the lines of a batch end in LF alone (was the batch converted for another system?)."},
		{"missing final newline", func(e *env, r1, r2 []byte) {
			e.rewriteBatches(slices.Concat(r1, []byte("\n"), r2))
		}, "requests/0001.jsonl:2", "", want{verdict.Invalid, []verdict.Code{verdict.FormatInvalid}},
			"The request breaks the request format: the batch's last line does not end in a newline (LF); every line of a batch ends in one, the last too, so that a batch cut short at a line's end is not taken for a whole one."},
		{"empty line", func(e *env, r1, r2 []byte) {
			e.rewriteBatches(lf(r1, nil, r2))
		}, "requests/0001.jsonl:2", "", want{verdict.Invalid, []verdict.Code{verdict.FormatInvalid}},
			"The request breaks the request format: the line is empty; each line of a batch is one request."},
		{"nesting deeper than the limit", func(e *env, r1, r2 []byte) {
			deep := []byte(`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}")
			e.rewriteBatches(lf(r1, deep, r2))
		}, "requests/0001.jsonl:2", "", want{verdict.Invalid, []verdict.Code{verdict.JSONInvalid}},
			"The request is not strict JSON: at byte 20: arrays and objects nest more than 16 levels deep."},
		{"an array of more entries than any request has", func(e *env, r1, r2 []byte) {
			e.rewriteBatches(lf(r1, []byte("["+strings.Repeat("0,", 40)+"0]"), r2))
		}, "requests/0001.jsonl:2", "", want{verdict.Invalid, []verdict.Code{verdict.RequestTooLarge}},
			"The request has an array or object of more than 32 entries (at byte 64)."},
		{"same request id in two batches", func(e *env, r1, r2 []byte) {
			e.pack.Requests[1] = it.Lines(e.f.Add(t, "r1", "other-project", "n2"))[0]
			e.pack.MaxBatchRequests = 1
		}, "requests/0002.jsonl:1", "r1", want{verdict.Invalid, []verdict.Code{verdict.DuplicateID}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			lines := it.Lines(e.f.Add(t, "r1", "new-project", "n1"), e.f.Add(t, "r2", "other-project", "n2"))
			e.pack = e.f.Pack("b1", lines...)
			c.setup(e, lines[0], lines[1])
			o := e.run()
			if o.refused != nil {
				t.Fatalf("bundle refused: %v", o.refused)
			}
			var found *verdict.Verdict
			for i, v := range o.list {
				if v.At() == c.at {
					found = &o.list[i]
				}
			}
			if found == nil {
				t.Fatalf("no verdict at %s; have %+v", c.at, o.list)
			}
			if found.RequestID != c.id || found.Class != c.want.class || !reflect.DeepEqual(found.Codes(), c.want.codes) {
				t.Fatalf("at %s: got %q %s %v, want %q %s %v", c.at, found.RequestID, found.Class, found.Codes(), c.id, c.want.class, c.want.codes)
			}
			if c.sentence != "" && found.Findings[0].Sentence != c.sentence {
				t.Errorf("sentence %q\nwant     %q", found.Findings[0].Sentence, c.sentence)
			}
			e.saveCorpus(c.name, o, corpusExpect{ID: c.id, At: c.at, Class: c.want.class, Codes: c.want.codes})
		})
	}
}
