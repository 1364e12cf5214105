// Package history is what Conclave remembers from earlier bundles: which
// bundle ids were imported (so a replay is refused), when each recovery was
// first seen (its notice period counts from then, never from a date the
// repository writes), and which keysets the repository had published (so
// an "add" whose keys were published unchanged for a while can be told
// from one that appeared just now), and when a removal of each project was
// last seen (a publication seen before it no longer counts: the keys of a
// removed project, perhaps removed because they leaked, must dwell anew).
//
// It is a JSON file given to `conclave import --history`; a dry run never
// changes it, and --history-out writes the extended history to a new file.
package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/request"
)

// Format is the history file's "format".
const Format = "conclave-history/1"

// History is the remembered state. The zero value (or nil) is a history
// that has seen no bundle.
type History struct {
	// Bundles maps bundle id → when it was imported.
	Bundles map[string]time.Time
	// FirstSeen maps a request's ChangeDigest → when it was first seen.
	FirstSeen map[string]time.Time
	// Published maps project → keyset hash → when a bundle first carried
	// that keyset in its published state.
	Published map[string]map[string]time.Time
	// Removed maps project → when a bundle last carried a request that
	// removes it (remove, or recover without keys), whatever became of
	// the request: forgetting a publication too early only makes an add
	// need judgement, never approves one.
	Removed map[string]time.Time
}

// Clone returns a deep copy: recording into it leaves h as it was. A nil
// history clones to an empty one.
func (h *History) Clone() *History {
	c := &History{}
	if h == nil {
		return c
	}
	c.Bundles, c.FirstSeen, c.Removed = maps.Clone(h.Bundles), maps.Clone(h.FirstSeen), maps.Clone(h.Removed)
	if h.Published != nil {
		c.Published = make(map[string]map[string]time.Time, len(h.Published))
		for p, m := range h.Published {
			c.Published[p] = maps.Clone(m)
		}
	}
	return c
}

// SeenBundle reports whether a bundle id was imported before.
func (h *History) SeenBundle(id string) bool {
	if h == nil {
		return false
	}
	_, ok := h.Bundles[id]
	return ok
}

// FirstSeenAt is when a change was first seen, or now if never.
func (h *History) FirstSeenAt(digest string, now time.Time) time.Time {
	if h != nil {
		if t, ok := h.FirstSeen[digest]; ok && t.Before(now) {
			return t
		}
	}
	return now
}

// PublishedSince is when a keyset of a project was first seen published
// after the project's last removal, and whether it was.
func (h *History) PublishedSince(project string, ks request.Keyset) (time.Time, bool) {
	if h == nil {
		return time.Time{}, false
	}
	t, ok := h.Published[project][ks.Hash()]
	if !ok || !h.afterRemoval(project, t) {
		return time.Time{}, false
	}
	return t, true
}

// afterRemoval reports whether t is after the last removal of project
// seen, if any: only what was seen since counts for the project as it is.
func (h *History) afterRemoval(project string, t time.Time) bool {
	r, ok := h.Removed[project]
	return !ok || t.After(r)
}

// Record remembers an imported bundle at time now: its id, the first
// sighting of each of its requests' changes, its published state, and the
// projects its requests remove. The published state describes the
// projects before the bundle's removals, so a keyset published in the
// same bundle as a removal counts only from the next bundle that
// publishes it again.
func (h *History) Record(b *bundle.Bundle, now time.Time) {
	if h.Bundles == nil {
		h.Bundles = map[string]time.Time{}
	}
	if h.FirstSeen == nil {
		h.FirstSeen = map[string]time.Time{}
	}
	if h.Published == nil {
		h.Published = map[string]map[string]time.Time{}
	}
	if h.Removed == nil {
		h.Removed = map[string]time.Time{}
	}
	h.Bundles[b.Manifest.BundleID] = now
	for _, it := range b.Items {
		if it.Request == nil || it.Request.Name == "" {
			continue
		}
		d := it.Request.ChangeDigest()
		if _, ok := h.FirstSeen[d]; !ok {
			h.FirstSeen[d] = now
		}
		if it.Request.Removes() {
			h.Removed[it.Request.Name] = now
		}
	}
	for p, ks := range b.Published {
		m := h.Published[p]
		if m == nil {
			m = map[string]time.Time{}
			h.Published[p] = m
		}
		// A publication seen before the project's last removal is
		// replaced: it counts from now.
		if t, ok := m[ks.Hash()]; !ok || !h.afterRemoval(p, t) {
			m[ks.Hash()] = now
		}
	}
}

type file struct {
	Format    string                          `json:"format"`
	Bundles   map[string]time.Time            `json:"bundles"`
	FirstSeen map[string]time.Time            `json:"first_seen"`
	Published map[string]map[string]time.Time `json:"published"`
	Removed   map[string]time.Time            `json:"removed,omitempty"`
}

// Parse reads a history file (trusted local state, but read strictly all
// the same: unknown members are refused).
func Parse(data []byte) (*History, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("history: unexpected data after the JSON value")
	}
	if f.Format != Format {
		return nil, fmt.Errorf("history: format is %q, not %q", f.Format, Format)
	}
	for p := range f.Published {
		if n, err := request.Normalize(p, 1<<10); err != nil || n != p {
			return nil, fmt.Errorf("history: published project %q is not a normalised name", p)
		}
	}
	for p := range f.Removed {
		if n, err := request.Normalize(p, 1<<10); err != nil || n != p {
			return nil, fmt.Errorf("history: removed project %q is not a normalised name", p)
		}
	}
	return &History{Bundles: f.Bundles, FirstSeen: f.FirstSeen, Published: f.Published, Removed: f.Removed}, nil
}

// Marshal writes the history file.
func (h *History) Marshal() []byte {
	f := file{Format: Format, Bundles: h.Bundles, FirstSeen: h.FirstSeen, Published: h.Published, Removed: h.Removed}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		panic("history: " + err.Error())
	}
	return append(b, '\n')
}
