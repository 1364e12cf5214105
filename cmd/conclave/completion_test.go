package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// everyName lists each command, subcommand and flag the program parses,
// read the same way the generators read them.
func everyName(t *testing.T) (cmds, flags []string) {
	t.Helper()
	infos := describeCommands()
	if len(infos) < 10 {
		t.Fatalf("only %d commands described", len(infos))
	}
	var walk func(c commandInfo)
	walk = func(c commandInfo) {
		cmds = append(cmds, c.word)
		for _, f := range c.flags {
			flags = append(flags, c.name+" --"+f.Name)
		}
		for _, s := range c.subs {
			walk(s)
		}
	}
	for _, c := range infos {
		walk(c)
	}
	return cmds, flags
}

// TestCompletionAndManCoverEverything: every command, subcommand and flag
// appears in each completion script and in the manual page. The flags are
// read from the FlagSets the commands build, so a flag added to a command
// appears without anyone editing the generators.
func TestCompletionAndManCoverEverything(t *testing.T) {
	cmds, flags := everyName(t)
	for _, want := range []string{"import", "intake", "check-export", "pack", "request", "verify", "completion", "man"} {
		found := false
		for _, c := range cmds {
			found = found || c == want
		}
		if !found {
			t.Errorf("command %q not described", want)
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish", "man"} {
		args := []string{"completion", shell}
		if shell == "man" {
			args = []string{"man"}
		}
		code, out, errOut := runAirgapCLI(t, args...)
		if code != 0 || errOut != "" {
			t.Fatalf("%s: exit %d: %s", shell, code, errOut)
		}
		if shell == "man" {
			out = strings.ReplaceAll(out, `\-`, "-")
		}
		for _, c := range cmds {
			if !strings.Contains(out, c) {
				t.Errorf("%s: command %q missing", shell, c)
			}
		}
		for _, f := range flags {
			name := f[strings.Index(f, " --")+1:]
			if shell == "fish" {
				name = "-l " + strings.TrimPrefix(name, "--")
			}
			if !strings.Contains(out, name) {
				t.Errorf("%s: flag %s missing", shell, f)
			}
		}
	}
	// The import flags, for instance, are where they belong.
	_, out, _ := runAirgapCLI(t, "completion", "bash")
	if !strings.Contains(out, `    import) flags="--allow-expired-delegator --dry-run --json --now --vault --help" ;;`) {
		t.Errorf("bash: import flags:\n%s", out)
	}
}

// TestFlagValuesAreNamed: every flag that takes a value names it in help
// and in the manual page (--at TIME, --out DIR), never the bare VALUE.
func TestFlagValuesAreNamed(t *testing.T) {
	var walk func(cs []commandInfo)
	walk = func(cs []commandInfo) {
		for _, c := range cs {
			for _, f := range c.flags {
				if syn := flagSynopsis(f); strings.HasSuffix(syn, " VALUE") {
					t.Errorf("%s: %s: give the value a name (a `NAME` in its help)", c.name, syn)
				}
			}
			walk(c.subs)
		}
	}
	walk(describeCommands())
	// The manual names the error document as the program writes it.
	_, out, _ := runAirgapCLI(t, "man")
	if !strings.Contains(strings.ReplaceAll(out, `\-`, "-"), "("+ErrorFormat+")") {
		t.Errorf("man: no %s", ErrorFormat)
	}
}

// TestBashCompletionWorks sources the script in bash and asks it to
// complete, as bash does on Tab.
func TestBashCompletionWorks(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	_, script, _ := runAirgapCLI(t, "completion", "bash")
	file := filepath.Join(t.TempDir(), "conclave.bash")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{"conclave", "ver"}, "verify version"},
		{[]string{"conclave", "import", "--dr"}, "--dry-run"},
		{[]string{"conclave", "intake", "p"}, "pack"},
		{[]string{"conclave", "intake", "pack", "--pa"}, "--passphrase-file"},
		{[]string{"conclave", "completion", "--h"}, "--help"},
	}
	for _, tc := range tests {
		cmd := exec.Command(bash, "--norc", "-c", `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _conclave; echo "${COMPREPLY[*]}"`, "bash", file)
		cmd.Args = append(cmd.Args, tc.words...)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("%q: %v, completions %q, want %q", tc.words, err, out, tc.want)
		}
	}
}

// TestZshFishCompletionParse checks the zsh and fish scripts' syntax with
// the shells themselves, where they are installed.
func TestZshFishCompletionParse(t *testing.T) {
	for _, shell := range []struct{ name, check string }{{"zsh", "-n"}, {"fish", "--no-execute"}} {
		path, err := exec.LookPath(shell.name)
		if err != nil {
			t.Logf("%s is not installed: its script's syntax is not checked", shell.name)
			continue
		}
		_, script, _ := runAirgapCLI(t, "completion", shell.name)
		file := filepath.Join(t.TempDir(), "conclave."+shell.name)
		os.WriteFile(file, []byte(script), 0o644)
		if out, err := exec.Command(path, shell.check, file).CombinedOutput(); err != nil {
			t.Errorf("%s %s: %v\n%s", shell.name, shell.check, err, out)
		}
	}
}

func TestCompletionUsage(t *testing.T) {
	code, _, errOut := runAirgapCLI(t, "completion", "bsh")
	want := "error: no completion for the shell \"bsh\": bash, zsh or fish\nhint: did you mean bash?\nusage: conclave completion bash|zsh|fish\n"
	if code != 2 || errOut != want {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
