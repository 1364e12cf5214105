package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/policy"
	hexwords "github.com/conclave-keys/conclave/ceremony/words"
	"github.com/conclave-keys/conclave/internal/termtext"
)

var policyCommand = &command{
	name:        "policy",
	summary:     "check a ceremony policy file (docs/policy.md)",
	usage:       "policy check [--json] FILE  (conclave policy SUBCOMMAND --help)",
	subcommands: []*command{policyCheckCommand},
}

var policyCheckCommand = &command{
	name:    "policy check",
	summary: "read a ceremony policy strictly and print what it says, or the first thing wrong with it (file, line, field)",
	usage:   "policy check [--json] FILE",
}

func init() {
	policyCheckCommand.run = runPolicyCheck
	register(policyCommand)
}

// runPolicyCheck reads a policy as a ceremony would and prints its
// summary; a policy that is not valid is a verdict (exit status 1).
func runPolicyCheck(ctx context.Context, env *environment, args []string) error {
	c := policyCheckCommand
	fs := newFlagSet(env, c)
	asJSON := fs.Bool("json", false, "print a JSON report instead of text")
	if err := parseFlags(env, c, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("policy check takes one policy FILE")
	}
	path := fs.Arg(0)
	data, err := readNamedFile(path)
	if err != nil {
		return fmt.Errorf("read the policy: %w", err)
	}
	p, err := policy.Parse(path, data)
	if err == nil {
		err = p.CheckPreflight(ceremonyPreflightIDs())
	}
	if err != nil {
		return refused(err)
	}
	if *asJSON {
		return writeJSON(env.stdout, policyReport(path, p))
	}
	return writePolicyText(env.stdout, path, p)
}

// policyCheckJSON is what policy check --json prints
// (docs/formats/schema/policy-check.schema.json).
type policyCheckJSON struct {
	Format     string             `json:"format"`
	File       string             `json:"file"`
	SHA256     string             `json:"sha256"`
	Repository string             `json:"repository"`
	IntakeKeys []string           `json:"intake_keys"`
	Rehearsal  bool               `json:"rehearsal"`
	Roles      []policyRoleJSON   `json:"roles"`
	Online     []policyOnlineJSON `json:"online_roles,omitempty"`
	Holders    []policyHolderJSON `json:"holders"`
	// VaultCopies is custody.vault_copies.
	VaultCopies int `json:"vault_copies"`
}

type policyOnlineJSON struct {
	Name      string   `json:"name"`
	Paths     []string `json:"paths"`
	Threshold int64    `json:"threshold"`
}

type policyRoleJSON struct {
	Name     string   `json:"name"`
	Expiry   string   `json:"expiry"`
	Warning  string   `json:"warning"`
	Prefixes []string `json:"prefixes,omitempty"`
	Paths    []string `json:"paths,omitempty"`
}

type policyHolderJSON struct {
	Name    string          `json:"name"`
	Contact string          `json:"contact,omitempty"`
	Keys    []policyKeyJSON `json:"keys"`
}

type policyKeyJSON struct {
	KeyID  string   `json:"keyid"`
	Token  string   `json:"token"`
	Serial uint32   `json:"serial,omitempty"`
	Slot   string   `json:"slot,omitempty"`
	URI    string   `json:"uri,omitempty"`
	Roles  []string `json:"roles,omitempty"`
	Spare  bool     `json:"spare,omitempty"`
}

func policyReport(path string, p *policy.Policy) policyCheckJSON {
	r := policyCheckJSON{
		Format: "conclave-policy-check/1", File: path, SHA256: p.SHA256,
		Repository: p.Repository, Rehearsal: p.Rehearsal, VaultCopies: p.VaultCopies,
		IntakeKeys: []string{}, Roles: []policyRoleJSON{}, Holders: []policyHolderJSON{},
	}
	for _, k := range p.IntakeKeys {
		r.IntakeKeys = append(r.IntakeKeys, k.ID())
	}
	for _, name := range p.SignedRoles() {
		e := p.Expiry(name)
		role := policyRoleJSON{Name: name, Expiry: policy.FormatDuration(e.Expiry), Warning: policy.FormatDuration(e.Warning)}
		for _, s := range p.Shards {
			if s.Role == name {
				role.Prefixes, role.Paths = s.Prefixes, s.Paths
			}
		}
		r.Roles = append(r.Roles, role)
	}
	for _, o := range p.OnlineRoles {
		r.Online = append(r.Online, policyOnlineJSON{Name: o.Name, Paths: o.Paths, Threshold: o.Threshold})
	}
	for _, h := range p.Holders {
		hj := policyHolderJSON{Name: h.Name, Contact: h.Contact, Keys: []policyKeyJSON{}}
		for _, k := range h.Keys {
			hj.Keys = append(hj.Keys, policyKeyJSON{KeyID: k.KeyID, Token: k.Token, Serial: k.Serial, Slot: k.Slot, URI: k.URI, Roles: p.KeyRoles[k.KeyID], Spare: k.Spare})
		}
		r.Holders = append(r.Holders, hj)
	}
	return r
}

