// Package genesis builds the metadata of the ceremonies that make and
// change the trust root: the first root (conclave init), a root rotation
// (conclave rotate, holders in and out, thresholds, online keys) and an
// expiry refresh (conclave refresh). Each returns a [Plan]: the unsigned
// files, the keys that must sign each, and the binding of the policy to
// the new root. The caller opens the holders' tokens, signs through the
// plan, checks it complete, and writes the vault.
//
// # Whose signatures a file needs
//
// A first root is signed by a threshold of its own root keys (TUF §5.2: a
// client's first trusted root is checked against itself). Root N+1 is
// signed by a threshold of root N's root keys and by a threshold of its
// own (TUF §5.3.4): the old keys vouch for the change, the new keys show
// that they can sign, so a rotation signed by the new keys alone is
// refused. Targets is signed by root's targets keys, a signed role
// (claimed, or each shard) by the keys targets delegates it to.
package genesis

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/vault"
)

// Record is a holder's enrolled key as the enrolment record gives it: the
// person, the public key, and the token it lives on.
type Record struct {
	Holder  string
	Contact string
	// Key is the public key as a TUF key object; its keyid is Key.ID().
	Key *tuf.Key
	// Token is policy.TokenYubiKey, TokenPKCS11 or TokenSoftkey; Serial
	// and Slot select a YubiKey, URI a PKCS#11 or software key.
	Token  string
	Serial uint32
	Slot   string
	URI    string
}

// Group is one threshold a file must meet: Threshold distinct keys of
// KeyIDs, found in Keys.
type Group struct {
	// Label names the group for people: "root version 1's root keys".
	Label     string
	Keys      map[string]*tuf.Key
	KeyIDs    []string
	Threshold int64
}

// Doc is one file a ceremony signs.
type Doc struct {
	// Name is the file's name in the vault (vault.RootFile,
	// vault.TargetsFile, vault.RoleFile).
	Name string
	// Role is the file's role: root, targets or a signed role.
	Role string
	File *tuf.File
	// Groups must each be met: one, or two for a new root version
	// (the old root's root keys and its own).
	Groups []Group
}

// Plan is what a root ceremony signs.
type Plan struct {
	// Docs are the files, root first, then targets, then the signed
	// roles in name order.
	Docs []*Doc
	// Binding binds the policy to the new root; nil when root does not
	// change. It is signed by a threshold of BindingGroup.
	Binding      *envelope.Envelope
	BindingGroup Group
	// Policy is the policy file the binding is over.
	Policy []byte
}

// ErrIncomplete: a file or the binding lacks its threshold of signatures.
var ErrIncomplete = errors.New("not signed by enough keys")

// Wants names the files a key signs, in the plan's order, and whether it
// signs the binding.
func (p *Plan) Wants(keyid string) (docs []*Doc, binding bool) {
	for _, d := range p.Docs {
		for _, g := range d.Groups {
			if slices.Contains(g.KeyIDs, keyid) {
				docs = append(docs, d)
				break
			}
		}
	}
	return docs, p.Binding != nil && slices.Contains(p.BindingGroup.KeyIDs, keyid)
}

// Signed is one signature a key made through Sign.
type Signed struct {
	// Name is the file's name, or vault.BindingFile for the binding.
	Name string
	// SHA256 is the hex SHA-256 of what was signed: the file's signed
	// part, or the binding's payload.
	SHA256 string
}

// Sign signs, with the key keyid, every file of the plan whose groups
// list it, and the binding when it may sign that. Each signature is
// verified before it is added (tuf.File.Sign, envelope.Sign). A key that
// signs nothing is refused, so a wrong token is not asked for a PIN.
func (p *Plan) Sign(keyid string, signer crypto.Signer) ([]Signed, error) {
	docs, binding := p.Wants(keyid)
	if len(docs) == 0 && !binding {
		return nil, fmt.Errorf("key %s signs nothing in this ceremony: it is in none of the roles that sign", keyid)
	}
	var out []Signed
	for _, d := range docs {
		keys := map[string]*tuf.Key{}
		for _, g := range d.Groups {
			if slices.Contains(g.KeyIDs, keyid) {
				keys[keyid] = g.Keys[keyid]
			}
		}
		if err := d.File.Sign(keys, keyid, signer); err != nil {
			return out, fmt.Errorf("%s: %w", d.Name, err)
		}
		out = append(out, Signed{Name: d.Name, SHA256: vault.SHA256Hex(d.File.SignedBytes())})
	}
	if binding {
		if err := p.Binding.Sign(signer, p.BindingGroup.Keys[keyid]); err != nil {
			return out, fmt.Errorf("%s: %w", vault.BindingFile, err)
		}
		out = append(out, Signed{Name: vault.BindingFile, SHA256: vault.SHA256Hex(p.Binding.Payload)})
	}
	return out, nil
}

// Progress is how far one file, or the binding, is from its thresholds.
type Progress struct {
	Name string
	// Groups holds, per group, its label, signers and threshold.
	Groups []GroupProgress
}

// GroupProgress counts one group's signatures.
type GroupProgress struct {
	Label     string
	Signers   []string
	Threshold int64
}

// met reports whether the group has its threshold. A threshold below 1
// (a role the metadata does not delegate) is never met: no signature at
// all must not count as enough.
func (g GroupProgress) met() bool {
	return g.Threshold >= 1 && int64(len(g.Signers)) >= g.Threshold
}

