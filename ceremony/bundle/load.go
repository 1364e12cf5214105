package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/rules"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/verdict"
	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Source is a bundle directory on the transfer media. Errors it returns
// that are *verdict.BundleError are passed on as they are (the reader
// knows best whether a link, a device or a limit was met); any other error
// refuses the bundle as unreadable.
type Source interface {
	// ReadManifest reads the manifest file.
	ReadManifest() ([]byte, error)
	// Listed makes exactly the names readable, nothing else. published
	// is the one of them that is the published state, "" when none is:
	// a reader that bounds each file as it reads holds it to
	// Rules.MaxPublishedSize and every other file, a batch, to
	// Rules.MaxBatchSize.
	Listed(names []string, published string) (Files, error)
}

// Files reads the files a manifest lists.
type Files interface {
	// ReadFile reads one listed file whole: a batch or the published
	// state. It is called from several goroutines at once.
	ReadFile(name string) ([]byte, error)
	// Extra lists what is in the directory besides the listed names and
	// the manifest: other files, links, devices; each already quoted for
	// showing, e.g. `"x.json" (a symbolic link)`. It is called while
	// ReadFile is being called, and always returns before Load does.
	Extra() ([]string, error)
}

// Trust is what a bundle is judged against: the trusted intake keys,
// delegating metadata, rules and history, as the caller read them.
type Trust struct {
	IntakeKeys map[string]*tuf.Key
	// Bases are the trusted metadata of every role the ceremony signs
	// (the delegating role, or each shard), sorted by role: a bundle
	// must name exactly these.
	Bases []Base
	Rules rules.Rules
	// Seen reports whether a bundle id was imported before; nil if none
	// was.
	Seen func(bundleID string) bool
}

// Item is one request of the bundle, at one line of one batch: its parsed
// request, or why it could not be read.
type Item struct {
	Batch   string // the batch file's path in the bundle
	Line    int    // counted from 1
	Request *request.Request
	Err     *request.Error
}

// At names the request's place in the bundle: "requests/0001.jsonl:17".
func (it Item) At() string { return verdict.At(it.Batch, it.Line) }

// Bundle is a bundle whose manifest signature, base, id and file hashes
// have been checked, with every request parsed.
type Bundle struct {
	Manifest *Manifest
	// Published is the repository's published state: project
	// (normalised) → keyset. Nil when the bundle carries none.
	Published map[string]request.Keyset
	// Items are the requests, batch by batch in the manifest's order,
	// line by line.
	Items []Item
}

