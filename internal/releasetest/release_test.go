package releasetest

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseIsReproducible builds a release twice from one commit and
// compares the bytes. The commit is a snapshot of the working tree (so the
// test checks the code as it stands, committed or not); the two builds
// differ in everything a release must not depend on: the checkout's path,
// GOPATH, the build cache (the second starts empty), and Go and C settings
// left in the environment (GOFLAGS, GOAMD64, CGO_CFLAGS), which
// scripts/release.sh must reset.
func TestReleaseIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Conclave twice, about a minute: run without -short")
	}
	if raceEnabled {
		t.Skip("builds Conclave twice, about a minute: run without -race (the race detector has nothing to find here)")
	}
	for _, tool := range []string{"git", "gcc", "bash", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/setup.sh installs it): %v", tool, err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	first := filepath.Join(tmp, "a", "conclave")
	second := filepath.Join(tmp, "b", "somewhere", "else", "conclave-release")
	snapshot(t, root, first)
	git(t, tmp, "clone", "-q", first, second)
	commit := strings.TrimSpace(git(t, first, "rev-parse", "HEAD"))

	modcache := strings.TrimSpace(run(t, root, nil, "go", "env", "GOMODCACHE"))
	outA := filepath.Join(tmp, "out-a")
	outB := filepath.Join(tmp, "out-b")
	release(t, first, outA, []string{
		"GOPATH=" + filepath.Join(tmp, "gopath-a"),
		"GOMODCACHE=" + modcache,
		// The caller's warm build cache.
		"GOFLAGS=-buildvcs=false -tags=conclave_release_test",
		"GOAMD64=v3",
		"CGO_CFLAGS=-O0 -g3",
	})
	release(t, second, outB, []string{
		"GOPATH=" + filepath.Join(tmp, "gopath-b"),
		"GOMODCACHE=" + modcache,
		"GOCACHE=" + filepath.Join(tmp, "gocache-b"),
		"GOFLAGS=",
	})

	sumsA := readFile(t, filepath.Join(outA, "SHA256SUMS"))
	sumsB := readFile(t, filepath.Join(outB, "SHA256SUMS"))
	if sumsA != sumsB {
		t.Fatalf("the two builds differ:\nfirst (%s):\n%s\nsecond (%s):\n%s\nfirst BUILDINFO:\n%s\nsecond BUILDINFO:\n%s",
			first, sumsA, second, sumsB,
			readFile(t, filepath.Join(outA, "BUILDINFO")), readFile(t, filepath.Join(outB, "BUILDINFO")))
	}

	bin := "conclave-" + runtime.GOOS + "-" + runtime.GOARCH
	sums := parseSums(t, sumsA)
	if len(sums) != 2 || sums[bin] == "" || sums["BUILDINFO"] == "" {
		t.Fatalf("SHA256SUMS should list %s and BUILDINFO, got:\n%s", bin, sumsA)
	}
	info := readFile(t, filepath.Join(outA, "BUILDINFO"))
	for _, want := range []string{
		"commit: " + commit + "\n",
		"\tbuild\tvcs.revision=" + commit + "\n",
		"\tbuild\tvcs.modified=false\n",
		"\tbuild\t-trimpath=true\n",
		"\tbuild\tCGO_ENABLED=1\n",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("BUILDINFO lacks %q:\n%s", want, info)
		}
	}

	// What the binary says of itself matches SHA256SUMS here, on the
	// machine that built it; docs/release.md says why that proves nothing
	// about a binary in the room.
	version := run(t, tmp, nil, filepath.Join(outA, bin), "version")
	if want := "sha256:    " + sums[bin] + "\n"; !strings.Contains(version, want) {
		t.Errorf("conclave version should print %q, printed:\n%s", want, version)
	}
	if want := "revision:  " + commit + "\n"; !strings.Contains(version, want) {
		t.Errorf("conclave version should print %q, printed:\n%s", want, version)
	}
}

// snapshot copies the files git knows of in root (tracked, and untracked
// but not ignored) to dir and commits them there with a fixed author and
// time, so the snapshot's commit depends only on the files.
func snapshot(t *testing.T, root, dir string) {
	t.Helper()
	list := run(t, root, nil, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, name := range strings.Split(strings.TrimSuffix(list, "\x00"), "\x00") {
		src := filepath.Join(root, filepath.FromSlash(name))
		st, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the working tree and not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, dst); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "release test snapshot")
}

func release(t *testing.T, dir, out string, env []string) {
	t.Helper()
	run(t, dir, env, "bash", "scripts/release.sh", out)
}

// git runs git without the user's or the system's configuration (hooks,
// signing), as a fixed author at a fixed time.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return run(t, dir, []string{
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=release test", "GIT_AUTHOR_EMAIL=release-test@example.invalid",
		"GIT_COMMITTER_NAME=release test", "GIT_COMMITTER_EMAIL=release-test@example.invalid",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
	}, "git", args...)
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s in %s: %v\n%s%s", name, strings.Join(args, " "), dir, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// parseSums reads sha256sum's output: "HEX  NAME" per line.
func parseSums(t *testing.T, s string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		hash, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(hash) != 64 {
			t.Fatalf("SHA256SUMS line %q is not sha256sum's form", sc.Text())
		}
		sums[name] = hash
	}
	return sums
}

// TestReleaseRefusesWhatIsNotACommit: a tree with changes, or a directory
// outside git, gives bytes no one can rebuild from a commit, so the script
// stops before building.
func TestReleaseRefusesWhatIsNotACommit(t *testing.T) {
	for _, tool := range []string{"git", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/setup.sh installs it): %v", tool, err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dirty := filepath.Join(t.TempDir(), "conclave")
	snapshot(t, root, dirty)
	if err := os.WriteFile(filepath.Join(dirty, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "conclave")
	for _, name := range []string{"scripts/release.sh", "scripts/lib.sh", "go.mod"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(plain, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(plain, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ dir, want string }{
		{dirty, "error: the tree has uncommitted or untracked files (git status): a release is built from a clean checkout of a commit\n"},
		{plain, "error: " + plain + " is not a git checkout: a release is built from a git commit\n"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		cmd := exec.Command("bash", "scripts/release.sh", out)
		cmd.Dir = tc.dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_CEILING_DIRECTORIES="+filepath.Dir(tc.dir))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 1 || stderr.String() != tc.want {
			t.Errorf("in %s: exit %d (%v), stderr %q, want exit 1 and %q", tc.dir, code, err, stderr.String(), tc.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("in %s: the output directory was made (%v)", tc.dir, err)
		}
	}
}
