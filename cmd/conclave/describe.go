package main

import (
	"context"
	"flag"
	"io"
	"strings"
)

// commandInfo is a command as the completion scripts and the manual page
// show it. It is read from the command table and from the FlagSet each
// command builds, so that neither can drift from what the program parses.
type commandInfo struct {
	name    string // "import", "intake pack"
	word    string // the last word of name
	summary string
	usage   string
	flags   []*flag.Flag
	subs    []commandInfo
}

// describeCommands describes every listed command, sorted by name.
func describeCommands() []commandInfo {
	var out []commandInfo
	for _, n := range commandNames() {
		out = append(out, describe(commands[n]))
	}
	return out
}

// describe runs c in describe mode: its runX builds its FlagSet and stops
// in parseFlags (errDescribed) before doing anything.
func describe(c *command) commandInfo {
	words := strings.Fields(c.name)
	info := commandInfo{name: c.name, word: words[len(words)-1], summary: c.summary, usage: c.usage}
	if len(c.subcommands) > 0 {
		for _, s := range c.subcommands {
			info.subs = append(info.subs, describe(s))
		}
		return info
	}
	env := &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, describe: true}
	c.run(context.Background(), env, nil) // returns errDescribed, or an error of a command without flags
	if env.flags != nil {
		env.flags.VisitAll(func(f *flag.Flag) { info.flags = append(info.flags, f) })
	}
	return info
}

// shortHelp is the first clause of a flag's help, for completion menus.
func shortHelp(f *flag.Flag) string {
	_, h := flag.UnquoteUsage(f)
	if i := strings.IndexAny(h, ";("); i > 0 {
		h = strings.TrimSpace(h[:i])
	}
	if len(h) > 70 {
		h = strings.TrimSpace(h[:67]) + "..."
	}
	return h
}
