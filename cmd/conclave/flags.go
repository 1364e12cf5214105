package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/safefile"
	"github.com/conclave-keys/conclave/airgap/vaultdir"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// usageError is a mistake in the command line: main prints it with the
// command's synopsis and exits with status 2.
type usageError struct {
	msg  string
	hint string // "did you mean --dry-run?"
}

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{msg: fmt.Sprintf(format, a...)} }

// errDescribed is returned by parseFlags in describe mode (see
// environment.describe): the command stops before doing anything.
var errDescribed = errors.New("flags described")

// newFlagSet makes the FlagSet of a command. Its --help is handled by
// parseFlags; nothing is printed by the flag package itself.
func newFlagSet(env *environment, c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	env.flags = fs
	return fs
}

// parseFlags parses args into fs: flags are accepted anywhere before "--",
// before or after the arguments ("verify targets.json --trusted-root
// root.json"); everything after "--" is an argument. --help prints the
// command's help and returns flag.ErrHelp. A mistake is a usage error,
// with the nearest flag suggested for a typo.
func parseFlags(env *environment, c *command, fs *flag.FlagSet, args []string) error {
	if env.describe {
		return errDescribed
	}
	env.jsonRequested = fs.Lookup("json") != nil && jsonInArgs(args)
	flags, positional, err := splitArgs(env, c, fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(env.stdout, c, fs)
		return flag.ErrHelp
	}
	if err != nil {
		return err
	}
	if err := fs.Parse(append(append(flags, "--"), positional...)); err != nil {
		// splitArgs has found every name; what is left is a value the
		// flag refused ("invalid value "x" for flag -threshold: ...").
		return usageError{msg: dashes(err.Error())}
	}
	return nil
}

// splitArgs separates flags (with their values) from arguments, checking
// every flag name so that a typo is caught here, with a suggestion.
func splitArgs(env *environment, c *command, fs *flag.FlagSet, args []string) (flags, positional []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		f := fs.Lookup(name)
		switch {
		case f == nil && (name == "h" || name == "help"):
			return nil, nil, flag.ErrHelp
		case name == "" || name[0] == '-' || name[0] == '=':
			return nil, nil, usageError{msg: fmt.Sprintf("bad flag syntax: %q", a)}
		case f == nil:
			ue := usageError{msg: fmt.Sprintf("unknown flag --%s", name)}
			if h, ok := c.flagHints[name]; ok {
				ue.hint = h
			} else if s := suggest(name, flagNames(fs)); s != "" {
				ue.hint = "did you mean --" + s + "?"
			}
			return nil, nil, ue
		}
		flags = append(flags, a)
		if isBool(f) {
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, nil, usageError{msg: fmt.Sprintf("flag --%s needs a value", name)}
			}
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, positional, nil
}

// jsonInArgs reports whether --json (or --json=true, as the flag package
// reads a bool) is among the flags, before "--". It looks at every
// argument, not only those before a mistake, so that an error in the
// command line of a --json run is one JSON document too.
func jsonInArgs(args []string) bool {
	on := false
	for _, a := range args {
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if name != "json" {
			continue
		}
		on = !hasValue
		if b, err := strconv.ParseBool(value); hasValue && err == nil {
			on = b
		}
	}
	return on
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// dashes shows flags in the flag package's messages as people type them.
func dashes(msg string) string {
	for _, from := range []string{"for flag -", "flag: -", "argument: -"} {
		msg = strings.Replace(msg, from, from+"-", 1)
	}
	return msg
}

// printHelp writes a command's synopsis, summary and flags.
func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	width := terminalWidth(w)
	fmt.Fprintf(w, "usage: conclave %s\n\n", c.usage)
	writeWrapped(w, c.summary, "", width)
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	for _, f := range flags {
		fmt.Fprintf(w, "  %s\n", flagSynopsis(f))
		writeWrapped(w, flagHelp(f), "      ", width)
	}
}

// flagSynopsis is "--name VALUE" ("--json" for a bool flag). The value's
// name is the first `quoted` word of the help, as the flag package does,
// or else the kind of value.
func flagSynopsis(f *flag.Flag) string {
	if isBool(f) {
		return "--" + f.Name
	}
	name, _ := flag.UnquoteUsage(f)
	switch name {
	case "", "value", "string":
		name = "VALUE"
	case "int", "uint", "int64", "uint64", "float":
		name = "N"
	}
	return "--" + f.Name + " " + strings.ToUpper(name)
}

// flagHelp is the help of a flag with its default, when it has one worth
// showing.
func flagHelp(f *flag.Flag) string {
	_, usage := flag.UnquoteUsage(f)
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "[]" {
		usage += fmt.Sprintf(" (default %s)", f.DefValue)
	}
	return usage
}

// parseTimeFlag reads the value of a time flag (--at, --now, --made) as
// an RFC 3339 time, as TUF metadata writes them (tuf.ParseTime): one form
// for every command. A value in another form is a usage error.
func parseTimeFlag(name, value string) (time.Time, error) {
	t, err := tuf.ParseTime(value)
	if err != nil {
		return time.Time{}, usagef("--%s %q is not an RFC 3339 time such as 2027-01-01T00:00:00Z", name, value)
	}
	return t, nil
}

// multiFlag collects a repeatable flag (--intake-key A --intake-key B).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// suggest returns the candidate nearest to typed when it is near enough to
// be a typo: at most two edits and no more than half the typed word, or
// the only candidate that the typed word begins. Ties go to the first in
// sorted order, so the hint is the same on every run.
func suggest(typed string, candidates []string) string {
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	best, bestD := "", 0
	for _, c := range sorted {
		d := editDistance(typed, c)
		if d <= 2 && 2*d <= len(typed) && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	var prefixed []string
	for _, c := range sorted {
		if len(typed) >= 2 && strings.HasPrefix(c, typed) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (flag and command names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// readNamedFile reads a file named on the command line (trusted
// metadata, keys, rules, a history): a regular file only, at most
// defaultMaxMetadataSize bytes, so that a named pipe or a device given by
// mistake is refused at once instead of holding the command forever. The
// error reads as os.ReadFile's does ("open PATH: ...").
// namedWrong makes an error about what the command line named a usage
// error (status 2): a directory, pipe or device where a file was asked for,
// a directory that holds no vault generation. Nothing was judged, and
// nothing failed that running the command again with the right name would
// not mend. Any other error is returned as it is.
func namedWrong(err error) error {
	if errors.Is(err, safefile.ErrNotRegular) || errors.Is(err, vaultdir.ErrNoGeneration) {
		return usageError{msg: err.Error()}
	}
	return err
}

func readNamedFile(path string) ([]byte, error) {
	data, err := safefile.ReadNamed(path, defaultMaxMetadataSize)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return data, nil
}
