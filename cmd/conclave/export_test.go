package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/ceremony/export"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	it "github.com/conclave-keys/conclave/intake/intaketest"
	"golang.org/x/sys/unix"
)

// writeExport writes a planned export to the transfer media through
// airgap/safefile: into a new, empty directory, each file under a
// temporary name, synced, renamed without replacing anything, the
// directory synced, then read back and compared; a failure removes what
// this export wrote, so no partial export looks complete. The tests call
// it with export.Plan's files.
//
// A signal before the export starts stops it with nothing written. Once
// started, it runs to its end (a few files): a completed export is never
// removed, and safefile removes an incomplete one itself.
func writeExport(ctx context.Context, dir string, files []export.File) error {
	if ctx.Err() != nil {
		return interrupted("nothing was exported; %s was not made", dir)
	}
	out := make([]safefile.Export, len(files))
	for i, f := range files {
		out[i] = safefile.Export{Name: f.Name, Data: f.Data}
	}
	if err := safefile.ExportFiles(dir, out); err != nil {
		return withHint(err, "nothing written there can be mistaken for a complete export; fix the medium, then export again into a new, empty directory")
	}
	return nil
}

func planExport(t *testing.T, complete bool) []export.File {
	t.Helper()
	f := it.New(t)
	rep := &export.Report{BundleID: "b1", Role: "claimed", Version: f.Delegator.Version(), Requests: map[string]export.Outcome{
		"r1": {Decision: export.Approved, Codes: []verdict.Code{}},
		"r2": {Decision: export.Rejected, Codes: []verdict.Code{verdict.NoDwell}, Reason: "keys published only yesterday"},
		"r3": {Decision: export.Invalid, Codes: []verdict.Code{verdict.TakeoverAdd}},
	}}
	files, err := export.Plan("claimed", f.Delegator, complete, rep)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestExportRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "export")
	files := planExport(t, true)
	if err := writeExport(context.Background(), dir, files); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "intake", "check-export", dir)
	if code != 0 || !strings.Contains(out, "export "+dir+": exact; 2 files as listed, nothing else") ||
		!strings.Contains(out, "7.claimed.json  ") || !strings.Contains(out, "decisions.json  ") {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 3 {
		t.Fatalf("export holds %d entries, want exactly 3", len(names))
	}
	// Nothing was written beside the export directory.
	if beside, _ := os.ReadDir(filepath.Dir(dir)); len(beside) != 1 {
		t.Fatalf("the export's parent holds %d entries, want only the export", len(beside))
	}
	rep, _ := os.ReadFile(filepath.Join(dir, export.DecisionsName))
	if !strings.Contains(string(rep), `"note":"UNSIGNED: `) || !strings.Contains(string(rep), `"r2":{"codes":["no-dwell"],"decision":"rejected","reason":"keys published only yesterday"}`) {
		t.Fatalf("decision report: %s", rep)
	}
}

func TestExportPartialName(t *testing.T) {
	files := planExport(t, false)
	if files[0].Name != "7.claimed.partial.json" {
		t.Fatalf("partly signed metadata exported as %q", files[0].Name)
	}
}

// TestExportCheckRefuses: every way an export can differ from what was
// written is caught before publishing.
func TestExportCheckRefuses(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  string
	}{
		{"whitespace added to the metadata", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, "7.claimed.json"), func(b []byte) []byte { return append(b, '\n') })
		}, "7.claimed.json: not the file the export manifest lists (size or SHA-256 differs)"},
		{"extra file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "8.claimed.json"), []byte("{}"), 0o644)
		}, `the export directory holds "8.claimed.json" (a regular file), which its manifest does not list`},
		{"manifest not canonical", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, export.ManifestName), func(b []byte) []byte { return append([]byte(" "), b...) })
		}, "export-manifest.json: not in exact canonical form"},
		{"metadata replaced by a symlink", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "7.claimed.json")
			data, _ := os.ReadFile(p)
			other := filepath.Join(filepath.Dir(dir), "copy.json")
			os.WriteFile(other, data, 0o644)
			os.Remove(p)
			os.Symlink(other, p)
		}, "symbolic link"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "export")
			if err := writeExport(context.Background(), dir, planExport(t, true)); err != nil {
				t.Fatal(err)
			}
			c.spoil(t, dir)
			_, err := checkExport(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			// Through the command: a verdict (status 1), with what to do.
			code, out, errOut := run(t, "intake", "check-export", dir)
			wantErr := "error: " + err.Error() + "\nhint: do not publish this export: ask the key holders for a fresh copy\n"
			if code != 1 || out != "" || errOut != wantErr {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant %q", code, out, errOut, wantErr)
			}
		})
	}
}

func rewrite(t *testing.T, path string, change func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// smallTmpfs mounts a tmpfs of the given size (and flags), or skips.
func smallTmpfs(t *testing.T, size string, flags uintptr) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, "size="+size+",mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): needs root with CAP_SYS_ADMIN, as in the project's test container; the full and read-only medium cases are not checked", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, 0) })
	return dir
}

func TestExportFullMedium(t *testing.T) {
	mnt := smallTmpfs(t, "8k", 0)
	files := planExport(t, true)
	files[0].Data = append(files[0].Data[:len(files[0].Data):len(files[0].Data)], make([]byte, 64<<10)...) // larger than the medium
	dir := filepath.Join(mnt, "export")
	err := writeExport(context.Background(), dir, files)
	if !errors.Is(err, safefile.ErrMediumFull) {
		t.Fatalf("got %v, want ErrMediumFull", err)
	}
	var he *hintError
	if !errors.As(err, &he) || !strings.Contains(he.hint, "export again into a new, empty directory") {
		t.Fatalf("no hint: %v", err)
	}
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		t.Errorf("left behind on the full medium: %s", e.Name())
	}
}

func TestExportReadOnlyMedium(t *testing.T) {
	mnt := smallTmpfs(t, "1m", unix.MS_RDONLY)
	err := writeExport(context.Background(), filepath.Join(mnt, "export"), planExport(t, true))
	if !errors.Is(err, safefile.ErrReadOnly) {
		t.Fatalf("got %v, want ErrReadOnly", err)
	}
}

// TestExportInterruptedBeforeStart: a signal before the export begins
// writes nothing at all.
func TestExportInterruptedBeforeStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "export")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := writeExport(ctx, dir, planExport(t, true))
	if !errors.Is(err, context.Canceled) || err.Error() != "nothing was exported; "+dir+" was not made" {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s: %v", dir, err)
	}
}
