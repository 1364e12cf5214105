package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/verify"
)

// fuzzNames are the names the fuzzed files take: a delegated role's name
// comes from its file name, and root.json, N.root.json and
// targets.json each take another path through the walk.
var fuzzNames = []string{"root.json", "2.root.json", "3.root.json", "targets.json", "2.targets.json", "claimed.json", "1.claimed.json", "other.json", "snapshot.json", "timestamp.json", "x.json", "p.json"}

// metadataSeeds are every metadata file kept as test data in the
// repository, and the Go fuzz corpus entries of the metadata parser.
func metadataSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, pattern := range []string{
		"../../ceremony/tuf/testdata/roundtrip/*.json",
		"../../ceremony/validate/testdata/hostile/*.json",
		"../../docs/formats/examples/*.claimed.json",
		"../../docs/formats/examples/export/*.claimed.json",
		"../../docs/formats/examples/verify/*.json",
	} {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			f.Fatalf("no seed files %s (%v)", pattern, err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	corpus, err := filepath.Glob("../../ceremony/tuf/testdata/fuzz/FuzzMetadataRoundTrip/*")
	if err != nil || len(corpus) == 0 {
		f.Fatalf("no corpus files (%v)", err)
	}
	for _, name := range corpus {
		seeds = append(seeds, corpusBytes(f, name)...)
	}
	return seeds
}

// corpusBytes reads the []byte values of a Go fuzz corpus file
// ("go test fuzz v1" then one Go literal a line).
func corpusBytes(f *testing.F, name string) [][]byte {
	f.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if lit, ok := strings.CutPrefix(line, "[]byte("); ok {
			s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
			if err != nil {
				f.Fatalf("%s: %v", name, err)
			}
			out = append(out, []byte(s))
		}
	}
	return out
}

// FuzzVerify runs conclave verify end to end, as a person would: a
// trusted root and three files, any bytes, under names that take every
// path of the walk. It must never panic or fail with anything but a
// verdict (exit 0 or 1), and the verdicts must not depend on the order
// of the files.
func FuzzVerify(f *testing.F) {
	seeds := metadataSeeds(f)
	// A valid chain, so that mutations start from files that pass.
	chain := fuzzChain(f)
	f.Add(chain[0], chain[1], chain[2], chain[3], uint16(0x0531))
	f.Add(chain[0], chain[3], chain[2], chain[1], uint16(0x0135))
	for i, s := range seeds {
		f.Add(s, chain[1], chain[2], chain[3], uint16(0x0531))
		f.Add(chain[0], s, seeds[(i+1)%len(seeds)], chain[3], uint16(i))
	}
	f.Fuzz(func(t *testing.T, trusted, a, b, c []byte, names uint16) {
		dir := t.TempDir()
		write := func(name string, data []byte) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		for _, d := range []string{"a", "b", "c"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		files := []string{
			write("a/"+fuzzNames[int(names&0xf)%len(fuzzNames)], a),
			write("b/"+fuzzNames[int(names>>4&0xf)%len(fuzzNames)], b),
			write("c/"+fuzzNames[int(names>>8&0xf)%len(fuzzNames)], c),
		}
		root := write("trusted.json", trusted)
		args := []string{"verify", "--at", "2026-12-01T00:00:00Z", "--trusted-root", root}
		if names&0x8000 != 0 {
			args = append(args, "--json")
		}
		if names&0x4000 != 0 {
			args = append(args, "--delegator", files[0])
		}
		code, out, errOut := run(t, append(args, files...)...)
		if code != 0 && code != 1 || errOut != "" {
			t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
		}
		if names&0x8000 != 0 && !json.Valid([]byte(out)) {
			t.Fatalf("--json printed no JSON:\n%s", out)
		}
		if names&0x8000 == 0 && !strings.Contains(out, "\nRESULT: ") {
			t.Fatalf("no result line:\n%s", out)
		}

		// The same files in reverse order: the same verdicts.
		in := func(order ...int) []verify.Input {
			var out []verify.Input
			for _, i := range order {
				out = append(out, verify.Input{Name: files[i], Data: [][]byte{a, b, c}[i]})
			}
			return out
		}
		o := verify.Options{Trusted: verify.Input{Name: root, Data: trusted}, Now: testNow}
		o.Files = in(0, 1, 2)
		fwd, err := verify.Walk(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		o.Files = in(2, 1, 0)
		rev, err := verify.Walk(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if fwd.Verdict != rev.Verdict || !slices.Equal(verdictsOf(fwd), verdictsOf(rev)) {
			t.Fatalf("the order changed the verdict: %s %v, reversed %s %v", fwd.Verdict, verdictsOf(fwd), rev.Verdict, verdictsOf(rev))
		}
	})
}

// verdictsOf lists the verdicts, sorted: which of two identical files is
// skipped depends on the order, how many does not.
func verdictsOf(r *verify.Report) []string {
	var out []string
	for _, f := range r.Files {
		out = append(out, string(f.Verdict))
	}
	slices.Sort(out)
	return out
}

// fuzzChain is the fixture's valid chain as bytes: root 1, root 2,
// targets, claimed.
func fuzzChain(f *testing.F) [4][]byte {
	fx := newFixtureIn(f, f.TempDir())
	var chain [4][]byte
	for i, p := range []string{fx.root1, fx.root2, fx.top, fx.claimed} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		chain[i] = b
	}
	return chain
}
