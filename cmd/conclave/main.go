// Command conclave runs offline TUF key ceremonies. See the README and docs/.
//
// Each subcommand lives in its own file, named after it, and adds itself to
// the command table with register; main only dispatches, prints errors and
// sets the exit status. The rules every command follows:
//
//   - Flags come before "--" in any order, mixed with the arguments
//     (flags.go). A typo gets "did you mean" (the nearest flag or command).
//   - Exit status (docs/exit-codes.md): 0 success; 1 the input was judged and
//     refused; 2 a mistake in the command line; 3 the command could not
//     finish (a file it needs, the system, a token, or a bug); 130
//     interrupted by SIGINT or SIGTERM.
//   - Errors are returned, never printed by the command: main prints them as
//     "error:" and "hint:" lines through termtext (an error may quote a
//     hostile name), or, when the command's --json flag is set, as one JSON
//     document on stdout (conclave-error/1).
//   - Long work checks ctx, which SIGINT and SIGTERM cancel, at safe points,
//     removes what it half made and returns interrupted(...).
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
	"syscall"

	"github.com/conclave-keys/conclave/internal/parallel"
	"github.com/conclave-keys/conclave/internal/termtext"
	"golang.org/x/sys/unix"
)

// command is one subcommand.
type command struct {
	name    string
	summary string // one line for the command list
	usage   string // the synopsis shown by --help, after "conclave "
	// run parses args with its own FlagSet (newFlagSet, parseFlags) and
	// does the work. It writes results to stdout; errors are returned, not
	// printed.
	run func(ctx context.Context, env *environment, args []string) error
	// subcommands, when present, are chosen by the first argument
	// ("intake pack"); run is then not used.
	subcommands []*command
	// flagHints answers a flag the command does not have but people look
	// for on it, with where that work is done.
	flagHints map[string]string
}

// environment is what a command may touch, so tests can run commands in
// process with their own streams.
type environment struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	// flags is the FlagSet of the command running, set by newFlagSet: main
	// looks at its "json" flag to print an error as JSON.
	flags *flag.FlagSet
	// jsonRequested is set by parseFlags when --json appears on the
	// command line, even if the rest of it could not be parsed.
	jsonRequested bool
	// progress is the progress line being shown, if any: cleared before
	// an error is printed.
	progress *progress
	// describe makes parseFlags stop before parsing and return
	// errDescribed: the completion scripts and the man page read a
	// command's flags this way, from the code that parses them.
	describe bool
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("conclave: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// commandNames lists the commands, sorted.
func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// softMemoryLimit is the garbage collector's soft memory limit
// (runtime/debug.SetMemoryLimit): half the machine's memory, and never
// less than minMemoryLimit. Below the limit the collector is paced by
// GOGC alone (the heap grows to about twice what is live); near it, it
// works harder, so that a ceremony does not crowd out everything else on
// a small machine with no swap.
//
// The limit is not set below what a ceremony holds: a 100,000-request
// ceremony keeps about 1 GB live (the vault, the bundle, its verdicts and
// the built metadata), and under a 512 MiB limit the collector ran almost
// without pause once the live heap passed it (44 s of user CPU time
// instead of 21 s, docs/performance.md) and the process still peaked at
// 1.2 GB. GOMEMLIMIT, when set, replaces the limit.
func softMemoryLimit() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return minMemoryLimit
	}
	return max(int64(si.Totalram)*int64(si.Unit)/2, minMemoryLimit)
}

// minMemoryLimit is the least soft memory limit, for a machine with less
// than 1 GiB: a 10,000-request ceremony keeps about 100 MB live.
const minMemoryLimit = 512 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, the default action again: a second
		// Ctrl-C ends a command that does not reach its safe point.
		<-ctx.Done()
		stop()
	}()
	env := &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	code := runMain(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// Exit statuses, the same in every command (docs/exit-codes.md).
const (
	exitOK          = 0
	exitRefused     = 1   // the input was judged and refused
	exitUsage       = 2   // a mistake in the command line
	exitFailed      = 3   // could not finish: a file, the system, a token, or a bug
	exitInterrupted = 130 // SIGINT or SIGTERM (128 + SIGINT, as shells report it)
)

// runMain dispatches and returns the exit status.
func runMain(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 && isTerminal(env.stdout) && isTerminalReader(env.stdin) {
		return runFound(ctx, env)
	}
	if len(args) == 0 {
		// A usage mistake: the list goes where errors go.
		printCommands(env.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				help := append(append([]string{}, args[2:]...), "--help")
				return runCommand(ctx, env, c, help)
			}
			return unknownCommand(env, "", args[1], commandNames())
		}
		printCommands(env.stdout)
		return exitOK
	case "--version", "-version", "-V":
		return runCommand(ctx, env, versionCommand, nil)
	}
	c, ok := commands[args[0]]
	if !ok {
		return unknownCommand(env, "", args[0], commandNames())
	}
	return runCommand(ctx, env, c, args[1:])
}

