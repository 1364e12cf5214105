package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/history"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

// importSetup writes a vault holding the fixture's claimed metadata,
// intake key and repository, and a bundle, and returns the import
// arguments (without the bundle) and the bundle directory.
func importSetup(t *testing.T, pack func(t *testing.T, f *it.Fixture) *intake.Pack) (args []string, bundleDir string) {
	t.Helper()
	return importSetupWith(t, nil, pack)
}

// importSetupWith is importSetup with a history in the vault.
func importSetupWith(t *testing.T, history []byte, pack func(t *testing.T, f *it.Fixture) *intake.Pack) (args []string, bundleDir string) {
	t.Helper()
	f := it.New(t)
	v := importVault(t, f.DelegatorBytes, it.Key("claimed-owner").Key, f.Intake.Key, f.Rules.Repository, "", history)
	bundleDir = filepath.Join(t.TempDir(), "media", "bundle")
	if err := os.Mkdir(filepath.Dir(bundleDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := pack(t, f).Write(bundleDir); err != nil {
		t.Fatal(err)
	}
	return []string{"import", "--dry-run", "--vault", v, "--now", "2026-11-24T12:00:00Z", "--json"}, bundleDir
}

func twoRequests(t *testing.T, f *it.Fixture) *intake.Pack {
	return f.Pack("b1", it.Lines(
		f.Add(t, "r1", "new-project", "n1"),
		f.Rotate(t, "r2", "existing-a", []string{"a1", "a2"}, "n2"),
	)...)
}

// snapshot lists every path under dir with its size and mode, to show
// that a dry run changes nothing.
func snapshot(t *testing.T, dir string) string {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		lines = append(lines, p+" "+info.Mode().String()+" "+info.ModTime().String()+" "+strconv.FormatInt(info.Size(), 10))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func decodeReport(t *testing.T, out string) verdict.Report {
	t.Helper()
	var r verdict.Report
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	return r
}

func TestImportDryRun(t *testing.T) {
	args, dir := importSetup(t, twoRequests)
	root := filepath.Dir(filepath.Dir(dir))
	before := snapshot(t, root) + snapshot(t, args[3])
	code, out, errOut := run(t, append(args, dir)...)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	r := decodeReport(t, out)
	if r.Refused != nil || r.BundleID != "b1" || r.Source != "example.org" {
		t.Fatalf("report header: %+v", r)
	}
	// Needs judgement first (the add has no dwell), then rule-approvable.
	if len(r.Requests) != 2 || r.Requests[0].RequestID != "r1" || r.Requests[0].Class != verdict.NeedsJudgement ||
		r.Requests[1].RequestID != "r2" || r.Requests[1].Class != verdict.RuleApprovable {
		t.Fatalf("verdicts: %+v", r.Requests)
	}
	if r.Counts != (verdict.Counts{RuleApprovable: 1, NeedsJudgement: 1}) {
		t.Fatalf("counts: %+v", r.Counts)
	}
	if after := snapshot(t, root) + snapshot(t, args[3]); after != before {
		t.Fatalf("the dry run changed the file system (the medium or the vault):\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The text form says what it is.
	code, out, _ = run(t, append(args[:len(args)-1], dir)...)
	if code != 0 || !strings.Contains(out, "2 requests: 1 needs judgement, 1 rule-approvable, 0 invalid") ||
		!strings.Contains(out, "[no-dwell]") || !strings.Contains(out, "(dry run: nothing was changed)") {
		t.Fatalf("text report (exit %d):\n%s", code, out)
	}
}

func TestImportRequiresDryRun(t *testing.T) {
	code, _, errOut := run(t, "import", "somewhere")
	want := "error: name --dry-run: import judges a bundle and changes nothing\n" +
		"hint: a bundle is imported, decided and signed in a ceremony: conclave ceremony --vault DIR --in BUNDLE --out DIR --script FILE\n" +
		"usage: conclave " + importCommand.usage + "\n"
	if code != 2 || errOut != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut, want)
	}
}

// TestImportStandInFlagsGone: the trusted state comes from the vault
// only; the flags that once gave it say where it comes from now.
func TestImportStandInFlagsGone(t *testing.T) {
	for _, flag := range []string{"--delegator", "--intake-key", "--repository", "--any-repository", "--history", "--rules", "--path-template", "--role", "--recovery-notice", "--min-dwell"} {
		code, _, errOut := run(t, "import", "--dry-run", flag, "x", "somewhere")
		lines := strings.Split(errOut, "\n")
		if code != 2 || len(lines) < 3 || lines[0] != "error: unknown flag "+flag || !strings.HasPrefix(lines[1], "hint: ") || !strings.HasSuffix(lines[1], "name the vault with --vault DIR") && !strings.HasSuffix(lines[1], "name it with --vault DIR") {
			t.Errorf("%s: exit %d, stderr:\n%s", flag, code, errOut)
		}
	}
}

// TestImportUnreadableVaultIsNotAVerdict: exit status 1 means the bundle
// was judged and refused; a --vault that cannot be read stops the command
// before any judging (status 3), so a script cannot take it for a refused
// bundle.
func TestImportUnreadableVaultIsNotAVerdict(t *testing.T) {
	args, dir := importSetup(t, twoRequests)
	missing := filepath.Join(t.TempDir(), "vault")
	args = append(without(withoutBool(args, "--json"), "--vault"), "--vault", missing, dir)
	code, out, errOut := run(t, args...)
	if code != 3 || out != "" || !strings.HasPrefix(errOut, "error: ") || !strings.Contains(errOut, missing) {
		t.Fatalf("exit %d, stdout %q\nstderr %q", code, out, errOut)
	}
}

// TestImportVaultRefused: a vault that does not verify (its policy edited
// after the binding) is a verdict on the vault: status 1, and no bundle
// is judged against it.
func TestImportVaultRefused(t *testing.T) {
	args, dir := importSetup(t, twoRequests)
	v := args[3]
	gens, err := filepath.Glob(filepath.Join(v, "gen-*", "policy.yaml"))
	if err != nil || len(gens) != 1 {
		t.Fatalf("policy files: %q, %v", gens, err)
	}
	data, err := os.ReadFile(gens[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gens[0], append(data, '#', '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, append(withoutBool(args, "--json"), dir)...)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "error: vault "+v+", generation gen-000001: vault file ") {
		t.Fatalf("exit %d, stdout %q\nstderr %q", code, out, errOut)
	}
}

// TestImportHostileMedia: what the medium itself can do wrong, read
// through airgap/safefile. Each is refused with its exact code, and the
// dry run writes nothing anywhere.
func TestImportHostileMedia(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  verdict.Code
		say   string
	}{
		{"symlink escape to a file with the same bytes", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "requests", "0001.jsonl")
			data, _ := os.ReadFile(p)
			outside := filepath.Join(filepath.Dir(filepath.Dir(dir)), "outside.json")
			if err := os.WriteFile(outside, data, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(p)
			if err := os.Symlink(outside, p); err != nil {
				t.Fatal(err)
			}
		}, verdict.BundleUnreadable, "symbolic link"},
		{"symlinked directory", func(t *testing.T, dir string) {
			req := filepath.Join(dir, "requests")
			moved := filepath.Join(filepath.Dir(filepath.Dir(dir)), "elsewhere")
			if err := os.Rename(req, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, req); err != nil {
				t.Fatal(err)
			}
		}, verdict.BundleUnreadable, "symbolic link"},
		{"symlinked manifest", func(t *testing.T, dir string) {
			m := filepath.Join(dir, "manifest.json")
			moved := filepath.Join(filepath.Dir(filepath.Dir(dir)), "manifest.json")
			if err := os.Rename(m, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, m); err != nil {
				t.Fatal(err)
			}
		}, verdict.BundleUnreadable, "symbolic link"},
		{"named pipe instead of a request", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "requests", "0001.jsonl")
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skipf("cannot make a FIFO here: %v", err)
			}
		}, verdict.BundleUnreadable, "regular"},
		{"batch larger than the per-batch limit", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "requests", "0001.jsonl")
			if err := os.WriteFile(p, make([]byte, 9<<20), 0o644); err != nil {
				t.Fatal(err)
			}
		}, verdict.BundleLimit, "limit"},
		{"unlisted symlink beside the requests", func(t *testing.T, dir string) {
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, "requests", "passwd")); err != nil {
				t.Fatal(err)
			}
		}, verdict.BundleExtraFile, "passwd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args, dir := importSetup(t, twoRequests)
			c.spoil(t, dir)
			root := filepath.Dir(filepath.Dir(dir))
			before := snapshot(t, root)
			code, out, errOut := run(t, append(args, dir)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s%s", code, out, errOut)
			}
			r := decodeReport(t, out)
			if r.Refused == nil || r.Refused.Code != c.want || !strings.Contains(r.Refused.Sentence, c.say) {
				t.Fatalf("refusal %+v, want code %s mentioning %q", r.Refused, c.want, c.say)
			}
			if len(r.Requests) != 0 {
				t.Fatalf("a refused bundle has verdicts: %+v", r.Requests)
			}
			if after := snapshot(t, root); after != before {
				t.Fatalf("the dry run changed the file system")
			}
		})
	}
}

