// Package rules holds the validation rules a ceremony applies to delegation
// requests and bundles: the part of the policy that decides what may be
// imported and what may be approved in bulk.
//
// Rules is a plain Go value: Default, changed by its caller (conclave
// import reads --rules and flags).
package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// Rules are the validation rules.
type Rules struct {
	// Repository is the name of the online repository whose bundles are
	// accepted (the manifest's "source"). Empty accepts any name, so
	// conclave import requires one (here or from --repository) unless
	// --any-repository is given.
	Repository string

	// DelegatingRole is the role that delegates projects (PEP 480's
	// "claimed").
	DelegatingRole string

	// OtherRoles names the repository's roles that are not projects,
	// besides the top-level roles and the delegating role: shards of the
	// delegating role, roles beside it. No project may take their names
	// (request.CheckNotRole).
	OtherRoles []string

	// PathTemplate derives a project's delegated paths from its normalised
	// name: every "{name}" is replaced. It may use "*" and "?" but not
	// "[" (character classes would make overlap checks unsound).
	PathTemplate string

	// KeySchemes lists the key schemes (TUF "scheme") a developer key may
	// use. Keys in legacy forms are always refused.
	KeySchemes []string

	// MinRSABits and MaxRSABits bound the RSA modulus of developer keys,
	// inside tuf.MinRSABits..tuf.MaxRSABits. The top bounds the work of a
	// request: one verification costs about the square of the size.
	MinRSABits int
	MaxRSABits int

	// MaxKeys bounds the keys of one project.
	MaxKeys int

	// MaxProjectName bounds the length of a project name, in bytes.
	MaxProjectName int

	// MaxRequestedBy bounds the free-text "requested_by", in bytes.
	MaxRequestedBy int

	// RecoveryNotice is how long a recovery request must have been known
	// to Conclave (counted from when Conclave first saw it, never from a
	// date the repository writes) before it may be approved.
	RecoveryNotice time.Duration

	// PossessionOptional lets an add or rotation without a proof of
	// possession be judged like one with a valid proof. A proof that is
	// present is checked all the same. The zero value requires proofs.
	PossessionOptional bool

	// MinDwell is how long before this import an "add"'s exact keyset must
	// have been published by the repository (seen by Conclave in an
	// earlier bundle) for the add to be approvable in bulk. Zero means
	// "seen in any earlier bundle".
	MinDwell time.Duration

	// Limits on what is read from a bundle. A bundle's requests are
	// lines of batch files (docs/formats/bundle.md).
	MaxFiles    int // files listed in a manifest: batches and the published state
	MaxRequests int // requests in a bundle, all batches together
	// MaxBatchRequests and MaxBatchSize bound each batch file: its lines
	// and its bytes. A batch is read whole and hashed before any line of
	// it is parsed, so MaxBatchSize is what one batch costs in memory.
	MaxBatchRequests int
	MaxBatchSize     int64
	// MaxRequestSize bounds one line of a batch, one request, in bytes
	// (its newline not counted).
	MaxRequestSize int64
	MaxTotalSize   int64 // bytes for the whole bundle
	// MaxPublishedSize bounds the published-state file, which names
	// every project whose keys the repository published (about 190 bytes
	// each), so that it is not held to MaxBatchSize, which a state of
	// more than about 40,000 projects outgrows.
	MaxPublishedSize int64
	// MaxManifestSize bounds the manifest file, which lists every file
	// (about 200 bytes each, base64 in its envelope).
	MaxManifestSize int64
	MaxJSONDepth    int // nesting of any JSON file
}

