package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// runCommandWith runs a command made for the test (never registered, so
// it is in no command list) and returns exit status, stdout and stderr.
func runCommandWith(t *testing.T, run func(ctx context.Context, env *environment, args []string) error, args ...string) (int, string, string) {
	t.Helper()
	c := &command{name: "testcmd", summary: "a command for tests", usage: "testcmd [--json] [--n N] ARG..."}
	c.run = run
	var out, errOut bytes.Buffer
	code := runCommand(context.Background(), &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, c, args)
	return code, out.String(), errOut.String()
}

// failWith is a command with a --json flag that returns err once its flags
// are parsed.
func failWith(err error) func(ctx context.Context, env *environment, args []string) error {
	return func(ctx context.Context, env *environment, args []string) error {
		c := &command{name: "testcmd", usage: "testcmd [--json] [--n N] ARG..."}
		fs := newFlagSet(env, c)
		fs.Bool("json", false, "print JSON")
		fs.Int("n", 0, "a number")
		if err := parseFlags(env, c, fs, args); err != nil {
			return err
		}
		return err
	}
}

func TestExitStatuses(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		code    int
		wantErr string
	}{
		{"success", nil, 0, ""},
		{"verdict printed", exitError{1}, 1, ""},
		{"refused", refused(errors.New("export x: not exact")), 1, "error: export x: not exact\n"},
		{"usage", usagef("name one FILE"), 2, "error: name one FILE\nusage: conclave testcmd [--json] [--n N] ARG...\n"},
		{"could not finish", fmt.Errorf("read the rules: %w", errors.New("no such file")), 3, "error: read the rules: no such file\n"},
		{"with hint", withHint(errors.New("medium full"), "use another stick\nthen export again"), 3, "error: medium full\nhint: use another stick\nhint: then export again\n"},
		{"interrupted", interrupted("removed the half-made bundle %s", "b1"), 130, "interrupted: removed the half-made bundle b1\n"},
		{"interrupted, wrapped", fmt.Errorf("pack: %w", context.Canceled), 130, "interrupted: stopped before the end: pack: context canceled\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCommandWith(t, failWith(tc.err))
			if code != tc.code || out != "" || errOut != tc.wantErr {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stderr %q", code, out, errOut, tc.code, tc.wantErr)
			}
		})
	}
}

// TestErrorsAreEscaped: an error may quote a hostile file name or
// metadata; main shows its control characters as escapes.
func TestErrorsAreEscaped(t *testing.T) {
	err := withHint(fmt.Errorf("open \"evil\x1b[2K\rRESULT: all files valid\": no such file"), "the name holds \u202e")
	code, _, errOut := runCommandWith(t, failWith(err))
	want := "error: open \"evil\\x1b[2K\\rRESULT: all files valid\": no such file\nhint: the name holds \\u202e\n"
	if code != 3 || errOut != want {
		t.Errorf("exit %d, stderr %q, want %q", code, errOut, want)
	}
}

// TestErrorsAsJSON: with --json set, an error is one JSON document on
// stdout, exact (no terminal escaping: JSON escapes for itself).
func TestErrorsAsJSON(t *testing.T) {
	err := withHint(errors.New("bad name \"a\x1b\""), "rename it")
	code, out, errOut := runCommandWith(t, failWith(err), "x", "--json")
	want := `{
  "format": "conclave-error/1",
  "error": "bad name \"a\u001b\"",
  "hint": [
    "rename it"
  ],
  "exit_code": 3
}
`
	if code != 3 || out != want || errOut != "" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr %q\nwant:\n%s", code, out, errOut, want)
	}
	// A usage error found before --json could be parsed is JSON too.
	code, out, _ = runCommandWith(t, failWith(nil), "--json", "--nn", "3")
	want = `{
  "format": "conclave-error/1",
  "error": "unknown flag --nn",
  "hint": [
    "did you mean --n?"
  ],
  "usage": "conclave testcmd [--json] [--n N] ARG...",
  "exit_code": 2
}
`
	if code != 2 || out != want {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s", code, out, want)
	}
	// --json after the mistake counts too, in either spelling; a later
	// --json=false, or one after "--" (an argument), does not.
	for _, args := range [][]string{{"--nn", "3", "--json"}, {"--nn", "3", "-json=true"}, {"--nn", "3", "--json=1"}} {
		code, out, errOut := runCommandWith(t, failWith(nil), args...)
		if code != 2 || out != want || errOut != "" {
			t.Errorf("%q: exit %d\nstdout:\n%s\nstderr %q\nwant:\n%s", args, code, out, errOut, want)
		}
	}
	for _, args := range [][]string{{"--nn", "3", "--json", "--json=false"}, {"--nn", "3", "--", "--json"}} {
		code, out, errOut := runCommandWith(t, failWith(nil), args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "error: unknown flag --nn\n") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want the error as text", args, code, out, errOut)
		}
	}
}

