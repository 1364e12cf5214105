package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/conclave-keys/conclave/hsm/pkcs11"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// The PKCS#11 backend needs cgo: tokens_cgo.go reads the modules, and
// tokens_nocgo.go stands in without it.
var tokensCommand = &command{
	name:    "tokens",
	summary: "list PKCS#11 modules, their slots and tokens, PIN state and the keys on each, and whether the module allow-list allows each module",
	usage:   "tokens [--allow-list FILE] [--module PATH]... [--json]",
}

func init() {
	tokensCommand.run = runTokens
	register(tokensCommand)
}

// tokensFormat names the --json document (docs/formats/schema/tokens.schema.json).
const tokensFormat = "conclave-tokens/1"

// tokensReport is what `conclave tokens --json` prints. Strings are as the
// module and its tokens gave them: JSON is exact.
type tokensReport struct {
	Format    string          `json:"format"`
	AllowList tokensAllowList `json:"allow_list"`
	Modules   []tokensModule  `json:"modules"`
}

type tokensAllowList struct {
	File string `json:"file"`
	// Present is false when the file does not exist: then no module is
	// allowed.
	Present bool                  `json:"present"`
	Modules []pkcs11AllowedModule `json:"modules"`
}

type pkcs11AllowedModule struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

type tokensModule struct {
	Path string `json:"path"`
	// File is the library file the path resolves to, when it differs.
	File    string `json:"file,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Library string `json:"library,omitempty"`
	// Allowed says whether a ceremony may load this module; NotAllowed
	// says why not.
	Allowed    bool   `json:"allowed"`
	NotAllowed string `json:"not_allowed,omitempty"`
	SoftHSM    bool   `json:"softhsm,omitempty"`
	// Loaded is false when the module was refused before its code ran:
	// then it has no slots to list.
	Loaded bool         `json:"loaded"`
	Slots  []tokensSlot `json:"slots"`
	Error  string       `json:"error,omitempty"`
}

type tokensSlot struct {
	ID          uint         `json:"id"`
	Description string       `json:"description"`
	Token       *tokensToken `json:"token,omitempty"`
}

type tokensToken struct {
	Initialized  bool   `json:"initialized"`
	Label        string `json:"label,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// PIN is the PIN state in words, as the text output shows it.
	PIN   string      `json:"pin,omitempty"`
	Keys  []tokensKey `json:"keys"`
	Error string      `json:"error,omitempty"`
}

type tokensKey struct {
	Label    string `json:"label"`
	ID       string `json:"id"` // CKA_ID, hex
	Type     string `json:"type"`
	Attested bool   `json:"attested"`
	KeyID    string `json:"keyid,omitempty"`
	URI      string `json:"uri"`
}

