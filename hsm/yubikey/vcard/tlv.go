package vcard

import "errors"

// BER-TLV helpers for the simple encodings PIV uses (NIST SP 800-73-4 part 2,
// §3.3: one- or two-byte tags, definite lengths in short form or 81/82 long
// form).

var errTLV = errors.New("malformed TLV")

// tlv encodes tag (one byte, or two bytes when tag > 0xff) and value.
func tlv(tag uint16, value []byte) []byte {
	var out []byte
	if tag > 0xff {
		out = append(out, byte(tag>>8), byte(tag))
	} else {
		out = append(out, byte(tag))
	}
	n := len(value)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, value...)
}

// readTLV splits one TLV off b. Multi-byte tags (first byte low five bits
// all set) are returned as their two bytes, e.g. 0x7f49.
func readTLV(b []byte) (tag uint16, value, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errTLV
	}
	tag = uint16(b[0])
	b = b[1:]
	if tag&0x1f == 0x1f {
		tag = tag<<8 | uint16(b[0])
		b = b[1:]
		if len(b) < 1 {
			return 0, nil, nil, errTLV
		}
	}
	n := int(b[0])
	b = b[1:]
	switch n {
	case 0x81:
		if len(b) < 1 {
			return 0, nil, nil, errTLV
		}
		n, b = int(b[0]), b[1:]
	case 0x82:
		if len(b) < 2 {
			return 0, nil, nil, errTLV
		}
		n, b = int(b[0])<<8|int(b[1]), b[2:]
	default:
		if n > 0x7f {
			return 0, nil, nil, errTLV
		}
	}
	if len(b) < n {
		return 0, nil, nil, errTLV
	}
	return tag, b[:n], b[n:], nil
}

// parseTLVs reads a flat sequence of TLVs into a map (last one wins).
func parseTLVs(b []byte) (map[uint16][]byte, error) {
	m := map[uint16][]byte{}
	for len(b) > 0 {
		tag, v, rest, err := readTLV(b)
		if err != nil {
			return nil, err
		}
		m[tag] = v
		b = rest
	}
	return m, nil
}
