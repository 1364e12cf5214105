package bundle

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// A batch file holds a bundle's requests, one a line (JSON Lines): each
// line is one request, written as the request format says, and ends in
// one LF, the last line too (docs/formats/bundle.md, "Batch files"). A
// bundle of 100,000 requests travels as a few dozen batches rather than
// 100,000 files, which is what FAT32 and exFAT sticks want.
//
// A batch is hashed against the manifest before any line of it is read,
// so the lines of a batch that arrives whole were written by the
// repository as they are: a line that breaks a rule is a verdict on that
// request, not a refusal of the bundle. Only a batch with more lines than
// the policy allows refuses the bundle, as a file too large does.

// MaxScanDepth is the deepest nesting the line check counts; the policy's
// bundle_limits.max_json_depth is at most this.
const MaxScanDepth = 512

// LineLimits bound one line of a batch before it is parsed. A zero limit
// is not checked.
type LineLimits struct {
	// MaxSize bounds the line's bytes, its LF not counted.
	MaxSize int64
	// MaxDepth bounds how deep arrays and objects nest.
	MaxDepth int
	// MaxEntries bounds the members of any object and the elements of
	// any array.
	MaxEntries int
}

// lineLimits are the limits a line is held to under rules.
func lineLimits(maxSize int64, maxDepth, maxKeys int) LineLimits {
	// The largest container of a legal request is its keys, or the
	// signatures of an envelope (one per key); the 16 more cover a
	// request's own members (nine) and a key's.
	return LineLimits{MaxSize: maxSize, MaxDepth: maxDepth, MaxEntries: maxKeys + 16}
}

// Lines cuts a batch into its lines, without their LF. terminated says
// whether the last line ends in LF. An empty batch has no lines. The
// slices share data.
func Lines(data []byte) (lines [][]byte, terminated bool) {
	if len(data) == 0 {
		return nil, true
	}
	lines = make([][]byte, 0, bytes.Count(data, []byte{'\n'})+1)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return append(lines, data), false
		}
		lines = append(lines, data[:i:i])
		data = data[i+1:]
	}
	return lines, true
}

// CountLines is how many lines Lines would cut data into.
func CountLines(data []byte) int {
	n := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// CheckLine holds one line of a batch to the rules a line has before it
// is parsed: it ends in LF (last says it is the batch's last line and
// terminated whether that ends in LF), is not empty, does not end in CR
// (a batch converted to CR LF line ends), and is within lim. The error
// is what the verdict on that request says.
func CheckLine(line []byte, last, terminated bool, lim LineLimits) *request.Error {
	switch {
	case lim.MaxSize > 0 && int64(len(line)) > lim.MaxSize:
		return &request.Error{Code: verdict.RequestTooLarge, Msg: fmt.Sprintf("is %d bytes long; at most %d are allowed for one request (bundle_limits.max_request_size)", len(line), lim.MaxSize)}
	case last && !terminated:
		return &request.Error{Code: verdict.FormatInvalid, Msg: "the batch's last line does not end in a newline (LF); every line of a batch ends in one, the last too, so that a batch cut short at a line's end is not taken for a whole one"}
	case len(line) == 0:
		return &request.Error{Code: verdict.FormatInvalid, Msg: "the line is empty; each line of a batch is one request"}
	case line[len(line)-1] == '\r':
		return &request.Error{Code: verdict.FormatInvalid, Msg: "the line ends in CR LF; the lines of a batch end in LF alone (was the batch converted for another system?)"}
	}
	return scanLine(line, lim)
}

// scanLine checks how deep the line's arrays and objects nest and how
// many entries each has, without parsing it: one pass over the bytes,
// skipping strings. Anything it cannot follow (a string not closed, a
// bracket too many) it leaves to the parser, which refuses it.
func scanLine(line []byte, lim LineLimits) *request.Error {
	maxDepth := lim.MaxDepth
	if maxDepth <= 0 || maxDepth > MaxScanDepth {
		maxDepth = MaxScanDepth
	}
	var counts [MaxScanDepth + 1]int32
	depth := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			end := stringEnd(line, i+1)
			if end < 0 {
				return nil
			}
			i = end
		case '{', '[':
			if depth++; depth > maxDepth {
				return &request.Error{Code: verdict.JSONInvalid, Msg: fmt.Sprintf("at byte %d: arrays and objects nest more than %d levels deep", i, maxDepth)}
			}
			counts[depth] = 1
		case '}', ']':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth > 0 {
				if counts[depth]++; lim.MaxEntries > 0 && int(counts[depth]) > lim.MaxEntries {
					return &request.Error{Code: verdict.RequestTooLarge, Msg: fmt.Sprintf("has an array or object of more than %d entries (at byte %d)", lim.MaxEntries, i)}
				}
			}
		}
	}
	return nil
}

// stringEnd is the index of the quote that closes the string whose
// contents start at from, or -1 if it is not closed.
func stringEnd(b []byte, from int) int {
	for from < len(b) {
		j := bytes.IndexByte(b[from:], '"')
		if j < 0 {
			return -1
		}
		q := from + j
		// The quote is escaped when an odd number of backslashes
		// stand right before it.
		n := 0
		for k := q - 1; k >= from && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		from = q + 1
	}
	return -1
}

// ParseLine reads one line of a batch: CheckLine, then the request
// parsed. The error is a *request.Error, the verdict on that request.
func ParseLine(line []byte, last, terminated bool, ll LineLimits, lim request.Limits) (*request.Request, *request.Error) {
	if e := CheckLine(line, last, terminated, ll); e != nil {
		return nil, e
	}
	req, err := request.Parse(line, lim)
	if err != nil {
		var re *request.Error
		if !errors.As(err, &re) {
			re = &request.Error{Code: verdict.FormatInvalid, Msg: err.Error(), Err: err}
		}
		return nil, re
	}
	return req, nil
}
