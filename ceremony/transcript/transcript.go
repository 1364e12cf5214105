// Package transcript is a ceremony's log: an append-only chain of events,
// each line holding the hash of the line before it, written and made
// durable before the event takes effect. The same log is the crash journal
// (resuming is replaying it), the transcript read aloud at the close (its
// head hash) and the audit record (replayed elsewhere).
//
// The package knows the chain, not the events: what an event means is the
// session's business (package session).
//
// # The format
//
// A line is a JSON object in canonical file form (package cjson) with the
// members body, prev, seq, time and type, and a newline; prev is the hex
// SHA-256 of the line before (without its newline), or of the ceremony id
// for line 1, whose body names the format and the ceremony. The head is
// the hash of the last line. docs/formats/transcript.md is the full
// description, with an auditor's check in a few lines of Python.
//
// # What the chain cannot show
//
// A changed, removed, inserted, repeated or moved line breaks the chain
// where Parse says. Lines cut from the end, or a changed last line, leave a
// chain that is whole in itself: no reader of the log alone can see it.
// That takes an anchor outside the log: the head and the line count
// ([Log.Head], [Log.Len]) written on the witness's paper log at the close,
// and compared with what Parse finds.
package transcript

import (
	"encoding/json"
	"time"
)

// Format names the log format; the first event carries it.
const Format = "conclave-transcript/1"

// Entry is one line of the log.
type Entry struct {
	// Seq counts lines from 1.
	Seq int64
	// Prev is the hex SHA-256 of the line before; for the first line, of
	// the ceremony id.
	Prev string
	// Time is when the event was written, as given to Append: UTC, to
	// the second.
	Time time.Time
	// Type names the event ("opened", "imported", …).
	Type string
	// Body is the event's JSON object as the line holds it: canonical,
	// in file form (control characters escaped), so encoding/json reads
	// it as it is.
	Body json.RawMessage
	// Hash is the hex SHA-256 of Line; Line is the line's bytes, without
	// its newline.
	Hash string
	Line []byte
}

// Appender makes lines durable: Append returns only when the line and its
// newline are on stable storage (written and synced).
type Appender interface {
	Append(line []byte) error
}

// Blobs keeps large bytes (a bundle copy, built payloads) beside the log
// under their SHA-256, so the log itself stays small.
type Blobs interface {
	// Put stores data and returns its hex SHA-256. Storing the same bytes
	// twice is not an error.
	Put(data []byte) (string, error)
	// Get returns the bytes stored under a hex SHA-256, checked against it.
	Get(sha256hex string) ([]byte, error)
}