// writePolicyText prints the policy as the people who will sign under it
// check it: the hash they compare with the one on paper, the repository,
// the roles and their periods, and who holds which key.
func writePolicyText(w io.Writer, path string, p *policy.Policy) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: valid policy\n", termtext.Safe(path))
	if p.Rehearsal {
		b.WriteString("  REHEARSAL policy: software keys allowed; a production ceremony refuses it\n")
	}
	fmt.Fprintf(&b, "  sha256      %s\n", strings.Join(hexwords.Groups(p.SHA256), " "))
	fmt.Fprintf(&b, "  repository  %s\n", termtext.Safe(p.Repository))
	for _, k := range p.IntakeKeys {
		fmt.Fprintf(&b, "  intake key  %s (%s)\n", k.ID(), k.Scheme)
	}
	fmt.Fprintf(&b, "  roles\n")
	for _, name := range p.SignedRoles() {
		e := p.Expiry(name)
		fmt.Fprintf(&b, "    %s: valid %s from the ceremony, reported as expiring %s before\n",
			name, policy.FormatDuration(e.Expiry), policy.FormatDuration(e.Warning))
		for _, s := range p.Shards {
			if s.Role != name {
				continue
			}
			prefixes := make([]string, len(s.Prefixes))
			for i, pre := range s.Prefixes {
				prefixes[i] = termtext.Quote(pre)
				if pre == "" {
					prefixes[i] = `"" (every project no longer prefix takes)`
				}
			}
			paths := make([]string, len(s.Paths))
			for i, pat := range s.Paths {
				paths[i] = termtext.Safe(pat)
			}
			fmt.Fprintf(&b, "      projects starting with %s; paths %s\n", strings.Join(prefixes, ", "), strings.Join(paths, ", "))
		}
	}
	for _, o := range p.OnlineRoles {
		paths := make([]string, len(o.Paths))
		for i, pat := range o.Paths {
			paths[i] = termtext.Safe(pat)
		}
		fmt.Fprintf(&b, "    %s: online (the repository signs it), delegated after the roles above; paths %s; threshold %d\n", o.Name, strings.Join(paths, ", "), o.Threshold)
	}
	fmt.Fprintf(&b, "  holders (%d)\n", len(p.Holders))
	for _, h := range p.Holders {
		fmt.Fprintf(&b, "    %s", termtext.Safe(h.Name))
		if h.Contact != "" {
			fmt.Fprintf(&b, " <%s>", termtext.Safe(h.Contact))
		}
		b.WriteString("\n")
		for _, k := range h.Keys {
			fmt.Fprintf(&b, "      %s  %s", k.KeyID, tokenText(k))
			if k.Spare {
				b.WriteString("; spare token")
			}
			if roles := p.KeyRoles[k.KeyID]; len(roles) > 0 {
				fmt.Fprintf(&b, "; roles %s", strings.Join(roles, ", "))
			} else if k.Spare {
				b.WriteString(", in reserve: in no role until a rotation places it")
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "  vault copies %d: the vault is copied to each after every ceremony\n", p.VaultCopies)
	_, err := io.WriteString(w, b.String())
	return err
}

// tokenText says where a holder's key is, as the holder would recognise
// the token.
func tokenText(k policy.HolderKey) string {
	switch k.Token {
	case policy.TokenYubiKey:
		return fmt.Sprintf("YubiKey %d, slot %s", k.Serial, k.Slot)
	case policy.TokenPKCS11:
		return "PKCS#11 " + termtext.Safe(k.URI)
	}
	return "software key " + termtext.Safe(k.URI)
}