// runTokens lists the modules of the allow-list and every --module. It
// never logs in: keys are found through their public halves, which tokens
// show without a PIN. A module (or a token's keys) that cannot be listed
// is reported, the others are still listed, and the command then exits
// with status 3: it could not finish (docs/exit-codes.md).
func runTokens(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, tokensCommand)
	var modules multiFlag
	fs.Var(&modules, "module", "also list this PKCS#11 library, by its absolute `PATH`, whether or not the allow-list names it; repeatable")
	allowFile := fs.String("allow-list", pkcs11.DefaultAllowListFile, "the module allow-list `FILE`: one line per module, \"SHA256  PATH\" as sha256sum prints it")
	asJSON := fs.Bool("json", false, "print a JSON report instead of text")
	if err := parseFlags(env, tokensCommand, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("tokens takes no arguments")
	}
	named := false
	fs.Visit(func(f *flag.Flag) { named = named || f.Name == "allow-list" })
	allow, err := readTokensAllowList(*allowFile, named)
	if err != nil {
		return err
	}
	if len(modules) == 0 && len(allow.Modules) == 0 {
		// Nothing to list is a command-line mistake on this machine:
		// name a module, or write the allow-list.
		why := "does not exist"
		if allow.Present {
			why = "lists no module"
		}
		return usagef("no PKCS#11 module to list: the allow-list %s %s and no --module was given; name one with --module PATH (docs/hsm-pkcs11.md says how to write the allow-list)",
			allow.File, why)
	}
	report, err := listTokens(ctx, allow, modules)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(env.stdout, report); err != nil {
			return err
		}
	} else {
		writeTokens(env.stdout, report)
	}
	var failed []string
	for _, m := range report.Modules {
		if m.failed() {
			failed = append(failed, m.Path)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if !*asJSON {
		if len(report.Modules) == 1 {
			fmt.Fprintf(env.stderr, "error: could not list module %s\n", termtext.List(failed, 5))
		} else {
			fmt.Fprintf(env.stderr, "error: could not list %d of %d modules: %s\n", len(failed), len(report.Modules), termtext.List(failed, 5))
		}
	}
	return exitError{exitFailed}
}

// failed reports whether the module, or the keys of one of its tokens,
// could not be listed.
func (m tokensModule) failed() bool {
	if m.Error != "" {
		return true
	}
	for _, s := range m.Slots {
		if s.Token != nil && s.Token.Error != "" {
			return true
		}
	}
	return false
}

// readTokensAllowList reads the allow-list. The default file may be
// missing (no module is then allowed); a file named with --allow-list must
// be there.
func readTokensAllowList(path string, named bool) (tokensAllowList, error) {
	out := tokensAllowList{File: path, Modules: []pkcs11AllowedModule{}}
	list, err := pkcs11.ReadAllowList(path)
	if errors.Is(err, os.ErrNotExist) && !named {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Present = true
	for _, m := range list {
		out.Modules = append(out.Modules, pkcs11AllowedModule(m))
	}
	return out, nil
}

// paths lists the allow-list's module paths, each once, in its order.
func (a tokensAllowList) paths() []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range a.Modules {
		if !seen[m.Path] {
			seen[m.Path] = true
			out = append(out, m.Path)
		}
	}
	return out
}

// uriMax is the longest key URI shown: three percent-encoded 32-byte
// labels, a serial and a module path of PATH_MAX (4,096) fit.
const uriMax = 5000

// writeTokens prints the report for people. Every string a module or a
// token gave goes through termtext; the allow-list's paths and the
// module paths named on the command line do too.
func writeTokens(w io.Writer, r *tokensReport) {
	safe := termtext.Safe
	a := r.AllowList
	switch {
	case !a.Present:
		fmt.Fprintf(w, "allow-list: none (%s does not exist), so no module is allowed for a ceremony\n", safe(a.File))
	case len(a.Modules) == 1:
		fmt.Fprintf(w, "allow-list: %s, 1 module\n", safe(a.File))
	default:
		fmt.Fprintf(w, "allow-list: %s, %d modules\n", safe(a.File), len(a.Modules))
	}
	if len(a.Modules) == 0 {
		fmt.Fprintf(w, "  to allow a module, compare its sha256 below with its vendor's, then add it with\n")
		fmt.Fprintf(w, "  sha256sum MODULE >> %s\n", safe(shellQuote(a.File)))
	}
	for _, m := range r.Modules {
		fmt.Fprintf(w, "\nmodule %s\n", safe(m.Path))
		if m.File != "" {
			fmt.Fprintf(w, "  file:     %s\n", safe(m.File))
		}
		if m.SHA256 != "" {
			fmt.Fprintf(w, "  sha256:   %s\n", m.SHA256)
		}
		if m.Error != "" && !m.Loaded {
			fmt.Fprintf(w, "  error: %s\n", safe(m.Error))
			continue
		}
		if m.Library != "" {
			fmt.Fprintf(w, "  library:  %s\n", safe(m.Library))
		}
		if m.Allowed {
			fmt.Fprintf(w, "  ceremony: allowed by the allow-list\n")
		} else {
			fmt.Fprintf(w, "  ceremony: NOT ALLOWED: %s\n", safe(m.NotAllowed))
		}
		if !m.Loaded {
			continue
		}
		if m.SoftHSM {
			fmt.Fprintf(w, "  note:     SoftHSM keeps its keys in files on disk: for rehearsals only\n")
		}
		if m.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", safe(m.Error))
			continue
		}
		if len(m.Slots) == 0 {
			fmt.Fprintf(w, "  no slots\n")
		}
		for _, s := range m.Slots {
			fmt.Fprintf(w, "  slot %d: %s\n", s.ID, safe(s.Description))
			switch {
			case s.Token == nil:
				fmt.Fprintf(w, "    no token\n")
				continue
			case !s.Token.Initialized:
				fmt.Fprintf(w, "    token not initialised\n")
				continue
			}
			t := s.Token
			fmt.Fprintf(w, "    token \"%s\": %s %s, serial %s\n", safe(t.Label), safe(t.Manufacturer), safe(t.Model), safe(t.Serial))
			fmt.Fprintf(w, "    PIN:  %s\n", t.PIN)
			if t.Error != "" {
				fmt.Fprintf(w, "    error: %s\n", safe(t.Error))
				continue
			}
			if len(t.Keys) == 0 {
				fmt.Fprintf(w, "    no keys visible without login\n")
				continue
			}
			fmt.Fprintf(w, "    keys:\n")
			for _, k := range t.Keys {
				id := k.ID
				if id == "" {
					id = "(empty)"
				}
				attested := "attested"
				if !k.Attested {
					attested = "NOT ATTESTED (PKCS#11 offers no attestation)"
				}
				keyid := "(no TUF keyid: " + k.Type + ")"
				if k.KeyID != "" {
					keyid = k.KeyID
				}
				fmt.Fprintf(w, "      \"%s\"  id %s  %s  %s\n", safe(k.Label), id, k.Type, attested)
				fmt.Fprintf(w, "        keyid %s\n", keyid)
				// The URI is what selects the key again, so it is shown
				// whole: percent-encoding already keeps it printable.
				fmt.Fprintf(w, "        %s\n", termtext.Cap(k.URI, uriMax))
			}
		}
	}
}