// unknownCommand reports a command name that is not in the table, with the
// nearest name when one is close.
func unknownCommand(env *environment, parent, name string, names []string) int {
	what := "command"
	if parent != "" {
		what = parent + " subcommand"
	}
	fmt.Fprintf(env.stderr, "error: unknown %s %s\n", what, safeLine(fmt.Sprintf("%q", name)))
	if s := suggest(name, names); s != "" {
		fmt.Fprintf(env.stderr, "hint: did you mean %s?\n", strings.TrimSpace(parent+" "+s))
	}
	fmt.Fprintf(env.stderr, "hint: run %q for the list of commands\n", strings.TrimSpace("conclave help "+parent))
	return exitUsage
}

// runCommand runs c and turns what it returned into an exit status,
// printing the error. A panic in the command is recovered here, and only
// here, as a last line of defence: it is a bug, reported as one with exit
// status 3, never as a verdict.
func runCommand(ctx context.Context, env *environment, c *command, args []string) (code int) {
	defer func() {
		if v := recover(); v != nil {
			stack := debug.Stack()
			if p, ok := v.(*parallel.Panic); ok {
				v, stack = p.Value, p.Stack
			}
			code = reportPanic(env, c, v, stack)
		}
	}()
	if len(c.subcommands) > 0 {
		return runGroup(ctx, env, c, args)
	}
	err := c.run(ctx, env, args)
	return report(ctx, env, c, err)
}

// runGroup dispatches to a subcommand ("intake pack").
func runGroup(ctx context.Context, env *environment, c *command, args []string) int {
	if len(args) == 0 {
		return report(ctx, env, c, usagef("name a subcommand: %s", strings.Join(subcommandNames(c), ", ")))
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		if len(args) > 1 {
			if sub := subcommand(c, args[1]); sub != nil {
				return runCommand(ctx, env, sub, []string{"--help"})
			}
		}
		printGroup(env.stdout, c)
		return exitOK
	}
	sub := subcommand(c, args[0])
	if sub == nil {
		return unknownCommand(env, c.name, args[0], subcommandNames(c))
	}
	return runCommand(ctx, env, sub, args[1:])
}

func subcommand(c *command, name string) *command {
	for _, s := range c.subcommands {
		if s.name == c.name+" "+name {
			return s
		}
	}
	return nil
}

// subcommandNames are the last words of c's subcommands.
func subcommandNames(c *command) []string {
	out := make([]string, len(c.subcommands))
	for i, s := range c.subcommands {
		out[i] = strings.TrimPrefix(s.name, c.name+" ")
	}
	return out
}

// report prints err as main prints every error and returns the exit
// status it stands for.
func report(ctx context.Context, env *environment, c *command, err error) int {
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code // the command has printed its verdict
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if env.progress != nil {
		env.progress.Done()
	}
	p := problem{msg: err.Error(), code: exitFailed}
	var ue usageError
	var re *refusedError
	switch {
	case errors.As(err, &ue):
		p.code, p.usage = exitUsage, c.usage
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		// A command stopped by a signal says what it removed; whatever
		// else failed once the context was cancelled is the same event.
		p.code, p.msg = exitInterrupted, interruptMessage(err)
	case errors.As(err, &re):
		p.code = exitRefused
	}
	var he *hintError
	if errors.As(err, &he) {
		p.hints = strings.Split(he.hint, "\n")
	}
	if ue.hint != "" {
		p.hints = append(p.hints, ue.hint)
	}
	p.print(env)
	return p.code
}

// reportPanic prints a recovered panic as an internal error.
func reportPanic(env *environment, c *command, v any, stack []byte) int {
	if env.progress != nil {
		env.progress.Done()
	}
	p := problem{
		msg:  fmt.Sprintf("internal error, please report: %v", v),
		code: exitFailed,
		hints: []string{
			"this is a bug in conclave, not a verdict on your files: nothing it printed before is a result",
			"how to report it, and what to include: docs/exit-codes.md, \"Internal errors\"",
		},
	}
	p.print(env)
	if !env.wantsJSON() {
		fmt.Fprintf(env.stderr, "\nconclave %s: where it happened:\n", c.name)
		for _, line := range strings.Split(strings.TrimSpace(string(stack)), "\n") {
			fmt.Fprintf(env.stderr, "  %s\n", safeLine(strings.ReplaceAll(line, "\t", "    ")))
		}
	}
	return p.code
}