// TestImportHistoryCycle: what the vault's history remembers changes how
// a bundle is judged: a bundle id is never imported twice, published keys
// gain dwell, a recovery's notice period runs from its first sighting.
func TestImportHistoryCycle(t *testing.T) {
	var add, rec [][]byte
	_, dir1 := importSetup(t, func(t *testing.T, f *it.Fixture) *intake.Pack {
		a := f.Add(t, "r1", "new-project", "n1")
		r := f.Recover(t, "r2", "existing-b", "n2")
		add, rec = it.Lines(a), it.Lines(r)
		p := f.Pack("b1", append(append([][]byte{}, add...), rec...)...)
		st, _ := a.PossessionStatement()
		p.Published = map[string]request.Keyset{"new-project": st.Keyset}
		return p
	})
	// The history a ceremony that imported b1 leaves in the vault.
	f := it.New(t)
	b, err := bundle.Load(it.DirSource{Dir: dir1}, bundle.Trust{
		IntakeKeys: map[string]*tuf.Key{f.Intake.Key.ID(): f.Intake.Key}, Bases: f.Bases, Rules: f.Rules})
	if err != nil {
		t.Fatal(err)
	}
	h := &history.History{}
	h.Record(b, it.Now)
	args, _ := importSetupWith(t, h.Marshal(), twoRequests)
	// The same bundle again: a replay.
	code, out, _ := run(t, append(append([]string{}, args...), dir1)...)
	if code != 1 || decodeReport(t, out).Refused.Code != verdict.BundleReplayed {
		t.Fatalf("replay: exit %d\n%s", code, out)
	}
	// A later bundle with the same requests, 15 days on.
	dir2 := filepath.Join(filepath.Dir(dir1), "bundle-2")
	if err := f.Pack("b2", append(append([][]byte{}, add...), rec...)...).Write(dir2); err != nil {
		t.Fatal(err)
	}
	later := append(without(args, "--now"), "--now", "2026-12-09T12:00:00Z")
	code, out, errOut := run(t, append(later, dir2)...)
	if code != 0 {
		t.Fatalf("second bundle: exit %d\n%s%s", code, out, errOut)
	}
	got := map[string]string{}
	for _, v := range decodeReport(t, out).Requests {
		got[v.RequestID] = string(v.Class) + " " + strings.Join(codeStrings(v.Codes()), ",")
	}
	if got["r1"] != "rule-approvable " || got["r2"] != "needs-judgement recovery" {
		t.Fatalf("second bundle verdicts: %v", got)
	}
}

