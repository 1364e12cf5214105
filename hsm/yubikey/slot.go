//go:build cgo

package yubikey

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-piv/piv-go/v2/piv"
)

// DefaultSlot is 9c, "Digital Signature" (NIST SP 800-73-4 part 1 §3.1.1).
const DefaultSlot = "9c"

// slotNames are the PIV key references (NIST SP 800-73-4 part 1 table 4b).
var slotNames = map[uint32]string{
	0x9a: "PIV Authentication",
	0x9c: "Digital Signature",
	0x9d: "Key Management",
	0x9e: "Card Authentication",
}

// ParseSlot reads a slot name: 9a, 9c, 9d, 9e or a retired key management
// slot 82 to 95 (hexadecimal, as ykman and Yubico's docs write them).
func ParseSlot(s string) (piv.Slot, error) {
	n, err := strconv.ParseUint(strings.ToLower(strings.TrimSpace(s)), 16, 8)
	if err != nil {
		return piv.Slot{}, fmt.Errorf("slot %q: want 9a, 9c, 9d, 9e or 82 to 95", s)
	}
	switch n {
	case 0x9a:
		return piv.SlotAuthentication, nil
	case 0x9c:
		return piv.SlotSignature, nil
	case 0x9d:
		return piv.SlotKeyManagement, nil
	case 0x9e:
		return piv.SlotCardAuthentication, nil
	}
	if sl, ok := piv.RetiredKeyManagementSlot(uint32(n)); ok {
		return sl, nil
	}
	return piv.Slot{}, fmt.Errorf("slot %q: want 9a, 9c, 9d, 9e or 82 to 95", s)
}

// allSlots lists every slot a signing key may be in, 9c first.
func allSlots() []piv.Slot {
	s := []piv.Slot{piv.SlotSignature, piv.SlotAuthentication, piv.SlotKeyManagement, piv.SlotCardAuthentication}
	for k := uint32(0x82); k <= 0x95; k++ {
		sl, _ := piv.RetiredKeyManagementSlot(k)
		s = append(s, sl)
	}
	return s
}

func slotLabel(s piv.Slot) string {
	if n, ok := slotNames[s.Key]; ok {
		return fmt.Sprintf("PIV slot %s (%s)", s, n)
	}
	return fmt.Sprintf("PIV slot %s (retired key management)", s)
}

// URI formats the key selector "yubikey:serial=12345678;slot=9c". It never
// holds a PIN.
func URI(serial uint32, slot piv.Slot) string {
	return fmt.Sprintf("yubikey:serial=%d;slot=%s", serial, slot)
}

// ParseURI reads "yubikey:serial=…;slot=…" (slot defaults to 9c). Any other
// attribute, a PIN in particular, is refused.
func ParseURI(uri string) (serial uint32, slot piv.Slot, err error) {
	rest, ok := strings.CutPrefix(uri, "yubikey:")
	if !ok {
		return 0, piv.Slot{}, fmt.Errorf("key uri %q: not a yubikey uri", uri)
	}
	slot = piv.SlotSignature
	seen := map[string]bool{}
	for _, kv := range strings.Split(rest, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return 0, piv.Slot{}, fmt.Errorf("key uri %q: malformed attribute %q", uri, kv)
		}
		seen[k] = true
		switch k {
		case "serial":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return 0, piv.Slot{}, fmt.Errorf("key uri %q: serial %q is not a number", uri, v)
			}
			serial = uint32(n)
		case "slot", "slot-id":
			if slot, err = ParseSlot(v); err != nil {
				return 0, piv.Slot{}, fmt.Errorf("key uri %q: %w", uri, err)
			}
		default:
			return 0, piv.Slot{}, fmt.Errorf("key uri %q: unknown attribute %q", uri, k)
		}
	}
	if !seen["serial"] {
		return 0, piv.Slot{}, fmt.Errorf("key uri %q: no serial", uri)
	}
	return serial, slot, nil
}

func pinPolicyName(p piv.PINPolicy) string {
	switch p {
	case piv.PINPolicyNever:
		return "never"
	case piv.PINPolicyOnce:
		return "once"
	case piv.PINPolicyAlways:
		return "always"
	case piv.PINPolicyMatchOnce:
		return "match-once"
	case piv.PINPolicyMatchAlways:
		return "match-always"
	}
	return "unknown"
}

func touchPolicyName(p piv.TouchPolicy) string {
	switch p {
	case piv.TouchPolicyNever:
		return "never"
	case piv.TouchPolicyAlways:
		return "always"
	case piv.TouchPolicyCached:
		return "cached"
	}
	return "unknown"
}

func parsePINPolicy(s string) (piv.PINPolicy, error) {
	switch s {
	case "never":
		return piv.PINPolicyNever, nil
	case "once":
		return piv.PINPolicyOnce, nil
	case "always":
		return piv.PINPolicyAlways, nil
	}
	return 0, fmt.Errorf("pin policy %q: want never, once or always", s)
}

func parseTouchPolicy(s string) (piv.TouchPolicy, error) {
	switch s {
	case "never":
		return piv.TouchPolicyNever, nil
	case "always":
		return piv.TouchPolicyAlways, nil
	case "cached":
		return piv.TouchPolicyCached, nil
	}
	return 0, fmt.Errorf("touch policy %q: want never, always or cached", s)
}