// problem is an error as main prints it.
type problem struct {
	msg   string
	hints []string
	usage string // the synopsis, for a usage error
	code  int
}

// ErrorFormat names the JSON document of an error (docs/exit-codes.md;
// docs/formats/schema/error.schema.json).
const ErrorFormat = "conclave-error/1"

func (p problem) print(env *environment) {
	if env.wantsJSON() {
		// One document on stdout, where a program reading --json output
		// looks, whatever happened; the exit status says the same.
		e := jsonError{Format: ErrorFormat, Error: p.msg, Hint: append([]string{}, p.hints...), ExitCode: p.code}
		if p.usage != "" {
			e.Usage = "conclave " + p.usage
		}
		writeJSON(env.stdout, e)
		return
	}
	if p.code == exitInterrupted {
		fmt.Fprintf(env.stderr, "interrupted: %s\n", safeLine(p.msg))
	} else {
		fmt.Fprintf(env.stderr, "error: %s\n", safeLine(p.msg))
	}
	for _, h := range p.hints {
		fmt.Fprintf(env.stderr, "hint: %s\n", safeLine(h))
	}
	if p.usage != "" {
		fmt.Fprintf(env.stderr, "usage: conclave %s\n", p.usage)
	}
}

// jsonError is the conclave-error/1 document.
type jsonError struct {
	Format   string   `json:"format"`
	Error    string   `json:"error"`
	Hint     []string `json:"hint"`
	Usage    string   `json:"usage,omitempty"`
	ExitCode int      `json:"exit_code"`
}

// wantsJSON reports whether the running command's --json flag is set.
func (env *environment) wantsJSON() bool {
	if env.flags != nil {
		if f := env.flags.Lookup("json"); f != nil {
			if b, ok := f.Value.(flag.Getter); ok {
				if v, ok := b.Get().(bool); ok && v {
					return true
				}
			}
		}
	}
	return env.jsonRequested
}

// maxErrorLine caps one printed error line: it may quote several names
// from outside, each of which termtext would cap at its default.
const maxErrorLine = 4 * termtext.DefaultMax

// safeLine makes one line of an error safe for the terminal: it may quote
// file names, metadata or a token's strings.
func safeLine(s string) string { return termtext.Cap(s, maxErrorLine) }

// exitError carries an exit status for a message already printed (a
// verdict: exitError{1}).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// hintError adds "hint:" lines under the error, in the manner of age.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error { return &hintError{err: err, hint: hint} }

// refusedError is a verdict given as an error: the input was judged and
// refused (exit status 1), e.g. an export that is not exact.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// refused marks err as the verdict on the input: main prints it and exits
// with status 1.
func refused(err error) error { return &refusedError{err} }

// interruptedError is what a command returns when ctx was cancelled: what
// it did about the work in hand ("removed the half-written bundle b1").
type interruptedError struct{ msg string }

func (e *interruptedError) Error() string { return e.msg }
func (e *interruptedError) Unwrap() error { return context.Canceled }

// interrupted says what a stopped command removed or left; main prints it
// after "interrupted:" and exits with status 130.
func interrupted(format string, a ...any) error {
	return &interruptedError{fmt.Sprintf(format, a...)}
}

// untilInterrupted runs work with parallel.Until and returns what it
// returns, or, as soon as ctx is cancelled, interrupted(what) without
// waiting for it. Only for work that writes nothing: it is abandoned
// where it stands (the process is about to exit). A panic in work comes
// back on the command's goroutine, where runCommand recovers it.
func untilInterrupted(ctx context.Context, work func() error, what string) error {
	err := parallel.Until(ctx, work)
	if err != nil && ctx.Err() != nil {
		return interrupted("%s", what)
	}
	return err
}

func interruptMessage(err error) string {
	var ie *interruptedError
	if errors.As(err, &ie) {
		return ie.msg
	}
	return "stopped before the end: " + err.Error()
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "conclave: offline key ceremonies for TUF delegations")
	fmt.Fprintln(w, "\ncommands:")
	for _, n := range commandNames() {
		writeTerm(w, n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun \"conclave help COMMAND\" or \"conclave COMMAND --help\" for details;")
	fmt.Fprintln(w, "\"conclave --version\" prints the version; exit statuses: docs/exit-codes.md")
}

func printGroup(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: conclave %s\n\n", c.usage)
	writeWrapped(w, c.summary, "", terminalWidth(w))
	fmt.Fprintln(w, "\nsubcommands:")
	for _, s := range c.subcommands {
		writeTerm(w, strings.TrimPrefix(s.name, c.name+" "), s.summary)
	}
	fmt.Fprintf(w, "\nrun \"conclave %s SUBCOMMAND --help\" for details\n", c.name)
}
