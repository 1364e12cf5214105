package vaultdir

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/ceremony/vault/vaulttest"
	"golang.org/x/sys/unix"
)

// adopt makes a vault directory holding the fixture's first generation,
// and the files of its second.
func adopt(t *testing.T) (*Dir, *vaulttest.Fixture, []vault.File) {
	t.Helper()
	return adoptIn(t, t.TempDir())
}

// adoptIn is adopt with the vault directory made in parent.
func adoptIn(t *testing.T, parent string) (*Dir, *vaulttest.Fixture, []vault.File) {
	t.Helper()
	fx := vaulttest.New(t)
	d, err := Create(filepath.Join(parent, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	name, err := d.WriteGeneration(fx.Adopted(t))
	if err != nil {
		t.Fatal(err)
	}
	if name != "gen-000001" {
		t.Fatalf("first generation %s", name)
	}
	v, err := d.OpenCurrent()
	if err != nil {
		t.Fatal(err)
	}
	c2 := vaulttest.Claimed(t, 2)
	vaulttest.Sign(t, c2, fx.Targets.Targets.Delegations.Keys, fx.Holders[0], fx.Holders[1])
	next, err := v.Next(vault.Update{
		CeremonyID: "c1",
		Confirmed:  vaulttest.Now.Add(time.Hour),
		Roles:      map[string]*tuf.File{"claimed": c2},
		Logs:       []vault.File{{Name: "log.jsonl", Data: []byte("{}\n")}, {Name: "blobs/00/ab", Data: []byte("x")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, fx, next
}

func TestWriteGenerationSwitchesAndKeepsTheOld(t *testing.T) {
	d, _, next := adopt(t)
	name, err := d.WriteGeneration(next)
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.OpenCurrent()
	if err != nil {
		t.Fatal(err)
	}
	if name != "gen-000002" || v.Generation != name || v.Delegators["claimed"].Version() != 2 || v.LastCeremonyID != "c1" {
		t.Errorf("current %s (%s), claimed version %d", name, v.Generation, v.Delegators["claimed"].Version())
	}
	gens, err := d.Generations()
	if err != nil {
		t.Fatal(err)
	}
	want := []Generation{{Name: "gen-000001"}, {Name: "gen-000002", Current: true}}
	if !reflect.DeepEqual(gens, want) {
		t.Errorf("generations %+v, want %+v", gens, want)
	}
	// The old generation is whole and still opens.
	if _, err := vault.Open(vault.NewMemReader(readTree(t, filepath.Join(d.Path(), "gen-000001")))); err != nil {
		t.Errorf("the old generation: %v", err)
	}
	// Writing it again does not follow the current one.
	if _, err := d.WriteGeneration(next); err == nil {
		t.Error("the same generation written twice")
	}
}

// readTree reads a directory's files by slash path.
func readTree(t *testing.T, dir string) []vault.File {
	t.Helper()
	var out []vault.File
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out = append(out, vault.File{Name: filepath.ToSlash(rel), Data: b})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCrashBeforeTheSwitchKeepsTheOldGeneration(t *testing.T) {
	d, _, next := adopt(t)
	// What a crash after the files and before CURRENT leaves.
	if _, _, err := d.writeFiles(next); err != nil {
		t.Fatal(err)
	}
	v, err := d.OpenCurrent()
	if err != nil {
		t.Fatal(err)
	}
	if v.Generation != "gen-000001" {
		t.Errorf("current %s after an interrupted write", v.Generation)
	}
	gens, err := d.Generations()
	if err != nil {
		t.Fatal(err)
	}
	want := []Generation{{Name: "gen-000001", Current: true}, {Name: "gen-000002", HalfWritten: true}}
	if !reflect.DeepEqual(gens, want) {
		t.Errorf("generations %+v, want %+v", gens, want)
	}
	// The next write sets the half-written one aside.
	if _, err := d.WriteGeneration(next); err != nil {
		t.Fatal(err)
	}
	gens, err = d.Generations()
	if err != nil {
		t.Fatal(err)
	}
	want = []Generation{{Name: "gen-000001"}, {Name: "gen-000002", Current: true}, {Name: "gen-000002.interrupted-1", HalfWritten: true}}
	if !reflect.DeepEqual(gens, want) {
		t.Errorf("generations %+v, want %+v", gens, want)
	}
}

func TestCurrentFollowsNoLink(t *testing.T) {
	d, _, _ := adopt(t)
	gen := filepath.Join(d.Path(), "gen-000001")
	if err := os.Rename(filepath.Join(gen, "policy.yaml"), filepath.Join(d.Path(), "elsewhere")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(d.Path(), "elsewhere"), filepath.Join(gen, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := d.OpenCurrent()
	var oe *vault.OpenError
	if !errors.As(err, &oe) || oe.File != vault.PolicyFile || !errors.Is(err, ErrSymlink) {
		t.Errorf("OpenCurrent = %v", err)
	}
}

func TestCurrentChecksTheGenerationHash(t *testing.T) {
	d, _, _ := adopt(t)
	cur := filepath.Join(d.Path(), CurrentFile)
	if err := os.WriteFile(cur, []byte("gen-000001 "+strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := d.Current()
	m, rerr := os.ReadFile(filepath.Join(d.Path(), "gen-000001", vault.ManifestFile))
	if rerr != nil {
		t.Fatal(rerr)
	}
	want := "vault " + d.Path() + ": CURRENT names generation gen-000001 with hash " + strings.Repeat("ab", 32) +
		", but its generation.json hashes to " + vault.SHA256Hex(m)
	if err == nil || err.Error() != want {
		t.Errorf("Current = %v\nwant %s", err, want)
	}
}

func TestNoGeneration(t *testing.T) {
	d, err := Create(filepath.Join(t.TempDir(), "v"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, _, err := d.Current(); !errors.Is(err, ErrNoGeneration) {
		t.Errorf("Current = %v", err)
	}
}

func TestOneWriterAtATime(t *testing.T) {
	d, _, next := adopt(t)
	other, err := Open(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := unix.Flock(other.fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteGeneration(next); !errors.Is(err, ErrInUse) {
		t.Errorf("WriteGeneration while another holds the vault = %v", err)
	}
	unix.Flock(other.fd, unix.LOCK_UN)
	if _, err := d.WriteGeneration(next); err != nil {
		t.Errorf("after the other let go: %v", err)
	}
}

func TestCreateRefusesANonEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	want := "create vault " + dir + ": the directory is not empty: a vault is made in a new or empty directory"
	if _, err := Create(dir); err == nil || err.Error() != want {
		t.Errorf("Create = %v", err)
	}
	empty := t.TempDir()
	d, err := Create(empty)
	if err != nil {
		t.Fatalf("an empty directory: %v", err)
	}
	d.Close()
}

// TestCreateAndOpenRefuseALinkWithASlash: a symbolic link planted where
// the vault is made, or opened, is refused however the path is written:
// "link/" names the directory it points to, which O_NOFOLLOW and Lstat
// follow.
func TestCreateAndOpenRefuseALinkWithASlash(t *testing.T) {
	dir := t.TempDir()
	elsewhere := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, link + "/", link + "//"} {
		want := "create vault " + p + ": it is a symbolic link, and a vault holds none"
		if d, err := Create(p); !errors.Is(err, ErrSymlink) || err.Error() != want {
			t.Errorf("Create(%q) = %v, want %q", p, err, want)
			if d != nil {
				d.Close()
			}
		}
		want = "open vault " + p + ": it is a symbolic link, and a vault holds none"
		if d, err := Open(p); !errors.Is(err, ErrSymlink) || err.Error() != want {
			t.Errorf("Open(%q) = %v, want %q", p, err, want)
			if d != nil {
				d.Close()
			}
		}
	}
	if ents, err := os.ReadDir(elsewhere); err != nil || len(ents) != 0 {
		t.Errorf("the link's target holds %d entries (%v)", len(ents), err)
	}
}

// TestWriteGenerationLinks: a file naming a Link holding its bytes is
// hard-linked into the generation (same inode, read-only); one whose Link
// holds other bytes, or is missing, is written from its Data.
func TestWriteGenerationLinks(t *testing.T) {
	d, _, next := adopt(t)
	src := t.TempDir()
	same := filepath.Join(src, "same")
	other := filepath.Join(src, "other")
	if err := os.WriteFile(same, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("y"), 0o600); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"ceremonies/c1/blobs/00/ab": same,
		"ceremonies/c1/log.jsonl":   other,
		"register.json":             filepath.Join(src, "missing"),
	}
	for i := range next {
		next[i].Link = links[next[i].Name]
	}
	name, err := d.WriteGeneration(next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.OpenCurrent(); err != nil {
		t.Fatal(err)
	}
	inode := func(p string) (uint64, os.FileMode) {
		t.Helper()
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Ino, st.Mode().Perm()
	}
	gen := filepath.Join(d.Path(), name)
	if a, mode := inode(filepath.Join(gen, "ceremonies/c1/blobs/00/ab")); a != func() uint64 { i, _ := inode(same); return i }() || mode != 0o400 {
		t.Errorf("the blob is not linked read-only: inode %d, mode %v", a, mode)
	}
	if a, _ := inode(filepath.Join(gen, "ceremonies/c1/log.jsonl")); a == func() uint64 { i, _ := inode(other); return i }() {
		t.Error("a source holding other bytes was linked")
	}
	for _, f := range next {
		got, err := os.ReadFile(filepath.Join(gen, f.Name))
		if err != nil || string(got) != string(f.Data) {
			t.Errorf("%s holds %q (%v), want %q", f.Name, got, err, f.Data)
		}
	}
}

// TestLockJournals: one ceremony at a time: a second lock of the same
// vault, from another opening of it, is refused until the first is
// released; a journal directory that is a symbolic link is refused, and
// nothing is made through it.
func TestLockJournals(t *testing.T) {
	d, _, _ := adopt(t)
	first, err := d.LockJournals()
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.LockJournals(); !errors.Is(err, ErrCeremonyRunning) {
		t.Fatalf("second lock: %v, want ErrCeremonyRunning", err)
	}
	first.Close()
	again, err := other.LockJournals()
	if err != nil {
		t.Fatalf("lock after the first was released: %v", err)
	}
	again.Close()

	elsewhere := t.TempDir()
	journals := filepath.Join(d.Path(), JournalDirName)
	if err := os.Remove(journals); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, journals); err != nil {
		t.Fatal(err)
	}
	_, err = d.LockJournals()
	want := "vault " + d.Path() + ": journal: it is a symbolic link, and a vault holds none"
	if !errors.Is(err, ErrSymlink) || err.Error() != want {
		t.Fatalf("journal directory a link: %v, want %q", err, want)
	}
}