// Met reports whether every group has its threshold.
func (p Progress) Met() bool {
	for _, g := range p.Groups {
		if !g.met() {
			return false
		}
	}
	return true
}

// Progress counts the signatures of every file and of the binding,
// distinct public keys only (tuf.CountSignatures).
func (p *Plan) Progress() []Progress {
	var out []Progress
	for _, d := range p.Docs {
		pr := Progress{Name: d.Name}
		for _, g := range d.Groups {
			res := d.File.VerifyRole(g.Label, g.Keys, g.KeyIDs, g.Threshold)
			pr.Groups = append(pr.Groups, GroupProgress{g.Label, res.Signers, g.Threshold})
		}
		out = append(out, pr)
	}
	if p.Binding != nil {
		g := p.BindingGroup
		pr := Progress{Name: vault.BindingFile}
		var signers []string
		if res, err := p.Binding.Verify(envelope.TypeVaultBinding, g.Keys); err == nil {
			signers = res.Signers
		}
		pr.Groups = append(pr.Groups, GroupProgress{g.Label, signers, g.Threshold})
		out = append(out, pr)
	}
	return out
}

// Complete refuses a plan with a file or binding short of a threshold,
// naming the first.
func (p *Plan) Complete() error {
	for _, pr := range p.Progress() {
		for _, g := range pr.Groups {
			if g.Threshold < 1 {
				return fmt.Errorf("%s: %w: %s has no threshold (the role is not delegated)", pr.Name, ErrIncomplete, g.Label)
			}
			if !g.met() {
				return fmt.Errorf("%s: %w: %d of the %d needed of %s signed", pr.Name, ErrIncomplete, len(g.Signers), g.Threshold, g.Label)
			}
		}
	}
	return nil
}

// ErrExpiryRange: a file of the plan would expire after the year 9999,
// which no metadata can say (RFC 3339 section 5.6: four-digit years).
var ErrExpiryRange = errors.New("metadata cannot say a time after the year 9999")

// checkExpiries refuses a plan with a file that would expire after the
// year 9999, before anyone signs it.
func (p *Plan) checkExpiries() error {
	for _, d := range p.Docs {
		if e := d.File.Expires(); e.Year() > 9999 {
			return fmt.Errorf("%s: %s version %d would expire %s: %w; check the clock", d.Name, d.Role, d.File.Version(), e.Format(time.RFC3339), ErrExpiryRange)
		}
	}
	return nil
}

// Expires is the expiry of a role's new version: the confirmed time plus
// the policy's period, to the second (TUF's form).
func Expires(now time.Time, period time.Duration) tuf.Expiry {
	return tuf.NewExpiry(now.Add(period).UTC().Truncate(time.Second))
}

// rootGroup is the root role of root as a Group.
func rootGroup(label string, r *tuf.Root, role string) Group {
	rk := r.Roles[role]
	return Group{Label: label, Keys: r.Keys, KeyIDs: rk.KeyIDs, Threshold: rk.Threshold}
}

// delegationGroup is targets' delegation of role as a Group.
func delegationGroup(t *tuf.Targets, role string) Group {
	ids, threshold, _ := t.Delegation(role)
	return Group{Label: "the keys targets delegates " + role + " to", Keys: t.Delegations.Keys, KeyIDs: ids, Threshold: threshold}
}

// bindingFor is the unsigned binding of policy to root and the group
// that signs it: the root's root keys.
func bindingFor(policyBytes []byte, root *tuf.File) (*envelope.Envelope, Group, error) {
	b, err := vault.NewBinding(policyBytes, root)
	if err != nil {
		return nil, Group{}, err
	}
	g := rootGroup(fmt.Sprintf("root version %d's root keys", root.Version()), root.Root, tuf.TypeRoot)
	return b, g, nil
}

// AdoptInput is a signed Init plan as vault.Create takes it.
func (p *Plan) AdoptInput() vault.AdoptInput {
	in := vault.AdoptInput{Policy: p.Policy, Roles: map[string][]byte{}}
	if p.Binding != nil {
		in.Binding = p.Binding.Marshal()
	}
	for _, d := range p.Docs {
		switch d.Role {
		case tuf.TypeRoot:
			in.Roots = [][]byte{d.File.Bytes()}
		case tuf.TypeTargets:
			in.Targets = d.File.Bytes()
		default:
			in.Roles[d.Role] = d.File.Bytes()
		}
	}
	return in
}

// RootUpdate is a signed Rotate or Refresh plan as vault.NextRoot takes
// it, for the ceremony id at its confirmed time.
func (p *Plan) RootUpdate(ceremonyID string, confirmed time.Time) vault.RootUpdate {
	u := vault.RootUpdate{Update: vault.Update{CeremonyID: ceremonyID, Confirmed: confirmed, Roles: map[string]*tuf.File{}}}
	for _, d := range p.Docs {
		switch d.Role {
		case tuf.TypeRoot:
			u.Root = d.File
		case tuf.TypeTargets:
			u.Targets = d.File
		default:
			u.Roles[d.Role] = d.File
		}
	}
	if p.Binding != nil {
		u.Policy, u.Binding = p.Policy, p.Binding.Marshal()
	}
	return u
}
