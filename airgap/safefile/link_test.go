package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// linkTestFiles is a small export for the link tests.
var linkTestFiles = []Export{{"7.claimed.json", []byte("{}")}, {"decisions.json", []byte("{}")}}

// TestExportRefusesLinkAtExportDir: a link planted on the medium where the
// export directory goes, pointing off the medium, is refused and nothing
// is written through it: files written there would be read back there
// and reported as written.
func TestExportRefusesLinkAtExportDir(t *testing.T) {
	medium, outside := t.TempDir(), t.TempDir()
	dir := filepath.Join(medium, "export")
	must(t, os.Symlink(outside, dir))
	err := ExportFiles(dir, linkTestFiles)
	want := "export " + dir + ": " + dir + " is a symbolic link: " + ErrSymlink.Error() + "; nothing was written"
	if !errors.Is(err, ErrSymlink) || err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if names := listNames(t, outside); names != "" {
		t.Fatalf("the link was followed: %s holds %s", outside, names)
	}
}

// TestExportRefusesLinkAboveExportDir: a link planted on the medium at a
// directory above the export directory.
func TestExportRefusesLinkAboveExportDir(t *testing.T) {
	medium, outside := t.TempDir(), t.TempDir()
	must(t, os.Symlink(outside, filepath.Join(medium, "ceremony")))
	dir := filepath.Join(medium, "ceremony", "export")
	err := ExportFiles(dir, linkTestFiles)
	want := "export " + dir + ": " + filepath.Join(medium, "ceremony") + " is a symbolic link: " + ErrSymlink.Error() + "; nothing was written"
	if !errors.Is(err, ErrSymlink) || err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if names := listNames(t, outside); names != "" {
		t.Fatalf("the link was followed: %s holds %s", outside, names)
	}
	// WriteFile too.
	err = WriteFile(filepath.Join(medium, "ceremony"), "root.json", []byte("{}"))
	want = "export " + filepath.Join(medium, "ceremony", "root.json") + ": " + filepath.Join(medium, "ceremony") + " is a symbolic link: " + ErrSymlink.Error() + "; nothing was written"
	if !errors.Is(err, ErrSymlink) || err == nil || err.Error() != want {
		t.Fatalf("WriteFile:\ngot  %v\nwant %s", err, want)
	}
	if names := listNames(t, outside); names != "" {
		t.Fatalf("WriteFile followed the link: %s holds %s", outside, names)
	}
}
