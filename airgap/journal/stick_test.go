package journal

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/transcript"
	"github.com/conclave-keys/conclave/internal/loopmedium"
)

// TestJournalOnStick: a ceremony's log kept on a FAT32 or exFAT stick
// (the vault may live on one) is created, locked (flock), appended to
// with a sync per line, and a blob stored (renamed into place without
// replacing); mounted again, so read from the image, it resumes whole,
// and a second Open while it is open is refused by the lock.
func TestJournalOnStick(t *testing.T) {
	for _, fsys := range []loopmedium.FS{loopmedium.FAT32, loopmedium.ExFAT} {
		t.Run(string(fsys), func(t *testing.T) {
			m := loopmedium.Mount(t, loopmedium.Spec{FS: fsys})
			dir := filepath.Join(m.Dir, "c-1")
			j, _, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := Open(dir); !errors.Is(err, ErrInUse) {
				t.Errorf("a second Open of the open log on %s: %v, want ErrInUse (the lock)", m.Driver, err)
			}
			l := transcript.New(j, "c-1")
			sum, err := j.Blobs().Put([]byte("a large blob"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if _, err := l.Append("event", t0, map[string]int{"i": i}); err != nil {
					t.Fatal(err)
				}
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			m.Remount(t, fsys)
			j, data, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			entries, torn, err := transcript.Parse(data)
			if err != nil || torn || len(entries) != 5 {
				t.Fatalf("read back from %s: %d entries, torn %v, %v", m.Driver, len(entries), torn, err)
			}
			if r, err := transcript.Resume(j, entries); err != nil || r.Head() != l.Head() {
				t.Fatalf("resumed: %v", err)
			}
			if b, err := j.Blobs().Get(sum); err != nil || string(b) != "a large blob" {
				t.Errorf("blob read back %q, %v", b, err)
			}
		})
	}
}