// TestPanicIsInternalError: a panic in a command is a bug, reported as
// one, with exit status 3 — never a crash with Go's status 2, which reads
// as a usage error.
func TestPanicIsInternalError(t *testing.T) {
	boom := func(ctx context.Context, env *environment, args []string) error {
		var names []string
		_ = names[len(args)+3] // index out of range: a runtime error, as a real bug would be
		return nil
	}
	code, out, errOut := runCommandWith(t, boom)
	wantStart := "error: internal error, please report: runtime error: index out of range [3] with length 0\n" +
		"hint: this is a bug in conclave, not a verdict on your files: nothing it printed before is a result\n" +
		"hint: how to report it, and what to include: docs/exit-codes.md, \"Internal errors\"\n" +
		"\nconclave testcmd: where it happened:\n"
	if code != 3 || out != "" || !strings.HasPrefix(errOut, wantStart) || !strings.Contains(errOut, "main_test.go") || strings.Contains(errOut, `\t`) {
		t.Errorf("exit %d, stdout %q\nstderr:\n%s\nwant it to begin:\n%s", code, out, errOut, wantStart)
	}
	hostile := func(ctx context.Context, env *environment, args []string) error {
		panic("forged \x1b[2Kvalue")
	}
	_, _, errOut = runCommandWith(t, hostile)
	if first, _, _ := strings.Cut(errOut, "\n"); first != `error: internal error, please report: forged \x1b[2Kvalue` {
		t.Errorf("first line %q", first)
	}
	// A panic in work run by untilInterrupted, on another goroutine, is
	// brought back to the command's and reported the same way.
	elsewhere := func(ctx context.Context, env *environment, args []string) error {
		return untilInterrupted(ctx, func() error { panic("in the work") }, "stopped")
	}
	code, _, errOut = runCommandWith(t, elsewhere)
	if first, _, _ := strings.Cut(errOut, "\n"); code != 3 || first != "error: internal error, please report: in the work" || !strings.Contains(errOut, "main_test.go") {
		t.Errorf("exit %d\nstderr:\n%s", code, errOut)
	}
	// In JSON mode the panic is a JSON error too.
	jsonBoom := func(ctx context.Context, env *environment, args []string) error {
		c := &command{name: "testcmd"}
		fs := newFlagSet(env, c)
		fs.Bool("json", false, "")
		if err := parseFlags(env, c, fs, args); err != nil {
			return err
		}
		panic("boom")
	}
	code, out, errOut = runCommandWith(t, jsonBoom, "--json")
	if code != 3 || errOut != "" || !strings.Contains(out, `"error": "internal error, please report: boom"`) || !strings.Contains(out, `"exit_code": 3`) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestFlagsAnywhere: flags after the arguments are parsed, not dropped;
// after "--" everything is an argument.
func TestFlagsAnywhere(t *testing.T) {
	var gotN int
	var gotArgs []string
	cmd := func(ctx context.Context, env *environment, args []string) error {
		c := &command{name: "testcmd"}
		fs := newFlagSet(env, c)
		n := fs.Int("n", 0, "")
		v := fs.Bool("v", false, "")
		if err := parseFlags(env, c, fs, args); err != nil {
			return err
		}
		gotN, gotArgs = *n, fs.Args()
		if !*v {
			return errors.New("-v not set")
		}
		return nil
	}
	tests := []struct {
		args []string
		n    int
		rest []string
	}{
		{[]string{"--n", "3", "-v", "a", "b"}, 3, []string{"a", "b"}},
		{[]string{"a", "--n", "3", "b", "--v"}, 3, []string{"a", "b"}},
		{[]string{"a", "b", "--n=4", "-v=true"}, 4, []string{"a", "b"}},
		{[]string{"-v", "a", "--", "--n", "5", "-"}, 0, []string{"a", "--n", "5", "-"}},
	}
	for _, tc := range tests {
		code, _, errOut := runCommandWith(t, cmd, tc.args...)
		if code != 0 || gotN != tc.n || strings.Join(gotArgs, " ") != strings.Join(tc.rest, " ") {
			t.Errorf("%q: exit %d (%s), n %d, args %q; want n %d, args %q", tc.args, code, errOut, gotN, gotArgs, tc.n, tc.rest)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"a", "--n"}, "error: flag --n needs a value\n"},
		{[]string{"--n", "x"}, "error: invalid value \"x\" for flag --n: parse error\n"},
		{[]string{"---n", "3"}, "error: bad flag syntax: \"---n\"\n"},
	} {
		_, _, errOut := runCommandWith(t, cmd, tc.args...)
		if first, _, _ := strings.Cut(errOut, "\n"); first+"\n" != tc.want {
			t.Errorf("%q: stderr %q, want it to begin %q", tc.args, errOut, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	flags := []string{"delegator", "dry-run", "history", "history-out", "intake-key", "json", "now", "rules"}
	tests := []struct{ typed, want string }{
		{"dryrun", "dry-run"},
		{"dry_run", "dry-run"},
		{"jsn", "json"},
		{"histroy", "history"},
		{"intake", "intake-key"}, // the only flag it begins
		{"delegate", "delegator"},
		{"x", ""},
		{"hist", ""}, // begins two flags: no guess
		{"verbose", ""},
	}
	for _, tc := range tests {
		if got := suggest(tc.typed, flags); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.typed, got, tc.want)
		}
	}
	if got := suggest("verfy", commandNames()); got != "verify" {
		t.Errorf("suggest(verfy) = %q", got)
	}
}

func TestTyposSuggest(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"verfy"}, "error: unknown command \"verfy\"\nhint: did you mean verify?\nhint: run \"conclave help\" for the list of commands\n"},
		{[]string{"help", "imprt"}, "error: unknown command \"imprt\"\nhint: did you mean import?\nhint: run \"conclave help\" for the list of commands\n"},
		{[]string{"intake", "pak"}, "error: unknown intake subcommand \"pak\"\nhint: did you mean intake pack?\nhint: run \"conclave help intake\" for the list of commands\n"},
		{[]string{"media", "--jsno"}, "error: unknown flag --jsno\nhint: did you mean --json?\nusage: conclave media [--json]\n"},
		{[]string{"import", "b", "--dryrun"}, "error: unknown flag --dryrun\nhint: did you mean --dry-run?\nusage: conclave " + importCommand.usage + "\n"},
	}
	for _, tc := range tests {
		code, out, errOut := runAirgapCLI(t, tc.args...)
		if code != 2 || out != "" || errOut != tc.want {
			t.Errorf("%q: exit %d, stdout %q\nstderr:\n%s\nwant:\n%s", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	code, out, errOut := runAirgapCLI(t, "--version")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "conclave ") || !strings.Contains(out, "\nsha256:    ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out2, _ := runAirgapCLI(t, "version")
	if code != 0 || out2 != out {
		t.Errorf("version command: exit %d, %q, want %q", code, out2, out)
	}
}