// Default returns the rules used when no policy says otherwise.
func Default() Rules {
	return Rules{
		DelegatingRole: "claimed",
		PathTemplate:   "{name}/*",
		KeySchemes: []string{
			tuf.SchemeEd25519, tuf.SchemeECDSAP256, tuf.SchemeECDSAP384, tuf.SchemeRSAPSSSHA2,
		},
		MinRSABits:     3072,
		MaxRSABits:     4096,
		MaxKeys:        16,
		MaxProjectName: 128,
		MaxRequestedBy: 256,
		RecoveryNotice: 14 * 24 * time.Hour,
		MinDwell:       0,
		// 4,096 add requests with two ed25519 keys and their proof of
		// possession (about 1.2 KB each) are about 5 MB, within a batch's
		// 8 MiB; a bundle of 100,000 such requests is 25 batches. A batch
		// is read whole, so 8 MiB bounds what each reader holds before
		// hashing, and it is far from FAT32's 4 GiB file size limit.
		MaxFiles:         1024,
		MaxRequests:      200_000,
		MaxBatchRequests: 4096,
		MaxBatchSize:     8 << 20,
		MaxRequestSize:   1 << 20,
		MaxTotalSize:     1 << 30,
		MaxManifestSize:  64 << 20,
		MaxJSONDepth:     16,
		// 200,000 projects of two keys with 23-byte names are 37.4 MB
		// (187 bytes each, measured with bundle.EncodePublished); of
		// three keys, 50.8 MB.
		MaxPublishedSize: 64 << 20,
	}
}

// Check reports a rule set that cannot be applied safely.
func (r Rules) Check() error {
	switch {
	case r.DelegatingRole == "":
		return fmt.Errorf("rules: the delegating role is not named")
	case slices.Contains(r.OtherRoles, ""):
		return fmt.Errorf("rules: an entry of the other roles is empty")
	case !strings.Contains(r.PathTemplate, "{name}"):
		return fmt.Errorf("rules: path template %q does not contain {name}, so projects would share paths", r.PathTemplate)
	case strings.ContainsAny(r.PathTemplate, "[]\\"):
		return fmt.Errorf("rules: path template %q uses [, ] or \\, which clients interpret differently", r.PathTemplate)
	case len(r.KeySchemes) == 0:
		return fmt.Errorf("rules: no key scheme is allowed")
	case r.MinRSABits < tuf.MinRSABits:
		return fmt.Errorf("rules: minimum RSA size %d is below %d bits", r.MinRSABits, tuf.MinRSABits)
	case r.MaxRSABits < r.MinRSABits || r.MaxRSABits > tuf.MaxRSABits:
		return fmt.Errorf("rules.MaxRSABits: %d must be between rules.MinRSABits (%d) and %d, the largest RSA key Conclave reads", r.MaxRSABits, r.MinRSABits, tuf.MaxRSABits)
	case r.MaxKeys < 1:
		return fmt.Errorf("rules: at most %d keys per project leaves no room for any", r.MaxKeys)
	case r.MaxProjectName < 1 || r.MaxRequestedBy < 1:
		return fmt.Errorf("rules: name and requested_by limits must be positive")
	case r.RecoveryNotice < 0 || r.MinDwell < 0:
		return fmt.Errorf("rules: notice period and dwell time must not be negative")
	case r.MaxFiles < 1 || r.MaxRequests < 1 || r.MaxBatchRequests < 1 || r.MaxBatchSize < 1 || r.MaxRequestSize < 1 || r.MaxTotalSize < 1 || r.MaxPublishedSize < 1 || r.MaxManifestSize < 1 || r.MaxJSONDepth < 4:
		return fmt.Errorf("rules: bundle limits must be positive (JSON depth at least 4)")
	}
	return nil
}

// RoleNames are the names of the roles that are not projects, besides
// the top-level roles (which request.CheckNotRole always refuses): the
// delegating role and OtherRoles.
func (r Rules) RoleNames() []string {
	return append([]string{r.DelegatingRole}, r.OtherRoles...)
}

// SchemeAllowed reports whether developer keys may use scheme.
func (r Rules) SchemeAllowed(scheme string) bool {
	for _, s := range r.KeySchemes {
		if s == scheme {
			return true
		}
	}
	return false
}