// corpusRules are the rules of a vault whose policy names only its
// repository, as the hostile corpus writes them.
var corpusRules = func() rules.Rules {
	r := rules.Default()
	r.Repository = "example.org"
	return r
}()

// TestImportCorpusThroughCLI: every case of the hostile corpus with the
// default rules, judged by the command against a vault as a key holder
// would run it, gives the recorded verdict.
func TestImportCorpusThroughCLI(t *testing.T) {
	corpus := filepath.Join("..", "..", "ceremony", "validate", "testdata", "hostile")
	cases, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := os.ReadFile(filepath.Join(corpus, "7.claimed.json"))
	if err != nil {
		t.Fatal(err)
	}
	intakeKey, err := loadPublicKey(filepath.Join(corpus, "intake-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	n, skipped := 0, 0
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(corpus, c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			var want struct {
				Refused verdict.Code   `json:"refused"`
				ID      string         `json:"request_id"`
				At      string         `json:"at"`
				Class   verdict.Class  `json:"class"`
				Codes   []verdict.Code `json:"codes"`
			}
			data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			var caseRules rules.Rules
			if data, err := os.ReadFile(filepath.Join(dir, "rules.json")); err != nil || json.Unmarshal(data, &caseRules) != nil {
				t.Fatalf("rules.json: %v", err)
			}
			if !reflect.DeepEqual(caseRules, corpusRules) {
				// Its own rules: judged with them in ceremony/validate's
				// corpus test; a vault's rules come from its policy.
				skipped++
				t.Skip("the case has rules of its own")
			}
			hist, err := os.ReadFile(filepath.Join(dir, "history.json"))
			if err != nil {
				t.Fatal(err)
			}
			v := importVault(t, claimed, it.Key("claimed-owner").Key, intakeKey, "example.org", "", hist)
			code, out, errOut := run(t, "import", "--dry-run", "--json", "--vault", v, "--now", "2026-11-24T12:00:00Z", filepath.Join(dir, "bundle"))
			r := decodeReport(t, out)
			if want.Refused != "" {
				if code != 1 || r.Refused == nil || r.Refused.Code != want.Refused {
					t.Fatalf("exit %d, refusal %+v, want %s\n%s", code, r.Refused, want.Refused, errOut)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, out, errOut)
			}
			for _, v := range r.Requests {
				if v.At() == want.At && v.RequestID == want.ID {
					got := v.Codes()
					if len(got) == 0 {
						got = nil
					}
					if v.Class != want.Class || strings.Join(codeStrings(got), ",") != strings.Join(codeStrings(want.Codes), ",") {
						t.Fatalf("got %s %v, want %s %v", v.Class, got, want.Class, want.Codes)
					}
					return
				}
			}
			t.Fatalf("no verdict on %q at %s", want.ID, want.At)
		})
	}
	if n-skipped < 90 {
		t.Fatalf("only %d of %d corpus cases judged through a vault", n-skipped, n)
	}
}
