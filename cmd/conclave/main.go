// Command conclave runs offline TUF key ceremonies. See the README and docs/.
//
// Each subcommand lives in its own file and adds itself to the command table
// with register; main only dispatches, prints errors and sets the exit status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	name    string
	summary string // one line for the command list
	usage   string // the synopsis shown by --help, after "conclave "
	// run parses args with its own FlagSet and does the work. It writes
	// results to stdout; errors are returned, not printed.
	run func(ctx context.Context, env *environment, args []string) error
}

// environment is what a command may touch, so tests can run commands in
// process with their own streams.
type environment struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("conclave: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// exitError carries an exit status other than 1 (e.g. verify's "some file
// failed" is 1, a usage error is 2) with a message already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// hintError adds a "hint:" line under the error, in the manner of age.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error { return &hintError{err: err, hint: hint} }

// softMemoryLimit keeps the garbage collector working harder before the
// heap grows past it (a soft limit: live data may exceed it). A ceremony
// machine is small and may run other tools; with the default GOGC alone a
// 100,000-project ceremony peaks well above what it actually holds.
const softMemoryLimit = 512 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	env := &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	code := runMain(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// runMain dispatches and returns the exit status.
func runMain(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return runCommand(ctx, env, c, []string{"--help"})
			}
		}
		printCommands(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "error: unknown command %q\nhint: run \"conclave help\" for the list of commands\n", args[0])
		return 2
	}
	return runCommand(ctx, env, c, args[1:])
}

func runCommand(ctx context.Context, env *environment, c *command, args []string) int {
	err := c.run(ctx, env, args)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.stderr, "error: %s\nusage: conclave %s\n", ue.msg, c.usage)
		return 2
	}
	fmt.Fprintf(env.stderr, "error: %s\n", err)
	var he *hintError
	if errors.As(err, &he) {
		for _, line := range strings.Split(he.hint, "\n") {
			fmt.Fprintf(env.stderr, "hint: %s\n", line)
		}
	}
	return 1
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// newFlagSet makes a FlagSet whose --help prints the synopsis, the summary
// and the flags to stdout.
func newFlagSet(env *environment, c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses and handles --help; flag errors become usage errors.
func parseFlags(env *environment, c *command, fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(env.stdout, "usage: conclave %s\n\n%s\n", c.usage, c.summary)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(env.stdout, "\nflags:")
			fs.SetOutput(env.stdout)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
		return flag.ErrHelp
	}
	if err != nil {
		return usageError{err.Error()}
	}
	return nil
}

func printCommands(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "conclave: offline key ceremonies for TUF delegations")
	fmt.Fprintln(w, "\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun \"conclave help COMMAND\" or \"conclave COMMAND --help\" for details")
}
