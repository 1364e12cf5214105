package signing

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/hsm/pkcs11/uri"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Present is one token found in the room: a YubiKey in a reader or a
// token in a PKCS#11 slot. The roster matches it to the holders' enrolled
// keys; several at once is normal.
type Present struct {
	// Kind is policy.TokenYubiKey or policy.TokenPKCS11.
	Kind string
	// Serial is the YubiKey's serial, or the PKCS#11 token's serial.
	Serial string
	// Label is the PKCS#11 token label ("" for a YubiKey).
	Label string
	// Where is the reader, or the module and slot.
	Where string
	// KeyIDs are the TUF keyids of the keys the token shows without a
	// PIN, by slot ("9c") for a YubiKey; nil when they could not be read.
	KeyIDs map[string]string
	// Tries is the PIN tries left, -1 when the token does not say; State
	// is what a PKCS#11 token's flags say ("PIN on its FINAL try").
	Tries int
	State string
	// Err says why the token could not be read (busy, removed).
	Err error
	// Open is set for a token this program has open for signing: it is
	// not read again while it is.
	Open bool
}

// Lister reads the tokens present. It must not ask for a PIN or spend a
// try. The program calls it in a tea.Cmd, never while a holder signs.
type Lister func(ctx context.Context) ([]Present, error)

// rosterRow is one line of the roster: a token present, with the
// holder's key it carries, or a holder's key whose token is not in.
type rosterRow struct {
	present *Present
	holder  string
	key     *policy.HolderKey
	roles   []string
}

// matches reports whether a present token is the one a holder's key names.
func (p *Present) matches(k policy.HolderKey) bool {
	switch k.Token {
	case policy.TokenYubiKey:
		return p.Kind == policy.TokenYubiKey && p.Serial == fmt.Sprint(k.Serial)
	case policy.TokenPKCS11:
		if p.Kind != policy.TokenPKCS11 {
			return false
		}
		u, err := uri.Parse(k.URI)
		if err != nil {
			return false
		}
		_, hasSerial := u.Get(uri.Serial)
		_, hasLabel := u.Get(uri.Token)
		return (hasSerial || hasLabel) && u.Matches(uri.Serial, p.Serial) && u.Matches(uri.Token, p.Label)
	}
	return false
}

// roster lists the tokens present, each with the holder whose enrolled key
// it carries, then every enrolled key of the roles to sign whose token is
// not in the room. roles maps a holder to the roles that list their keys.
func roster(pol *policy.Policy, present []Present, roles map[string][]string) []rosterRow {
	var rows []rosterRow
	used := map[string]bool{}
	for i := range present {
		p := &present[i]
		row := rosterRow{present: p}
		for _, h := range pol.Holders {
			for j := range h.Keys {
				if p.matches(h.Keys[j]) {
					row.holder, row.key, row.roles = h.Name, &h.Keys[j], roles[h.Name]
					used[h.Keys[j].KeyID] = true
				}
			}
		}
		rows = append(rows, row)
	}
	var absent []rosterRow
	for _, h := range pol.Holders {
		if len(roles[h.Name]) == 0 {
			continue
		}
		for j := range h.Keys {
			k := &h.Keys[j]
			if k.Token == policy.TokenSoftkey || used[k.KeyID] {
				continue
			}
			absent = append(absent, rosterRow{holder: h.Name, key: k, roles: roles[h.Name]})
		}
	}
	sort.SliceStable(absent, func(i, j int) bool { return absent[i].holder < absent[j].holder })
	return append(rows, absent...)
}

// inRoom reports whether a holder's token is present (a software key is
// always at hand in a rehearsal).
func inRoom(rows []rosterRow, h policy.Holder) bool {
	for _, k := range h.Keys {
		if k.Token == policy.TokenSoftkey {
			return true
		}
	}
	for _, r := range rows {
		if r.present != nil && r.holder == h.Name {
			return true
		}
	}
	return false
}

// insertPrompt is what a holder is asked: "Insert YubiKey 12345678 (Alice)".
func insertPrompt(h policy.Holder) string {
	for _, k := range h.Keys {
		switch k.Token {
		case policy.TokenYubiKey:
			return fmt.Sprintf("Insert YubiKey %d (%s)", k.Serial, h.Name)
		case policy.TokenPKCS11:
			return fmt.Sprintf("Connect the HSM token of %s (%s)", h.Name, tokenName(k))
		}
	}
	return ""
}

// tokenName names a PKCS#11 key's token from its URI.
func tokenName(k policy.HolderKey) string {
	u, err := uri.Parse(k.URI)
	if err != nil {
		return termtext.Safe(k.URI)
	}
	var parts []string
	if v, ok := u.Get(uri.Token); ok {
		parts = append(parts, fmt.Sprintf("token %q", v))
	}
	if v, ok := u.Get(uri.Serial); ok {
		parts = append(parts, "serial "+termtext.Safe(v)) // percent-decoded: it may hold anything
	}
	if len(parts) == 0 {
		return k.URI
	}
	return strings.Join(parts, ", ")
}
