package tuf

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/cjson"
)

// SuccinctRoles describes hash bins without listing them (TAP 15, TUF
// specification 1.0.29+ "succinct_roles"): 2^BitLength bins named
// NamePrefix-XX, all sharing one keyset and threshold. Conclave reads and
// verifies them but never delegates projects to them: bins route each file
// by the hash of its path, which would scatter one project over every bin.
type SuccinctRoles struct {
	KeyIDs     []string
	Threshold  int64
	BitLength  int64
	NamePrefix string
	unknown    []cjson.Member
}

func decodeSuccinct(v cjson.Value, path string) (*SuccinctRoles, error) {
	f, err := objectAt(v, path)
	if err != nil {
		return nil, err
	}
	s := &SuccinctRoles{KeyIDs: decodeKeyIDs(f), Threshold: decodeThreshold(f), BitLength: f.integer("bit_length"), NamePrefix: f.str("name_prefix")}
	if f.err != nil {
		return nil, f.err
	}
	if s.BitLength < 1 || s.BitLength > 32 {
		return nil, fieldErr(f.at("bit_length"), "must be between 1 and 32, not %d", s.BitLength)
	}
	s.unknown = f.rest()
	return s, nil
}

func (s *SuccinctRoles) encode(e *cjson.Encoder) {
	writeObject(e, s.unknown, []string{"bit_length", "keyids", "name_prefix", "threshold"}, func(name string) {
		e.Name(name)
		switch name {
		case "bit_length":
			e.Int(s.BitLength)
		case "keyids":
			writeStrings(e, s.KeyIDs)
		case "name_prefix":
			e.String(s.NamePrefix)
		case "threshold":
			e.Int(s.Threshold)
		}
	})
}

// suffixLen is the number of hex digits in a bin name: ceil(bit_length/4).
func (s *SuccinctRoles) suffixLen() int { return int(s.BitLength+3) / 4 }

// NumBins is 2^BitLength.
func (s *SuccinctRoles) NumBins() uint64 { return 1 << uint(s.BitLength) }

// BinName names bin i: the prefix, a dash, and i in lowercase hex padded
// with zeros to ceil(bit_length/4) digits (TAP 15).
func (s *SuccinctRoles) BinName(i uint64) string {
	return fmt.Sprintf("%s-%0*x", s.NamePrefix, s.suffixLen(), i)
}

// BinFor names the bin responsible for a target path: the first
// bit_length bits of the SHA-256 of the path, read as a big-endian number.
func (s *SuccinctRoles) BinFor(target string) string {
	h := sha256.Sum256([]byte(target))
	n := binary.BigEndian.Uint32(h[:4]) >> (32 - uint(s.BitLength))
	return s.BinName(uint64(n))
}

// IsBin reports whether name is one of the bins.
func (s *SuccinctRoles) IsBin(name string) bool {
	suffix, ok := strings.CutPrefix(name, s.NamePrefix+"-")
	if !ok || len(suffix) != s.suffixLen() || !isLowerHex(suffix) {
		return false
	}
	var n uint64
	fmt.Sscanf(suffix, "%x", &n)
	return n < s.NumBins()
}

func isLowerHex(s string) bool {
	return isHex(s) && strings.ToLower(s) == s
}