// Load reads a bundle in the order that keeps hostile bytes away from the
// parsers: the manifest's intake signature, then its content (format,
// source, replay, base metadata), then every listed file hashed against
// the manifest before any of it is parsed, and each line of a batch held
// to the line limits before it is parsed (CheckLine). Errors that refuse
// the bundle are *verdict.BundleError; a request that cannot be parsed is
// not an error here but an Item with Err set.
func Load(src Source, trust Trust) (*Bundle, error) {
	r := trust.Rules
	data, err := src.ReadManifest()
	if err != nil {
		return nil, unreadable(err, "the manifest")
	}
	if r.MaxManifestSize > 0 && int64(len(data)) > r.MaxManifestSize {
		return nil, verdict.Refuse(verdict.BundleLimit, nil, "the manifest is %d bytes long; at most %d are allowed", len(data), r.MaxManifestSize)
	}
	m, err := OpenManifest(data, trust.IntakeKeys, ManifestLimits{MaxFiles: r.MaxFiles, MaxBatchSize: r.MaxBatchSize, MaxPublishedSize: r.MaxPublishedSize, MaxTotal: r.MaxTotalSize, MaxDepth: r.MaxJSONDepth})
	if err != nil {
		return nil, err
	}
	if r.Repository != "" && m.Source != r.Repository {
		return nil, verdict.Refuse(verdict.BundleSourceMismatch, nil, "the bundle says it comes from %q, but this ceremony takes bundles from %q", m.Source, r.Repository)
	}
	if trust.Seen != nil && trust.Seen(m.BundleID) {
		return nil, verdict.Refuse(verdict.BundleReplayed, nil, "bundle %s was imported before; a bundle is imported only once", m.BundleID)
	}
	if err := matchBases(m.Bases, trust.Bases); err != nil {
		return nil, err
	}
	names := make([]string, len(m.Files))
	publishedName := ""
	for i, f := range m.Files {
		names[i] = f.Path
		if f.Kind == KindPublished {
			publishedName = f.Path
		}
	}
	files, err := src.Listed(names, publishedName)
	if err != nil {
		return nil, unreadable(err, "the bundle directory")
	}
	b := &Bundle{Manifest: m}
	// What else the directory holds is looked up beside the reading (it
	// is one goroutine's work), but judged only after it: a listed name
	// that is a link or a device is refused with the reader's own reason
	// first. The listing is always waited for, so that it is over before
	// the caller closes the directory.
	type listing struct {
		extra []string
		err   error
	}
	listed := make(chan listing, 1)
	go func() {
		extra, err := files.Extra()
		listed <- listing{extra, err}
	}()
	contents := make([][]byte, len(m.Files))
	counts := make([]int, len(m.Files)) // lines of each batch
	errs := make([]error, len(m.Files))
	// A bundle has a few dozen batches, each read and hashed whole by
	// one goroutine; their lines are parsed afterwards, spread evenly.
	parallel.For(len(m.Files), 1, func(i int) {
		e := m.Files[i]
		data, err := files.ReadFile(e.Path)
		if err != nil {
			errs[i] = unreadable(err, fmt.Sprintf("file %q", e.Path))
			return
		}
		sum := sha256.Sum256(data)
		var sumHex [2 * sha256.Size]byte // on the stack: compared, not kept
		hex.Encode(sumHex[:], sum[:])
		if int64(len(data)) != e.Size || string(sumHex[:]) != e.SHA256 {
			errs[i] = verdict.Refuse(verdict.FileHashMismatch, nil,
				"file %q is not the file the manifest lists (%d bytes with SHA-256 %s, expected %d bytes with SHA-256 %s): it was changed or damaged on the way",
				e.Path, len(data), termtext.ShortHex(string(sumHex[:])), e.Size, termtext.ShortHex(e.SHA256))
			return
		}
		if e.Kind == KindBatch {
			counts[i] = CountLines(data)
			if r.MaxBatchRequests > 0 && counts[i] > r.MaxBatchRequests {
				errs[i] = verdict.Refuse(verdict.BundleLimit, nil, "the batch %q holds %d lines; at most %d requests are allowed per batch (bundle_limits.max_batch_requests)", e.Path, counts[i], r.MaxBatchRequests)
				return
			}
		}
		contents[i] = data
	})
	l := <-listed
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if l.err != nil {
		return nil, unreadable(l.err, "the bundle directory")
	}
	if len(l.extra) > 0 {
		// Each entry comes quoted, with its kind, from the source.
		return nil, verdict.Refuse(verdict.BundleExtraFile, nil, "the bundle directory holds %s, which the manifest does not list; nothing unlisted is ever read", termtext.Series(l.extra[:min(len(l.extra), 5)], len(l.extra)))
	}

	type line struct {
		data             []byte
		last, terminated bool
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if r.MaxRequests > 0 && total > r.MaxRequests {
		return nil, verdict.Refuse(verdict.BundleLimit, nil, "the bundle holds %d requests; at most %d are allowed (bundle_limits.max_requests)", total, r.MaxRequests)
	}
	lines := make([]line, 0, total)
	b.Items = make([]Item, 0, total)
	var published []byte
	for i, e := range m.Files {
		if e.Kind == KindPublished {
			published = contents[i]
			continue
		}
		ls, terminated := Lines(contents[i])
		for n, data := range ls {
			lines = append(lines, line{data: data, last: n == len(ls)-1, terminated: terminated})
			b.Items = append(b.Items, Item{Batch: e.Path, Line: n + 1})
		}
	}
	ll := lineLimits(r.MaxRequestSize, r.MaxJSONDepth, r.MaxKeys)
	lim := request.Limits{MaxDepth: r.MaxJSONDepth, MaxProjectName: r.MaxProjectName, MaxRequestedBy: r.MaxRequestedBy, MaxKeys: r.MaxKeys}
	parallel.For(len(lines), 64, func(i int) {
		l := lines[i]
		b.Items[i].Request, b.Items[i].Err = ParseLine(l.data, l.last, l.terminated, ll, lim)
	})
	if published != nil {
		if b.Published, err = ParsePublished(published, r.MaxJSONDepth, r.MaxProjectName); err != nil {
			return nil, verdict.Refuse(verdict.PublishedInvalid, err, "the published-state file breaks its format: %v", err)
		}
	}
	return b, nil
}

// matchBases refuses a bundle whose bases are not exactly the trusted
// ones, naming the first role (in role order) where they differ: each
// request is judged against the metadata of its project's role, so a
// bundle made against any other version of any of them, or against
// another set of roles, was made for another state of the delegations.
func matchBases(got, trusted []Base) error {
	for i := 0; i < max(len(got), len(trusted)); i++ {
		switch {
		case i < len(got) && i < len(trusted) && got[i] == trusted[i]:
			continue
		case i < len(got) && (i == len(trusted) || got[i].Role < trusted[i].Role):
			return verdict.Refuse(verdict.BundleBaseMismatch, nil,
				"the requests were made against role %s, which this ceremony does not sign (it signs %s): the repository must make the bundle again against the current metadata",
				termtext.Quote(got[i].Role), roleList(trusted))
		case i < len(trusted) && (i == len(got) || trusted[i].Role < got[i].Role):
			return verdict.Refuse(verdict.BundleBaseMismatch, nil,
				"the bundle names no base for role %s, which this ceremony signs (version %d, SHA-256 %s): the repository must make the bundle again against the current metadata of every role",
				trusted[i].Role, trusted[i].Version, termtext.ShortHex(trusted[i].SHA256))
		default:
			g, t := got[i], trusted[i]
			return verdict.Refuse(verdict.BundleBaseMismatch, nil,
				"the requests were made against %s version %d (SHA-256 %s), but the trusted %s is version %d (SHA-256 %s): the repository must make the bundle again against the current metadata",
				g.Role, g.Version, termtext.ShortHex(g.SHA256), t.Role, t.Version, termtext.ShortHex(t.SHA256))
		}
	}
	return nil
}

// roleList names the roles of bases, for a sentence.
func roleList(bases []Base) string {
	names := make([]string, len(bases))
	for i, b := range bases {
		names[i] = b.Role
	}
	return termtext.List(names, 5)
}

func unreadable(err error, what string) error {
	var be *verdict.BundleError
	if errors.As(err, &be) {
		return be
	}
	return verdict.Refuse(verdict.BundleUnreadable, err, "%s cannot be read safely: %v", what, err)
}
