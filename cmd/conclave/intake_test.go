package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/hsm/softkey"
	it "github.com/conclave-keys/conclave/intake/intaketest"
)

func writeKeyFiles(t *testing.T, dir, name string, s crypto.Signer) (priv, pub string) {
	t.Helper()
	data, err := softkey.Marshal(s, []byte("test passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	priv = filepath.Join(dir, name+".key")
	if err := os.WriteFile(priv, data, 0o600); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub = filepath.Join(dir, name+".pub")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// intakeFiles writes what the online side's commands are given: a
// passphrase file, the delegating metadata and the intake key pair.
func intakeFiles(t *testing.T, f *it.Fixture) (dir, pass, del, intakePriv, intakePub string) {
	t.Helper()
	dir = t.TempDir()
	pass = filepath.Join(dir, "pass")
	del = filepath.Join(dir, "7.claimed.json")
	if err := os.WriteFile(pass, []byte("test passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(del, f.DelegatorBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	intakePriv, intakePub = writeKeyFiles(t, dir, "intake", f.Intake.Signer)
	return dir, pass, del, intakePriv, intakePub
}

// TestIntakeToImport: the online side writes requests and a bundle with
// the CLI; the offline side judges it.
func TestIntakeToImport(t *testing.T) {
	f := it.New(t)
	dir, pass, del, intakePriv, intakePub := intakeFiles(t, f)
	n1, n1pub := writeKeyFiles(t, dir, "n1", it.Key("n1").Signer)
	n2, n2pub := writeKeyFiles(t, dir, "n2", it.Key("n2").Signer)
	a1, _ := writeKeyFiles(t, dir, "a1", it.Key("a1").Signer)
	a2, _ := writeKeyFiles(t, dir, "a2", it.Key("a2").Signer)

	reqs := filepath.Join(dir, "reqs")
	os.Mkdir(reqs, 0o755)
	steps := [][]string{
		{"intake", "request", "--kind", "add", "--id", "r1", "--project", "New_Project", "--key", n1pub, "--requested-by", "alice@example.org",
			"--sign-with", n1, "--delegator", del, "--passphrase-file", pass, "--made", "2026-11-24T10:00:00Z", "--out", filepath.Join(reqs, "r1.json")},
		{"intake", "request", "--kind", "rotate", "--id", "r2", "--project", "existing-a", "--key", n2pub, "--requested-by", "bob",
			"--sign-with", n2, "--authorise-with", a1, "--authorise-with", a2, "--delegator", del, "--passphrase-file", pass, "--out", filepath.Join(reqs, "r2.json")},
		{"intake", "request", "--kind", "remove", "--id", "r3", "--project", "existing-a", "--requested-by", "carol",
			"--authorise-with", a1, "--delegator", del, "--passphrase-file", pass, "--out", filepath.Join(reqs, "r3.json")},
		{"intake", "pack", "--id", "b-cli", "--source", "example.org", "--delegator", "claimed=" + del, "--intake-key", intakePriv, "--passphrase-file", pass,
			"--out", filepath.Join(dir, "bundle"), filepath.Join(reqs, "r1.json"), filepath.Join(reqs, "r2.json"), filepath.Join(reqs, "r3.json")},
	}
	for _, s := range steps {
		if code, out, errOut := run(t, s...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", s[:2], code, out, errOut)
		}
	}
	intakeKey, err := loadPublicKey(intakePub)
	if err != nil {
		t.Fatal(err)
	}
	v := importVault(t, f.DelegatorBytes, it.Key("claimed-owner").Key, intakeKey, "example.org", "", nil)
	code, out, errOut := run(t, "import", "--dry-run", "--json", "--vault", v, "--now", "2026-11-24T12:00:00Z", filepath.Join(dir, "bundle"))
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	r := decodeReport(t, out)
	got := map[string]string{}
	for _, v := range r.Requests {
		got[v.RequestID] = string(v.Class) + " " + strings.Trim(strings.Join(codeStrings(v.Codes()), ","), " ")
	}
	want := map[string]string{
		"r1": "needs-judgement no-dwell",
		// r2 and r3 change the same project: a bundle may change a project once.
		"r2": "invalid duplicate-project",
		"r3": "invalid keychange-below-threshold,duplicate-project",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: got %q, want %q", id, got[id], w)
		}
	}
	// Writing over an existing request is refused; it is a file the
	// command cannot write, not a verdict (exit status 3).
	code, _, errOut = run(t, steps[0]...)
	if code != 3 || !strings.Contains(errOut, "file exists") {
		t.Fatalf("overwrite: exit %d: %s", code, errOut)
	}
}

func codeStrings(cs []verdict.Code) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

// TestIntakeRequestSignNeedsDelegator: a possession statement is bound to
// the delegating metadata's version, so signing one needs that metadata.
func TestIntakeRequestSignNeedsDelegator(t *testing.T) {
	dir := t.TempDir()
	n1, n1pub := writeKeyFiles(t, dir, "n1", it.Key("n1").Signer)
	code, _, errOut := run(t, "intake", "request", "--kind", "add", "--id", "r1", "--project", "p", "--key", n1pub, "--requested-by", "x",
		"--sign-with", n1, "--out", filepath.Join(dir, "r1.json"))
	if code != 2 || !strings.Contains(errOut, "--sign-with needs --delegator: the possession statement is bound to its version") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestIntakeOutputIsEscaped: the file name given on the command line is
// shown through termtext, so it cannot rewrite the terminal.
func TestIntakeOutputIsEscaped(t *testing.T) {
	dir := t.TempDir()
	_, pub := writeKeyFiles(t, dir, "n1", it.Key("n1").Signer)
	out := filepath.Join(dir, "r\x1b[2K.json")
	code, stdout, errOut := run(t, "intake", "request", "--kind", "add", "--id", "r1", "--project", "p", "--key", pub, "--requested-by", "x", "--made", "2026-11-24T10:00:00Z", "--out", out)
	want := "wrote add request r1 for p to " + filepath.Join(dir, `r\x1b[2K.json`) + "\n"
	if code != 0 || stdout != want {
		t.Errorf("exit %d (%s)\nstdout %q\nwant   %q", code, errOut, stdout, want)
	}
}

// TestIntakePackSources: requests come from files, a directory of them
// (its *.json files in name order) or standard input as JSON Lines (CR LF
// and empty lines allowed there); each lands as one line of a batch, in
// the order given, written canonically whatever whitespace the input had.
// A second request of one id, or a line Conclave would not read, is
// refused naming where each came from, and nothing is written.
func TestIntakePackSources(t *testing.T) {
	f := it.New(t)
	dir, pass, del, intakePriv, intakePub := intakeFiles(t, f)
	reqs := filepath.Join(dir, "reqs")
	if err := os.Mkdir(reqs, 0o755); err != nil {
		t.Fatal(err)
	}
	r1, r2, r3 := f.Add(t, "r1", "p-one", "n1").Encode(), f.Add(t, "r2", "p-two", "n2").Encode(), f.Add(t, "r3", "p-three", "n3").Encode()
	// r2 pretty-printed, as another tool might write it.
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, r2, "", "  "); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"b.json": pretty.Bytes(), "a.json": r1, "notes.txt": []byte("not a request")} {
		if err := os.WriteFile(filepath.Join(reqs, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pack := func(stdin string, out string, sources ...string) (int, string, string) {
		var o, e bytes.Buffer
		args := append([]string{"intake", "pack", "--id", "b1", "--source", "example.org", "--delegator", "claimed=" + del,
			"--intake-key", intakePriv, "--passphrase-file", pass, "--out", out}, sources...)
		code := runMain(context.Background(), &environment{stdin: strings.NewReader(stdin), stdout: &o, stderr: &e}, args)
		return code, o.String(), e.String()
	}
	out := filepath.Join(dir, "bundle")
	code, stdout, stderr := pack("\n"+string(r3)+"\r\n", out, reqs, "-")
	if code != 0 || stdout != "wrote bundle b1 with 3 requests to "+out+"\n" {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	batch, err := os.ReadFile(filepath.Join(out, "requests", "0001.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if want := string(r1) + "\n" + string(r2) + "\n" + string(r3) + "\n"; string(batch) != want {
		t.Fatalf("batch:\n%s\nwant:\n%s", batch, want)
	}
	intakeKey, err := loadPublicKey(intakePub)
	if err != nil {
		t.Fatal(err)
	}
	v := importVault(t, f.DelegatorBytes, it.Key("claimed-owner").Key, intakeKey, "example.org", "", nil)
	code, stdout, stderr = run(t, "import", "--dry-run", "--json", "--vault", v, "--now", "2026-11-24T12:00:00Z", out)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	got := map[string]string{}
	for _, v := range decodeReport(t, stdout).Requests {
		got[v.RequestID] = v.At()
	}
	if want := map[string]string{"r1": "requests/0001.jsonl:1", "r2": "requests/0001.jsonl:2", "r3": "requests/0001.jsonl:3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("requests at %v, want %v", got, want)
	}

	for _, c := range []struct {
		name, stdin string
		sources     []string
		want        string
	}{
		{"same id twice", string(r1) + "\n", []string{reqs, "-"},
			"error: standard input, line 1: request id \"r1\" is also the id of " + filepath.Join(reqs, "a.json") + "; each request of a bundle has its own id\n"},
		{"a line Conclave would not read", string(r3) + "\n{}\n", []string{"-"},
			"error: standard input, line 2: format: is missing\n"},
		{"a line too long", strings.Repeat(" ", 1<<20+1) + "\n", []string{"-"},
			"error: standard input, line 1: longer than 1048576 bytes, the most a request may be\n"},
		{"a line past what is read", string(r3) + "\n" + strings.Repeat(" ", 3<<20) + "\n", []string{"-"},
			"error: standard input, line 2: longer than 1048576 bytes, the most a request may be\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bundle")
			code, stdout, stderr := pack(c.stdin, out, c.sources...)
			if code != 1 || stderr != c.want || stdout != "" {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s was written (%v)", out, err)
			}
		})
	}
}

// TestIntakePackNothingOrTwice: a pipe that brought nothing, and a file
// named twice (itself and in its directory), are command-line mistakes
// refused before anything is written, not an empty bundle or a request
// said to clash with itself.
func TestIntakePackNothingOrTwice(t *testing.T) {
	f := it.New(t)
	dir, pass, del, intakePriv, _ := intakeFiles(t, f)
	reqs := filepath.Join(dir, "reqs")
	a := filepath.Join(reqs, "a.json")
	writeBytes(t, a, f.Add(t, "r1", "p-one", "n1").Encode())
	for _, c := range []struct {
		name    string
		sources []string
		want    string
	}{
		{"nothing on standard input", []string{"-"}, "error: standard input holds no request (JSON Lines: one request a line)\n"},
		{"a file named twice", []string{reqs, a}, "error: " + a + " is named twice\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bundle")
			var o, e bytes.Buffer
			args := append([]string{"intake", "pack", "--id", "b1", "--source", "example.org", "--delegator", "claimed=" + del,
				"--intake-key", intakePriv, "--passphrase-file", pass, "--out", out}, c.sources...)
			code := runMain(context.Background(), &environment{stdin: strings.NewReader(""), stdout: &o, stderr: &e}, args)
			if code != 2 || o.String() != "" || !strings.HasPrefix(e.String(), c.want) {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, o.String(), e.String(), c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s was written (%v)", out, err)
			}
		})
	}
}

// TestIntakePackDelegatorTwice: a role given to --delegator twice is a
// command-line mistake, said as such before the intake key is opened,
// not the manifest's "bases are sorted by role" from inside the pack.
func TestIntakePackDelegatorTwice(t *testing.T) {
	f := it.New(t)
	dir, pass, del, intakePriv, _ := intakeFiles(t, f)
	req := writeBytes(t, filepath.Join(dir, "reqs", "a.json"), f.Add(t, "r1", "p-one", "n1").Encode())
	out := filepath.Join(t.TempDir(), "bundle")
	code, stdout, stderr := run(t, "intake", "pack", "--id", "b1", "--source", "example.org", "--delegator", "claimed="+del, "--delegator", "claimed="+del,
		"--intake-key", intakePriv, "--passphrase-file", pass, "--out", out, req)
	want := "error: --delegator: role claimed is named twice\n"
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s was written (%v)", out, err)
	}
}

// TestIntakePackCommandLineMistakes: an --id or --source the bundle format
// does not allow, an --out that is already there, and something in a
// requests directory named *.json that is not a regular file are mistakes
// in the command line (exit status 2), refused before anything is written,
// never "could not finish" (3).
func TestIntakePackCommandLineMistakes(t *testing.T) {
	f := it.New(t)
	dir, pass, del, intakePriv, _ := intakeFiles(t, f)
	reqs := filepath.Join(dir, "reqs")
	writeBytes(t, filepath.Join(reqs, "a.json"), f.Add(t, "r1", "p-one", "n1").Encode())
	odd := filepath.Join(dir, "odd")
	writeBytes(t, filepath.Join(odd, "a.json"), f.Add(t, "r2", "p-two", "n2").Encode())
	if err := os.Symlink(reqs, filepath.Join(odd, "link.json")); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo", "p.json")
	if err := os.MkdirAll(filepath.Dir(fifo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	existing := t.TempDir()
	for _, c := range []struct {
		name, id, source string
		out              string
		sources          []string
		want             string
	}{
		{"bad id", "b 1", "example.org", "", []string{reqs},
			"error: pack: the manifest breaks the bundle format: bundle_id: an id may hold only ASCII letters, digits, \".\", \"_\" and \"-\", starting with a letter or digit\n"},
		{"bad source", "b1", "", "", []string{reqs}, "error: --id, --source, --delegator, --intake-key and --out are required\n"},
		{"unprintable source", "b1", "example\x01org", "", []string{reqs},
			"error: pack: the manifest breaks the bundle format: source (at byte 357): control character 0x01 inside a string must be escaped\n"},
		{"existing out", "b1", "example.org", existing, []string{reqs},
			"error: --out " + existing + " is already there: name a new directory, the bundle's\n"},
		{"symlink to a directory", "b1", "example.org", "", []string{odd},
			"error: open " + filepath.Join(odd, "link.json") + ": it is a directory, not a regular file: only regular files are read from the transfer medium\n"},
		{"named pipe", "b1", "example.org", "", []string{filepath.Dir(fifo)},
			"error: open " + fifo + ": it is a named pipe (FIFO), not a regular file: only regular files are read from the transfer medium\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := c.out
			if out == "" {
				out = filepath.Join(t.TempDir(), "bundle")
			}
			code, stdout, stderr := run(t, append([]string{"intake", "pack", "--id", c.id, "--source", c.source, "--delegator", "claimed=" + del,
				"--intake-key", intakePriv, "--passphrase-file", pass, "--out", out}, c.sources...)...)
			if code != 2 || stdout != "" || !strings.HasPrefix(stderr, c.want) {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, c.want)
			}
			if c.out == "" {
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("%s was written (%v)", out, err)
				}
			}
		})
	}
}
